//! Firm agents. Each tick a firm sees only its revenue per unit of output P_f (from its
//! output prices) and the prices of its own inputs, and moves its input plan (its bids).

use crate::economy::agent_settings::{AgentSettings, Form, Rule};
use crate::numeric::fastmath;
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

/// The gradient rule in relative form for a Cobb–Douglas firm, F = scale * prod x_i^a_i,
/// without noise: the same step as [`update`], specialised to cost one `exp` per input. The
/// firm keeps ln x_i beside x_i and F(x) (without productivity) from its last step, so with
/// r = revenue * productivity and dF/dx_i = a_i F / x_i:
///
/// ```text
/// ln x_i <- ln x_i + rate * clip((r a_i F / x_i - p_i) / p_i, -1, 1),   x_i = exp(ln x_i)
/// F      <- scale * exp(sum_i a_i ln x_i)
/// ```
///
/// `goods` are the firm's input goods and `prices` all prices; `x`, `ln_x` and `f` are
/// updated in place. Returns the new output productivity * F.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn cobb_douglas_step(
    scale: f64,
    rate: f64,
    productivity: f64,
    revenue: f64,
    a: &[f64],
    goods: &[u32],
    prices: &[f64],
    x: &mut [f64],
    ln_x: &mut [f64],
    f: &mut f64,
) -> f64 {
    // r * F at the current plan: the marginal value of input i is a_i * rf / x_i
    let rf = revenue * productivity * *f;
    let mut ln_f = 0.0;
    for (((x, ln_x), a), g) in x.iter_mut().zip(ln_x.iter_mut()).zip(a).zip(goods) {
        let p = prices[*g as usize];
        let rel = if p > 0.0 {
            ((a * rf / *x - p) / p).clamp(-1.0, 1.0)
        } else {
            1.0
        };
        *ln_x += rate * rel;
        *x = fastmath::exp(*ln_x);
        ln_f += a * *ln_x;
    }
    *f = scale * fastmath::exp(ln_f);
    productivity * *f
}

/// [`cobb_douglas_step`] for many Cobb–Douglas firms at once, in one pass over their input
/// edges that vector units run several edges wide. The caller has computed, per edge e of
/// firm f, `ar[e]` = a_e * (revenue * productivity * F)_f (the marginal value of the input
/// times x_e) and `rate[e]`, the firm's rate; this moves every plan:
///
/// ```text
/// ln x_e <- ln x_e + rate_e * clip((ar_e / x_e - p_e) / p_e, -1, 1),   x_e = exp(ln x_e)
/// ```
///
/// the same operations in the same order as [`cobb_douglas_step`], so the same bits. Then
/// [`cobb_douglas_ln_f`] and [`cobb_douglas_outputs`] give each firm's new F and output.
/// `goods[e]` must index `prices`.
pub fn cobb_douglas_plans(ar: &[f64], rate: &[f64], goods: &[u32], prices: &[f64], x: &mut [f64], ln_x: &mut [f64]) {
    let n = x.len();
    assert!(ar.len() == n && rate.len() == n && goods.len() == n && ln_x.len() == n);
    // (a maximum, which vectorises, rather than a test per good)
    let largest = goods.iter().copied().max().unwrap_or(0) as usize;
    assert!(n == 0 || largest < prices.len(), "input goods must index prices");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2; the lengths and indices were checked above.
        unsafe { plans_avx2(ar, rate, goods, prices, x, ln_x) };
        return;
    }
    // SAFETY: the lengths and indices were checked above.
    unsafe { plans(ar, rate, goods, prices, x, ln_x) }
}

/// [`plans`] compiled for AVX2 (4 edges per instruction, gathers for the prices). Without
/// FMA, so every operation rounds as in the portable version.
///
/// # Safety
/// The CPU must support AVX2; as for [`plans`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn plans_avx2(ar: &[f64], rate: &[f64], goods: &[u32], prices: &[f64], x: &mut [f64], ln_x: &mut [f64]) {
    unsafe { plans(ar, rate, goods, prices, x, ln_x) }
}

