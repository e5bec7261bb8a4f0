//! The fast path of the firm phase for Cobb–Douglas firms under the default rule (gradient,
//! relative form, no noise): the one-firm kernel [`step`], the vectorised passes that do the
//! same for many firms at once ([`plans`], [`sum_a_ln_x`], [`outputs`]), and the runs of
//! consecutive Cobb–Douglas firms they are applied to (`Run`, `step_run`). The rule itself is
//! [`crate::sim::agents::update`] (docs/MODEL.md, "One tick"); how these kernels are
//! organised and what they cost is in docs/PERFORMANCE.md, "The tick".

use crate::economy::Economy;
use crate::numeric::fastmath;
use crate::numeric::vector_level::Level;

/// The gradient rule in relative form for a Cobb–Douglas firm, F = scale * prod x_i^a_i,
/// without noise: the same step as [`crate::sim::agents::update`], specialised to cost one
/// `exp` per input. The firm keeps ln x_i beside x_i and F(x) (without productivity) from its
/// last step, so with r = revenue * productivity and dF/dx_i = a_i F / x_i:
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
pub fn step(
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

/// [`step`] for many Cobb–Douglas firms at once, in one pass over their input edges that
/// vector units run several edges wide. The caller has computed, per edge e of firm f,
/// `ar[e]` = a_e * (revenue * productivity * F)_f (the marginal value of the input times x_e)
/// and `rate[e]`, the firm's rate; this moves every plan:
///
/// ```text
/// ln x_e <- ln x_e + rate_e * clip((ar_e / x_e - p_e) / p_e, -1, 1),   x_e = exp(ln x_e)
/// ```
///
/// the same operations in the same order as [`step`], so the same bits. Then [`sum_a_ln_x`]
/// and [`outputs`] give each firm's new F and output. `goods[e]` must index `prices`.
pub fn plans(ar: &[f64], rate: &[f64], goods: &[u32], prices: &[f64], x: &mut [f64], ln_x: &mut [f64]) {
    plans_at(Level::best(), ar, rate, goods, prices, x, ln_x)
}

/// [`plans`] on the vector `level` (the bits do not depend on it).
///
/// # Panics
/// If the CPU does not support `level`, or as [`plans`].
pub fn plans_at(
    level: Level,
    ar: &[f64],
    rate: &[f64],
    goods: &[u32],
    prices: &[f64],
    x: &mut [f64],
    ln_x: &mut [f64],
) {
    let n = x.len();
    assert!(ar.len() == n && rate.len() == n && goods.len() == n && ln_x.len() == n);
    // (a maximum, which vectorises, rather than a test per good)
    let largest = goods.iter().copied().max().unwrap_or(0) as usize;
    assert!(n == 0 || largest < prices.len(), "input goods must index prices");
    assert!(level <= Level::detected(), "the CPU does not support {level:?}");
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512 (checked above); the lengths and indices were checked.
        Level::Avx512 => unsafe { plans_avx512(ar, rate, goods, prices, x, ln_x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX2 (checked above); the lengths and indices were checked.
        Level::Avx2 => unsafe { plans_avx2(ar, rate, goods, prices, x, ln_x) },
        // SAFETY: the lengths and indices were checked above.
        _ => unsafe { plans_loop(ar, rate, goods, prices, x, ln_x) },
    }
}

/// [`plans_loop`] compiled for AVX-512 (8 edges per instruction; the prices and the exp table
/// are loaded one by one, no gathers). Without FMA, so every operation rounds as in the
/// portable version.
///
/// # Safety
/// The CPU must support AVX-512F; as for [`plans_loop`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn plans_avx512(ar: &[f64], rate: &[f64], goods: &[u32], prices: &[f64], x: &mut [f64], ln_x: &mut [f64]) {
    unsafe { plans_loop(ar, rate, goods, prices, x, ln_x) }
}

/// [`plans_loop`] compiled for AVX2 (4 edges per instruction; the compiler loads the prices
/// and the exp table one by one rather than with `vgatherdpd`). Without FMA, so every
/// operation rounds as in the portable version.
///
/// # Safety
/// The CPU must support AVX2; as for [`plans_loop`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn plans_avx2(ar: &[f64], rate: &[f64], goods: &[u32], prices: &[f64], x: &mut [f64], ln_x: &mut [f64]) {
    unsafe { plans_loop(ar, rate, goods, prices, x, ln_x) }
}

