//! Firm agents: the rules by which a firm moves its input plan (its bids) each tick
//! (docs/MODEL.md, "One tick"). A firm sees only its revenue per unit of output P_f (from its
//! output prices) and the prices of its own inputs. [`update`] is every rule for every
//! technology; [`crate::sim::cobb_douglas`] is the fast path of the default rule for
//! Cobb–Douglas firms.

use crate::economy::agent_settings::{AgentSettings, Form, Rule};
use crate::numeric::linalg;
use crate::production::{Returns, Technology};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Plans never go below this fraction of their previous value in one tick (they stay > 0).
const MIN_SHRINK: f64 = 1e-3;

/// Reusable buffers for one firm's update (one per worker thread).
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    grad: Vec<f64>,
    hess: Vec<f64>,
    dir: Vec<f64>,
    trial: Vec<f64>,
    target: Vec<f64>,
    observed: Vec<f64>,
    slope: Vec<f64>,
}

impl Scratch {
    fn size(&mut self, n: usize) {
        for v in [
            &mut self.grad,
            &mut self.dir,
            &mut self.trial,
            &mut self.target,
            &mut self.observed,
            &mut self.slope,
        ] {
            v.resize(n, 0.0);
        }
        self.hess.resize(n * n, 0.0);
    }
}

/// What one firm sees and holds when it updates.
pub struct FirmView<'a> {
    pub settings: &'a AgentSettings,
    pub technology: &'a Technology,
    pub params: &'a [f64],
    pub productivity: f64,
    /// Revenue per unit of F at current output prices: P_f = sum_g w_fg p_g.
    pub revenue: f64,
    /// Prices of its inputs, in input order.
    pub input_prices: &'a [f64],
    /// Whether the technology has constant returns (see [`Technology::constant_returns`]):
    /// then the gradient rule extrapolates (the stabiliser of docs/MODEL.md).
    pub constant_returns: bool,
}

/// Draw the observation-noise and activation randomness of one firm for one tick from its
/// own stream, positioned at the tick (so the draw does not depend on thread scheduling).
pub fn observe(view: &FirmView, rng: Option<&mut ChaCha8Rng>, observed_prices: &mut [f64]) -> (f64, bool) {
    observed_prices.copy_from_slice(view.input_prices);
    let mut revenue = view.revenue;
    let s = view.settings;
    let Some(rng) = rng else {
        return (revenue, true);
    };
    let active = s.activation >= 1.0 || rng.gen::<f64>() < s.activation;
    if s.noise > 0.0 {
        revenue *= (s.noise * crate::numeric::random::normal(rng)).exp();
        for p in observed_prices.iter_mut() {
            *p *= (s.noise * crate::numeric::random::normal(rng)).exp();
        }
    }
    (revenue, active)
}

/// One firm's update: from plan `x` (and its last normalised gradient `last`) to `x_next`
/// (and `last_next`). Reads only the firm's own prices. Returns the new output y = a F(x').
#[allow(clippy::too_many_arguments)]
pub fn update(
    view: &FirmView,
    rng: Option<&mut ChaCha8Rng>,
    x: &[f64],
    last: &[f64],
    x_next: &mut [f64],
    last_next: &mut [f64],
    scratch: &mut Scratch,
) -> f64 {
    let n = x.len();
    scratch.size(n);
    let mut observed = std::mem::take(&mut scratch.observed);
    let (revenue, active) = observe(view, rng, &mut observed);
    let s = view.settings;
    let r = revenue * view.productivity;
    if !active {
        x_next.copy_from_slice(x);
        last_next.copy_from_slice(last);
    } else {
        // Constant returns: profit is linear along rays, so plain gradient steps and the
        // markets' price steps rotate around the equilibrium without damping. The stabiliser
        // is the optimistic extrapolation 2 g_t - g_{t-1} (it damps that rotation).
        let extrapolate = s.rule == Rule::Optimistic || (s.rule == Rule::Gradient && view.constant_returns);
        match s.rule {
            Rule::Gradient | Rule::Optimistic if matches!(view.technology, Technology::Leontief { .. }) => {
                let Technology::Leontief { scale } = *view.technology else {
                    unreachable!()
                };
                leontief_step(scale, s, r, view.params, &observed, x, last, x_next, last_next);
            }
            Rule::Gradient | Rule::Optimistic => {
                view.technology.gradient(x, view.params, &mut scratch.grad);
                for i in 0..n {
                    let g = r * scratch.grad[i] - observed[i];
                    match s.form {
                        Form::Relative => {
                            // g / p: the marginal value per unit spent, minus 1.
                            let rel = if observed[i] > 0.0 {
                                (g / observed[i]).clamp(-1.0, 1.0)
                            } else {
                                1.0
                            };
                            let push = if extrapolate {
                                (2.0 * rel - last[i]).clamp(-1.0, 1.0)
                            } else {
                                rel
                            };
                            x_next[i] = x[i] * (s.rate * push).exp();
                            last_next[i] = rel;
                        }
                        Form::Additive => {
                            let push = if extrapolate { 2.0 * g - last[i] } else { g };
                            x_next[i] = (x[i] + s.rate * push).max(x[i] * MIN_SHRINK);
                            last_next[i] = g;
                        }
                    }
                }
            }
            Rule::BestResponse => {
                scratch.target.copy_from_slice(x);
                let mut target = std::mem::take(&mut scratch.target);
                let found = best_response(view.technology, view.params, r, &observed, &mut target, scratch).is_some();
                for i in 0..n {
                    let t = if found && target[i].is_finite() {
                        target[i]
                    } else {
                        x[i]
                    };
                    x_next[i] = (x[i] + s.rate * (t - x[i])).max(x[i] * MIN_SHRINK);
                    last_next[i] = 0.0;
                }
                scratch.target = target;
            }
        }
    }
    scratch.observed = observed;
    view.productivity * view.technology.value(x_next, view.params)
}

