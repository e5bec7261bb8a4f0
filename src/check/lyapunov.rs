//! A Lyapunov function of the price and plan dynamics: the distance of the state (x_t, p_t)
//! from the reference equilibrium (x*, p*) in the geometry of each agent's own update rule
//! (docs/OUT_OF_EQUILIBRIUM.md derives it):
//!
//! ```text
//! W(x, p) = sum over input edges e of firms with a gradient or optimistic rule:
//!               additive form:  (x_e - x*_e)^2 / (2 a)               a = the firm's rate
//!               relative form:  (p*_h / a) KL(x*_e, x_e)             h = the edge's good
//!         + sum over firms with the best_response rule (relaxed by beta = its rate):
//!               (x_f - x*_f)' M_f (x_f - x*_f) / (2 beta)            M_f = -P*_f F_f''(x*_f)
//!         + sum over traded endogenous goods g:
//!               additive market:       (p_g - p*_g)^2 / (2 eta)
//!               multiplicative market: (flow*_g / eta) KL(p*_g, p_g)   flow*_g = max(S*_g, D*_g)
//! ```
//!
//! with KL(a, b) = a ln(a / b) - a + b (the Bregman divergence of the entropy). The weights
//! are the inverse step sizes of each rule, frozen at the equilibrium where a rule scales its
//! step by the state (1 / p_h, 1 / max(S, D)): then the rules' continuous-time limit is a
//! mirror gradient descent-ascent on the planner's Lagrangian in a fixed metric, and
//! dW/dt <= L(x, p*) - L(x*, p) <= 0. W is in units of the numeraire.

use crate::check::reference::Equilibrium;
use crate::economy::agent_settings::{Form, Rule};
use crate::economy::market_settings;
use crate::economy::Economy;

/// How the distance of one coordinate is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Divergence {
    /// weight * (v - v*)^2 / 2
    Squared,
    /// weight * KL(v*, v)
    Entropic,
}

/// The weights of [`Lyapunov::value`], fixed at a reference equilibrium.
#[derive(Debug, Clone)]
pub struct Lyapunov {
    /// Per input edge: the weight and the divergence; weight 0 for the edges of
    /// best-responding firms (their term is the quadratic form below).
    edge_weight: Vec<f64>,
    edge_divergence: Vec<Divergence>,
    /// Best-responding firms: (firm, offset into `metric`) with the n x n matrix
    /// M_f / beta, row-major.
    best_response: Vec<(u32, usize)>,
    metric: Vec<f64>,
    /// Per traded endogenous good: (good, weight); one divergence for all markets.
    goods: Vec<(u32, f64)>,
    good_divergence: Divergence,
}

/// KL(a, b) = a ln(a / b) - a + b for a, b >= 0, accurate also when b is close to a (where
/// the plain formula loses every digit to cancellation).
pub fn kl(a: f64, b: f64) -> f64 {
    if a <= 0.0 {
        return b.max(0.0);
    }
    if b <= 0.0 {
        return f64::INFINITY;
    }
    // a * phi(r), phi(r) = r - 1 - ln r with r = b / a
    let r = b / a;
    let u = r - 1.0;
    let phi = if u.abs() < 0.01 {
        // u^2/2 - u^3/3 + u^4/4 - ... to |u|^9 (truncation below 1e-18 relative)
        let mut term = u * u;
        let mut sum = 0.0;
        for k in 2..=10 {
            let t = term / k as f64;
            sum += if k % 2 == 0 { t } else { -t };
            term *= u;
        }
        sum
    } else {
        u - r.ln()
    };
    a * phi
}

impl Lyapunov {
    /// The weights at the equilibrium `eq` of `economy` (its current settings and shocks).
    pub fn new(economy: &Economy, eq: &Equilibrium) -> Lyapunov {
        let firms = &economy.firms;
        let goods = &economy.goods;
        let mut edge_weight = vec![0.0; firms.edges()];
        let mut edge_divergence = vec![Divergence::Squared; firms.edges()];
        let mut best_response = Vec::new();
        let mut metric = Vec::new();
        let (mut grad, mut hess) = (Vec::new(), Vec::new());
        for f in 0..firms.len() {
            let s = economy.agent(f);
            let r = firms.inputs(f);
            if s.rule == Rule::BestResponse {
                let n = r.len();
                grad.resize(n, 0.0);
                hess.resize(n * n, 0.0);
                let technology = economy.technology(f);
                technology.hessian(&eq.x[r.clone()], &firms.input_param[r.clone()], &mut grad, &mut hess);
                let scale = -economy.revenue(f, &eq.prices) * firms.productivity[f] / s.rate.max(1e-300);
                best_response.push((f as u32, metric.len()));
                metric.extend(hess.iter().map(|h| {
                    let m = scale * h;
                    if m.is_finite() {
                        m
                    } else {
                        0.0
                    }
                }));
                continue;
            }
            for e in r {
                let a = s.rate.max(1e-300);
                (edge_weight[e], edge_divergence[e]) = match s.form {
                    Form::Additive => (1.0 / a, Divergence::Squared),
                    Form::Relative => (eq.prices[firms.input_good[e] as usize] / a, Divergence::Entropic),
                };
            }
        }
        let eta = economy.market.step.max(1e-300);
        let (good_divergence, mut list) = match economy.market.rule {
            market_settings::Rule::Additive => (Divergence::Squared, Vec::new()),
            market_settings::Rule::Multiplicative => (Divergence::Entropic, Vec::new()),
        };
        for g in goods.endogenous() {
            if goods.uses(g).is_empty() {
                continue;
            }
            let weight = match good_divergence {
                Divergence::Squared => 1.0 / eta,
                Divergence::Entropic => {
                    let demand: f64 = goods.uses(g).iter().map(|&e| eq.x[e as usize]).sum();
                    let mut supply = goods.endowment[g];
                    for &k in goods.producers(g) {
                        supply += firms.output_weight[k as usize] * eq.y[firms.output_firm[k as usize] as usize];
                    }
                    supply.max(demand) / eta
                }
            };
            list.push((g as u32, weight));
        }
        Lyapunov {
            edge_weight,
            edge_divergence,
            best_response,
            metric,
            goods: list,
            good_divergence,
        }
    }

