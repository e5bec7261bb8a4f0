//! Production-function expressions with exact first and second derivatives.
//!
//! A production function is written as an expression over the names of goods, e.g.
//! `sqrt(labor) * capital^0.3` or `min(2*wood, nails/4)`. [`Expr::parse`] compiles it to a
//! flat tape of operations in evaluation order (variables are referred to by index), and
//! [`Expr::eval`], [`Expr::gradient`] and [`Expr::hessian`] evaluate it. Derivatives are computed
//! by automatic differentiation, so they are exact up to floating-point rounding:
//!
//! * the gradient by reverse mode (one forward and one backward sweep over the tape);
//! * the Hessian by forward-over-reverse mode (one tangent sweep and one backward sweep per
//!   variable), symmetrised at the end.
//!
//! # Grammar
//!
//! ```text
//! expr     := sum
//! sum      := product (('+' | '-') product)*
//! product  := unary (('*' | '/') unary)*
//! unary    := ('-' | '+') unary | power
//! power    := primary ('^' unary)?            -- right-associative, binds tighter than unary minus
//! primary  := number | name | function '(' expr (',' expr)* ')' | '(' expr ')'
//! number   := digits ['.' digits] [('e'|'E') ['+'|'-'] digits]   (also ".5", "1.")
//! name     := [A-Za-z_][A-Za-z0-9_]*
//! function := sqrt | ln | log | exp | pow | min | max     (log is the natural logarithm)
//! ```
//!
//! So `-x^2` is `-(x^2)`, `2^3^2` is `2^9`, and `2^-x` is `2^(-x)`. Function names are reserved
//! and cannot be used as names of goods. Whitespace (including Unicode whitespace) may appear
//! between any two tokens.
//!
//! # Conventions at awkward points
//!
//! * `min`/`max` pick the first argument achieving the extreme; the derivative flows only to it
//!   (a one-sided derivative / subgradient at ties). If an argument is NaN the result is NaN.
//! * `x^n` with a constant integer `n` works for negative `x`. `a^b` with a non-constant `b` is
//!   `exp(b ln a)` as far as the derivative with respect to `b` is concerned.
//! * `sqrt(0)` has derivative `+inf`; `ln` of a non-positive number gives NaN or `-inf` as `f64`
//!   does. Nothing panics; the caller is expected to stay inside the domain.
//! * A derivative that does not flow through a branch never picks up that branch's infinities:
//!   `max(1, sqrt(x))` at `x = 0` has derivative exactly 0, not NaN.
//!
//! # Robustness
//!
//! The parser is iterative (shunting-yard with explicit stacks), so arbitrarily deep nesting
//! cannot overflow the call stack. Expressions that would need more than [`MAX_NODES`] tape
//! nodes are rejected. Parsing never panics on any `&str`. Constant sub-expressions are folded
//! at parse time (`2^0.5 * x` stores a single constant).

use std::collections::HashMap;
use std::fmt;

/// Largest number of tape nodes an expression may compile to.
pub const MAX_NODES: usize = 100_000;

/// The reserved function names, in the order they are listed to users.
pub const FUNCTION_NAMES: [&str; 7] = ["sqrt", "ln", "log", "exp", "pow", "min", "max"];

/// Tapes up to this many nodes evaluate without heap allocation.
const STACK_NODES: usize = 64;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A problem found while parsing an expression, with its location and a suggested fix.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    /// Byte offset into the expression source where the problem is.
    pub offset: usize,
    /// Length in bytes of the offending token (at least 1 unless at end of input, then 0).
    pub len: usize,
    /// What is wrong, in plain words.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}

impl ExprError {
    fn new(offset: usize, len: usize, message: impl Into<String>, help: impl Into<String>) -> Self {
        ExprError {
            offset,
            len,
            message: message.into(),
            help: help.into(),
        }
    }

    /// A multi-line report pointing at the problem in `src` (the string that was parsed):
    ///
    /// ```text
    /// error: expected an operator between 'x' and 'y'
    ///  --> column 3
    ///   |
    ///   | x y
    ///   |   ^
    ///   = help: to multiply, write 'x * y'; the other operators are + - / ^
    /// ```
    pub fn render(&self, src: &str) -> String {
        let offset = floor_boundary(src, self.offset);
        let end = floor_boundary(src, offset.saturating_add(self.len));
        let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
        let line: String = src[line_start..line_end]
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        let pad = src[line_start..offset].chars().count();
        let carets = src[offset..end.min(line_end).max(offset)].chars().count().max(1);
        format!(
            "error: {}\n --> {}\n  |\n  | {}\n  | {}{}\n  = help: {}",
            self.message,
            position(src, offset),
            line,
            " ".repeat(pad),
            "^".repeat(carets),
            self.help
        )
    }
}

