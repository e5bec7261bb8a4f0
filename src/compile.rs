//! `pricegrad compile`: turn an expression into a market whose prices are its gradient.
//!
//! The expression is parsed into its tape of operations (constants already folded). Each
//! operation becomes a firm whose production is that operation written over its operand
//! goods (`sqrt(x)`, `v1 + v2`, `ln(v3)`; constants stay inside the operation that uses them).
//! Each input of the expression is an endowment good (endowment = its value at the point);
//! the result is a fixed-price good `f` with price 1. An input read by several operations goes
//! through a copier firm (joint production, one output per use, linear F = input), so its
//! price is the sum of its uses' prices: reverse-mode AD's fan-out rule. At the market
//! equilibrium the price of each input is df/dinput.
//!
//! Grouping operations into firms:
//! - a linear operation (a sum, `v + 1`, `2*v`) joins the operation that uses it when the
//!   joint firm is well-behaved (`ln(1 + x)` is one firm, a long sum is one firm of up to 16
//!   operations): linear firms have constant returns, and chains of them converge slowly;
//! - an operation that is not well-behaved alone joins its only user when the joint firm is
//!   (`1/v` is decreasing but `1 - 1/(v + 1)` is not: the essay's firm B), or absorbs the
//!   single-use firms that feed it (`sqrt(x) * sqrt(y)`, a product of two goods, becomes one
//!   Cobb-Douglas-like firm).
//!
//! Well-behaved means: production concave and non-decreasing in its inputs (checked like a
//! scenario's firms, by sampling the positive orthant, and also at the forward values), and an
//! intermediate good a positive quantity at the point. What cannot be made well-behaved this
//! way is rejected with a message naming the operation and why. So is a point where some good
//! would have a zero price (the inactive side of a `min`), or a kink of `min`.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::production::expr::{Expr, Node};
use crate::production::{check_shape, ShapeProblem, Technology};
use crate::scenario;

/// Largest number of operations merged into one firm.
const MAX_MERGED: usize = 32;

/// `run.max_ticks` of a compiled scenario: deep expressions need more than the default.
const MAX_TICKS: u64 = 100_000;

/// Why an expression cannot be compiled (or the point is unusable): a message and a fix.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileError {
    /// What is wrong. May span several lines (a parse error points into the expression).
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}\n  = help: {}", self.message, self.help)
    }
}

impl std::error::Error for CompileError {}

fn fail(message: impl Into<String>, help: impl Into<String>) -> CompileError {
    CompileError {
        message: message.into(),
        help: help.into(),
    }
}

/// A compiled scenario.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The scenario file (TOML), valid for `pricegrad run`.
    pub toml: String,
    /// f at the point.
    pub value: f64,
    /// (input, df/dinput at the point), by automatic differentiation of the expression: the
    /// prices the market should find.
    pub gradient: Vec<(String, f64)>,
    /// Firms computing operations (not counting copiers).
    pub operations: usize,
    /// Copier firms (values used more than once).
    pub copiers: usize,
}

/// Options of [`compile`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenario name (output folder of `pricegrad run`).
    pub name: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: "compiled".to_string(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The expression graph
// ---------------------------------------------------------------------------------------------

fn args(n: &Node) -> (Option<usize>, Option<usize>) {
    use Node::*;
    match *n {
        Var(_) | Const(_) => (None, None),
        Neg(a) | PowC(a, _) | CPow(_, a) | Sqrt(a) | Ln(a) | Exp(a) => (Some(a), None),
        Add(a, b) | Sub(a, b) | Mul(a, b) | Div(a, b) | Pow(a, b) | Min(a, b) | Max(a, b) => (Some(a), Some(b)),
    }
}

fn operands(n: &Node) -> impl Iterator<Item = usize> {
    let (a, b) = args(n);
    a.into_iter().chain(b)
}

fn is_op(n: &Node) -> bool {
    !matches!(n, Node::Var(_) | Node::Const(_))
}

/// The same arithmetic as the expression evaluator.
fn node_value(n: &Node, v: &[f64], x: &[f64]) -> f64 {
    use Node::*;
    match *n {
        Var(i) => x[i],
        Const(c) => c,
        Add(a, b) => v[a] + v[b],
        Sub(a, b) => v[a] - v[b],
        Mul(a, b) => v[a] * v[b],
        Div(a, b) => v[a] / v[b],
        Neg(a) => -v[a],
        PowC(a, c) => {
            if c.fract() == 0.0 && c.abs() <= f64::from(1 << 30) {
                v[a].powi(c as i32)
            } else {
                v[a].powf(c)
            }
        }
        CPow(c, b) => c.powf(v[b]),
        Pow(a, b) => v[a].powf(v[b]),
        Sqrt(a) => v[a].sqrt(),
        Ln(a) => v[a].ln(),
        Exp(a) => v[a].exp(),
        Min(a, b) => {
            if v[b] < v[a] || v[b].is_nan() {
                v[b]
            } else {
                v[a]
            }
        }
        Max(a, b) => {
            if v[b] > v[a] || v[b].is_nan() {
                v[b]
            } else {
                v[a]
            }
        }
    }
}

/// What a node is in the compiled economy.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// A variable or a constant.
    Leaf,
    /// The top operation of a firm: its value is a good.
    Firm,
    /// Merged into the firm of its only user.
    Merged,
}

