//! Deciding which operations are firms: each operation in evaluation order either stands as a
//! firm, merges into the operation that uses it, or absorbs the operations feeding it, so that
//! every firm is well-behaved; and the error naming the operation when that is impossible.

use super::error::{fail, CompileError};
use super::graph::{is_op, operands, Graph};
use super::text::number;
use crate::production::expr::Node;

/// Largest number of operations merged into one firm.
pub(super) const MAX_MERGED: usize = 32;

/// What a node is in the compiled economy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Role {
    /// A variable or a constant.
    Leaf,
    /// The top operation of a firm: its value is a good.
    Firm,
    /// Merged into the firm of its only user.
    Merged,
}

/// Why a candidate firm is not well-behaved.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Trouble {
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

/// The graph and, for each node, its role so far.
pub(super) struct Compiler {
    pub(super) g: Graph,
    pub(super) role: Vec<Role>,
    /// The earliest failing operation merged into this node's firm, and why.
    failure: Vec<Option<(usize, Trouble)>>,
    /// Merged because linear (may be split off again).
    soft: Vec<bool>,
}

impl Compiler {
    /// Every operation a firm of its own, to start with.
    fn new(g: Graph) -> Compiler {
        let n = g.nodes.len();
        let role: Vec<Role> = g
            .nodes
            .iter()
            .map(|node| if is_op(node) { Role::Firm } else { Role::Leaf })
            .collect();
        Compiler {
            g,
            role,
            failure: vec![None; n],
            soft: vec![false; n],
        }
    }

    /// Group the operations of `g` into well-behaved firms.
    pub(super) fn grouped(g: Graph) -> Result<Compiler, CompileError> {
        let mut c = Compiler::new(g);
        c.group()?;
        Ok(c)
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
