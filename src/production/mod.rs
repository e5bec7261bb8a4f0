//! Production functions F(x): expressions and closed-form families, with exact first and
//! second derivatives, their shape (returns to scale, smoothness) and a check that they are
//! concave and non-decreasing, which the theory needs.
//!
//! A firm's inputs are the free variables of its function, in a fixed order; per-input
//! parameters of the families (exponents, weights, ...) live beside the inputs in the
//! economy, so one [`Technology`] value is shared by all replicas of a firm.

pub mod expr;
pub mod family;

pub use expr::{Expr, ExprError};

/// A production technology.
#[derive(Debug, Clone)]
pub enum Technology {
    /// An expression over the input goods (variables in input order).
    Expression(Expr),
    /// scale * prod x_i^a_i; params = a.
    CobbDouglas { scale: f64 },
    /// scale * (sum w_i x_i^rho)^(returns/rho); params = w.
    Ces { scale: f64, rho: f64, returns: f64 },
    /// scale * x^exponent, one input.
    Power { scale: f64, exponent: f64 },
    /// sum c_i x_i; params = c.
    Linear,
    /// scale * min_i x_i / r_i; params = r.
    Leontief { scale: f64 },
}

/// Returns to scale, as far as they are known from the function's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// Strictly decreasing: profit maximisation has a finite answer.
    Decreasing,
    /// Constant: profit is 0 or unbounded; needs a stabiliser in the dynamics.
    Constant,
    /// Not known from the form (expressions).
    Unknown,
}

impl Technology {
    /// F(x).
    pub fn value(&self, x: &[f64], params: &[f64]) -> f64 {
        self.eval(x, params, None, None)
    }

    /// F(x), with dF/dx written into `grad`.
    pub fn gradient(&self, x: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
        self.eval(x, params, Some(grad), None)
    }

    /// F(x), gradient and Hessian (row-major n x n).
    pub fn hessian(&self, x: &[f64], params: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        match self {
            Technology::Expression(e) => e.hessian(x, grad, hess),
            _ => self.eval(x, params, Some(grad), Some(hess)),
        }
    }

    fn eval(&self, x: &[f64], params: &[f64], grad: Option<&mut [f64]>, hess: Option<&mut [f64]>) -> f64 {
        match *self {
            Technology::Expression(ref e) => match grad {
                Some(g) => e.gradient(x, g),
                None => e.eval(x),
            },
            Technology::CobbDouglas { scale } => family::cobb_douglas(scale, params, x, grad, hess),
            Technology::Ces { scale, rho, returns } => family::ces(scale, rho, returns, params, x, grad, hess),
            Technology::Power { scale, exponent } => family::power(scale, exponent, x, grad, hess),
            Technology::Linear => family::linear(params, x, grad, hess),
            Technology::Leontief { scale } => family::leontief(scale, params, x, grad, hess),
        }
    }

    /// The range of dF/dx_i over F's supergradients at x, per input, into `low` and `high`:
    /// the gradient itself (low = high) where F is smooth. For Leontief, the inputs that bind
    /// (x_i / r_i at the minimum, to 1e-9 relative) share scale / r_i: a lone binding input
    /// gets exactly that, tied ones anything in [0, scale / r_i], the others 0.
    pub fn supergradient_range(&self, x: &[f64], params: &[f64], low: &mut [f64], high: &mut [f64]) {
        match *self {
            Technology::Leontief { scale } => {
                let m = x.iter().zip(params).map(|(x, r)| x / r).fold(f64::INFINITY, f64::min);
                let binds = |i: usize| x[i] / params[i] <= m + 1e-9 * m.abs();
                let tied = (0..x.len()).filter(|&i| binds(i)).count() > 1;
                for i in 0..x.len() {
                    high[i] = if binds(i) { scale / params[i] } else { 0.0 };
                    low[i] = if tied { 0.0 } else { high[i] };
                }
            }
            _ => {
                self.gradient(x, params, low);
                high.copy_from_slice(low);
            }
        }
    }