struct Graph {
    nodes: Vec<Node>,
    vars: Vec<String>,
    val: Vec<f64>,
    /// Distinct operations reading each node (reachable ones only).
    users: Vec<Vec<usize>>,
    reachable: Vec<bool>,
    root: usize,
}

impl Graph {
    fn new(expr: &Expr, x: &[f64]) -> Graph {
        let nodes = expr.nodes();
        let root = expr.root();
        let mut val = vec![0.0; nodes.len()];
        for k in 0..nodes.len() {
            val[k] = node_value(&nodes[k], &val, x);
        }
        let mut reachable = vec![false; nodes.len()];
        reachable[root] = true;
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for k in (0..nodes.len()).rev() {
            if !reachable[k] {
                continue;
            }
            for a in operands(&nodes[k]) {
                reachable[a] = true;
                if users[a].last() != Some(&k) {
                    users[a].push(k);
                }
            }
        }
        for u in &mut users {
            u.reverse();
        }
        Graph {
            nodes,
            vars: expr.variables().to_vec(),
            val,
            users,
            reachable,
            root,
        }
    }

    fn is_const(&self, k: usize) -> bool {
        matches!(self.nodes[k], Node::Const(_))
    }

    /// The sub-expression of node `k` as source text, leaves named by `leaf` (None: expand),
    /// shortened below `depth` levels. Returns the text and its precedence.
    fn render(&self, k: usize, leaf: &mut dyn FnMut(usize) -> Option<String>, depth: usize) -> (String, u8) {
        const ATOM: u8 = 5;
        const POW: u8 = 4;
        const NEG: u8 = 3;
        const MUL: u8 = 2;
        const ADD: u8 = 1;
        let n = self.nodes[k];
        if let Node::Const(c) = n {
            let s = number(c);
            let p = if s.starts_with('-') { NEG } else { ATOM };
            return (s, p);
        }
        if let Some(name) = leaf(k) {
            return (name, ATOM);
        }
        if let Node::Var(i) = n {
            return (self.vars[i].clone(), ATOM);
        }
        if depth == 0 {
            return ("(...)".to_string(), ATOM);
        }
        let mut sub = |a: usize, min: u8| {
            let (s, p) = self.render(a, leaf, depth - 1);
            if p < min {
                format!("({s})")
            } else {
                s
            }
        };
        use Node::*;
        match n {
            Var(_) | Const(_) => unreachable!("handled above"),
            Add(a, b) => (format!("{} + {}", sub(a, ADD), sub(b, MUL)), ADD),
            Sub(a, b) => (format!("{} - {}", sub(a, ADD), sub(b, MUL)), ADD),
            Mul(a, b) => (format!("{}*{}", sub(a, MUL), sub(b, NEG)), MUL),
            Div(a, b) => (format!("{}/{}", sub(a, MUL), sub(b, NEG)), MUL),
            Neg(a) => (format!("-{}", sub(a, POW)), NEG),
            PowC(a, c) => {
                let e = number(c);
                let e = if e.starts_with('-') { format!("({e})") } else { e };
                (format!("{}^{e}", sub(a, ATOM)), POW)
            }
            CPow(c, b) => {
                let base = number(c);
                let base = if base.starts_with('-') {
                    format!("({base})")
                } else {
                    base
                };
                (format!("{base}^{}", sub(b, NEG)), POW)
            }
            Pow(a, b) => (format!("{}^{}", sub(a, ATOM), sub(b, NEG)), POW),
            Sqrt(a) => (format!("sqrt({})", sub(a, 0)), ATOM),
            Ln(a) => (format!("ln({})", sub(a, 0)), ATOM),
            Exp(a) => (format!("exp({})", sub(a, 0)), ATOM),
            Min(a, b) => (format!("min({}, {})", sub(a, 0), sub(b, 0)), ATOM),
            Max(a, b) => (format!("max({}, {})", sub(a, 0), sub(b, 0)), ATOM),
        }
    }