/// The loop of [`plans`]: no branch and no bounds check inside, so that it vectorises;
/// arguments of `exp` outside its fast range (and NaN) are redone after it.
///
/// # Safety
/// All slices have the length of `x`, and every `goods[e]` indexes `prices`.
#[inline(always)]
unsafe fn plans_loop(ar: &[f64], rate: &[f64], goods: &[u32], prices: &[f64], x: &mut [f64], ln_x: &mut [f64]) {
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

/// ln F / scale = sum_i a_i ln x_i of a Cobb–Douglas firm, summed as [`step`] sums it.
#[inline]
pub fn sum_a_ln_x(a: &[f64], ln_x: &[f64]) -> f64 {
    let mut ln_f = 0.0;
    for (a, l) in a.iter().zip(ln_x) {
        ln_f += a * l;
    }
    ln_f
}

/// Many Cobb–Douglas firms' new F = scale * exp(ln_f) (into `f`) and outputs
/// productivity * F (into `y`), as [`step`] computes them, in a loop that vectorises. All
/// slices have one entry per firm.
pub fn outputs(scale: &[f64], productivity: &[f64], ln_f: &[f64], f: &mut [f64], y: &mut [f64]) {
    outputs_at(Level::best(), scale, productivity, ln_f, f, y)
}

/// [`outputs`] on the vector `level` (the bits do not depend on it).
///
/// # Panics
/// If the CPU does not support `level`, or the slices differ in length.
pub fn outputs_at(level: Level, scale: &[f64], productivity: &[f64], ln_f: &[f64], f: &mut [f64], y: &mut [f64]) {
    let n = f.len();
    assert!(scale.len() == n && productivity.len() == n && ln_f.len() == n && y.len() == n);
    assert!(level <= Level::detected(), "the CPU does not support {level:?}");
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512 (checked above).
        Level::Avx512 => unsafe { outputs_avx512(scale, productivity, ln_f, f, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX2 (checked above).
        Level::Avx2 => unsafe { outputs_avx2(scale, productivity, ln_f, f, y) },
        _ => outputs_loop(scale, productivity, ln_f, f, y),
    }
}

/// [`outputs_loop`] compiled for AVX-512; without FMA, so the same bits.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn outputs_avx512(scale: &[f64], productivity: &[f64], ln_f: &[f64], f: &mut [f64], y: &mut [f64]) {
    outputs_loop(scale, productivity, ln_f, f, y)
}

/// [`outputs_loop`] compiled for AVX2; without FMA, so the same bits.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn outputs_avx2(scale: &[f64], productivity: &[f64], ln_f: &[f64], f: &mut [f64], y: &mut [f64]) {
    outputs_loop(scale, productivity, ln_f, f, y)
}

