//! Evaluating the tape: the value by one forward sweep, the gradient by reverse mode (one
//! forward and one backward sweep), and the Hessian by forward-over-reverse mode (one tangent
//! and one backward sweep per variable, symmetrised at the end).

use super::tape::{local, node_value, Local, Op};
use super::Expr;

/// Tapes up to this many nodes evaluate without heap allocation.
const STACK_NODES: usize = 64;

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

impl Expr {
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::{close, names};
    use super::*;
    use proptest::prelude::*;

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
}