    /// The sub-expression of node `k` in terms of the inputs, for messages.
    fn text(&self, k: usize) -> String {
        let s = self.render(k, &mut |_| None, 6).0;
        clip(&s, 70)
    }
}

/// A number as expression text: shortest round-trip form, "2" rather than "2.0".
fn number(c: f64) -> String {
    let s = format!("{c:?}");
    match s.strip_suffix(".0") {
        Some(t) => t.to_string(),
        None => s,
    }
}

/// A number as a TOML float (always with a '.' or an exponent).
fn toml_float(c: f64) -> String {
    format!("{c:?}")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}...")
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Collapse whitespace (the expression may contain newlines) for one-line comments.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// Firms
// ---------------------------------------------------------------------------------------------

/// Why a candidate firm is not well-behaved.
#[derive(Debug, Clone, PartialEq)]
enum Trouble {
    /// Not concave (somewhere in the positive orthant, or at the point).
    NotConcave,
    /// Decreasing in this input (a tape node).
    Decreasing(usize),
    /// Not a finite number for some positive inputs.
    Undefined,
    /// An intermediate good that is not a positive quantity at the point.
    NotPositive(f64),
    /// Uses max (convex).
    Max(usize),
    /// Too many merged operations.
    TooBig,
}

struct Compiler {
    g: Graph,
    role: Vec<Role>,
    /// The earliest failing operation merged into this node's firm, and why.
    failure: Vec<Option<(usize, Trouble)>>,
    /// Merged because linear (may be split off again).
    soft: Vec<bool>,
}

impl Compiler {
    /// Nodes of the firm topped by `k` (k and the merged operations below it).
    fn members(&self, k: usize) -> Vec<usize> {
        let mut out = vec![k];
        let mut i = 0;
        while i < out.len() && out.len() <= MAX_MERGED {
            for a in operands(&self.g.nodes[out[i]]) {
                if self.role[a] == Role::Merged && !out.contains(&a) {
                    out.push(a);
                }
            }
            i += 1;
        }
        out
    }

    /// The firm's production with leaves (inputs, other firms' goods) named by `name`.
    fn production(&self, k: usize, name: &mut dyn FnMut(usize) -> String) -> String {
        let role = &self.role;
        let mut leaf = |a: usize| -> Option<String> {
            if a != k && role[a] != Role::Merged {
                Some(name(a))
            } else {
                None
            }
        };
        self.g.render(k, &mut leaf, usize::MAX).0
    }

    /// Check the firm topped by `k` with the current roles; its input nodes (in the order of
    /// the production's variables) when it is well-behaved.
    fn examine(&self, k: usize) -> Result<Vec<usize>, Trouble> {
        let members = self.members(k);
        if members.len() > MAX_MERGED {
            return Err(Trouble::TooBig);
        }
        if let Some(&m) = members.iter().find(|&&m| matches!(self.g.nodes[m], Node::Max(..))) {
            return Err(Trouble::Max(m));
        }
        let text = self.production(k, &mut |a| format!("n{a}"));
        let expr = match Expr::parse(&text) {
            Ok(e) => e,
            Err(_) => return Err(Trouble::TooBig),
        };
        let inputs: Vec<usize> = expr
            .variables()
            .iter()
            .map(|v| v[1..].parse().expect("placeholder names are n<node>"))
            .collect();
        let n = inputs.len();
        let tech = Technology::Expression(expr);
        check_shape(&tech, &[], n).map_err(|p| match p {
            ShapeProblem::Undefined { .. } => Trouble::Undefined,
            ShapeProblem::Decreasing { input, .. } => Trouble::Decreasing(inputs[input]),
            ShapeProblem::NotConcave { .. } => Trouble::NotConcave,
        })?;
        // the same at the point itself, which may lie outside the sampled region
        let x: Vec<f64> = inputs.iter().map(|&a| self.g.val[a]).collect();
        let mut grad = vec![0.0; n];
        let mut hess = vec![0.0; n * n];
        let value = tech.hessian(&x, &[], &mut grad, &mut hess);
        if !value.is_finite() || grad.iter().chain(&hess).any(|v| !v.is_finite()) {
            return Err(Trouble::Undefined);
        }
        let scale = grad.iter().fold(value.abs(), |m, d| m.max(d.abs())).max(1e-300);
        if let Some(i) = grad.iter().position(|&d| d < -1e-9 * scale) {
            return Err(Trouble::Decreasing(inputs[i]));
        }
        if !negative_semidefinite(&hess, n) {
            return Err(Trouble::NotConcave);
        }
        if k != self.g.root && (value.is_nan() || value <= 0.0) {
            return Err(Trouble::NotPositive(value));
        }
        Ok(inputs)
    }