/// The loop of [`cobb_douglas_plans`]: no branch and no bounds check inside, so that it
/// vectorises; arguments of `exp` outside its fast range (and NaN) are redone after it.
///
/// # Safety
/// All slices have the length of `x`, and every `goods[e]` indexes `prices`.
#[inline(always)]
unsafe fn plans(ar: &[f64], rate: &[f64], goods: &[u32], prices: &[f64], x: &mut [f64], ln_x: &mut [f64]) {
    let mut slow = false;
    for e in 0..x.len() {
        // SAFETY: e < x.len(), the common length; goods[e] indexes prices (the caller's promise).
        unsafe {
            let p = *prices.get_unchecked(*goods.get_unchecked(e) as usize);
            let v = (ar.get_unchecked(e) / x.get_unchecked(e) - p) / p;
            // a free input: +1
            let rel = if p > 0.0 { v.clamp(-1.0, 1.0) } else { 1.0 };
            let l = ln_x.get_unchecked(e) + rate.get_unchecked(e) * rel;
            *ln_x.get_unchecked_mut(e) = l;
            slow |= l.is_nan() | (l.abs() >= fastmath::FAST_RANGE);
            *x.get_unchecked_mut(e) = fastmath::exp_core(l);
        }
    }
    if slow {
        for (x, l) in x.iter_mut().zip(ln_x.iter()) {
            *x = fastmath::exp(*l);
        }
    }
}

/// ln F / scale = sum_i a_i ln x_i of a Cobb–Douglas firm, summed as [`cobb_douglas_step`]
/// sums it.
#[inline]
pub fn cobb_douglas_ln_f(a: &[f64], ln_x: &[f64]) -> f64 {
    let mut ln_f = 0.0;
    for (a, l) in a.iter().zip(ln_x) {
        ln_f += a * l;
    }
    ln_f
}

/// Many Cobb–Douglas firms' new F = scale * exp(ln_f) (into `f`) and outputs
/// productivity * F (into `y`), as [`cobb_douglas_step`] computes them, in a loop that
/// vectorises. All slices have one entry per firm.
pub fn cobb_douglas_outputs(scale: &[f64], productivity: &[f64], ln_f: &[f64], f: &mut [f64], y: &mut [f64]) {
    let n = f.len();
    assert!(scale.len() == n && productivity.len() == n && ln_f.len() == n && y.len() == n);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        unsafe { outputs_avx2(scale, productivity, ln_f, f, y) };
        return;
    }
    outputs(scale, productivity, ln_f, f, y)
}

/// [`outputs`] compiled for AVX2; without FMA, so the same bits.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn outputs_avx2(scale: &[f64], productivity: &[f64], ln_f: &[f64], f: &mut [f64], y: &mut [f64]) {
    outputs(scale, productivity, ln_f, f, y)
}