/// Largest char boundary of `s` that is `<= i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// "column C" (1-based, in characters), or "line L, column C" for multi-line sources.
fn position(src: &str, offset: usize) -> String {
    let offset = floor_boundary(src, offset);
    let before = &src[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    if src.contains('\n') {
        let line = before.matches('\n').count() + 1;
        format!("line {line}, column {col}")
    } else {
        format!("column {col}")
    }
}

/// A piece of source for a message, shortened if very long.
fn clip(s: &str) -> String {
    const MAX: usize = 30;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// A piece of source in quotes for a message, shortened if very long.
fn quote(s: &str) -> String {
    format!("'{}'", clip(s))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn function_list() -> String {
    FUNCTION_NAMES.join(", ")
}

// ---------------------------------------------------------------------------------------------
// Tape
// ---------------------------------------------------------------------------------------------

/// One tape operation. Arguments are indices of earlier nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Var(u32),
    Const(f64),
    Add(u32, u32),
    Sub(u32, u32),
    Mul(u32, u32),
    Div(u32, u32),
    Neg(u32),
    /// `a ^ n` for a constant integer exponent.
    PowI(u32, i32),
    /// `a ^ c` for a constant non-integer exponent.
    PowC(u32, f64),
    /// `c ^ b` for a constant base.
    CPow(f64, u32),
    /// `a ^ b`, both non-constant.
    Pow(u32, u32),
    Sqrt(u32),
    Ln(u32),
    Exp(u32),
    Min(u32, u32),
    Max(u32, u32),
}

impl Op {
    /// The node indices this operation reads.
    #[inline]
    fn args(&self) -> (Option<usize>, Option<usize>) {
        use Op::*;
        match *self {
            Var(_) | Const(_) => (None, None),
            Neg(a) | PowI(a, _) | PowC(a, _) | CPow(_, a) | Sqrt(a) | Ln(a) | Exp(a) => (Some(a as usize), None),
            Add(a, b) | Sub(a, b) | Mul(a, b) | Div(a, b) | Pow(a, b) | Min(a, b) | Max(a, b) => {
                (Some(a as usize), Some(b as usize))
            }
        }
    }
}

/// `min` picks its second argument only if it is strictly smaller (or NaN).
#[inline]
fn min_picks_second(a: f64, b: f64) -> bool {
    b < a || b.is_nan()
}

/// `max` picks its second argument only if it is strictly larger (or NaN).
#[inline]
fn max_picks_second(a: f64, b: f64) -> bool {
    b > a || b.is_nan()
}

#[inline]
fn powi(x: f64, n: i32) -> f64 {
    x.powi(n)
}

/// Value of a node given the values of earlier nodes.
#[inline]
fn node_value(op: &Op, v: &[f64], x: &[f64]) -> f64 {
    use Op::*;
    match *op {
        Var(i) => x[i as usize],
        Const(c) => c,
        Add(a, b) => v[a as usize] + v[b as usize],
        Sub(a, b) => v[a as usize] - v[b as usize],
        Mul(a, b) => v[a as usize] * v[b as usize],
        Div(a, b) => v[a as usize] / v[b as usize],
        Neg(a) => -v[a as usize],
        PowI(a, n) => powi(v[a as usize], n),
        PowC(a, c) => v[a as usize].powf(c),
        CPow(c, b) => c.powf(v[b as usize]),
        Pow(a, b) => v[a as usize].powf(v[b as usize]),
        Sqrt(a) => v[a as usize].sqrt(),
        Ln(a) => v[a as usize].ln(),
        Exp(a) => v[a as usize].exp(),
        Min(a, b) => {
            let (p, q) = (v[a as usize], v[b as usize]);
            if min_picks_second(p, q) {
                q
            } else {
                p
            }
        }
        Max(a, b) => {
            let (p, q) = (v[a as usize], v[b as usize]);
            if max_picks_second(p, q) {
                q
            } else {
                p
            }
        }
    }
}

/// Local partial derivatives of one node with respect to its (at most two) arguments.
#[derive(Debug, Clone, Copy, Default)]
struct Local {
    da: f64,
    db: f64,
    daa: f64,
    dab: f64,
    dbb: f64,
}

/// Local partials of node `op` whose value is `vk`. Second derivatives only if `second`.
#[inline(always)]
fn local(op: &Op, v: &[f64], vk: f64, second: bool) -> Local {
    use Op::*;
    let mut l = Local::default();
    match *op {
        Var(_) | Const(_) => {}
        Add(_, _) => {
            l.da = 1.0;
            l.db = 1.0;
        }
        Sub(_, _) => {
            l.da = 1.0;
            l.db = -1.0;
        }
        Mul(a, b) => {
            l.da = v[b as usize];
            l.db = v[a as usize];
            l.dab = 1.0;
        }
        Div(_, b) => {
            let y = v[b as usize];
            l.da = 1.0 / y;
            l.db = -vk / y;
            if second {
                let y2 = y * y;
                l.dab = -1.0 / y2;
                l.dbb = 2.0 * vk / y2;
            }
        }
        Neg(_) => l.da = -1.0,
        PowI(a, n) => {
            let x = v[a as usize];
            match n {
                0 => {}
                1 => l.da = 1.0,
                2 => {
                    l.da = 2.0 * x;
                    l.daa = 2.0;
                }
                _ => {
                    let nf = f64::from(n);
                    l.da = nf * powi(x, n - 1);
                    if second {
                        l.daa = nf * (nf - 1.0) * powi(x, n - 2);
                    }
                }
            }
        }
        PowC(a, c) => {
            let x = v[a as usize];
            l.da = c * x.powf(c - 1.0);
            if second {
                l.daa = c * (c - 1.0) * x.powf(c - 2.0);
            }
        }
        CPow(c, _) => {
            // d/db c^b = c^b ln c; the value 0 (c = 0, b > 0) is locally constant.
            if vk != 0.0 {
                let lc = c.ln();
                l.da = vk * lc;
                if second {
                    l.daa = l.da * lc;
                }
            }
        }
        Pow(a, b) => {
            let (x, y) = (v[a as usize], v[b as usize]);
            let xm1 = x.powf(y - 1.0);
            l.da = y * xm1;
            let lx = if vk != 0.0 { x.ln() } else { 0.0 };
            l.db = vk * lx;
            if second {
                l.daa = y * (y - 1.0) * x.powf(y - 2.0);
                l.dab = xm1 * (1.0 + y * lx);
                l.dbb = l.db * lx;
            }
        }
        Sqrt(a) => {
            l.da = 0.5 / vk;
            if second {
                l.daa = -0.25 / (vk * v[a as usize]);
            }
        }
        Ln(a) => {
            l.da = 1.0 / v[a as usize];
            if second {
                l.daa = -l.da * l.da;
            }
        }
        Exp(_) => {
            l.da = vk;
            l.daa = vk;
        }
        Min(a, b) => {
            if min_picks_second(v[a as usize], v[b as usize]) {
                l.db = 1.0;
            } else {
                l.da = 1.0;
            }
        }
        Max(a, b) => {
            if max_picks_second(v[a as usize], v[b as usize]) {
                l.db = 1.0;
            } else {
                l.da = 1.0;
            }
        }
    }
    l
}

/// `d * t`, except that a zero factor gives exactly zero even if the other one is infinite or
/// NaN. Derivative contributions along edges that carry nothing (a branch of `min` not taken,
/// a variable not being differentiated) must not poison the result with `0 * inf = NaN`.
#[inline(always)]
fn mul0(d: f64, t: f64) -> f64 {
    if d == 0.0 || t == 0.0 {
        0.0
    } else {
        d * t
    }
}

/// Run `f` on a zeroed scratch buffer of `len` values, on the stack when small.
#[inline]
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    if len <= 2 * STACK_NODES {
        let mut buf = [0.0f64; 2 * STACK_NODES];
        f(&mut buf[..len])
    } else {
        let mut buf = vec![0.0f64; len];
        f(&mut buf)
    }
}

// ---------------------------------------------------------------------------------------------
// Expr
// ---------------------------------------------------------------------------------------------

/// A compiled production function.
#[derive(Debug, Clone)]
pub struct Expr {
    src: String,
    tape: Vec<Op>,
    root: usize,
    vars: Vec<String>,
    /// Tape node of each variable (`None` if the variable does not occur in the expression).
    var_nodes: Vec<Option<u32>>,
    /// Source span of the first occurrence of each variable (`(0, 0)` if it does not occur).
    var_spans: Vec<(usize, usize)>,
    smooth: bool,
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

impl Expr {
    /// Parse and compile an expression.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        Parser::new(src).run()
    }

    /// Distinct variable names in order of first appearance. `x` slices passed to `eval` etc.
    /// are indexed in this order.
    pub fn variables(&self) -> &[String] {
        &self.vars
    }

    /// Index of the variable called `name`, if any.
    pub fn variable_index(&self, name: &str) -> Option<usize> {
        self.vars.iter().position(|v| v == name)
    }

    /// Byte span `(offset, len)` of the first occurrence of variable `i` in the source, for
    /// error messages. `(0, 0)` if the variable does not occur in the source (it was added by
    /// [`Expr::with_variable_order`]) or `i` is out of range.
    pub fn variable_span(&self, i: usize) -> (usize, usize) {
        self.var_spans.get(i).copied().unwrap_or((0, 0))
    }

    /// A copy whose variable `j` is named `order[j]`. `order` may contain names that do not
    /// occur in the expression (their derivatives are 0). Every name in
    /// [`Expr::variables`] must appear in `order`, else `Err(missing name)`; a name appearing
    /// twice in `order` is also rejected with `Err(that name)`.
    pub fn with_variable_order(&self, order: &[String]) -> Result<Expr, String> {
        let mut pos: HashMap<&str, usize> = HashMap::with_capacity(order.len());
        for (j, name) in order.iter().enumerate() {
            if pos.insert(name.as_str(), j).is_some() {
                return Err(name.clone());
            }
        }
        let mut remap = Vec::with_capacity(self.vars.len());
        for name in &self.vars {
            match pos.get(name.as_str()) {
                Some(&j) => remap.push(j),
                None => return Err(name.clone()),
            }
        }
        let mut out = self.clone();
        out.vars = order.to_vec();
        out.var_nodes = vec![None; order.len()];
        out.var_spans = vec![(0, 0); order.len()];
        for (old, &new) in remap.iter().enumerate() {
            out.var_nodes[new] = self.var_nodes[old];
            out.var_spans[new] = self.var_spans[old];
        }
        for op in &mut out.tape {
            if let Op::Var(i) = op {
                *i = remap[*i as usize] as u32;
            }
        }
        Ok(out)
    }

    fn check_len(&self, what: &str, got: usize, want: usize) {
        assert!(
            got == want,
            "Expr::{what}: expected {want} values (variables {:?} of '{}'), got {got}",
            self.vars,
            self.src
        );
    }

    fn forward(&self, x: &[f64], v: &mut [f64]) {
        for (k, op) in self.tape.iter().enumerate() {
            v[k] = node_value(op, v, x);
        }
    }

    /// Value at `x` (one value per variable, in the order of [`Expr::variables`]).
    ///
    /// # Panics
    /// If `x.len()` differs from the number of variables.
    pub fn eval(&self, x: &[f64]) -> f64 {
        self.check_len("eval", x.len(), self.vars.len());
        with_scratch(self.tape.len(), |v| {
            self.forward(x, v);
            v[self.root]
        })
    }

    /// Value at `x`, and the gradient written into `grad`.
    ///
    /// # Panics
    /// If `x.len()` or `grad.len()` differs from the number of variables.
    pub fn gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let n = self.vars.len();
        self.check_len("gradient", x.len(), n);
        self.check_len("gradient (grad)", grad.len(), n);
        let m = self.tape.len();
        with_scratch(2 * m, |buf| {
            let (v, u) = buf.split_at_mut(m);
            self.forward(x, v);
            u[self.root] = 1.0;
            for k in (0..=self.root).rev() {
                let uk = u[k];
                if uk == 0.0 {
                    continue;
                }
                let op = &self.tape[k];
                let (a, b) = op.args();
                if a.is_none() {
                    continue;
                }
                let l = local(op, v, v[k], false);
                if let Some(a) = a {
                    u[a] += mul0(uk, l.da);
                }
                if let Some(b) = b {
                    u[b] += mul0(uk, l.db);
                }
            }
            for (g, node) in grad.iter_mut().zip(&self.var_nodes) {
                *g = node.map_or(0.0, |i| u[i as usize]);
            }
            v[self.root]
        })
    }

    /// Value at `x`, gradient into `grad`, and Hessian into `hess` (row-major `n * n`,
    /// symmetric).
    ///
    /// # Panics
    /// If `x.len()` or `grad.len()` differs from the number of variables `n`, or
    /// `hess.len() != n * n`.
    pub fn hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        let n = self.vars.len();
        self.check_len("hessian", x.len(), n);
        self.check_len("hessian (grad)", grad.len(), n);
        self.check_len("hessian (hess)", hess.len(), n * n);
        let m = self.root + 1;
        let tape = &self.tape[..m];
        let mut v = vec![0.0; m];
        self.forward(x, &mut v);
        let loc: Vec<Local> = tape.iter().zip(&v).map(|(op, &vk)| local(op, &v, vk, true)).collect();
        let args: Vec<(Option<usize>, Option<usize>)> = tape.iter().map(Op::args).collect();

        // Reverse sweep: adjoints u.
        let mut u = vec![0.0; m];
        u[self.root] = 1.0;
        for k in (0..m).rev() {
            let uk = u[k];
            if uk == 0.0 {
                continue;
            }
            let (a, b) = args[k];
            if let Some(a) = a {
                u[a] += mul0(uk, loc[k].da);
            }
            if let Some(b) = b {
                u[b] += mul0(uk, loc[k].db);
            }
        }
        for (g, node) in grad.iter_mut().zip(&self.var_nodes) {
            *g = node.map_or(0.0, |i| u[i as usize]);
        }

        // One tangent sweep (t) and one adjoint-tangent sweep (w) per variable.
        hess.fill(0.0);
        let mut t = vec![0.0; m];
        let mut w = vec![0.0; m];
        for i in 0..n {
            let Some(seed) = self.var_nodes[i] else {
                continue;
            };
            let seed = seed as usize;
            for k in 0..m {
                let (a, b) = args[k];
                t[k] = match (a, b) {
                    (None, _) => f64::from(u8::from(k == seed)),
                    (Some(a), None) => mul0(loc[k].da, t[a]),
                    (Some(a), Some(b)) => mul0(loc[k].da, t[a]) + mul0(loc[k].db, t[b]),
                };
            }
            w.fill(0.0);
            for k in (0..m).rev() {
                let (uk, wk) = (u[k], w[k]);
                if uk == 0.0 && wk == 0.0 {
                    continue;
                }
                let (a, b) = args[k];
                let l = loc[k];
                let ta = a.map_or(0.0, |a| t[a]);
                let tb = b.map_or(0.0, |b| t[b]);
                if let Some(a) = a {
                    w[a] += mul0(l.da, wk) + mul0(uk, mul0(l.daa, ta) + mul0(l.dab, tb));
                }
                if let Some(b) = b {
                    w[b] += mul0(l.db, wk) + mul0(uk, mul0(l.dab, ta) + mul0(l.dbb, tb));
                }
            }
            for (h, node) in hess[i * n..(i + 1) * n].iter_mut().zip(&self.var_nodes) {
                *h = node.map_or(0.0, |j| w[j as usize]);
            }
        }
        for i in 0..n {
            for j in i + 1..n {
                let s = 0.5 * (hess[i * n + j] + hess[j * n + i]);
                hess[i * n + j] = s;
                hess[j * n + i] = s;
            }
        }
        v[self.root]
    }

    /// Number of tape nodes.
    pub fn len(&self) -> usize {
        self.tape.len()
    }

    /// Always false: a parsed expression has at least one node.
    pub fn is_empty(&self) -> bool {
        self.tape.is_empty()
    }

    /// The source string the expression was parsed from.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// False if the expression applies `min` or `max` to a non-constant argument (it is then
    /// non-smooth: derivatives at ties are one-sided). `min`/`max` of constants only is folded
    /// away at parse time and does not count.
    pub fn is_smooth(&self) -> bool {
        self.smooth
    }

    /// The tape as read-only [`Node`]s in evaluation order (arguments are indices of earlier
    /// nodes; constant sub-expressions are already folded), for tools that walk an
    /// expression, such as `pricegrad compile`.
    pub fn nodes(&self) -> Vec<Node> {
        self.tape.iter().map(Node::from).collect()
    }

    /// Index in [`Expr::nodes`] of the node holding the expression's value.
    pub fn root(&self) -> usize {
        self.root
    }
}