    /// Returns to scale from the form and parameters.
    pub fn returns(&self, params: &[f64]) -> Returns {
        const EPS: f64 = 1e-12;
        match *self {
            Technology::Expression(_) => Returns::Unknown,
            Technology::CobbDouglas { .. } => {
                if params.iter().sum::<f64>() < 1.0 - EPS {
                    Returns::Decreasing
                } else {
                    Returns::Constant
                }
            }
            Technology::Ces { returns, .. } => {
                if returns < 1.0 - EPS {
                    Returns::Decreasing
                } else {
                    Returns::Constant
                }
            }
            Technology::Power { exponent, .. } => {
                if exponent < 1.0 - EPS {
                    Returns::Decreasing
                } else {
                    Returns::Constant
                }
            }
            Technology::Linear | Technology::Leontief { .. } => Returns::Constant,
        }
    }

    /// Whether the derivatives are classical everywhere in the positive orthant
    /// (false for Leontief and expressions using min/max: there they are subgradients).
    pub fn is_smooth(&self) -> bool {
        match self {
            Technology::Expression(e) => e.is_smooth(),
            Technology::Leontief { .. } => false,
            _ => true,
        }
    }

    /// Closed-form profit-maximising plan of `revenue * F(x) - prices . x`, where the family
    /// has one (decreasing returns). Returns false when there is none (expressions, constant
    /// returns); then the caller solves numerically.
    pub fn closed_form_optimum(&self, params: &[f64], revenue: f64, prices: &[f64], x: &mut [f64]) -> bool {
        if self.returns(params) != Returns::Decreasing {
            return false;
        }
        match *self {
            Technology::CobbDouglas { scale } => family::cobb_douglas_optimum(scale, params, revenue, prices, x),
            Technology::Ces { scale, rho, returns } => {
                family::ces_optimum(scale, rho, returns, params, revenue, prices, x)
            }
            Technology::Power { scale, exponent } => x[0] = family::power_optimum(scale, exponent, revenue, prices[0]),
            _ => return false,
        }
        true
    }

    /// Whether F has constant returns to scale, F(t x) = t F(x): from the form for the
    /// families; for expressions by sampling F(2x) = 2 F(x) (to 1e-9 relative) at fixed points
    /// of the positive orthant. Such firms need the dynamics' stabiliser (docs/MODEL.md).
    pub fn constant_returns(&self, params: &[f64], n: usize) -> bool {
        match self.returns(params) {
            Returns::Constant => true,
            Returns::Decreasing => false,
            Returns::Unknown => {
                let mut x = vec![0.0; n];
                let mut x2 = vec![0.0; n];
                (0..8).all(|k| {
                    for i in 0..n {
                        // fixed, irregular points in [0.3, 3.3)
                        x[i] = 0.3 + ((k * 7 + i * 3 + 1) % 11) as f64 * 0.3;
                        x2[i] = 2.0 * x[i];
                    }
                    let (f, f2) = (self.value(&x, params), self.value(&x2, params));
                    f.is_finite() && f > 0.0 && (f2 - 2.0 * f).abs() <= 1e-9 * f2.abs()
                })
            }
        }
    }

    /// A short human name of the form ("expression", "cobb_douglas", ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Technology::Expression(_) => "expression",
            Technology::CobbDouglas { .. } => "cobb_douglas",
            Technology::Ces { .. } => "ces",
            Technology::Power { .. } => "power",
            Technology::Linear => "linear",
            Technology::Leontief { .. } => "leontief",
        }
    }
}

/// A way in which a production function fails the theory's assumptions, found by sampling.
#[derive(Debug, Clone, PartialEq)]
pub enum ShapeProblem {
    /// F or its gradient is not finite at a point of the positive orthant.
    Undefined { at: Vec<f64> },
    /// dF/dx_i < 0 somewhere: F is not non-decreasing.
    Decreasing { at: Vec<f64>, input: usize, slope: f64 },
    /// The Hessian is not negative semi-definite somewhere: F is not concave.
    NotConcave { at: Vec<f64>, curvature: f64 },
}