/// The loop of [`cobb_douglas_outputs`]; arguments of `exp` outside its fast range (and NaN)
/// are redone after it.
#[inline(always)]
fn outputs(scale: &[f64], productivity: &[f64], ln_f: &[f64], f: &mut [f64], y: &mut [f64]) {
    let n = f.len();
    let (scale, productivity, ln_f, y) = (&scale[..n], &productivity[..n], &ln_f[..n], &mut y[..n]);
    let mut slow = false;
    for i in 0..n {
        let l = ln_f[i];
        slow |= l.is_nan() | (l.abs() >= fastmath::FAST_RANGE);
        f[i] = scale[i] * fastmath::exp_core(l);
        y[i] = productivity[i] * f[i];
    }
    if slow {
        for i in 0..n {
            f[i] = scale[i] * fastmath::exp(ln_f[i]);
            y[i] = productivity[i] * f[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The specialised Cobb–Douglas kernel takes the same step as the general rule.
        #[test]
        fn cobb_douglas_kernel_matches_the_general_rule(
            inputs in proptest::collection::vec((0.05f64..0.5, 1e-3f64..1e3, 1e-3f64..1e3), 1..6),
            scale in 0.1f64..10.0,
            productivity in 0.1f64..10.0,
            revenue in 1e-3f64..1e3,
            rate in 0.01f64..1.0,
        ) {
            let a: Vec<f64> = inputs.iter().map(|v| v.0).collect();
            let x0: Vec<f64> = inputs.iter().map(|v| v.1).collect();
            let prices: Vec<f64> = inputs.iter().map(|v| v.2).collect();
            let goods: Vec<u32> = (0..a.len() as u32).collect();
            let settings = AgentSettings { rule: Rule::Gradient, rate, form: Form::Relative, noise: 0.0, activation: 1.0 };
            let technology = Technology::CobbDouglas { scale };
            let view = FirmView {
                settings: &settings,
                technology: &technology,
                params: &a,
                productivity,
                revenue,
                input_prices: &prices,
                constant_returns: false,
            };
            let n = a.len();
            let (mut x_general, mut last) = (vec![0.0; n], vec![0.0; n]);
            let y_general = update(&view, None, &x0, &vec![0.0; n], &mut x_general, &mut last, &mut Scratch::default());
            let mut x_fast = x0.clone();
            let mut ln_x: Vec<f64> = x0.iter().map(|v| v.ln()).collect();
            let mut f = technology.value(&x0, &a);
            let y_fast = cobb_douglas_step(scale, rate, productivity, revenue, &a, &goods, &prices, &mut x_fast, &mut ln_x, &mut f);
            prop_assert!((f * productivity - y_fast).abs() <= 1e-15 * y_fast);
            for i in 0..n {
                prop_assert!((x_fast[i] - x_general[i]).abs() <= 1e-13 * x_general[i], "{} vs {}", x_fast[i], x_general[i]);
            }
            prop_assert!((y_fast - y_general).abs() <= 1e-12 * y_general, "{} vs {}", y_fast, y_general);
        }

        /// The vectorised passes give the bits of the one-firm kernel, for several firms at once
        /// (free inputs, clipped steps and exp's slow path included).
        #[test]
        fn cobb_douglas_passes_match_the_one_firm_kernel(
            firms in proptest::collection::vec(
                (proptest::collection::vec((0.05f64..0.5, -700.0f64..700.0, 0usize..8), 1..6), 0.1f64..10.0, 0.1f64..10.0, 0.01f64..1.0, -5.0f64..5.0),
                1..12),
            prices in proptest::collection::vec(prop_oneof![Just(0.0), 1e-3f64..1e3], 8),
            revenue in 1e-3f64..1e3,
        ) {
            // one firm at a time
            let mut one = Vec::new();
            for (inputs, scale, productivity, rate, ln_f) in &firms {
                let a: Vec<f64> = inputs.iter().map(|v| v.0).collect();
                let goods: Vec<u32> = inputs.iter().map(|v| v.2 as u32).collect();
                let mut ln_x: Vec<f64> = inputs.iter().map(|v| v.1).collect();
                let mut x: Vec<f64> = ln_x.iter().map(|l| l.exp()).collect();
                let mut f = scale * ln_f.exp();
                let y = cobb_douglas_step(*scale, *rate, *productivity, revenue, &a, &goods, &prices, &mut x, &mut ln_x, &mut f);
                one.push((x, ln_x, f, y));
            }
            // all at once
            let (mut ar, mut rates, mut goods, mut x, mut ln_x) = (vec![], vec![], vec![], vec![], vec![]);
            for (inputs, scale, productivity, rate, ln_f) in &firms {
                let rf = revenue * productivity * (scale * ln_f.exp());
                for v in inputs {
                    ar.push(v.0 * rf);
                    rates.push(*rate);
                    goods.push(v.2 as u32);
                    ln_x.push(v.1);
                    x.push(v.1.exp());
                }
            }
            cobb_douglas_plans(&ar, &rates, &goods, &prices, &mut x, &mut ln_x);
            let mut e = 0;
            for ((inputs, scale, productivity, _, ln_f), (x1, ln_x1, f1, y1)) in firms.iter().zip(&one) {
                let n = inputs.len();
                let a: Vec<f64> = inputs.iter().map(|v| v.0).collect();
                let (mut f, mut y) = ([0.0], [0.0]);
                let _ = ln_f;
                cobb_douglas_outputs(&[*scale], &[*productivity], &[cobb_douglas_ln_f(&a, &ln_x[e..e + n])], &mut f, &mut y);
                let (f, y) = (f[0], y[0]);
                prop_assert_eq!(&x[e..e + n], &x1[..]);
                prop_assert_eq!(&ln_x[e..e + n], &ln_x1[..]);
                prop_assert_eq!(f.to_bits(), f1.to_bits());
                prop_assert_eq!(y.to_bits(), y1.to_bits());
                e += n;
            }
        }
    }
}