    /// Whether the firm topped by `k` is linear in its inputs (sums, differences, constant
    /// multiples and offsets only).
    fn is_linear(&self, k: usize) -> bool {
        self.members(k).iter().all(|&m| match self.g.nodes[m] {
            Node::Add(..) | Node::Sub(..) | Node::Neg(_) => true,
            Node::Mul(a, b) => self.g.is_const(a) || self.g.is_const(b),
            Node::Div(_, b) => self.g.is_const(b),
            _ => false,
        })
    }

    /// Decide, operation by operation in evaluation order, which are firms.
    ///
    /// A linear operation (x + y, 2*v, v + 1) is merged into its user when the merged firm
    /// is well-behaved ("soft" merge, undone if the user fails with it but works without):
    /// a linear firm has constant returns, and chains of them converge slowly. An operation
    /// that is not well-behaved alone absorbs the single-use firms feeding it if that makes
    /// it well-behaved, else is merged into its only user ("hard" merge), else is rejected.
    fn group(&mut self) -> Result<(), CompileError> {
        for k in 0..self.g.nodes.len() {
            if !self.g.reachable[k] || !is_op(&self.g.nodes[k]) {
                continue;
            }
            let soft: Vec<usize> = operands(&self.g.nodes[k]).filter(|&a| self.soft[a]).collect();
            let mut result = self.examine(k);
            if result.is_err() && !soft.is_empty() {
                for &a in &soft {
                    self.role[a] = Role::Firm;
                    self.soft[a] = false;
                }
                match self.examine(k) {
                    Ok(r) => result = Ok(r),
                    Err(_) => {
                        for &a in &soft {
                            self.role[a] = Role::Merged;
                            self.soft[a] = true;
                        }
                    }
                }
            }
            let trouble = match result {
                Ok(_) => {
                    if k != self.g.root
                        && self.g.users[k].len() == 1
                        && self.members(k).len() < MAX_MERGED / 2
                        && self.is_linear(k)
                    {
                        self.role[k] = Role::Merged;
                        self.soft[k] = true;
                    }
                    continue;
                }
                Err(t) => t,
            };
            // absorb the operations feeding k that nothing else uses
            let absorb: Vec<usize> = operands(&self.g.nodes[k])
                .filter(|&a| self.role[a] == Role::Firm && self.g.users[a] == [k])
                .collect();
            if !absorb.is_empty() {
                for &a in &absorb {
                    self.role[a] = Role::Merged;
                }
                if self.examine(k).is_ok() {
                    continue;
                }
                for &a in &absorb {
                    self.role[a] = Role::Firm;
                }
            }
            let first = operands(&self.g.nodes[k])
                .filter(|&a| self.role[a] == Role::Merged)
                .filter_map(|a| self.failure[a].clone())
                .min_by_key(|(m, _)| *m)
                .unwrap_or((k, trouble.clone()));
            if k != self.g.root && self.g.users[k].len() == 1 {
                self.role[k] = Role::Merged;
                self.failure[k] = Some(first);
            } else {
                return Err(self.rejection(first, k, trouble));
            }
        }
        Ok(())
    }