/// Sample the positive orthant on a log grid (and a few seeded random points) and check
/// that F is finite, non-decreasing and concave there. This detects what sampling can
/// detect; it is not a proof.
pub fn check_shape(tech: &Technology, params: &[f64], n: usize) -> Result<(), ShapeProblem> {
    let levels = [0.01, 0.1, 0.5, 1.0, 2.0, 10.0, 100.0];
    let mut points: Vec<Vec<f64>> = Vec::new();
    if n <= 3 {
        let total = levels.len().pow(n as u32);
        for mut k in 0..total {
            let mut p = Vec::with_capacity(n);
            for _ in 0..n {
                p.push(levels[k % levels.len()]);
                k /= levels.len();
            }
            points.push(p);
        }
    } else {
        for (j, &l) in levels.iter().enumerate() {
            points.push(vec![l; n]);
            // one coordinate different from the rest
            for i in 0..n {
                let mut p = vec![levels[(j + 3) % levels.len()]; n];
                p[i] = l;
                points.push(p);
            }
        }
    }
    // deterministic pseudo-random points (a small LCG: no dependence on the run's seed)
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..64 {
        let p = (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                10f64.powf(-2.0 + 4.0 * u)
            })
            .collect();
        points.push(p);
    }
    let mut grad = vec![0.0; n];
    let mut hess = vec![0.0; n * n];
    for p in points {
        let f = tech.hessian(&p, params, &mut grad, &mut hess);
        if !f.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            return Err(ShapeProblem::Undefined { at: p });
        }
        let scale_g = grad.iter().fold(f.abs(), |m, g| m.max(g.abs())).max(1e-300);
        for (i, &g) in grad.iter().enumerate() {
            if g < -1e-9 * scale_g {
                return Err(ShapeProblem::Decreasing {
                    at: p,
                    input: i,
                    slope: g,
                });
            }
        }
        if tech.is_smooth() || hess.iter().any(|h| *h != 0.0) {
            // not concave when the largest eigenvalue of the Hessian exceeds `tol`
            let scale_h = hess.iter().fold(0.0f64, |m, h| m.max(h.abs()));
            let tol = (1e-7 * scale_h.max(1e-300)).max(1e-12);
            if !below_tolerance(&hess, n, tol) {
                let c = max_curvature(&hess, n);
                if c > tol {
                    return Err(ShapeProblem::NotConcave { at: p, curvature: c });
                }
            }
        }
    }
    Ok(())
}

/// Whether every eigenvalue of the symmetric matrix `h` is below `tol`, i.e. `tol I - h` is
/// positive definite: one Cholesky factorisation (n^3/6), far cheaper than the eigenvalue
/// sweeps of [`max_curvature`], which then run only when this fails.
fn below_tolerance(h: &[f64], n: usize, tol: f64) -> bool {
    let mut a: Vec<f64> = h.iter().map(|v| -v).collect();
    for i in 0..n {
        a[i * n + i] += tol;
    }
    crate::numeric::linalg::cholesky(&mut a, n)
}

