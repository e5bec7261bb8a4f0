//! One firm's profit-maximising plan at given prices and its sensitivity to them, for the
//! dual Newton solver ([`super::dual`]).
//!
//! A firm with output value `R` per unit of `G = productivity * F` and input prices `q`
//! chooses `x* = argmax R G(x) - q.x`. Its maximal profit `pi*(R, q)` is convex, with
//! `d pi*/dR = G(x*)` and `d pi*/dq = -x*` (envelope theorem), and differentiating the
//! first-order conditions `R grad G(x*) = q` gives its Hessian: with `g = grad G(x*)` and
//! `M = -R hess G(x*)` (positive definite for a strictly concave F),
//! `dx* = M^-1 (g dR - dq)`, so the Hessian of `pi*` in `(R, q)` is `J^T M^-1 J` with
//! `J (dR, dq) = dq - g dR`. [`respond`] writes `x*`, `g` and `M^-1`.
//!
//! The plans are computed here, independently of the simulated agents: closed forms derived
//! below for the families with decreasing returns (Cobb-Douglas, CES, power), and Newton's
//! method on the firm's profit for everything else (expressions).

use crate::numeric::linalg;
use crate::production::{Returns, Technology};

/// How a technology's plan is found.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// scale * prod x_i^a_i, sum a < 1.
    CobbDouglas { scale: f64 },
    /// scale * (sum w_i x_i^rho)^(nu/rho), nu < 1.
    Ces { scale: f64, rho: f64, nu: f64 },
    /// scale * x^e, e < 1.
    Power { scale: f64, e: f64 },
    /// Newton's method on the profit (smooth expressions).
    Newton,
}

/// The kind of a technology, or why the dual solver cannot use it (its best response must
/// be unique and smooth in the prices: F smooth and strictly concave).
pub(super) fn kind(tech: &Technology, params: &[f64], inputs: usize) -> Result<Kind, &'static str> {
    if !tech.is_smooth() {
        return Err("its production function is not smooth (Leontief, or an expression using min or max)");
    }
    match *tech {
        Technology::Linear => Err("it has constant returns (linear)"),
        Technology::Leontief { .. } => Err("it is Leontief"),
        _ if tech.returns(params) == Returns::Constant => Err("it has constant returns to scale"),
        Technology::CobbDouglas { scale } => Ok(Kind::CobbDouglas { scale }),
        Technology::Ces { scale, rho, returns } if rho.abs() > 1e-6 && rho < 1.0 => Ok(Kind::Ces {
            scale,
            rho,
            nu: returns,
        }),
        Technology::Power { scale, exponent } => Ok(Kind::Power { scale, e: exponent }),
        Technology::Expression(_) if tech.constant_returns(params, inputs) => {
            Err("it has constant returns to scale (F(2x) = 2 F(x) at sampled points)")
        }
        _ => Ok(Kind::Newton),
    }
}

/// Why a firm has no usable best response.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Fail {
    /// An input with a price of 0 (or less) that the firm would buy without limit.
    FreeInput(usize),
    /// F is not strictly concave at the plan (its Hessian is singular there).
    NotConcave,
    /// Newton's method on the profit found no interior maximum (a corner, or no maximum).
    NoOptimum,
}

/// Scratch space for one thread.
#[derive(Default)]
pub(super) struct Scratch {
    grad: Vec<f64>,
    hess: Vec<f64>,
    m: Vec<f64>,
    d: Vec<f64>,
    xt: Vec<f64>,
    col: Vec<f64>,
}

impl Scratch {
    fn size(&mut self, n: usize) {
        if self.grad.len() != n {
            self.grad = vec![0.0; n];
            self.hess = vec![0.0; n * n];
            self.m = vec![0.0; n * n];
            self.d = vec![0.0; n];
            self.xt = vec![0.0; n];
            self.col = vec![0.0; n];
        }
    }
}

/// The firm's response: output `y = G(x*)` and maximal profit.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Response {
    pub y: f64,
    pub profit: f64,
}

