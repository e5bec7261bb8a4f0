//! One candidate firm: the operations merged into it, its production written over its input
//! goods, and whether it is well-behaved (concave and non-decreasing everywhere in the positive
//! orthant and at the point, with a positive output there).

use super::graph::operands;
use super::grouping::{Compiler, Role, Trouble, MAX_MERGED};
use crate::production::expr::{Expr, Node};
use crate::production::{check_shape, ShapeProblem, Technology};

impl Compiler {
    /// Nodes of the firm topped by `k` (k and the merged operations below it).
    pub(super) fn members(&self, k: usize) -> Vec<usize> {
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
    pub(super) fn production(&self, k: usize, name: &mut dyn FnMut(usize) -> String) -> String {
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
    pub(super) fn examine(&self, k: usize) -> Result<Vec<usize>, Trouble> {
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
    pub(super) fn is_linear(&self, k: usize) -> bool {
        self.members(k).iter().all(|&m| match self.g.nodes[m] {
            Node::Add(..) | Node::Sub(..) | Node::Neg(_) => true,
            Node::Mul(a, b) => self.g.is_const(a) || self.g.is_const(b),
            Node::Div(_, b) => self.g.is_const(b),
            _ => false,
        })
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
