//! The expression as a graph at the point: its operations (from the expression's tape), the
//! value of each at the point, which operations read each value, and each operation written
//! back as expression text.

use crate::production::expr::{Expr, Node};

use super::text::{clip, number};

/// The (at most two) operand nodes of `n`.
fn args(n: &Node) -> (Option<usize>, Option<usize>) {
    use Node::*;
    match *n {
        Var(_) | Const(_) => (None, None),
        Neg(a) | PowC(a, _) | CPow(_, a) | Sqrt(a) | Ln(a) | Exp(a) => (Some(a), None),
        Add(a, b) | Sub(a, b) | Mul(a, b) | Div(a, b) | Pow(a, b) | Min(a, b) | Max(a, b) => (Some(a), Some(b)),
    }
}

/// The operand nodes of `n`, first then second.
pub(super) fn operands(n: &Node) -> impl Iterator<Item = usize> {
    let (a, b) = args(n);
    a.into_iter().chain(b)
}

/// Whether `n` is an operation (not a variable or a constant).
pub(super) fn is_op(n: &Node) -> bool {
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

/// The expression's operations with their values at the point.
pub(super) struct Graph {
    pub(super) nodes: Vec<Node>,
    vars: Vec<String>,
    /// Value of each node at the point.
    pub(super) val: Vec<f64>,
    /// Distinct operations reading each node (reachable ones only).
    pub(super) users: Vec<Vec<usize>>,
    /// Whether the result depends on each node.
    pub(super) reachable: Vec<bool>,
    pub(super) root: usize,
}

impl Graph {
    pub(super) fn new(expr: &Expr, x: &[f64]) -> Graph {
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

    pub(super) fn is_const(&self, k: usize) -> bool {
        matches!(self.nodes[k], Node::Const(_))
    }

    /// The sub-expression of node `k` as source text, leaves named by `leaf` (None: expand),
    /// shortened below `depth` levels. Returns the text and its precedence.
    pub(super) fn render(&self, k: usize, leaf: &mut dyn FnMut(usize) -> Option<String>, depth: usize) -> (String, u8) {
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
    pub(super) fn text(&self, k: usize) -> String {
        let s = self.render(k, &mut |_| None, 6).0;
        clip(&s, 70)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_users_and_text_at_the_point() {
        let e = Expr::parse("sqrt(x) + ln(1 + x) + 0*y").unwrap();
        let g = Graph::new(&e, &[4.0, 7.0]);
        assert_eq!(g.val[g.root], e.eval(&[4.0, 7.0]));
        // x (node 0) is read by sqrt and by 1 + x
        assert_eq!(g.users[0].len(), 2);
        assert_eq!(g.text(g.root), "sqrt(x) + ln(1 + x) + 0*y");
        assert!(g.reachable.iter().all(|&r| r));
        // text is valid expression source with the same value
        for src in ["-x^2 + (y - x)/(x*y)", "2^-x * (-3)^y", "min(x, y)^0.5 - -x", "x^(y^2)"] {
            let e = Expr::parse(src).unwrap();
            let g = Graph::new(&e, &[1.5, 2.0]);
            let back = Expr::parse(&g.text(g.root)).unwrap();
            assert_eq!(back.eval(&[1.5, 2.0]), g.val[g.root], "{src} -> {}", g.text(g.root));
        }
    }
}