/// The loop of [`outputs`]; arguments of `exp` outside its fast range (and NaN) are redone
/// after it.
#[inline(always)]
fn outputs_loop(scale: &[f64], productivity: &[f64], ln_f: &[f64], f: &mut [f64], y: &mut [f64]) {
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

/// Most input edges in one call of the passes (their scratch stays in L1).
const RUN_EDGES: u32 = 512;

/// A run of consecutive Cobb–Douglas firms inside one chunk of the firm phase, with at most
/// [`RUN_EDGES`] input edges (one firm may have more), and what its firms share: found once,
/// when the engine starts (technologies and rules do not change during a run).
#[derive(Debug, Clone)]
pub(super) struct Run {
    pub(super) firms: std::ops::Range<usize>,
    /// The number of inputs of every firm of the run, when they all have the same.
    same_inputs: Option<usize>,
    /// Whether every firm has exactly one output.
    one_output: bool,
    /// Scale and rate, when every firm of the run has the same.
    shared: Option<(f64, f64)>,
}

impl Run {
    /// The runs of the Cobb–Douglas firms, chunk by chunk of `chunk` firms; `kernel(f)` is
    /// firm f's scale and rate when it takes this kernel.
    pub(super) fn find(economy: &Economy, kernel: impl Fn(usize) -> Option<(f64, f64)>, chunk: usize) -> Vec<Run> {
        let firms = &economy.firms;
        let mut runs = Vec::new();
        for c in (0..firms.len()).step_by(chunk) {
            let end = (c + chunk).min(firms.len());
            let mut f = c;
            while f < end {
                if kernel(f).is_none() {
                    f += 1;
                    continue;
                }
                let mut g = f + 1;
                while g < end && kernel(g).is_some() && firms.input_start[g + 1] - firms.input_start[f] <= RUN_EDGES {
                    g += 1;
                }
                let k = firms.inputs(f).len();
                let first = kernel(f).map(|(s, r)| (s.to_bits(), r.to_bits()));
                runs.push(Run {
                    firms: f..g,
                    same_inputs: (f..g).all(|h| firms.inputs(h).len() == k).then_some(k),
                    one_output: (f..g).all(|h| firms.outputs(h).len() == 1),
                    shared: (f..g)
                        .all(|h| kernel(h).map(|(s, r)| (s.to_bits(), r.to_bits())) == first)
                        .then(|| kernel(f).expect("a Cobb–Douglas firm")),
                });
                f = g;
            }
        }
        runs
    }
}

/// [`step`] for the firms of `run`, through the vectorised [`plans`]: per firm r F (revenue,
/// productivity, F), then every plan, then every F. `x` and `ln_x` are the run's edges, `big_f`
/// (F per firm) and `ys` (outputs) its firms; `kernel(f)` is firm f's scale and rate.
#[allow(clippy::too_many_arguments)]
pub(super) fn step_run(
    economy: &Economy,
    kernel: impl Fn(usize) -> (f64, f64),
    run: &Run,
    prices: &[f64],
    x: &mut [f64],
    ln_x: &mut [f64],
    big_f: &mut [f64],
    ys: &mut [f64],
) {
    let firms = &economy.firms;
    let run_firms = run.firms.clone();
    let edges = firms.input_start[run_firms.start] as usize..firms.input_start[run_firms.end] as usize;
    let e0 = edges.start;
    // (the scattered input prices are not prefetched: with the demand summed in the firm
    // phase, a prefetch loop here, or one run ahead, measured 2 to 4% slower; see
    // docs/PERFORMANCE.md)
    BUFFERS.with_borrow_mut(|b| {
        let n = run_firms.len();
        b.reserve(n, edges.len());
        let (rf, rate, scale, ln_f) = (&mut b.rf[..n], &mut b.rate[..n], &mut b.scale[..n], &mut b.ln_f[..n]);
        let big_f = &mut big_f[..n];
        let productivity = &firms.productivity[run_firms.clone()];
        match run.shared {
            Some((s, r)) => {
                scale.fill(s);
                rate.fill(r);
            }
            None => {
                for (i, f) in run_firms.clone().enumerate() {
                    (scale[i], rate[i]) = kernel(f);
                }
            }
        }
        // revenue * productivity * F per firm; one output each is the common case
        if run.one_output {
            let slots = firms.output_start[run_firms.start] as usize..firms.output_start[run_firms.end] as usize;
            let (w, g) = (&firms.output_weight[slots.clone()], &firms.output_good[slots]);
            for i in 0..n {
                rf[i] = w[i] * prices[g[i] as usize] * productivity[i] * big_f[i];
            }
        } else {
            for (i, f) in run_firms.clone().enumerate() {
                rf[i] = economy.revenue(f, prices) * productivity[i] * big_f[i];
            }
        }
        // per edge: a * rf and the rate of its firm; firms with the same number of inputs
        // (generated economies) take loops the compiler unrolls, the sums are the same
        let (ar, rate_e) = (&mut b.ar[..edges.len()], &mut b.rate_e[..edges.len()]);
        let a = &firms.input_param[edges.clone()];
        match run.same_inputs {
            Some(1) => fixed_inputs::per_edge::<1>(a, rf, rate, ar, rate_e),
            Some(2) => fixed_inputs::per_edge::<2>(a, rf, rate, ar, rate_e),
            Some(3) => fixed_inputs::per_edge::<3>(a, rf, rate, ar, rate_e),
            Some(4) => fixed_inputs::per_edge::<4>(a, rf, rate, ar, rate_e),
            _ => {
                for (((ar, rate_e), a), &f) in ar
                    .iter_mut()
                    .zip(rate_e.iter_mut())
                    .zip(a)
                    .zip(&firms.edge_firm[edges.clone()])
                {
                    let i = f as usize - run_firms.start;
                    *ar = a * rf[i];
                    *rate_e = rate[i];
                }
            }
        }
        plans(ar, rate_e, &firms.input_good[edges.clone()], prices, x, ln_x);
        match run.same_inputs {
            Some(1) => fixed_inputs::ln_f::<1>(a, ln_x, ln_f),
            Some(2) => fixed_inputs::ln_f::<2>(a, ln_x, ln_f),
            Some(3) => fixed_inputs::ln_f::<3>(a, ln_x, ln_f),
            Some(4) => fixed_inputs::ln_f::<4>(a, ln_x, ln_f),
            _ => {
                let starts = &firms.input_start[run_firms.start..=run_firms.end];
                for (ln_f, w) in ln_f.iter_mut().zip(starts.windows(2)) {
                    let es = w[0] as usize - e0..w[1] as usize - e0;
                    *ln_f = sum_a_ln_x(&a[es.clone()], &ln_x[es]);
                }
            }
        }
        outputs(scale, productivity, ln_f, big_f, ys);
    });
}

/// The per-firm loops of [`step_run`] for firms that all have `K` inputs.
mod fixed_inputs {
    /// `ar[e] = a[e] * rf[i]` and `rate_e[e] = rate[i]` for the K edges e of each firm i.
    pub fn per_edge<const K: usize>(a: &[f64], rf: &[f64], rate: &[f64], ar: &mut [f64], rate_e: &mut [f64]) {
        let firms = a
            .chunks_exact(K)
            .zip(ar.chunks_exact_mut(K))
            .zip(rate_e.chunks_exact_mut(K));
        for (((a, ar), rate_e), (rf, rate)) in firms.zip(rf.iter().zip(rate)) {
            for k in 0..K {
                ar[k] = a[k] * rf;
                rate_e[k] = *rate;
            }
        }
    }

    /// ln F / scale of each firm, [`super::sum_a_ln_x`] of its K edges.
    pub fn ln_f<const K: usize>(a: &[f64], ln_x: &[f64], ln_f: &mut [f64]) {
        for ((a, l), ln_f) in a.chunks_exact(K).zip(ln_x.chunks_exact(K)).zip(ln_f) {
            *ln_f = super::sum_a_ln_x(a, l);
        }
    }
}

/// Per-thread buffers of [`step_run`], reused from tick to tick.
#[derive(Default)]
struct Buffers {
    /// Per firm of a run: revenue * productivity * F, rate, scale and ln F.
    rf: Vec<f64>,
    rate: Vec<f64>,
    scale: Vec<f64>,
    ln_f: Vec<f64>,
    /// Per edge of the run: a * rf and the rate of its firm.
    ar: Vec<f64>,
    rate_e: Vec<f64>,
}

impl Buffers {
    /// Room for a run of `firms` firms and `edges` edges (grown, never shrunk).
    fn reserve(&mut self, firms: usize, edges: usize) {
        if self.rf.len() < firms {
            for v in [&mut self.rf, &mut self.rate, &mut self.scale, &mut self.ln_f] {
                v.resize(firms, 0.0);
            }
        }
        if self.ar.len() < edges {
            self.ar.resize(edges, 0.0);
            self.rate_e.resize(edges, 0.0);
        }
    }
}

thread_local! {
    static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers::default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::economy::agent_settings::{AgentSettings, Form, Rule};
    use crate::production::Technology;
    use crate::sim::agents::{update, FirmView, Scratch};
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
            let y_fast = step(scale, rate, productivity, revenue, &a, &goods, &prices, &mut x_fast, &mut ln_x, &mut f);
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
                1..48),
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
                let y = step(*scale, *rate, *productivity, revenue, &a, &goods, &prices, &mut x, &mut ln_x, &mut f);
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
            // every vector level the CPU has gives these bits, with enough firms and edges for
            // the vector loops' bodies (not only their remainders) to run
            let scales: Vec<f64> = firms.iter().map(|v| v.1).collect();
            let productivities: Vec<f64> = firms.iter().map(|v| v.2).collect();
            for level in Level::available() {
                let (mut x, mut ln_x) = (x.clone(), ln_x.clone());
                plans_at(level, &ar, &rates, &goods, &prices, &mut x, &mut ln_x);
                let mut e = 0;
                let mut ln_fs = Vec::new();
                for (inputs, ..) in &firms {
                    let n = inputs.len();
                    let a: Vec<f64> = inputs.iter().map(|v| v.0).collect();
                    ln_fs.push(sum_a_ln_x(&a, &ln_x[e..e + n]));
                    e += n;
                }
                let (mut f, mut y) = (vec![0.0; firms.len()], vec![0.0; firms.len()]);
                outputs_at(level, &scales, &productivities, &ln_fs, &mut f, &mut y);
                let mut e = 0;
                for (i, (x1, ln_x1, f1, y1)) in one.iter().enumerate() {
                    let n = x1.len();
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
                    prop_assert_eq!(bits(&x[e..e + n]), bits(x1), "{:?}", level);
                    prop_assert_eq!(bits(&ln_x[e..e + n]), bits(ln_x1), "{:?}", level);
                    prop_assert_eq!(f[i].to_bits(), f1.to_bits(), "{:?}", level);
                    prop_assert_eq!(y[i].to_bits(), y1.to_bits(), "{:?}", level);
                    e += n;
                }
            }
        }
    }
}