    /// Why operation `node` is not well-behaved, and an example of what is.
    fn reason(&self, node: usize, t: &Trouble) -> (String, &'static str) {
        const CONCAVE: &str =
            "concave means diminishing returns, e.g. sqrt(x), ln(1 + x), x^0.5*y^0.3 (exponents summing to at most 1)";
        const MONOTONE: &str =
            "non-decreasing means more input never gives less output, e.g. 1 - 1/(1 + x) rather than 1/(1 + x)";
        let op = self.g.text(node);
        let n = self.g.nodes[node];
        match *t {
            Trouble::NotConcave => {
                let why = match n {
                    Node::Mul(a, b) if a == b => "a square is convex (increasing returns)".to_string(),
                    Node::Mul(a, b) if !self.g.is_const(a) && !self.g.is_const(b) => {
                        "a product of two goods is not concave (increasing returns)".to_string()
                    }
                    Node::Exp(_) => "exp is convex (increasing returns)".to_string(),
                    Node::CPow(..) => "a constant raised to a good's power is convex (increasing returns)".to_string(),
                    Node::PowC(_, c) if c > 1.0 => {
                        format!("a power above 1 (^{}) is convex (increasing returns)", number(c))
                    }
                    Node::PowC(_, c) if c < 0.0 => format!("a negative power (^{}) is convex", number(c)),
                    _ => "it is not concave (increasing returns somewhere)".to_string(),
                };
                (format!("{op}: {why}"), CONCAVE)
            }
            Trouble::Decreasing(a) => (format!("{op}: it decreases as {} grows", self.g.text(a)), MONOTONE),
            Trouble::Undefined => (
                format!("{op}: it is not a finite number for some positive quantities of its inputs"),
                "a firm may use any positive quantity of its inputs, so its production must be defined for all of them, e.g. ln(1 + x) rather than ln(x - 1)",
            ),
            Trouble::NotPositive(v) => (
                format!(
                    "{op}: it is {} at the point, but its value feeds other operations, so it must be a positive quantity of a good",
                    number(v)
                ),
                "choose a point where every intermediate value is positive, or rewrite the expression so that they are",
            ),
            Trouble::Max(m) => (
                format!("{}: max is convex (its slope jumps up where its arguments cross)", self.g.text(m)),
                "min is concave and allowed; max is not",
            ),
            Trouble::TooBig => (
                format!("{op}: it could be made well-behaved only by merging more than {MAX_MERGED} operations into one firm"),
                "rewrite the expression so that its operations are concave and non-decreasing one by one",
            ),
        }
    }

    /// The error for the firm topped by `top`, which cannot be made well-behaved; `first` is
    /// the earliest failing operation in it.
    fn rejection(&self, first: (usize, Trouble), top: usize, top_trouble: Trouble) -> CompileError {
        let (node, trouble) = first;
        let (mut message, help) = self.reason(node, &trouble);
        let uses = self.g.users[top].len();
        if node != top {
            let (merged, _) = self.reason(top, &top_trouble);
            message.push_str(&format!(
                "; merged with the operations that use it, it is still not well-behaved: {merged}"
            ));
        }
        if top != self.g.root && uses > 1 {
            message.push_str(&format!(
                " (and {} is used {uses} times, so it must be a good of its own)",
                self.g.text(top)
            ));
        }
        message.push_str("; pricegrad can only compile concave, non-decreasing operations");
        fail(
            message,
            format!(
                "each operation becomes a firm, and prices equal derivatives only when every firm's production is concave and non-decreasing; {help}"
            ),
        )
    }
}

/// Whether a small symmetric matrix is negative semi-definite, up to a relative tolerance:
/// -H/max|H| + 1e-9 I must have a Cholesky factor.
fn negative_semidefinite(h: &[f64], n: usize) -> bool {
    let scale = h.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if scale == 0.0 {
        return true;
    }
    let mut a: Vec<f64> = h.iter().map(|v| -v / scale).collect();
    for i in 0..n {
        a[i * n + i] += 1e-9;
    }
    crate::numeric::linalg::cholesky(&mut a, n)
}

/// Unique good names: the inputs' own names first, then `base`, `base_2`, ... as needed.
struct Names(HashSet<String>);

impl Names {
    fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 2;
        while self.0.contains(&name) || crate::production::expr::FUNCTION_NAMES.contains(&name.as_str()) {
            name = format!("{base}_{i}");
            i += 1;
        }
        self.0.insert(name.clone());
        name
    }
}