/// The best response of a firm with technology `tech` (of kind `kind`), productivity `prod`,
/// output value `r` per unit of G and input prices `q`: writes `x*` into `x` (which holds a
/// warm start for Newton's method), `g = productivity * grad F(x*)` and `M^-1` (row-major).
#[allow(clippy::too_many_arguments)]
pub(super) fn respond(
    kind: Kind,
    tech: &Technology,
    params: &[f64],
    prod: f64,
    r: f64,
    q: &[f64],
    x: &mut [f64],
    g: &mut [f64],
    minv: &mut [f64],
    sc: &mut Scratch,
) -> Result<Response, Fail> {
    let n = x.len();
    sc.size(n);
    if r.is_nan() || r <= 0.0 || prod <= 0.0 {
        // the output is worth nothing: no inputs, no sensitivity
        x.fill(0.0);
        g.fill(0.0);
        minv.fill(0.0);
        return Ok(Response { y: 0.0, profit: 0.0 });
    }
    if let Some(i) = (0..n).find(|&i| q[i].is_nan() || q[i] <= 0.0) {
        return Err(Fail::FreeInput(i));
    }
    let rp = r * prod; // value per unit of F
    match kind {
        Kind::CobbDouglas { scale } => {
            // FOC r a_i G / x_i = q_i with G = prod scale prod x^a: x_i = a_i r G / q_i, so
            // ln G (1 - s) = ln(prod scale) + sum a_i ln(a_i r / q_i)
            let s: f64 = params.iter().sum();
            let lg = ((prod * scale).ln() + params.iter().zip(q).map(|(a, qi)| a * (a * r / qi).ln()).sum::<f64>())
                / (1.0 - s);
            let gv = lg.exp();
            for i in 0..n {
                x[i] = params[i] * r * gv / q[i];
            }
        }
        Kind::Ces { scale, rho, nu } => {
            // Q = (sum w x^rho)^(1/rho) costs c(q) = (sum w^sig q^(1-sig))^(1/(1-sig)) per unit
            // (sig = 1/(1-rho)) with x_i = Q (w_i c / q_i)^sig; then r prod scale Q^nu - c Q
            // is largest at Q = (nu r prod scale / c)^(1/(1-nu))
            let sig = 1.0 / (1.0 - rho);
            let c = params
                .iter()
                .zip(q)
                .map(|(w, qi)| w.powf(sig) * qi.powf(1.0 - sig))
                .sum::<f64>()
                .powf(1.0 / (1.0 - sig));
            let big_q = (nu * rp * scale / c).powf(1.0 / (1.0 - nu));
            for i in 0..n {
                x[i] = big_q * (params[i] * c / q[i]).powf(sig);
            }
        }
        Kind::Power { scale, e } => {
            // r prod scale e x^(e-1) = q
            x[0] = (e * rp * scale / q[0]).powf(1.0 / (1.0 - e));
        }
        Kind::Newton => newton(tech, params, rp, q, x, sc)?,
    }
    // y, g and M = -r prod hess F at the plan
    let f = tech.hessian(x, params, &mut sc.grad, &mut sc.hess);
    if !f.is_finite() || x.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
        return Err(Fail::NoOptimum);
    }
    for i in 0..n {
        g[i] = prod * sc.grad[i];
    }
    let y = prod * f;
    let profit = r * y - x.iter().zip(q).map(|(a, b)| a * b).sum::<f64>();
    let resp = Response { y, profit };
    if sc.hess.iter().any(|h| !h.is_finite()) {
        // a plan so far out (inputs of 1e-80, say, at prices far from the answer) that the
        // curvature overflows: the firm's sensitivity is taken as diagonal, which only
        // shapes the Newton direction, not Phi or its gradient
        minv.fill(0.0);
        for i in 0..n {
            let d = -rp * sc.hess[i * n + i];
            if d > 0.0 && d.is_finite() {
                minv[i * n + i] = 1.0 / d;
            }
        }
        return Ok(resp);
    }
    // M^-1 = D (D M D)^-1 D with D = diag(M)^-1/2: the scaling keeps the factorisation
    // accurate when the inputs differ by many orders of magnitude
    for i in 0..n {
        let d = -rp * sc.hess[i * n + i];
        if !(d > 0.0 && d.is_finite()) {
            return Err(Fail::NotConcave);
        }
        sc.d[i] = 1.0 / d.sqrt();
    }
    for i in 0..n {
        for j in 0..n {
            sc.m[i * n + j] = -rp * sc.hess[i * n + j] * sc.d[i] * sc.d[j];
        }
    }
    if !linalg::cholesky(&mut sc.m, n) {
        return Err(Fail::NotConcave);
    }
    for j in 0..n {
        sc.col.fill(0.0);
        sc.col[j] = 1.0;
        linalg::cholesky_substitute(&sc.m, n, &mut sc.col);
        for i in 0..n {
            minv[i * n + j] = sc.col[i] * sc.d[i] * sc.d[j];
        }
    }
    if minv.iter().any(|v| !v.is_finite()) {
        return Err(Fail::NotConcave);
    }
    Ok(resp)
}