    /// W at plans `x` (per input edge) and prices `p` (per good), with `eq` the equilibrium
    /// the weights were made at.
    pub fn value(&self, economy: &Economy, eq: &Equilibrium, x: &[f64], p: &[f64]) -> f64 {
        let firms = &economy.firms;
        let mut w = 0.0;
        for e in 0..x.len() {
            let c = self.edge_weight[e];
            if c == 0.0 {
                continue;
            }
            w += c * divergence(self.edge_divergence[e], eq.x[e], x[e]);
        }
        for &(f, offset) in &self.best_response {
            let r = firms.inputs(f as usize);
            let n = r.len();
            let m = &self.metric[offset..offset + n * n];
            let (x, xs) = (&x[r.clone()], &eq.x[r]);
            let mut q = 0.0;
            for i in 0..n {
                let di = x[i] - xs[i];
                for j in 0..n {
                    q += di * m[i * n + j] * (x[j] - xs[j]);
                }
            }
            w += 0.5 * q;
        }
        for &(g, c) in &self.goods {
            let g = g as usize;
            w += c * divergence(self.good_divergence, eq.prices[g], p[g]);
        }
        w
    }
}

/// W below this share of its first value (at the start, or right after the last shock) is at
/// the level of rounding and of the reference equilibrium's own error (distances of 1e-10
/// relative, where runs stop): its ups and downs there are noise.
pub const NOISE: f64 = 1e-20;

/// How often W rose: over consecutive logged values (W, whether a shock applied at the end of
/// that tick), the steps in which W rose, out of the steps with W above the noise floor at
/// their start. A step from a shock's tick is not counted (the equilibrium W measures from
/// moves), and the floor is set again from the first value after it.
pub fn rises(series: impl IntoIterator<Item = (Option<f64>, bool)>) -> (usize, usize) {
    let (mut up, mut steps) = (0, 0);
    let mut first: Option<f64> = None;
    let mut last: Option<(f64, bool)> = None;
    for (w, shock) in series {
        if last.is_some_and(|l| l.1) {
            first = None;
        }
        if let (Some((a, a_shock)), Some(b)) = (last, w) {
            if !a_shock && a > NOISE * first.unwrap_or(a) {
                steps += 1;
                up += (b > a) as usize;
            }
        }
        if first.is_none() {
            first = w;
        }
        last = w.map(|w| (w, shock));
    }
    (up, steps)
}

fn divergence(d: Divergence, star: f64, v: f64) -> f64 {
    match d {
        Divergence::Squared => 0.5 * (v - star) * (v - star),
        Divergence::Entropic => kl(star, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rises_skip_noise_and_shocks() {
        let w = |v: &[(f64, bool)]| rises(v.iter().map(|&(w, s)| (Some(w), s)));
        assert_eq!(w(&[(4.0, false), (2.0, false), (3.0, false), (1.0, false)]), (1, 3));
        // noise at the floor does not count
        assert_eq!(w(&[(4.0, false), (1e-25, false), (2e-25, false)]), (0, 1));
        // nor the step from a shock's tick; the floor starts again after it
        assert_eq!(w(&[(4.0, false), (1e-25, true), (1e-3, false), (2e-3, false)]), (1, 2));
        // a run that grows: every step counts, however far W has been
        assert_eq!(w(&[(1.0, false), (1e200, false), (2.0, false), (3.0, false)]), (2, 3));
        assert_eq!(rises([(None, false), (Some(1.0), false)]), (0, 0));
    }

    #[test]
    fn kl_is_accurate_near_the_diagonal_and_continuous_at_the_switch() {
        for &(a, b) in &[
            (2.0, 2.0 * (1.0 + 1e-9)),
            (1.0, 1.0 - 1e-5),
            (3.0, 3.0 * 1.00999),
            (3.0, 3.0 * 1.01001),
        ] {
            let u: f64 = b / a - 1.0;
            // the series to high order in exact-ish arithmetic via f64 on small u
            let want = a * (u * u / 2.0 - u * u * u / 3.0 + u.powi(4) / 4.0 - u.powi(5) / 5.0 + u.powi(6) / 6.0);
            let got = kl(a, b);
            assert!(
                (got - want).abs() <= 1e-9 * want.abs() + 1e-300,
                "{a} {b}: {got} vs {want}"
            );
        }
        assert_eq!(kl(0.0, 2.0), 2.0);
        assert_eq!(kl(1.0, 0.0), f64::INFINITY);
        assert_eq!(kl(1.5, 1.5), 0.0);
        // plain formula away from the diagonal
        let (a, b) = (1.0f64, 3.0f64);
        assert!((kl(a, b) - (a * (a / b).ln() - a + b)).abs() < 1e-15);
    }
}