/// The largest eigenvalue of a symmetric matrix (upper bound by Gershgorin would be too
/// loose; use Jacobi sweeps, n is small).
fn max_curvature(h: &[f64], n: usize) -> f64 {
    let mut a = h.to_vec();
    for _ in 0..50 {
        let mut off = 0.0;
        for i in 0..n {
            for j in i + 1..n {
                off += a[i * n + j] * a[i * n + j];
            }
        }
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum().max(0.0) * 2.0 - 1.0;
                let t = t / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| a[i * n + i]).fold(f64::NEG_INFINITY, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central finite differences of the gradient and of F, to compare with the closed forms.
    fn fd_check(t: &Technology, params: &[f64], x: &[f64]) {
        let n = x.len();
        let mut g = vec![0.0; n];
        let mut h = vec![0.0; n * n];
        t.hessian(x, params, &mut g, &mut h);
        for i in 0..n {
            let step = 1e-5 * x[i];
            let mut xp = x.to_vec();
            let mut xm = x.to_vec();
            xp[i] += step;
            xm[i] -= step;
            let fd = (t.value(&xp, params) - t.value(&xm, params)) / (2.0 * step);
            assert!(
                (fd - g[i]).abs() <= 1e-6 * (1.0 + g[i].abs()),
                "{}: dF/dx{i} {} vs fd {}",
                t.kind(),
                g[i],
                fd
            );
            let mut gp = vec![0.0; n];
            let mut gm = vec![0.0; n];
            t.gradient(&xp, params, &mut gp);
            t.gradient(&xm, params, &mut gm);
            for j in 0..n {
                let fd = (gp[j] - gm[j]) / (2.0 * step);
                assert!(
                    (fd - h[j * n + i]).abs() <= 1e-5 * (1.0 + h[j * n + i].abs()),
                    "{}: H[{j},{i}]",
                    t.kind()
                );
            }
        }
    }

    use proptest::prelude::*;
    proptest! {
        #[test]
        fn family_derivatives_match_finite_differences(
            x in proptest::collection::vec(0.1f64..10.0, 3),
            a in proptest::collection::vec(0.05f64..0.3, 3),
            rho in prop_oneof![-3.0f64..-0.1, 0.1f64..0.9],
            nu in 0.3f64..1.0,
            scale in 0.5f64..3.0,
        ) {
            fd_check(&Technology::CobbDouglas { scale }, &a, &x);
            fd_check(&Technology::Ces { scale, rho, returns: nu }, &a, &x);
            fd_check(&Technology::Power { scale, exponent: a[0] + 0.3 }, &a[..1], &x[..1]);
            fd_check(&Technology::Linear, &a, &x);
        }

        /// The closed-form optimum satisfies the first-order conditions R dF/dx_i = p_i.
        #[test]
        fn closed_form_optima_satisfy_first_order_conditions(
            p in proptest::collection::vec(0.01f64..100.0, 3),
            a in proptest::collection::vec(0.05f64..0.3, 3),
            rho in prop_oneof![-3.0f64..-0.1, 0.1f64..0.9],
            nu in 0.3f64..0.95,
            revenue in 0.01f64..100.0,
        ) {
            let techs = [
                (Technology::CobbDouglas { scale: 1.3 }, 3),
                (Technology::Ces { scale: 0.7, rho, returns: nu }, 3),
                (Technology::Power { scale: 2.0, exponent: nu }, 1),
            ];
            for (t, n) in techs {
                let mut x = vec![0.0; n];
                prop_assert!(t.closed_form_optimum(&a[..n], revenue, &p[..n], &mut x));
                let mut g = vec![0.0; n];
                t.gradient(&x, &a[..n], &mut g);
                for i in 0..n {
                    prop_assert!((revenue * g[i] - p[i]).abs() <= 1e-9 * p[i], "{} foc {i}: {} vs {}", t.kind(), revenue * g[i], p[i]);
                }
            }
        }
    }

    #[test]
    fn leontief_subgradient_goes_to_the_binding_input() {
        let t = Technology::Leontief { scale: 2.0 };
        let mut g = [0.0; 2];
        let f = t.gradient(&[3.0, 10.0], &[1.0, 2.0], &mut g);
        assert_eq!(f, 6.0);
        assert_eq!(g, [2.0, 0.0]);
    }

    proptest! {
        /// The Cholesky test accepts exactly the matrices whose largest eigenvalue is below tol.
        #[test]
        fn cholesky_test_agrees_with_the_largest_eigenvalue(
            a in proptest::collection::vec(-2.0f64..2.0, 16),
            shift in -1.0f64..1.0,
        ) {
            let n = 4;
            // h = shift I - A^T A: largest eigenvalue = shift - (smallest eigenvalue of A^T A)
            let mut h = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] = -(0..n).map(|k| a[k * n + i] * a[k * n + j]).sum::<f64>();
                }
                h[i * n + i] += shift;
            }
            let c = max_curvature(&h, n);
            let tol = 1e-6;
            if (c - tol).abs() > 1e-9 {
                prop_assert_eq!(below_tolerance(&h, n, tol), c < tol, "largest eigenvalue {}", c);
            }
        }
    }

    #[test]
    fn shape_check_accepts_concave_and_rejects_convex() {
        let ok = Technology::CobbDouglas { scale: 1.0 };
        assert!(check_shape(&ok, &[0.3, 0.6], 2).is_ok());
        let convex = Technology::CobbDouglas { scale: 1.0 };
        assert!(matches!(
            check_shape(&convex, &[0.8, 0.6], 2),
            Err(ShapeProblem::NotConcave { .. })
        ));
        let e = Technology::Expression(Expr::parse("x^2").unwrap());
        assert!(matches!(check_shape(&e, &[], 1), Err(ShapeProblem::NotConcave { .. })));
        let e = Technology::Expression(Expr::parse("1/x").unwrap());
        assert!(matches!(check_shape(&e, &[], 1), Err(ShapeProblem::Decreasing { .. })));
        let e = Technology::Expression(Expr::parse("ln(x - 1)").unwrap());
        assert!(matches!(check_shape(&e, &[], 1), Err(ShapeProblem::Undefined { .. })));
        let e = Technology::Expression(Expr::parse("1 - 1/(x + 1)").unwrap());
        assert!(check_shape(&e, &[], 1).is_ok());
    }
}