/// `pi*(r1, q1) - pi*(r0, q0)` for the closed forms, accurate relative to the change itself
/// (None for the others). There `pi* = (1 - returns) r G*` and `ln(r G*)` is an explicit
/// function of `ln r` and `ln q`: Cobb-Douglas `(ln r - sum a_i ln q_i) / (1 - s) + const`,
/// power `(ln r - e ln q) / (1 - e) + const`, CES `(ln r - nu ln c(q)) / (1 - nu) + const`
/// with the unit cost `c`. So the change is `pi0 expm1(d)` with `d` the change of that
/// exponent, computed from the price changes by `ln_1p`/`exp_m1`: no difference of two
/// separately rounded profits, whose rounding (1e-16 of every firm's value flow, summed over
/// 1e5 firms) would swamp the finite differences of V for goods of little value.
pub(super) fn profit_change(
    kind: Kind,
    params: &[f64],
    pi0: f64,
    r0: f64,
    q0: &[f64],
    r1: f64,
    q1: &[f64],
) -> Option<f64> {
    if !(r0 > 0.0 && r1 > 0.0) {
        return None;
    }
    let dln = |a: f64, b: f64| ((b - a) / a).ln_1p();
    let dr = dln(r0, r1);
    let d = match kind {
        Kind::CobbDouglas { .. } => {
            let s: f64 = params.iter().sum();
            let dq: f64 = params
                .iter()
                .zip(q0.iter().zip(q1))
                .map(|(a, (x, y))| a * dln(*x, *y))
                .sum();
            (dr - dq) / (1.0 - s)
        }
        Kind::Power { e, .. } => (dr - e * dln(q0[0], q1[0])) / (1.0 - e),
        Kind::Ces { rho, nu, .. } => {
            let sig = 1.0 / (1.0 - rho);
            let mut base = 0.0;
            let mut change = 0.0;
            for (w, (x, y)) in params.iter().zip(q0.iter().zip(q1)) {
                let t = w.powf(sig) * x.powf(1.0 - sig);
                base += t;
                change += t * ((1.0 - sig) * dln(*x, *y)).exp_m1();
            }
            let dc = (change / base).ln_1p() / (1.0 - sig);
            (dr - nu * dc) / (1.0 - nu)
        }
        Kind::Newton => return None,
    };
    let v = pi0 * d.exp_m1();
    v.is_finite().then_some(v)
}