/// The gradient rule for a Leontief firm, F = scale * min_i x_i / r_i. Its profit is not
/// differentiable off the ray x_i = r_i a (there the gradient puts all weight on one input and
/// the others' markets see no demand), so the firm moves along the ray: it buys exactly
/// r_i a of each input and steps its activity a by its margin per unit of activity,
/// m = revenue * scale - sum_i r_i p_i (relative form: m / sum_i r_i p_i, clipped), with the
/// constant-returns extrapolation 2 m_t - m_{t-1}. The memory holds m_t on every edge.
#[allow(clippy::too_many_arguments)]
fn leontief_step(
    scale: f64,
    s: &AgentSettings,
    revenue: f64,
    r: &[f64],
    prices: &[f64],
    x: &[f64],
    last: &[f64],
    x_next: &mut [f64],
    last_next: &mut [f64],
) {
    let activity = x.iter().zip(r).map(|(x, r)| x / r).fold(f64::INFINITY, f64::min);
    let cost: f64 = r.iter().zip(prices).map(|(r, p)| r * p).sum();
    let margin = revenue * scale - cost;
    let (next, memory) = match s.form {
        Form::Relative => {
            let rel = if cost > 0.0 {
                (margin / cost).clamp(-1.0, 1.0)
            } else {
                1.0
            };
            let push = (2.0 * rel - last[0]).clamp(-1.0, 1.0);
            (activity * (s.rate * push).exp(), rel)
        }
        Form::Additive => {
            let push = 2.0 * margin - last[0];
            ((activity + s.rate * push).max(activity * MIN_SHRINK), margin)
        }
    };
    for i in 0..x.len() {
        x_next[i] = r[i] * next;
        last_next[i] = memory;
    }
}

/// The profit-maximising plan of `revenue * F(x) - prices . x` (revenue includes the
/// productivity), written into `x` (which holds the starting guess on entry). Returns the
/// maximal profit, or None when there is no finite maximum (constant returns, unbounded).
pub fn best_response(
    tech: &Technology,
    params: &[f64],
    revenue: f64,
    prices: &[f64],
    x: &mut [f64],
    scratch: &mut Scratch,
) -> Option<f64> {
    best_response_and_output(tech, params, revenue, prices, x, scratch).map(|(profit, _)| profit)
}

/// [`best_response`], also returning F at the plan (without productivity): the maximal
/// profit and F(x*).
pub fn best_response_and_output(
    tech: &Technology,
    params: &[f64],
    revenue: f64,
    prices: &[f64],
    x: &mut [f64],
    scratch: &mut Scratch,
) -> Option<(f64, f64)> {
    let n = x.len();
    if tech.returns(params) == Returns::Constant
        || prices.iter().any(|p| p.is_nan() || *p <= 0.0)
        || revenue.is_nan()
        || revenue < 0.0
    {
        return None;
    }
    let cost = |x: &[f64]| prices.iter().zip(x).map(|(p, x)| p * x).sum::<f64>();
    let profit = |x: &[f64]| revenue * tech.value(x, params) - cost(x);
    if tech.closed_form_optimum(params, revenue, prices, x) {
        let value = tech.value(x, params);
        let profit = revenue * value - cost(x);
        return profit.is_finite().then_some((profit, value));
    }
    // Damped Newton from the starting guess, staying in the positive orthant.
    if scratch.grad.len() != n {
        scratch.size(n);
    }
    for v in x.iter_mut() {
        if !(*v > 0.0 && v.is_finite()) {
            *v = 1.0;
        }
    }
    let mut current = profit(x);
    for _ in 0..200 {
        tech.hessian(x, params, &mut scratch.grad, &mut scratch.hess);
        let mut converged = true;
        for i in 0..n {
            let g = revenue * scratch.grad[i] - prices[i];
            scratch.dir[i] = g;
            // first-order condition, or a corner at (nearly) zero with a negative slope
            if g.abs() > 1e-13 * prices[i] && !(g < 0.0 && x[i] < 1e-280) {
                converged = false;
            }
        }
        if converged {
            return current.is_finite().then_some((current, tech.value(x, params)));
        }
        // Newton direction: (-R H) d = g
        scratch.slope.copy_from_slice(&scratch.dir);
        for v in scratch.hess.iter_mut() {
            *v *= -revenue;
        }
        if !linalg::cholesky_solve(&mut scratch.hess, &mut scratch.dir, n) {
            // not strictly concave here: a relative gradient step instead
            for i in 0..n {
                scratch.dir[i] = x[i] * (scratch.slope[i] / prices[i]).clamp(-0.5, 1.0);
            }
        }
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..60 {
            for i in 0..n {
                // never more than 90% of the way to the boundary
                scratch.trial[i] = (x[i] + t * scratch.dir[i]).max(0.1 * x[i]);
            }
            let v = profit(&scratch.trial);
            if v.is_finite() && v >= current - 1e-15 * current.abs() {
                improved = v > current || t < 1.0 || v == current;
                current = v;
                x.copy_from_slice(&scratch.trial);
                break;
            }
            t *= 0.5;
        }
        if !improved || x.iter().any(|v| *v > 1e200) {
            return if x.iter().any(|v| *v > 1e200) {
                None
            } else {
                Some((current, tech.value(x, params)))
            };
        }
    }
    current.is_finite().then_some((current, tech.value(x, params)))
}
