//! The tape: the operations an expression compiles to, in evaluation order (arguments are
//! indices of earlier nodes), with each operation's value and its local first and second
//! partial derivatives. The sweeps that combine them are in sweeps.rs; [`Node`] is the public,
//! read-only view of an operation.

/// One tape operation. Arguments are indices of earlier nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Op {
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
    pub(super) fn args(&self) -> (Option<usize>, Option<usize>) {
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
pub(super) fn min_picks_second(a: f64, b: f64) -> bool {
    b < a || b.is_nan()
}

/// `max` picks its second argument only if it is strictly larger (or NaN).
#[inline]
pub(super) fn max_picks_second(a: f64, b: f64) -> bool {
    b > a || b.is_nan()
}

#[inline]
fn powi(x: f64, n: i32) -> f64 {
    x.powi(n)
}

/// Value of a node given the values of earlier nodes.
#[inline]
pub(super) fn node_value(op: &Op, v: &[f64], x: &[f64]) -> f64 {
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
pub(super) struct Local {
    pub(super) da: f64,
    pub(super) db: f64,
    pub(super) daa: f64,
    pub(super) dab: f64,
    pub(super) dbb: f64,
}

/// Local partials of node `op` whose value is `vk`. Second derivatives only if `second`.
#[inline(always)]
pub(super) fn local(op: &Op, v: &[f64], vk: f64, second: bool) -> Local {
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

/// A read-only view of one tape operation (see [`Expr::nodes`](super::Expr::nodes)). Arguments
/// are node indices; `Var(i)` is variable `i` of [`Expr::variables`](super::Expr::variables).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_first_argument_and_nan_wins() {
        assert!(!min_picks_second(1.0, 1.0) && min_picks_second(1.0, 0.5) && min_picks_second(1.0, f64::NAN));
        assert!(!max_picks_second(1.0, 1.0) && max_picks_second(1.0, 2.0) && max_picks_second(1.0, f64::NAN));
    }

    #[test]
    fn local_partials_of_a_quotient_and_a_power() {
        // nodes: x = 3, y = 2, x / y, x^y
        let v = [3.0, 2.0, 1.5, 9.0];
        let l = local(&Op::Div(0, 1), &v, v[2], true);
        assert_eq!((l.da, l.db, l.daa, l.dab, l.dbb), (0.5, -0.75, 0.0, -0.25, 0.75));
        let l = local(&Op::Pow(0, 1), &v, v[3], true);
        assert_eq!((l.da, l.db), (6.0, 9.0 * 3f64.ln()));
        // without second derivatives only the first are filled in
        let l = local(&Op::PowI(0, 3), &v, 27.0, false);
        assert_eq!((l.da, l.daa), (27.0, 0.0));
        assert_eq!(node_value(&Op::PowI(0, 3), &v, &[]), 27.0);
    }

    #[test]
    fn nodes_show_integer_powers_as_constant_powers() {
        assert_eq!(Node::from(&Op::PowI(4, -2)), Node::PowC(4, -2.0));
        assert_eq!(Node::from(&Op::CPow(0.5, 1)), Node::CPow(0.5, 1));
        assert_eq!(Node::from(&Op::Var(7)), Node::Var(7));
    }
}