/// Newton's method on the profit `rp F(x) - q.x` from the plan in `x` (or 1 per input if that
/// is not a positive finite plan), steps limited to a factor 10 per input and backtracking on
/// the profit; converged when every first-order condition holds to 1e-14 relative.
fn newton(tech: &Technology, params: &[f64], rp: f64, q: &[f64], x: &mut [f64], sc: &mut Scratch) -> Result<(), Fail> {
    let n = x.len();
    if x.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
        x.fill(1.0);
    }
    let profit = |f: f64, x: &[f64]| rp * f - x.iter().zip(q).map(|(a, b)| a * b).sum::<f64>();
    let mut f = tech.hessian(x, params, &mut sc.grad, &mut sc.hess);
    if !f.is_finite() {
        return Err(Fail::NoOptimum);
    }
    for _ in 0..200 {
        let mut worst: f64 = 0.0;
        for i in 0..n {
            let gi = rp * sc.grad[i] - q[i];
            worst = worst.max(gi.abs() / (rp * sc.grad[i].abs() + q[i]));
            sc.d[i] = gi;
        }
        if !worst.is_finite() {
            return Err(Fail::NoOptimum);
        }
        if worst <= 1e-14 {
            return Ok(());
        }
        // Newton direction M^-1 grad (a Levenberg shift where M is not positive definite)
        let gradient: Vec<f64> = sc.d.clone();
        let mut shift = 0.0;
        let diag = (0..n).fold(0.0f64, |m, i| m.max((rp * sc.hess[i * n + i]).abs()));
        loop {
            for (m, h) in sc.m.iter_mut().zip(&sc.hess) {
                *m = -rp * h;
            }
            for i in 0..n {
                sc.m[i * n + i] += shift;
            }
            if linalg::cholesky(&mut sc.m, n) {
                break;
            }
            shift = if shift == 0.0 {
                1e-10 * diag.max(1e-300)
            } else {
                shift * 100.0
            };
            if !shift.is_finite() || shift > 1e10 * diag.max(1e-300) {
                return Err(Fail::NoOptimum);
            }
        }
        sc.d.copy_from_slice(&gradient);
        linalg::cholesky_substitute(&sc.m, n, &mut sc.d);
        let slope: f64 = sc.d.iter().zip(&gradient).map(|(a, b)| a * b).sum();
        // at most a factor 10 up or down per input
        let mut alpha: f64 = 1.0;
        for i in 0..n {
            if sc.d[i] < 0.0 {
                alpha = alpha.min(-0.9 * x[i] / sc.d[i]);
            } else if sc.d[i] > 0.0 {
                alpha = alpha.min(9.0 * x[i] / sc.d[i]);
            }
        }
        let p0 = profit(f, x);
        let mut accepted = false;
        for _ in 0..60 {
            for i in 0..n {
                sc.xt[i] = x[i] + alpha * sc.d[i];
            }
            if sc.xt.iter().all(|v| *v > 0.0) {
                let ft = tech.value(&sc.xt, params);
                let pt = profit(ft, &sc.xt);
                if ft.is_finite() && pt >= p0 + 1e-4 * alpha * slope - 1e-15 * p0.abs() {
                    accepted = true;
                    break;
                }
            }
            alpha *= 0.5;
        }
        if !accepted {
            // no progress: accept a point whose conditions hold to rounding
            return if worst <= 1e-10 { Ok(()) } else { Err(Fail::NoOptimum) };
        }
        x.copy_from_slice(&sc.xt);
        f = tech.hessian(x, params, &mut sc.grad, &mut sc.hess);
        if !f.is_finite() {
            return Err(Fail::NoOptimum);
        }
    }
    Err(Fail::NoOptimum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::production::Expr;

    /// Closed forms and Newton's method agree, and satisfy the first-order conditions.
    #[test]
    fn closed_forms_agree_with_newton() {
        let cases: Vec<(Technology, Vec<f64>)> = vec![
            (Technology::CobbDouglas { scale: 1.7 }, vec![0.2, 0.3, 0.35]),
            (
                Technology::Ces {
                    scale: 1.2,
                    rho: -1.0,
                    returns: 0.8,
                },
                vec![0.5, 0.3, 0.2],
            ),
            (
                Technology::Ces {
                    scale: 0.9,
                    rho: 0.5,
                    returns: 0.9,
                },
                vec![0.2, 0.3, 0.5],
            ),
            (
                Technology::Power {
                    scale: 2.0,
                    exponent: 0.6,
                },
                vec![1.0],
            ),
        ];
        let q = [0.7, 1.3, 2.1];
        for (tech, params) in cases {
            let n = params.len();
            let k = kind(&tech, &params, n).unwrap();
            let mut sc = Scratch::default();
            let (mut x, mut g, mut m) = (vec![0.0; n], vec![0.0; n], vec![0.0; n * n]);
            let a = respond(k, &tech, &params, 1.1, 3.0, &q[..n], &mut x, &mut g, &mut m, &mut sc).unwrap();
            let (mut x2, mut g2, mut m2) = (vec![1.0; n], vec![0.0; n], vec![0.0; n * n]);
            let b = respond(
                Kind::Newton,
                &tech,
                &params,
                1.1,
                3.0,
                &q[..n],
                &mut x2,
                &mut g2,
                &mut m2,
                &mut sc,
            )
            .unwrap();
            for i in 0..n {
                assert!((x[i] - x2[i]).abs() <= 1e-12 * x[i], "{}: {x:?} vs {x2:?}", tech.kind());
                assert!((3.0 * g[i] - q[i]).abs() <= 1e-12 * q[i], "{}: foc", tech.kind());
            }
            assert!((a.profit - b.profit).abs() <= 1e-12 * a.profit.abs());
        }
        let e = Technology::Expression(Expr::parse("ln(a) + sqrt(b)").unwrap());
        let k = kind(&e, &[1.0, 1.0], 2).unwrap();
        let mut sc = Scratch::default();
        let (mut x, mut g, mut m) = (vec![1.0; 2], vec![0.0; 2], vec![0.0; 4]);
        respond(
            k,
            &e,
            &[1.0, 1.0],
            1.0,
            2.0,
            &[0.5, 0.25],
            &mut x,
            &mut g,
            &mut m,
            &mut sc,
        )
        .unwrap();
        // 2/a = 0.5, 2/(2 sqrt b) = 0.25
        assert!((x[0] - 4.0).abs() < 1e-12 && (x[1] - 16.0).abs() < 1e-11, "{x:?}");
    }
}