/// A read-only view of one tape operation (see [`Expr::nodes`]). Arguments are node indices;
/// `Var(i)` is variable `i` of [`Expr::variables`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node {
    Var(usize),
    Const(f64),
    Add(usize, usize),
    Sub(usize, usize),
    Mul(usize, usize),
    Div(usize, usize),
    Neg(usize),
    /// `a ^ c` for a constant exponent `c`.
    PowC(usize, f64),
    /// `c ^ b` for a constant base `c`.
    CPow(f64, usize),
    /// `a ^ b`, both non-constant.
    Pow(usize, usize),
    Sqrt(usize),
    Ln(usize),
    Exp(usize),
    Min(usize, usize),
    Max(usize, usize),
}

impl From<&Op> for Node {
    fn from(op: &Op) -> Node {
        let u = |i: u32| i as usize;
        match *op {
            Op::Var(i) => Node::Var(u(i)),
            Op::Const(c) => Node::Const(c),
            Op::Add(a, b) => Node::Add(u(a), u(b)),
            Op::Sub(a, b) => Node::Sub(u(a), u(b)),
            Op::Mul(a, b) => Node::Mul(u(a), u(b)),
            Op::Div(a, b) => Node::Div(u(a), u(b)),
            Op::Neg(a) => Node::Neg(u(a)),
            Op::PowI(a, n) => Node::PowC(u(a), f64::from(n)),
            Op::PowC(a, c) => Node::PowC(u(a), c),
            Op::CPow(c, b) => Node::CPow(c, u(b)),
            Op::Pow(a, b) => Node::Pow(u(a), u(b)),
            Op::Sqrt(a) => Node::Sqrt(u(a)),
            Op::Ln(a) => Node::Ln(u(a)),
            Op::Exp(a) => Node::Exp(u(a)),
            Op::Min(a, b) => Node::Min(u(a), u(b)),
            Op::Max(a, b) => Node::Max(u(a), u(b)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Num(f64),
    Ident,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Lexer<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(c) = self.src[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    /// Whether the next token is '(' (skips whitespace).
    fn next_is_lparen(&mut self) -> bool {
        self.skip_whitespace();
        self.src.as_bytes().get(self.pos) == Some(&b'(')
    }

    fn next(&mut self) -> Result<Token, ExprError> {
        self.skip_whitespace();
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let Some(&c) = bytes.get(start) else {
            return Ok(Token {
                tok: Tok::End,
                start,
                end: start,
            });
        };
        let tok = match c {
            b'+' => Tok::Plus,
            b'-' => Tok::Minus,
            b'/' => Tok::Slash,
            b'^' => Tok::Caret,
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b',' => Tok::Comma,
            b'*' => {
                if bytes.get(start + 1) == Some(&b'*') {
                    return Err(ExprError::new(
                        start,
                        2,
                        "'**' is not an operator",
                        "write powers with '^', e.g. 'x^2'",
                    ));
                }
                Tok::Star
            }
            b'0'..=b'9' | b'.' => return self.number(),
            c if is_ident_start(c) => {
                let mut end = start + 1;
                while bytes.get(end).is_some_and(|&c| is_ident_continue(c)) {
                    end += 1;
                }
                self.pos = end;
                return Ok(Token {
                    tok: Tok::Ident,
                    start,
                    end,
                });
            }
            _ => return Err(self.unexpected_char(start)),
        };
        self.pos = start + 1;
        Ok(Token {
            tok,
            start,
            end: start + 1,
        })
    }

    fn unexpected_char(&self, start: usize) -> ExprError {
        let ch = self.src[start..].chars().next().unwrap_or('?');
        let len = ch.len_utf8();
        let message = format!("unexpected character '{ch}'");
        let help = match ch {
            '\u{2212}' | '\u{2013}' | '\u{2014}' => {
                "this is a typographic dash; type the ASCII minus '-' instead".to_string()
            }
            '\u{00d7}' | '\u{00b7}' | '\u{2219}' | '\u{22c5}' => {
                "write multiplication with '*', e.g. 'x * y'".to_string()
            }
            '\u{00f7}' => "write division with '/', e.g. 'x / y'".to_string(),
            '\u{00b2}' | '\u{00b3}' => "write powers with '^', e.g. 'x^2'".to_string(),
            '[' | ']' | '{' | '}' => "use '(' and ')' for grouping".to_string(),
            c if c.is_alphabetic() => "names of goods may only contain ASCII letters, digits and '_' (and must not \
                 start with a digit); rename the good"
                .to_string(),
            _ => "an expression may only contain numbers, names of goods (letters, digits, '_'), \
                  the operators + - * / ^, parentheses, and ',' between function arguments; \
                  remove this character"
                .to_string(),
        };
        ExprError::new(start, len, message, help)
    }

    fn number(&mut self) -> Result<Token, ExprError> {
        let bytes = self.src.as_bytes();
        let digit = |p: usize| bytes.get(p).is_some_and(u8::is_ascii_digit);
        let start = self.pos;
        let mut p = start;
        while digit(p) {
            p += 1;
        }
        let mut ndigits = p - start;
        if bytes.get(p) == Some(&b'.') {
            p += 1;
            let s = p;
            while digit(p) {
                p += 1;
            }
            ndigits += p - s;
        }
        if ndigits == 0 {
            return Err(ExprError::new(
                start,
                1,
                "'.' on its own is not a number",
                "write decimals with a digit after the point, e.g. 0.5 or .5",
            ));
        }
        if matches!(bytes.get(p), Some(b'e' | b'E')) {
            let mut q = p + 1;
            if matches!(bytes.get(q), Some(b'+' | b'-')) {
                q += 1;
            }
            if digit(q) {
                while digit(q) {
                    q += 1;
                }
                p = q;
            } else if !bytes.get(p + 1).is_some_and(|&c| is_ident_continue(c)) {
                let text = &self.src[start..q];
                return Err(ExprError::new(
                    start,
                    q - start,
                    format!("the number {} has no digits after the exponent 'e'", quote(text)),
                    "write the exponent's digits, e.g. 1e3 for 1000 or 2.5e-2 for 0.025",
                ));
            }
        }
        if bytes.get(p) == Some(&b'.') {
            let mut q = p;
            while bytes.get(q).is_some_and(|&c| is_ident_continue(c) || c == b'.') {
                q += 1;
            }
            let text = &self.src[start..q];
            return Err(ExprError::new(
                start,
                q - start,
                format!("{} is not a valid number", quote(text)),
                "a number has at most one decimal point, and an exponent comes last, \
                 e.g. 1.25 or 2.5e-3",
            ));
        }
        let text = &self.src[start..p];
        let value: f64 = text.parse().map_err(|_| {
            ExprError::new(
                start,
                p - start,
                format!("{} is not a valid number", quote(text)),
                "write numbers like 2, 0.5, .5 or 1e-3",
            )
        })?;
        if !value.is_finite() {
            return Err(ExprError::new(
                start,
                p - start,
                format!("number {} is not finite", clip(text)),
                "numbers must be below about 1.8e308; rescale the quantities",
            ));
        }
        self.pos = p;
        Ok(Token {
            tok: Tok::Num(value),
            start,
            end: p,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Parser (shunting-yard, no recursion)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Sqrt,
    Ln,
    Exp,
    Pow,
    Min,
    Max,
}

fn lookup_function(name: &str) -> Option<Func> {
    Some(match name {
        "sqrt" => Func::Sqrt,
        "ln" | "log" => Func::Ln,
        "exp" => Func::Exp,
        "pow" => Func::Pow,
        "min" => Func::Min,
        "max" => Func::Max,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    fn prec(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul | BinOp::Div => 2,
            BinOp::Pow => 4,
        }
    }
}

/// Precedence of unary minus: between `* /` and `^`.
const NEG_PREC: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnOp {
    Neg,
    Sqrt,
    Ln,
    Exp,
}

/// An operand: a constant (not yet on the tape) or a tape node.
#[derive(Debug, Clone, Copy)]
enum Val {
    C(f64),
    N(u32),
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    Bin(BinOp),
    Neg,
    Paren {
        at: usize,
    },
    Call {
        func: Func,
        name_start: usize,
        name_end: usize,
        args: usize,
    },
}

struct Parser<'a> {
    src: &'a str,
    lex: Lexer<'a>,
    tape: Vec<Op>,
    vals: Vec<Val>,
    ops: Vec<Pending>,
    vars: Vec<String>,
    var_nodes: Vec<u32>,
    var_spans: Vec<(usize, usize)>,
    var_index: HashMap<&'a str, usize>,
    smooth: bool,
    /// The token before the current one.
    prev: Option<Token>,
    /// The current token (location for size-limit errors).
    cur: Token,
}

fn bin_value(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Pow => a.powf(b),
    }
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            lex: Lexer { src, pos: 0 },
            tape: Vec::new(),
            vals: Vec::new(),
            ops: Vec::new(),
            vars: Vec::new(),
            var_nodes: Vec::new(),
            var_spans: Vec::new(),
            var_index: HashMap::new(),
            smooth: true,
            prev: None,
            cur: Token {
                tok: Tok::End,
                start: 0,
                end: 0,
            },
        }
    }

    fn text(&self, t: &Token) -> &'a str {
        &self.src[t.start..t.end]
    }

    fn describe(&self, t: &Token) -> String {
        match t.tok {
            Tok::End => "end of expression".to_string(),
            _ => quote(self.text(t)),
        }
    }

    fn internal(&self) -> ExprError {
        ExprError::new(
            self.cur.start,
            self.cur.end - self.cur.start,
            "internal error in the expression parser",
            "please report this expression to the developers",
        )
    }

    fn run(mut self) -> Result<Expr, ExprError> {
        if self.src.trim().is_empty() {
            return Err(ExprError::new(
                self.src.len(),
                0,
                "empty expression",
                "write a production function of the goods, e.g. 'sqrt(labor) * capital^0.3'",
            ));
        }
        let mut expect_operand = true;
        loop {
            let tok = self.lex.next()?;
            self.cur = tok;
            if expect_operand {
                match tok.tok {
                    Tok::Num(c) => {
                        self.vals.push(Val::C(c));
                        expect_operand = false;
                    }
                    Tok::Ident => {
                        let name = self.text(&tok);
                        if self.lex.next_is_lparen() {
                            let func = lookup_function(name).ok_or_else(|| self.unknown_function(&tok))?;
                            let lparen = self.lex.next()?;
                            self.ops.push(Pending::Call {
                                func,
                                name_start: tok.start,
                                name_end: tok.end,
                                args: 0,
                            });
                            self.prev = Some(lparen);
                            continue;
                        }
                        if lookup_function(name).is_some() {
                            return Err(ExprError::new(
                                tok.start,
                                tok.end - tok.start,
                                format!("'{name}' is a function and cannot be used as the name of a good"),
                                format!("call it with parentheses, e.g. '{name}(x)', or rename the good"),
                            ));
                        }
                        let node = self.variable(&tok)?;
                        self.vals.push(Val::N(node));
                        expect_operand = false;
                    }
                    Tok::LParen => self.ops.push(Pending::Paren { at: tok.start }),
                    Tok::Minus => self.ops.push(Pending::Neg),
                    Tok::Plus => {}
                    _ => return Err(self.expected_operand(&tok)),
                }
            } else {
                match tok.tok {
                    Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash | Tok::Caret => {
                        let op = match tok.tok {
                            Tok::Plus => BinOp::Add,
                            Tok::Minus => BinOp::Sub,
                            Tok::Star => BinOp::Mul,
                            Tok::Slash => BinOp::Div,
                            _ => BinOp::Pow,
                        };
                        let right_assoc = op == BinOp::Pow;
                        while let Some(&top) = self.ops.last() {
                            let p = match top {
                                Pending::Bin(b) => b.prec(),
                                Pending::Neg => NEG_PREC,
                                _ => break,
                            };
                            if p > op.prec() || (p == op.prec() && !right_assoc) {
                                self.ops.pop();
                                self.apply(top)?;
                            } else {
                                break;
                            }
                        }
                        self.ops.push(Pending::Bin(op));
                        expect_operand = true;
                    }
                    Tok::RParen => {
                        self.reduce_operators()?;
                        match self.ops.pop() {
                            Some(Pending::Paren { .. }) => {}
                            Some(Pending::Call {
                                func,
                                name_start,
                                name_end,
                                args,
                            }) => self.finish_call(func, name_start, name_end, tok.end, args + 1)?,
                            _ => {
                                return Err(ExprError::new(
                                    tok.start,
                                    1,
                                    "unmatched ')': there is no '(' before it for it to close",
                                    "remove this ')' or add the matching '(' earlier",
                                ));
                            }
                        }
                    }
                    Tok::Comma => {
                        self.reduce_operators()?;
                        match self.ops.last_mut() {
                            Some(Pending::Call { args, .. }) => {
                                *args += 1;
                                expect_operand = true;
                            }
                            Some(Pending::Paren { at }) => {
                                let at = *at;
                                return Err(ExprError::new(
                                    tok.start,
                                    1,
                                    "',' can only separate the arguments of a function call \
                                     like min(a, b)",
                                    format!(
                                        "this ',' is inside the plain parentheses opened at {}; \
                                         put a function name before that '(' (e.g. 'min(' or \
                                         'pow('), or write decimals with '.', e.g. 0.5",
                                        position(self.src, at)
                                    ),
                                ));
                            }
                            _ => {
                                return Err(ExprError::new(
                                    tok.start,
                                    1,
                                    "',' can only separate the arguments of a function call \
                                     like min(a, b)",
                                    "remove the ','; decimals are written with '.', e.g. 0.5",
                                ));
                            }
                        }
                    }
                    Tok::End => {
                        self.reduce_operators()?;
                        if let Some(&open) = self.ops.last() {
                            return Err(self.unclosed(open));
                        }
                        break;
                    }
                    Tok::Num(_) | Tok::Ident | Tok::LParen => {
                        return Err(self.expected_operator(&tok));
                    }
                }
            }
            self.prev = Some(tok);
        }
        let result = match self.vals.pop() {
            Some(v) if self.vals.is_empty() => v,
            _ => return Err(self.internal()),
        };
        let root = self.node(result)? as usize;
        Ok(Expr {
            src: self.src.to_string(),
            tape: self.tape,
            root,
            vars: self.vars,
            var_nodes: self.var_nodes.into_iter().map(Some).collect(),
            var_spans: self.var_spans,
            smooth: self.smooth,
        })
    }

    fn variable(&mut self, tok: &Token) -> Result<u32, ExprError> {
        let name = self.text(tok);
        if let Some(&i) = self.var_index.get(name) {
            return Ok(self.var_nodes[i]);
        }
        let i = self.vars.len();
        let node = self.push(Op::Var(i as u32))?;
        self.var_index.insert(name, i);
        self.vars.push(name.to_string());
        self.var_nodes.push(node);
        self.var_spans.push((tok.start, tok.end - tok.start));
        Ok(node)
    }

    // ----- tape building -----

    fn push(&mut self, op: Op) -> Result<u32, ExprError> {
        if self.tape.len() >= MAX_NODES {
            return Err(ExprError::new(
                self.cur.start,
                self.cur.end - self.cur.start,
                format!(
                    "the expression is too large: it needs more than {MAX_NODES} operations \
                     (the limit is reached here)"
                ),
                "simplify the production function; for example many identical terms can be \
                 written as one product, like '1000 * x' instead of 'x + x + ... + x'",
            ));
        }
        self.tape.push(op);
        Ok((self.tape.len() - 1) as u32)
    }

    fn node(&mut self, v: Val) -> Result<u32, ExprError> {
        match v {
            Val::N(i) => Ok(i),
            Val::C(c) => self.push(Op::Const(c)),
        }
    }

    fn pop_val(&mut self) -> Result<Val, ExprError> {
        self.vals.pop().ok_or_else(|| self.internal())
    }

    fn binary(&mut self, op: BinOp, a: Val, b: Val) -> Result<Val, ExprError> {
        if let (Val::C(x), Val::C(y)) = (a, b) {
            return Ok(Val::C(bin_value(op, x, y)));
        }
        let op = match op {
            BinOp::Pow => match (a, b) {
                (Val::N(ia), Val::C(y)) => {
                    if y.fract() == 0.0 && y.abs() <= f64::from(1 << 30) {
                        Op::PowI(ia, y as i32)
                    } else {
                        Op::PowC(ia, y)
                    }
                }
                (Val::C(x), Val::N(ib)) => Op::CPow(x, ib),
                _ => Op::Pow(self.node(a)?, self.node(b)?),
            },
            _ => {
                let (ia, ib) = (self.node(a)?, self.node(b)?);
                match op {
                    BinOp::Add => Op::Add(ia, ib),
                    BinOp::Sub => Op::Sub(ia, ib),
                    BinOp::Mul => Op::Mul(ia, ib),
                    _ => Op::Div(ia, ib),
                }
            }
        };
        Ok(Val::N(self.push(op)?))
    }

    fn unary(&mut self, op: UnOp, a: Val) -> Result<Val, ExprError> {
        match a {
            Val::C(x) => Ok(Val::C(match op {
                UnOp::Neg => -x,
                UnOp::Sqrt => x.sqrt(),
                UnOp::Ln => x.ln(),
                UnOp::Exp => x.exp(),
            })),
            Val::N(i) => {
                let op = match op {
                    UnOp::Neg => Op::Neg(i),
                    UnOp::Sqrt => Op::Sqrt(i),
                    UnOp::Ln => Op::Ln(i),
                    UnOp::Exp => Op::Exp(i),
                };
                Ok(Val::N(self.push(op)?))
            }
        }
    }

    fn extreme(&mut self, is_min: bool, a: Val, b: Val) -> Result<Val, ExprError> {
        if let (Val::C(x), Val::C(y)) = (a, b) {
            let second = if is_min {
                min_picks_second(x, y)
            } else {
                max_picks_second(x, y)
            };
            return Ok(Val::C(if second { y } else { x }));
        }
        self.smooth = false;
        let (ia, ib) = (self.node(a)?, self.node(b)?);
        let op = if is_min { Op::Min(ia, ib) } else { Op::Max(ia, ib) };
        Ok(Val::N(self.push(op)?))
    }

    fn apply(&mut self, p: Pending) -> Result<(), ExprError> {
        let r = match p {
            Pending::Bin(op) => {
                let b = self.pop_val()?;
                let a = self.pop_val()?;
                self.binary(op, a, b)?
            }
            Pending::Neg => {
                let a = self.pop_val()?;
                self.unary(UnOp::Neg, a)?
            }
            _ => return Err(self.internal()),
        };
        self.vals.push(r);
        Ok(())
    }

    /// Apply pending operators down to the nearest '(' or function call.
    fn reduce_operators(&mut self) -> Result<(), ExprError> {
        while let Some(&top) = self.ops.last() {
            if !matches!(top, Pending::Bin(_) | Pending::Neg) {
                break;
            }
            self.ops.pop();
            self.apply(top)?;
        }
        Ok(())
    }

    fn finish_call(
        &mut self,
        func: Func,
        name_start: usize,
        name_end: usize,
        call_end: usize,
        got: usize,
    ) -> Result<(), ExprError> {
        let ok = match func {
            Func::Pow => got == 2,
            Func::Min | Func::Max => got >= 2,
            _ => got == 1,
        };
        if !ok {
            return Err(self.arity_error(func, name_start, name_end, call_end, got));
        }
        if self.vals.len() < got {
            return Err(self.internal());
        }
        let args = self.vals.split_off(self.vals.len() - got);
        let r = match func {
            Func::Sqrt => self.unary(UnOp::Sqrt, args[0])?,
            Func::Ln => self.unary(UnOp::Ln, args[0])?,
            Func::Exp => self.unary(UnOp::Exp, args[0])?,
            Func::Pow => self.binary(BinOp::Pow, args[0], args[1])?,
            Func::Min | Func::Max => {
                let mut acc = args[0];
                for &a in &args[1..] {
                    acc = self.extreme(func == Func::Min, acc, a)?;
                }
                acc
            }
        };
        self.vals.push(r);
        Ok(())
    }

    // ----- error construction -----

    fn arity_error(&self, func: Func, name_start: usize, name_end: usize, call_end: usize, got: usize) -> ExprError {
        let name = &self.src[name_start..name_end];
        let (expected, help) = match func {
            Func::Pow => (
                "2 arguments".to_string(),
                "write pow(base, exponent), e.g. pow(x, 0.5), or equivalently x^0.5".to_string(),
            ),
            Func::Min | Func::Max => (
                "2 or more arguments".to_string(),
                format!(
                    "{name} compares several values, e.g. {name}(x, y) or {name}(2*x, y, 10); \
                     with a single value, drop the {name}"
                ),
            ),
            _ => (
                "1 argument".to_string(),
                format!("write {name}(x) with exactly one argument"),
            ),
        };
        ExprError::new(
            name_start,
            call_end - name_start,
            format!("{name} takes {expected}, got {got}"),
            help,
        )
    }

    fn unknown_function(&self, tok: &Token) -> ExprError {
        let name = self.text(tok);
        let lower = name.to_ascii_lowercase();
        let functions = function_list();
        let help = if lower.starts_with("log") && lower.len() > 3 {
            let base = &name[3..];
            format!(
                "only the natural logarithm is available (ln, or its synonym log); \
                 write ln(x)/ln({base}) for {name}(x)"
            )
        } else {
            let best = if name.len() <= 20 {
                FUNCTION_NAMES
                    .iter()
                    .map(|f| (edit_distance(&lower, f), *f))
                    .min_by_key(|&(d, _)| d)
                    .filter(|&(d, _)| d <= 2 && d <= 1 + name.len() / 3)
            } else {
                None
            };
            match best {
                Some((0, f)) => {
                    format!("did you mean '{f}'? Function names are lowercase")
                }
                Some((_, f)) => format!("did you mean '{f}'? The functions are {functions}"),
                None => format!(
                    "the functions are {functions}; if '{}' is a good, put an operator \
                     between it and '(', e.g. '{} * (...)'",
                    clip(name),
                    clip(name)
                ),
            }
        };
        ExprError::new(
            tok.start,
            tok.end - tok.start,
            format!("unknown function {}", quote(name)),
            help,
        )
    }

    fn expected_operand(&self, tok: &Token) -> ExprError {
        let found = self.describe(tok);
        let after = match &self.prev {
            None => "at the start of the expression".to_string(),
            Some(p) => format!("after {}", self.describe(p)),
        };
        let message = format!("expected a number, a good's name, a function call or '(' {after}, found {found}");
        let prev_tok = self.prev.map(|p| p.tok);
        let help = match (prev_tok, tok.tok) {
            (Some(Tok::LParen), Tok::RParen) => {
                if let Some(Pending::Call {
                    name_start, name_end, ..
                }) = self.ops.last()
                {
                    let func = lookup_function(&self.src[*name_start..*name_end]);
                    if let Some(func) = func {
                        return self.arity_error(func, *name_start, *name_end, tok.end, 0);
                    }
                }
                "empty parentheses: put an expression inside, e.g. '(x + 1)', or remove them".to_string()
            }
            (Some(Tok::Comma), Tok::RParen | Tok::Comma | Tok::End) => {
                "a function argument is missing after the ','; add it or remove the ','".to_string()
            }
            (Some(Tok::LParen), Tok::Comma) => "a function argument is missing before the ','; add it".to_string(),
            (Some(Tok::LParen), Tok::End) => "write an expression after the '(' and close it with ')'".to_string(),
            (Some(p), Tok::End) if is_operator(p) => format!(
                "the {} at {} has nothing on its right; complete the expression or remove it",
                self.describe(&self.prev.unwrap_or(*tok)),
                position(self.src, self.prev.map_or(tok.start, |p| p.start))
            ),
            (Some(p), Tok::RParen | Tok::Comma) if is_operator(p) => format!(
                "the {} has nothing on its right before the {found}; complete it or remove it",
                self.describe(&self.prev.unwrap_or(*tok))
            ),
            (Some(p), t) if is_operator(p) && is_operator(t) => format!(
                "two operators in a row; remove one of them, or put a value between them{}",
                if p == Tok::Star && t == Tok::Star {
                    " (powers are written with '^')"
                } else {
                    ""
                }
            ),
            (_, Tok::Star | Tok::Slash | Tok::Caret) => {
                format!("{found} needs a value on its left, e.g. 'x {} y'", self.text(tok))
            }
            (_, Tok::RParen) => "remove this ')' or add what should come before it".to_string(),
            (_, Tok::Comma) => "',' only separates function arguments, e.g. min(x, y); remove it".to_string(),
            _ => "complete the expression".to_string(),
        };
        ExprError::new(tok.start, tok.end - tok.start, message, help)
    }

    fn expected_operator(&self, tok: &Token) -> ExprError {
        let prev = self.prev.unwrap_or(*tok);
        let a = self.describe(&prev);
        let b = self.describe(tok);
        let (ta, tb) = (clip(self.text(&prev)), clip(self.text(tok)));
        let help = if tok.tok == Tok::LParen {
            format!("to multiply, write '{ta} * (...)'; the other operators are + - / ^")
        } else {
            format!("to multiply, write '{ta} * {tb}'; the other operators are + - / ^")
        };
        ExprError::new(
            tok.start,
            tok.end - tok.start,
            format!("expected an operator between {a} and {b}"),
            help,
        )
    }

    fn unclosed(&self, innermost: Pending) -> ExprError {
        let open = self
            .ops
            .iter()
            .filter(|p| matches!(p, Pending::Paren { .. } | Pending::Call { .. }))
            .count();
        let what = match innermost {
            Pending::Call {
                name_start, name_end, ..
            } => format!(
                "the call '{}(' at {}",
                &self.src[name_start..name_end],
                position(self.src, name_start)
            ),
            Pending::Paren { at } => format!("the '(' at {}", position(self.src, at)),
            _ => "an open '('".to_string(),
        };
        let help = if open == 1 {
            "add ')' at the end".to_string()
        } else {
            format!("add {open} ')' at the end ({open} parentheses are still open)")
        };
        ExprError::new(
            self.src.len(),
            0,
            format!("expected ')' to close {what}, found end of expression"),
            help,
        )
    }
}

fn is_operator(t: Tok) -> bool {
    matches!(t, Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash | Tok::Caret)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Instant;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Evaluate `src` with named values.
    fn ev(src: &str, point: &[(&str, f64)]) -> f64 {
        let e = Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {}", e.render(src)));
        let x: Vec<f64> = e
            .variables()
            .iter()
            .map(|n| {
                point
                    .iter()
                    .find(|(k, _)| k == n)
                    .unwrap_or_else(|| panic!("no value for {n}"))
                    .1
            })
            .collect();
        e.eval(&x)
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        a == b || (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn precedence_table() {
        let p = [("x", 2.0), ("y", 3.0), ("good_1", 5.0), ("Good2", 7.0)];
        let (x, y) = (2.0f64, 3.0f64);
        #[rustfmt::skip]
        let cases: &[(&str, f64)] = &[
            ("1+2*3", 7.0),
            ("(1+2)*3", 9.0),
            ("2^3^2", 512.0),
            ("(2^3)^2", 64.0),
            ("-x^2", -4.0),
            ("(-x)^2", 4.0),
            ("-2^2", -4.0),
            ("2^-1", 0.5),
            ("2^-x^2", 1.0 / 16.0),
            ("2^-x*3", 0.75),
            ("x-y-1", -2.0),
            ("x/y/2", x / y / 2.0),
            ("8/2*4", 16.0),
            ("2*x^2", 8.0),
            ("2*3^2", 18.0),
            ("2^3*2", 16.0),
            ("--x", 2.0),
            ("+x", 2.0),
            ("-+-x", 2.0),
            ("x - -y", 5.0),
            ("2*-x", -4.0),
            ("-x*y", -6.0),
            ("-(x+y)*2", -10.0),
            ("x^-2", 0.25),
            ("x^y", 8.0),
            ("-x^y", -8.0),
            ("x^2^0.5", x.powf(2f64.sqrt())),
            ("1/2/2", 0.25),
            (".5 + 1e-3", 0.501),
            ("1.5E2 + 2e+1 + 3.", 173.0),
            ("log(exp(2))", 2.0),
            ("ln(x)", x.ln()),
            ("sqrt(16)", 4.0),
            ("sqrt(x*8)", 4.0),
            ("pow(2, 10)", 1024.0),
            ("pow(x, y)", 8.0),
            ("min(3, x, 1)", 1.0),
            ("min(x, y)", 2.0),
            ("max(x, y, 0)", 3.0),
            ("max(-x, -y)", -2.0),
            ("x*y+x/y", 6.0 + x / y),
            ("  x\t*\n y ", 6.0),
            ("x\u{a0}*\u{2009}y", 6.0),
            ("good_1 + Good2", 12.0),
            ("((((x))))", 2.0),
            ("exp(-x) * exp(x)", 1.0),
            ("x^3 - 3*x^2*y + y/x", 8.0 - 36.0 + 1.5),
            ("sqrt(x)^2", x.sqrt().powi(2)),
            ("2^x", 4.0),
            ("min(x, 1) + max(y, 10)", 11.0),
        ];
        for &(src, want) in cases {
            let got = ev(src, &p);
            assert!(close(got, want, 1e-15), "{src}: got {got}, want {want}");
        }
    }

    #[test]
    fn variables_in_order_of_first_appearance_with_spans() {
        let e = Expr::parse("b + a*b + sqrt(c_1)").unwrap();
        assert_eq!(e.variables(), &names(&["b", "a", "c_1"])[..]);
        assert_eq!(e.variable_span(0), (0, 1));
        assert_eq!(e.variable_span(1), (4, 1));
        assert_eq!(e.variable_span(2), (15, 3));
        assert_eq!(e.variable_index("a"), Some(1));
        assert_eq!(e.source(), "b + a*b + sqrt(c_1)");
        assert_eq!(e.to_string(), "b + a*b + sqrt(c_1)");
        assert!(e.is_smooth());
        assert!(!Expr::parse("min(a, b)").unwrap().is_smooth());
        // min of constants is folded and stays smooth
        assert!(Expr::parse("min(1, 2) * a").unwrap().is_smooth());
        assert!(!e.is_empty());
    }

    #[test]
    fn constant_folding() {
        let e = Expr::parse("2^0.5 * 3 + 1").unwrap();
        assert_eq!(e.len(), 1);
        assert!(e.variables().is_empty());
        assert!(close(e.eval(&[]), 2f64.sqrt() * 3.0 + 1.0, 1e-15));
        let e = Expr::parse("x * (1 + 2) ^ 2").unwrap();
        assert_eq!(e.len(), 3); // x, 9, mul
    }

    #[test]
    fn essay_chain() {
        // f(x) = ln(1 - 1/(sqrt(x)+1)); f'(x) = 1/(2x(sqrt(x)+1)).
        let e = Expr::parse("ln(1 - 1/(sqrt(x)+1))").unwrap();
        let mut g = [0.0];
        let v = e.gradient(&[4.0], &mut g);
        assert!((v - (2.0f64 / 3.0).ln()).abs() < 1e-14, "{v}");
        assert!((g[0] - 1.0 / 24.0).abs() < 1e-14, "{}", g[0]);
        let mut h = [0.0];
        let mut g2 = [0.0];
        let v2 = e.hessian(&[4.0], &mut g2, &mut h);
        assert_eq!(v, v2);
        assert!((g2[0] - 1.0 / 24.0).abs() < 1e-14);
        // f'' = -(3 sqrt(x) + 2) / (4 x^2 (sqrt(x)+1)^2) at x=4: -(8)/(4*16*9) = -1/72
        assert!((h[0] + 1.0 / 72.0).abs() < 1e-14, "{}", h[0]);
    }

    #[test]
    fn exact_derivatives_by_hand() {
        let check = |src: &str, x: &[f64], want_v: f64, want_g: &[f64], want_h: &[f64]| {
            let e = Expr::parse(src).unwrap();
            let n = x.len();
            let mut g = vec![0.0; n];
            let mut h = vec![0.0; n * n];
            let v = e.hessian(x, &mut g, &mut h);
            assert!(close(v, want_v, 1e-14), "{src}: value {v}");
            for i in 0..n {
                assert!(close(g[i], want_g[i], 1e-14), "{src}: grad {g:?}");
            }
            for i in 0..n * n {
                assert!(close(h[i], want_h[i], 1e-14), "{src}: hess {h:?}");
            }
            let mut g2 = vec![0.0; n];
            assert_eq!(e.gradient(x, &mut g2), v);
            assert_eq!(g, g2);
        };
        // negative base, integer exponent
        check("x^2", &[-3.0], 9.0, &[-6.0], &[2.0]);
        check("x^3", &[-2.0], -8.0, &[12.0], &[-12.0]);
        check("x^-1", &[-2.0], -0.5, &[-0.25], &[-0.25]);
        check("pow(x, 4)", &[-1.0], 1.0, &[-4.0], &[12.0]);
        // products and quotients
        check("x*y", &[2.0, 3.0], 6.0, &[3.0, 2.0], &[0.0, 1.0, 1.0, 0.0]);
        check("x*x", &[3.0], 9.0, &[6.0], &[2.0]);
        check(
            "x/y",
            &[2.0, 4.0],
            0.5,
            &[0.25, -0.125],
            &[0.0, -1.0 / 16.0, -1.0 / 16.0, 2.0 * 2.0 / 64.0],
        );
        // x^y, both variable, at (2, 3)
        let l2 = 2f64.ln();
        check(
            "x^y",
            &[2.0, 3.0],
            8.0,
            &[12.0, 8.0 * l2],
            &[12.0, 4.0 * (1.0 + 3.0 * l2), 4.0 * (1.0 + 3.0 * l2), 8.0 * l2 * l2],
        );
        check("x^x", &[1.0], 1.0, &[1.0], &[2.0]);
        // constant base
        check("2^x", &[3.0], 8.0, &[8.0 * l2], &[8.0 * l2 * l2]);
        // linear combination and exp/ln
        check("3*x - y/2 + 7", &[1.0, 2.0], 9.0, &[3.0, -0.5], &[0.0; 4]);
        check(
            "exp(x) + ln(y)",
            &[0.0, 2.0],
            1.0 + l2,
            &[1.0, 0.5],
            &[1.0, 0.0, 0.0, -0.25],
        );
        // variable that does not occur after reordering
        let e = Expr::parse("x*y^2")
            .unwrap()
            .with_variable_order(&names(&["y", "z", "x"]))
            .unwrap();
        assert_eq!(e.variables(), &names(&["y", "z", "x"])[..]);
        assert_eq!(e.variable_span(1), (0, 0));
        assert_eq!(e.variable_span(2), (0, 1));
        let mut g = [0.0; 3];
        let mut h = [0.0; 9];
        let v = e.hessian(&[3.0, 100.0, 2.0], &mut g, &mut h);
        assert_eq!(v, 18.0);
        assert_eq!(g, [12.0, 0.0, 9.0]);
        assert_eq!(h, [4.0, 0.0, 6.0, 0.0, 0.0, 0.0, 6.0, 0.0, 0.0]);
    }

    #[test]
    fn with_variable_order_errors() {
        let e = Expr::parse("x + y").unwrap();
        assert_eq!(e.with_variable_order(&names(&["x"])).unwrap_err(), "y");
        assert_eq!(e.with_variable_order(&names(&["x", "y", "x"])).unwrap_err(), "x");
        assert_eq!(
            e.with_variable_order(&names(&["y", "x"])).unwrap().eval(&[1.0, 10.0]),
            11.0
        );
    }

    #[test]
    fn non_smooth_and_boundary_conventions() {
        let grad = |src: &str, x: &[f64]| {
            let e = Expr::parse(src).unwrap();
            let mut g = vec![0.0; x.len()];
            let mut h = vec![0.0; x.len() * x.len()];
            e.hessian(x, &mut g, &mut h);
            let mut g2 = vec![0.0; x.len()];
            e.gradient(x, &mut g2);
            assert_eq!(g, g2, "{src}");
            (g, h)
        };
        // ties go to the first argument
        assert_eq!(grad("min(x, y)", &[1.0, 1.0]).0, [1.0, 0.0]);
        assert_eq!(grad("max(x, y)", &[1.0, 1.0]).0, [1.0, 0.0]);
        assert_eq!(grad("0*x + min(y, x, 5)", &[1.0, 1.0]).0, [0.0, 1.0]);
        assert_eq!(grad("max(x, y, 2*x)", &[2.0, 4.0]).0, [0.0, 1.0]);
        assert_eq!(grad("min(x, y, 2*x)", &[-2.0, 4.0]).0, [2.0, 0.0]);
        // the branch not taken does not poison derivatives with inf/NaN
        let (g, h) = grad("max(1, sqrt(x))", &[0.0]);
        assert_eq!((g[0], h[0]), (0.0, 0.0));
        let (g, h) = grad("min(ln(x), y)", &[0.0, 1.0]);
        assert_eq!(g, [f64::INFINITY, 0.0]);
        assert_eq!(h[3], 0.0);
        let (g, h) = grad("sqrt(x) + y", &[0.0, 1.0]);
        assert_eq!(g, [f64::INFINITY, 1.0]);
        assert_eq!((h[1], h[3]), (0.0, 0.0));
        // sqrt at 0
        let e = Expr::parse("sqrt(x)").unwrap();
        let mut g = [0.0];
        assert_eq!(e.gradient(&[0.0], &mut g), 0.0);
        assert_eq!(g[0], f64::INFINITY);
        // out of domain: NaN/-inf as f64 does, no panic
        assert!(Expr::parse("ln(x)").unwrap().eval(&[-1.0]).is_nan());
        assert_eq!(Expr::parse("ln(x)").unwrap().eval(&[0.0]), f64::NEG_INFINITY);
        assert!(Expr::parse("x^0.5").unwrap().eval(&[-1.0]).is_nan());
        // NaN propagates through min/max
        assert!(Expr::parse("min(x, 1)").unwrap().eval(&[f64::NAN]).is_nan());
        assert!(Expr::parse("max(1, x)").unwrap().eval(&[f64::NAN]).is_nan());
        // 0^y with y > 0 is locally constant
        assert_eq!(grad("0^y", &[2.0]).0, [0.0]);
    }

    #[test]
    fn long_tape_uses_heap_path() {
        let src = (1..=100).map(|i| format!("x^{i}/{i}")).collect::<Vec<_>>().join(" + ");
        let e = Expr::parse(&src).unwrap();
        assert!(e.len() > 2 * STACK_NODES);
        let x = 0.5f64;
        let want_v: f64 = (1..=100).map(|i| x.powi(i) / f64::from(i)).sum();
        let want_g: f64 = (1..=100).map(|i| x.powi(i - 1)).sum();
        let mut g = [0.0];
        let v = e.gradient(&[x], &mut g);
        assert!(close(v, want_v, 1e-14) && close(e.eval(&[x]), want_v, 1e-14));
        assert!(close(g[0], want_g, 1e-14));
    }

    // ----- finite-difference checks -----

    struct Case {
        src: &'static str,
        /// Groups of min/max arguments that must not be near a tie.
        ties: &'static [&'static [&'static str]],
    }

    const fn c(src: &'static str) -> Case {
        Case { src, ties: &[] }
    }

    const CASES: &[Case] = &[
        c("x + y"),
        c("x - y"),
        c("x * y"),
        c("x / y"),
        c("-x * y + -(y)"),
        c("+x - -y"),
        c("x^2 * y^3"),
        c("x^0.3 * y^0.7"),
        c("x^-1.5 + y^-2"),
        c("(x - 5)^3 + (y - 5)^4"),
        c("x^y"),
        c("y^(x/3)"),
        c("(x + 1)^(y - x)"),
        c("2^x * 0.5^y"),
        c("pow(x, y/4) + pow(y, 2) + pow(3, x/5)"),
        c("sqrt(x * y)"),
        c("sqrt(sqrt(x) + y)"),
        c("ln(x) + log(y)"),
        c("ln(x * y) - log(x / y)"),
        c("exp(x/5 - y/3)"),
        c("exp(sqrt(x)) / (1 + y^2)"),
        c("ln(1 - 1/(sqrt(x)+1))"),
        c("(0.3*x^0.5 + 0.7*y^0.5)^2"),
        c("(0.4*x^-2 + 0.6*y^-2)^-0.5"),
        c("x*y/(x + y)"),
        c("x * x * y"),
        Case {
            src: "min(x, y)",
            ties: &[&["x", "y"]],
        },
        Case {
            src: "max(x, y)",
            ties: &[&["x", "y"]],
        },
        Case {
            src: "min(x^2, y, 3)",
            ties: &[&["x^2", "y", "3"]],
        },
        Case {
            src: "max(sqrt(x), ln(y), x*y/10)",
            ties: &[&["sqrt(x)", "ln(y)", "x*y/10"]],
        },
        Case {
            src: "min(x, y) * max(x, y)^2",
            ties: &[&["x", "y"]],
        },
        Case {
            src: "x * min(y, 2*x) + max(x^2, y)",
            ties: &[&["y", "2*x"], &["x^2", "y"]],
        },
    ];

    fn xy() -> Vec<String> {
        names(&["x", "y"])
    }

    fn near_tie(case: &Case, p: &[f64]) -> bool {
        case.ties.iter().any(|group| {
            let vals: Vec<f64> = group
                .iter()
                .map(|s| Expr::parse(s).unwrap().with_variable_order(&xy()).unwrap().eval(p))
                .collect();
            vals.iter().enumerate().any(|(i, a)| {
                vals[i + 1..]
                    .iter()
                    .any(|b| (a - b).abs() <= 1e-3 * (1.0 + a.abs() + b.abs()))
            })
        })
    }

    fn check_against_fd(e: &Expr, p: &[f64]) -> Result<(), String> {
        let n = p.len();
        let mut g = vec![0.0; n];
        let mut h = vec![0.0; n * n];
        let f = e.hessian(p, &mut g, &mut h);
        let mut g1 = vec![0.0; n];
        let f1 = e.gradient(p, &mut g1);
        if f != e.eval(p) || f1 != f || g1 != g {
            return Err(format!("eval/gradient/hessian disagree: {f} {f1} {g:?} {g1:?}"));
        }
        for i in 0..n {
            if h[i * n..].iter().zip(0..n).any(|(&hij, j)| hij != h[j * n + i]) {
                return Err(format!("hessian not symmetric: {h:?}"));
            }
        }
        for i in 0..n {
            let step = 1e-5 * p[i].abs().max(1e-3);
            let (mut xp, mut xm) = (p.to_vec(), p.to_vec());
            xp[i] += step;
            xm[i] -= step;
            let h2 = xp[i] - xm[i];
            let fd = (e.eval(&xp) - e.eval(&xm)) / h2;
            let tol = 1e-6 * g[i].abs().max(fd.abs()) + 1e-12 * (f.abs() + 1.0) / h2;
            let within = (g[i] - fd).abs() <= tol; // false for NaN too
            if !within {
                return Err(format!("d/dx{i}: AD {} vs FD {fd} at {p:?}", g[i]));
            }
            // central differences of the gradient at steps h and h/2, combined by Richardson
            // extrapolation (4 D(h/2) - D(h)) / 3 so that the O(h^2) truncation of the check
            // itself cancels (it exceeded 1e-6 relative where d2f is small against d3f, e.g.
            // (y - 5)^4 near y = 5)
            let central = |step: f64| {
                let (mut xp, mut xm) = (p.to_vec(), p.to_vec());
                xp[i] += step;
                xm[i] -= step;
                let (mut gp, mut gm) = (vec![0.0; n], vec![0.0; n]);
                e.gradient(&xp, &mut gp);
                e.gradient(&xm, &mut gm);
                let width = xp[i] - xm[i];
                let fd: Vec<f64> = (0..n).map(|j| (gp[j] - gm[j]) / width).collect();
                let size: Vec<f64> = (0..n).map(|j| gp[j].abs() + gm[j].abs()).collect();
                (fd, size, width)
            };
            let (fd1, size, _) = central(step);
            let (fd2, _, h_half) = central(step / 2.0);
            for j in 0..n {
                let fd = (4.0 * fd2[j] - fd1[j]) / 3.0;
                let ad = h[i * n + j];
                // rounding in the differences, amplified by the extrapolation (5/3 < 2)
                let tol = 1e-6 * ad.abs().max(fd.abs()) + 2e-12 * (size[j] + 1.0) / h_half;
                let within = (ad - fd).abs() <= tol;
                if !within {
                    return Err(format!("d2/dx{i}dx{j}: AD {ad} vs FD {fd} at {p:?}"));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn cases_cover_every_operation() {
        let mut seen = std::collections::BTreeSet::new();
        for case in CASES {
            for op in &Expr::parse(case.src).unwrap().tape {
                let name = format!("{op:?}");
                seen.insert(name.split('(').next().unwrap().to_string());
            }
        }
        for want in [
            "Var", "Const", "Add", "Sub", "Mul", "Div", "Neg", "PowI", "PowC", "CPow", "Pow", "Sqrt", "Ln", "Exp",
            "Min", "Max",
        ] {
            assert!(seen.contains(want), "no case exercises {want}: {seen:?}");
        }
    }

    /// The point where the finite-difference check of the Hessian once failed on its own
    /// truncation error (d2/dy2 of (y - 5)^4 near y = 5).
    #[test]
    fn ad_matches_finite_differences_where_d2f_is_small() {
        let p = [0.1, 5.00024];
        for case in CASES.iter().filter(|c| !near_tie(c, &p)) {
            let e = Expr::parse(case.src).unwrap().with_variable_order(&xy()).unwrap();
            if let Err(msg) = check_against_fd(&e, &p) {
                panic!("{}: {msg}", case.src);
            }
        }
    }

    proptest! {
        #[test]
        fn ad_matches_finite_differences(x in 0.1f64..10.0, y in 0.1f64..10.0) {
            let p = [x, y];
            for case in CASES {
                if near_tie(case, &p) {
                    continue;
                }
                let e = Expr::parse(case.src).unwrap().with_variable_order(&xy()).unwrap();
                if let Err(msg) = check_against_fd(&e, &p) {
                    return Err(TestCaseError::fail(format!("{}: {msg}", case.src)));
                }
            }
        }
    }

    // ----- hostile input -----

    fn check_error_invariants(src: &str, err: &ExprError) {
        assert!(err.offset <= src.len(), "{src:?}: {err:?}");
        assert!(err.offset + err.len <= src.len(), "{src:?}: {err:?}");
        assert!(src.is_char_boundary(err.offset), "{src:?}: {err:?}");
        assert!(src.is_char_boundary(err.offset + err.len), "{src:?}: {err:?}");
        assert!(err.len > 0 || err.offset == src.len(), "{src:?}: {err:?}");
        assert!(!err.message.is_empty() && !err.help.is_empty(), "{src:?}: {err:?}");
        assert_eq!(err.to_string(), err.message);
        let _ = err.render(src);
    }

    fn never_panics(src: &str) {
        match Expr::parse(src) {
            Ok(e) => {
                let n = e.variables().len();
                assert!(e.len() <= MAX_NODES && !e.is_empty());
                for v in [1.5, -1.0, 0.0] {
                    let x = vec![v; n];
                    let mut g = vec![0.0; n];
                    let mut h = vec![0.0; n * n];
                    let _ = e.eval(&x);
                    let _ = e.gradient(&x, &mut g);
                    let _ = e.hessian(&x, &mut g, &mut h);
                }
            }
            Err(err) => check_error_invariants(src, &err),
        }
    }

    #[test]
    fn error_cases() {
        #[rustfmt::skip]
        let cases: &[(&str, usize, usize, &str, &str)] = &[
            ("", 0, 0, "empty expression", "write a production function"),
            ("  \t", 3, 0, "empty expression", ""),
            ("1 +", 3, 0, "after '+', found end of expression", "nothing on its right"),
            ("x ^", 3, 0, "found end of expression", "remove it"),
            ("()", 1, 1, "found ')'", "empty parentheses"),
            ("sqrt()", 0, 6, "sqrt takes 1 argument, got 0", "exactly one argument"),
            ("sqrt(x, y)", 0, 10, "sqrt takes 1 argument, got 2", ""),
            ("min(x)", 0, 6, "min takes 2 or more arguments, got 1", "drop the min"),
            ("max()", 0, 5, "max takes 2 or more arguments, got 0", ""),
            ("pow(x)", 0, 6, "pow takes 2 arguments, got 1", "pow(base, exponent)"),
            ("2 * log( x , 1, 2 )", 4, 15, "log takes 1 argument, got 3", ""),
            ("sqr(x)", 0, 3, "unknown function 'sqr'", "did you mean 'sqrt'?"),
            ("Sqrt(x)", 0, 4, "unknown function 'Sqrt'", "lowercase"),
            ("mx(x, y)", 0, 2, "unknown function 'mx'", "did you mean 'max'?"),
            ("log10(x)", 0, 5, "unknown function 'log10'", "ln(x)/ln(10)"),
            ("labor (x + 1)", 0, 5, "unknown function 'labor'", "'labor * (...)'"),
            ("1e400", 0, 5, "number 1e400 is not finite", ""),
            ("x + 1..2", 4, 4, "'1..2' is not a valid number", "at most one decimal point"),
            ("1.2.3", 0, 5, "'1.2.3' is not a valid number", ""),
            ("2e", 0, 2, "no digits after the exponent", ""),
            ("2e+ x", 0, 3, "no digits after the exponent", ""),
            (". + x", 0, 1, "'.' on its own", ""),
            ("x y", 2, 1, "expected an operator between 'x' and 'y'", "'x * y'"),
            ("2x", 1, 1, "expected an operator between '2' and 'x'", "'2 * x'"),
            ("2 (x)", 2, 1, "expected an operator between '2' and '('", "'2 * (...)'"),
            ("(x)(y)", 3, 1, "between ')' and '('", ""),
            ("(x + 1", 6, 0, "expected ')' to close the '(' at column 1, found end of expression", "add ')' at the end"),
            ("((x + 1", 7, 0, "the '(' at column 2", "add 2 ')'"),
            ("sqrt(x", 6, 0, "the call 'sqrt(' at column 1", "add ')' at the end"),
            ("x\n+ (y", 6, 0, "line 2, column 3", ""),
            ("x)", 1, 1, "unmatched ')'", ""),
            ("x ** 2", 2, 2, "'**' is not an operator", "'^'"),
            ("x, y", 1, 1, "','", "remove the ','"),
            ("(0,5)*x", 2, 1, "','", "0.5"),
            ("min(x,)", 6, 1, "after ',', found ')'", "missing after the ','"),
            ("min(,x)", 4, 1, "after '(', found ','", "missing before"),
            ("2 * sqrt", 4, 4, "'sqrt' is a function", "rename the good"),
            ("x + caf\u{e9}", 7, 2, "unexpected character '\u{e9}'", "ASCII letters"),
            ("x \u{2212} y", 2, 3, "unexpected character", "ASCII minus"),
            ("x # y", 2, 1, "unexpected character '#'", ""),
            ("*x", 0, 1, "at the start of the expression, found '*'", "needs a value on its left"),
            ("x + * y", 4, 1, "after '+', found '*'", "two operators in a row"),
            ("(x + )", 5, 1, "found ')'", "nothing on its right"),
        ];
        for &(src, offset, len, msg, help) in cases {
            let err = Expr::parse(src).expect_err(src);
            check_error_invariants(src, &err);
            assert_eq!((err.offset, err.len), (offset, len), "{src:?}: {err:?}");
            assert!(err.message.contains(msg), "{src:?}: message {:?}", err.message);
            assert!(err.help.contains(help), "{src:?}: help {:?}", err.help);
        }
    }

    #[test]
    fn render_points_at_the_problem() {
        let src = "sqrt(x) * y z";
        let err = Expr::parse(src).unwrap_err();
        let r = err.render(src);
        assert!(r.contains("error: expected an operator between 'y' and 'z'"), "{r}");
        assert!(r.contains("  | sqrt(x) * y z\n  |             ^\n"), "{r}");
        assert!(r.contains("help: to multiply"), "{r}");
        let src = "(x + 1";
        let r = Expr::parse(src).unwrap_err().render(src);
        assert!(r.contains("  | (x + 1\n  |       ^\n"), "{r}");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let n = 100_000;
        let src = format!("{}x{}", "(".repeat(n), ")".repeat(n));
        let e = Expr::parse(&src).unwrap();
        assert_eq!(e.eval(&[2.5]), 2.5);

        let src = format!("{}x", "(".repeat(n));
        let err = Expr::parse(&src).unwrap_err();
        assert!(err.help.contains("add 100000 ')'"), "{err:?}");
        check_error_invariants(&src, &err);

        let src = format!("{}x", "-".repeat(n));
        let err = Expr::parse(&src).unwrap_err();
        assert!(err.message.contains("too large"), "{err:?}");

        let src = format!("{}x", "-".repeat(1001));
        assert_eq!(Expr::parse(&src).unwrap().eval(&[2.0]), -2.0);

        let src = format!("{}1", "-".repeat(n));
        assert_eq!(Expr::parse(&src).unwrap().eval(&[]), 1.0);

        // x^x^...^x with 99,999 '^': exactly MAX_NODES nodes; derivative at 1 is 1.
        let src = format!("{}x", "x^".repeat(MAX_NODES - 1));
        let e = Expr::parse(&src).unwrap();
        assert_eq!(e.len(), MAX_NODES);
        let mut g = [0.0];
        assert_eq!(e.gradient(&[1.0], &mut g), 1.0);
        assert!(close(g[0], 1.0, 1e-12), "{}", g[0]);

        let src = format!("{}x{}", "sqrt(".repeat(n), ")".repeat(n));
        assert!(Expr::parse(&src).unwrap_err().message.contains("too large"));
        let src = format!("{}x{}", "exp(ln(".repeat(n / 4), "))".repeat(n / 4));
        let e = Expr::parse(&src).unwrap();
        assert!(close(e.eval(&[1.5]), 1.5, 1e-10));

        let src = format!("{}x{}", "min(1, ".repeat(n / 4), ")".repeat(n / 4));
        assert_eq!(Expr::parse(&src).unwrap().eval(&[0.5]), 0.5);
    }

    #[test]
    fn huge_flat_inputs_are_fast() {
        let terms = 1_000_000;
        let t0 = Instant::now();
        let src = vec!["x"; terms].join("+");
        let err = Expr::parse(&src).unwrap_err();
        assert!(err.message.contains("too large"), "{err:?}");
        check_error_invariants(&src, &err);
        let src = vec!["1"; terms].join(" + ");
        assert_eq!(Expr::parse(&src).unwrap().eval(&[]), terms as f64);
        let src = (0..40_000).map(|i| format!("g{i}")).collect::<Vec<_>>().join("+");
        let e = Expr::parse(&src).unwrap();
        assert_eq!(e.variables().len(), 40_000);
        let mut g = vec![0.0; 40_000];
        assert_eq!(e.gradient(&vec![1.0; 40_000], &mut g), 40_000.0);
        assert!(g.iter().all(|&d| d == 1.0));
        let src = format!("min({})", vec!["x"; 60_000].join(","));
        assert_eq!(Expr::parse(&src).unwrap().eval(&[3.0]), 3.0);
        let elapsed = t0.elapsed();
        // generous bound for unoptimised builds on a busy machine
        assert!(elapsed.as_secs_f64() < 5.0, "took {elapsed:?}");
    }

    const TOKENS: &[&str] = &[
        "x", "y", "k_2", "2", ".5", "1e3", "1e400", "1.", "+", "-", "*", "/", "^", "(", ")", ",", "sqrt", "ln", "log",
        "exp", "pow", "min", "max", "sqr", " ", "\u{e9}", "**", "..", "e", "1e", "\u{2212}", "\n", "0", "(", ")", "x",
    ];

    proptest! {
        #[test]
        fn random_token_strings_never_panic(
            toks in proptest::collection::vec(0..TOKENS.len(), 0..40)
        ) {
            let src: String = toks.iter().map(|&i| TOKENS[i]).collect();
            never_panics(&src);
        }

        #[test]
        fn random_strings_never_panic(src in "\\PC{0,40}") {
            never_panics(&src);
        }

        #[test]
        fn random_ascii_never_panics(src in "[ -~\t\n]{0,60}") {
            never_panics(&src);
        }
    }
}