/// Compile `src` at the point `at` (one value per input of the expression) into a scenario.
pub fn compile(src: &str, at: &[(String, f64)], options: &Options) -> Result<Compiled, CompileError> {
    if !scenario::valid_scenario_name(&options.name) {
        return Err(fail(
            format!("scenario name {:?} cannot name an output folder", options.name),
            "use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-', e.g. --name my_gradient",
        ));
    }
    let expr = Expr::parse(src).map_err(|e| {
        let rendered = e.render(src);
        let body = rendered.strip_prefix("error: ").unwrap_or(&rendered);
        let (msg, help) = match body.rsplit_once("\n  = help: ") {
            Some((m, h)) => (m.to_string(), h.to_string()),
            None => (body.to_string(), e.help.clone()),
        };
        fail(format!("in the expression: {msg}"), help)
    })?;
    // --- the point ---------------------------------------------------------------------------
    let vars = expr.variables().to_vec();
    if vars.is_empty() {
        return Err(fail(
            format!("the expression {:?} has no inputs: it is a constant", one_line(src)),
            "write a function of named inputs and give each a value, e.g. compile \"sqrt(x)\" --at x=4",
        ));
    }
    let mut point: HashMap<&str, f64> = HashMap::new();
    for (name, v) in at {
        if point.insert(name.as_str(), *v).is_some() {
            return Err(fail(format!("--at {name} is given twice"), "give each input one value"));
        }
        if !vars.contains(name) {
            return Err(fail(
                format!("--at {name}={v}: the expression has no input named {name}"),
                format!("its inputs are: {}", vars.join(", ")),
            ));
        }
        if !(v.is_finite() && *v > 0.0) {
            return Err(fail(
                format!("--at {name}={v}: an input is an endowment, a positive quantity of a good"),
                format!("give {name} a positive value, e.g. --at {name}=4"),
            ));
        }
    }
    let missing: Vec<&str> = vars
        .iter()
        .filter(|v| !point.contains_key(v.as_str()))
        .map(|s| s.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(fail(
            format!("no value for {} (give every input a value)", missing.join(", ")),
            format!(
                "add {}",
                missing
                    .iter()
                    .map(|v| format!("--at {v}=VALUE"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ));
    }
    let x: Vec<f64> = vars.iter().map(|v| point[v.as_str()]).collect();
    let mut grad = vec![0.0; vars.len()];
    let value = expr.gradient(&x, &mut grad);
    let g = Graph::new(&expr, &x);
    for k in 0..g.nodes.len() {
        if !g.reachable[k] {
            continue;
        }
        if let Node::Const(c) = g.nodes[k] {
            if !c.is_finite() {
                return Err(fail(
                    format!(
                        "the expression contains a constant that is not a finite number ({})",
                        number(c)
                    ),
                    "check constant parts such as 1/0",
                ));
            }
        }
        if !g.val[k].is_finite() {
            let at = operands(&g.nodes[k])
                .filter(|&a| !g.is_const(a))
                .map(|a| format!("{} = {}", g.text(a), number(g.val[a])))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(fail(
                format!(
                    "{} is {} at the point{}: not a finite number",
                    g.text(k),
                    number(g.val[k]),
                    if at.is_empty() {
                        String::new()
                    } else {
                        format!(" (where {at})")
                    }
                ),
                "choose a point inside the expression's domain",
            ));
        }
        if let Node::Min(a, b) = g.nodes[k] {
            if g.val[a] == g.val[b] {
                return Err(fail(
                    format!(
                        "{}: its arguments are equal at the point (both {}), a kink where the derivative is not unique",
                        g.text(k),
                        number(g.val[a])
                    ),
                    "move the point off the kink, e.g. change one input slightly",
                ));
            }
        }
    }
    // --- group operations into firms --------------------------------------------------------
    let n = g.nodes.len();
    let role: Vec<Role> = g
        .nodes
        .iter()
        .map(|node| if is_op(node) { Role::Firm } else { Role::Leaf })
        .collect();
    let mut c = Compiler {
        g,
        role,
        failure: vec![None; n],
        soft: vec![false; n],
    };
    c.group()?;
    let root = c.g.root;
    // A bare variable as the result gets an identity firm.
    let identity = matches!(c.g.nodes[root], Node::Var(_));

    // --- names ------------------------------------------------------------------------------
    let mut names = Names(vars.iter().cloned().collect());
    let result = names.fresh("f");
    let mut good: HashMap<usize, String> = HashMap::new();
    for k in 0..n {
        if let Node::Var(i) = c.g.nodes[k] {
            good.insert(k, vars[i].clone());
        }
    }
    // firms in evaluation order: (top node, input nodes)
    let mut plan: Vec<(usize, Vec<usize>)> = Vec::new();
    for k in 0..n {
        if c.g.reachable[k] && c.role[k] == Role::Firm {
            let inputs = c.examine(k).expect("grouped firms are well-behaved");
            if k != root {
                let name = names.fresh(&format!("v{}", plan.len() + 1));
                good.insert(k, name);
            }
            plan.push((k, inputs));
        }
    }
    if identity {
        plan.push((root, vec![root]));
    }
    let mut used_by: HashMap<usize, Vec<usize>> = HashMap::new();
    for (f, (_, inputs)) in plan.iter().enumerate() {
        for &a in inputs {
            used_by.entry(a).or_default().push(f);
        }
    }
    let mut values: Vec<usize> = used_by.keys().copied().collect();
    values.sort_unstable();
    // copies: (value node, consumer firm) -> good name
    let mut copy_name: HashMap<(usize, usize), String> = HashMap::new();
    let mut copiers: Vec<(usize, Vec<String>)> = Vec::new();
    for &v in &values {
        let users = &used_by[&v];
        if users.len() > 1 {
            let base = good[&v].clone();
            let outs: Vec<String> = (1..=users.len()).map(|j| names.fresh(&format!("{base}_{j}"))).collect();
            for (&u, o) in users.iter().zip(&outs) {
                copy_name.insert((v, u), o.clone());
            }
            copiers.push((v, outs));
        }
    }

    // --- the firms: production, forward value, gradient --------------------------------------
    struct Firm {
        node: usize,
        output: String,
        production: String,
        inputs: Vec<usize>,
        value: f64,
        grad: Vec<f64>,
    }
    let mut firms: Vec<Firm> = Vec::new();
    for (f, (k, inputs)) in plan.iter().enumerate() {
        let (k, inputs) = (*k, inputs.clone());
        let mut input_name = |a: usize| copy_name.get(&(a, f)).cloned().unwrap_or_else(|| good[&a].clone());
        let production = if identity {
            input_name(root)
        } else {
            c.production(k, &mut input_name)
        };
        let e = Expr::parse(&production).expect("compiled productions parse");
        debug_assert_eq!(e.variables().len(), inputs.len());
        let xs: Vec<f64> = inputs.iter().map(|&a| c.g.val[a]).collect();
        let mut gr = vec![0.0; xs.len()];
        let value = e.gradient(&xs, &mut gr);
        firms.push(Firm {
            node: k,
            output: if k == root { result.clone() } else { good[&k].clone() },
            production,
            inputs,
            value,
            grad: gr,
        });
    }
    // adjoints, backwards: each use's marginal value, and each value's total (its price)
    let mut out_adj = vec![0.0; firms.len()];
    let mut value_adj: HashMap<usize, f64> = HashMap::new();
    let mut use_adj: HashMap<(usize, usize), f64> = HashMap::new();
    for f in (0..firms.len()).rev() {
        let a_out = if firms[f].node == root {
            1.0
        } else {
            value_adj.get(&firms[f].node).copied().unwrap_or(0.0)
        };
        out_adj[f] = a_out;
        for (&a, &d) in firms[f].inputs.iter().zip(&firms[f].grad) {
            use_adj.insert((a, f), a_out * d);
            *value_adj.entry(a).or_insert(0.0) += a_out * d;
        }
    }
    let largest = value_adj.values().fold(1.0f64, |m, v| m.max(v.abs()));
    for &v in &values {
        let tiny = 1e-14 * largest;
        let zero_use = used_by[&v]
            .iter()
            .copied()
            .find(|&u| use_adj.get(&(v, u)).copied().unwrap_or(0.0) <= tiny);
        if let Some(u) = zero_use {
            let what = match c.g.nodes[v] {
                Node::Var(i) => format!("the input {}", vars[i]),
                _ => c.g.text(v),
            };
            let via = if used_by[&v].len() > 1 {
                format!(" through its use in {}", c.g.text(firms[u].node))
            } else {
                String::new()
            };
            return Err(fail(
                format!(
                    "at the point the result does not depend on {what}{via} (the derivative is 0), so its market price would be 0, which a multiplicative market approaches without ever settling"
                ),
                "choose a point where every operation affects the result (e.g. not on the flat side of a min)",
            ));
        }
    }

    // --- the scenario text -------------------------------------------------------------------
    let src_line = one_line(src);
    let point_text = vars
        .iter()
        .zip(&x)
        .map(|(v, a)| format!("{v} = {}", number(*a)))
        .collect::<Vec<_>>()
        .join(", ");
    let at_args = vars
        .iter()
        .zip(&x)
        .map(|(v, a)| format!("--at {v}={}", number(*a)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut t = String::new();
    {
        use std::fmt::Write as _;
        let w = &mut t;
        let _ = writeln!(
            w,
            "# Written by: pricegrad compile {} {at_args}",
            toml_string(&src_line)
        );
        let _ = writeln!(w, "#");
        let _ = writeln!(w, "# A market that computes the gradient of");
        let _ = writeln!(w, "#   {result} = {src_line}");
        let _ = writeln!(w, "# at {point_text}, where {result} = {}.", number(value));
        for line in [
            "# Each operation is a firm (a linear one joins the operation that uses it); each input is an",
            "# endowment good; the result is a fixed-price good (price 1); an input used more than once",
            "# goes through a copier (joint production, one output per use), whose input price is the",
            "# sum of its outputs' prices. At equilibrium each input's price is the derivative of the",
            "# result; by automatic",
        ] {
            let _ = writeln!(w, "{line}");
        }
        let _ = writeln!(w, "# differentiation of the expression:");
        for (v, d) in vars.iter().zip(&grad) {
            let _ = writeln!(w, "#   price of {v} = d{result}/d{v} = {}", number(*d));
        }
        let _ = writeln!(w, "# Check it with: pricegrad run FILE");
        let _ = writeln!(w);
        let _ = writeln!(w, "name = {}", toml_string(&options.name));
        let _ = writeln!(
            w,
            "description = {}",
            toml_string(&format!(
                "The market computes the gradient of {src_line} at {point_text}"
            ))
        );
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "# inputs: endowment = the value at the point; price = the derivative"
        );
        for (v, a) in vars.iter().zip(&x) {
            let _ = writeln!(w, "[goods.{v}]");
            let _ = writeln!(w, "endowment = {}", toml_float(*a));
        }
        let intermediate = firms.iter().any(|f| f.node != root);
        if intermediate || !copiers.is_empty() {
            let _ = writeln!(w);
            let _ = writeln!(
                w,
                "# intermediate values: quantity at the point; price = derivative of {result}"
            );
        }
        for (f, firm) in firms.iter().enumerate() {
            if firm.node != root {
                let _ = writeln!(
                    w,
                    "[goods.{}]  # {} = {}, price {}",
                    firm.output,
                    c.g.text(firm.node),
                    number(firm.value),
                    number(out_adj[f])
                );
            }
        }
        for (v, outs) in &copiers {
            for (o, &u) in outs.iter().zip(&used_by[v]) {
                let _ = writeln!(
                    w,
                    "[goods.{o}]  # a copy of {}, price {}",
                    good[v],
                    number(use_adj[&(*v, u)])
                );
            }
        }
        let _ = writeln!(w);
        let _ = writeln!(w, "# the result");
        let _ = writeln!(w, "[goods.{result}]");
        let _ = writeln!(w, "price = 1.0");
        for (v, outs) in &copiers {
            let _ = writeln!(w);
            let _ = writeln!(
                w,
                "# {} is used {} times: one unit in gives one unit of each copy",
                good[v],
                outs.len()
            );
            let _ = writeln!(w, "[[firms]]");
            let _ = writeln!(w, "name = {}", toml_string(&format!("copy_{}", good[v])));
            let outputs = outs.iter().map(|o| format!("{o} = 1.0")).collect::<Vec<_>>().join(", ");
            let _ = writeln!(w, "outputs = {{ {outputs} }}");
            let _ = writeln!(
                w,
                "production = {{ linear = {{ coefficients = {{ {} = 1.0 }} }} }}",
                good[v]
            );
        }
        for firm in &firms {
            let _ = writeln!(w);
            let _ = writeln!(w, "# {} = {}", firm.output, c.g.text(firm.node));
            let _ = writeln!(w, "[[firms]]");
            let _ = writeln!(w, "name = {}", toml_string(&format!("op_{}", firm.output)));
            let _ = writeln!(w, "output = {}", toml_string(&firm.output));
            let _ = writeln!(w, "production = {}", toml_string(&firm.production));
        }
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "# Copiers and linear operations (sums, constant multiples) have constant returns; the"
        );
        let _ = writeln!(
            w,
            "# default gradient rule stabilises such firms by extrapolation (docs/MODEL.md)."
        );
        let _ = writeln!(w, "[run]");
        let _ = writeln!(w, "max_ticks = {MAX_TICKS}");
    }
    // the file must be a valid scenario
    if let Err(e) = scenario::load_str("<compiled>", &t, &[], None) {
        return Err(fail(
            format!("internal error: the compiled scenario does not validate:\n{e}"),
            "please report this expression to the developers",
        ));
    }
    Ok(Compiled {
        toml: t,
        value,
        gradient: vars.iter().cloned().zip(grad).collect(),
        operations: firms.len(),
        copiers: copiers.len(),
    })
}
