//! Reverse-mode differentiation over the supply chain ("backprop"; docs/MODEL.md, "Backprop").
//!
//! Given an allocation (every firm's input plan), the adjoint of a good is the marginal
//! value of one more unit of it, in units of the fixed prices:
//!
//! - a fixed-price good's adjoint is its price: `a_g = p_g`;
//! - walking firms from the final goods back to the raw ones, a firm's adjoint revenue is
//!   `P^_f = sum_g w_fg a_g` over its outputs, and each of its inputs h gets a per-use adjoint
//!   `u_fh = P^_f * dF_f/dx_fh` (the chain rule, one link per firm);
//! - an endogenous good's adjoint is the quantity-weighted mean of its per-use adjoints,
//!   `a_h = sum_f x_fh u_fh / sum_f x_fh`: a good bought by several firms is *split* between
//!   them, so the adjoints of its uses are averaged, not summed. When the allocation is
//!   efficient every use has the same marginal value (the spread `max_f |u_fh - a_h|` is 0).
//!
//! A *copy* (one value read twice, as in a program) is a joint-production firm
//! (`outputs = { x1 = 1, x2 = 1 }`, F = input); its `P^_f` sums the adjoints of both copies,
//! which is exactly reverse-mode AD's fan-out rule.
//!
//! For chains and trees (every endogenous good has at most one user), [`forward`] computes
//! the planner's allocation directly from the endowments, and backprop there gives dV/ds.

use crate::economy::Economy;

/// Adjoints at one allocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adjoints {
    /// a_g per good.
    pub good: Vec<f64>,
    /// P^_f per firm (adjoint revenue per unit of F, before productivity).
    pub revenue: Vec<f64>,
    /// u_e per input edge.
    pub per_use: Vec<f64>,
    /// max over uses |u_e - a_g| per good (0 for goods with fewer than two uses).
    pub spread: Vec<f64>,
    /// The adjoint as an interval per good, [low, high]: where a non-smooth firm (Leontief)
    /// sits at a kink, every subgradient is a valid derivative, and the interval holds the
    /// adjoints of all of them (low = good = high where everything downstream is smooth).
    pub low: Vec<f64>,
    pub high: Vec<f64>,
    per_use_low: Vec<f64>,
    per_use_high: Vec<f64>,
}

impl Adjoints {
    /// The point of good g's adjoint interval nearest to `price` (the adjoint itself where
    /// the interval is a point).
    pub fn nearest(&self, g: usize, price: f64) -> f64 {
        if self.low[g] < self.high[g] {
            price.clamp(self.low[g], self.high[g])
        } else {
            self.good[g]
        }
    }

    /// Whether good g's adjoint is an interval (a kink of a non-smooth firm downstream).
    pub fn is_interval(&self, g: usize) -> bool {
        self.low[g] < self.high[g]
    }
}

/// The order in which backprop visits an economy: *levels* counted back from the final
/// goods. A firm's level is the highest level among the goods it makes (0 when it makes only
/// fixed-price goods); a good's level is one more than the highest level among its users (0
/// when nobody uses it). Walking levels upwards, the goods of a level are settled from the
/// per-use adjoints of their users (all at lower levels), then the firms of the level read
/// their outputs' adjoints (settled) and write their inputs' per-use adjoints. Everything
/// within a level is independent, so a level runs in parallel, and the results do not depend
/// on the thread count: each good and each firm is computed exactly as in a serial walk in
/// reverse topological order.
///
/// Build it once per economy ([`Schedule::new`]) and reuse it; shocks do not change it.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// Endogenous goods by level: `goods[good_start[l]..good_start[l + 1]]`, in index order.
    goods: Vec<u32>,
    good_start: Vec<usize>,
    /// Firms by level: `firms[firm_start[l]..firm_start[l + 1]]`, in index order.
    firms: Vec<u32>,
    firm_start: Vec<usize>,
    /// Whether every firm is smooth (then every adjoint interval is a point).
    smooth: bool,
    /// Whether the economy is big enough for the levels to be run in parallel.
    parallel: bool,
}

/// Below this many firms backprop runs on one thread (a level's work would not pay for
/// handing it out).
const PARALLEL_FIRMS: usize = 4096;

impl Schedule {
    pub fn new(economy: &Economy) -> Schedule {
        let (goods, firms) = (&economy.goods, &economy.firms);
        let mut good_level = vec![0u32; goods.len()];
        let mut firm_level = vec![0u32; firms.len()];
        // in reverse topological order every user of a firm's outputs already has its level
        for &f in firms.topo_order.iter().rev() {
            let f = f as usize;
            let mut level = 0;
            for k in firms.outputs(f) {
                let g = firms.output_good[k] as usize;
                if !goods.fixed[g] {
                    good_level[g] = settle_level(economy, g, &firm_level);
                    level = level.max(good_level[g]);
                }
            }
            firm_level[f] = level;
        }
        // goods nobody makes (raw goods)
        for g in goods.endogenous().filter(|&g| goods.producers(g).is_empty()) {
            good_level[g] = settle_level(economy, g, &firm_level);
        }
        let endogenous: Vec<u32> = goods.endogenous().map(|g| g as u32).collect();
        let (goods_by_level, good_start) = bucket(&endogenous, |g| good_level[g as usize]);
        let all_firms: Vec<u32> = (0..firms.len() as u32).collect();
        let (firms_by_level, firm_start) = bucket(&all_firms, |f| firm_level[f as usize]);
        Schedule {
            goods: goods_by_level,
            good_start,
            firms: firms_by_level,
            firm_start,
            smooth: economy.technologies.iter().all(|t| t.is_smooth()),
            parallel: firms.len() >= PARALLEL_FIRMS,
        }
    }

    fn levels(&self) -> usize {
        self.good_start.len().max(self.firm_start.len()).saturating_sub(1)
    }

    fn goods_at(&self, level: usize) -> &[u32] {
        level_slice(&self.goods, &self.good_start, level)
    }

    fn firms_at(&self, level: usize) -> &[u32] {
        level_slice(&self.firms, &self.firm_start, level)
    }
}

/// One more than the highest level among the users of good g (0 when nobody uses it).
fn settle_level(economy: &Economy, g: usize, firm_level: &[u32]) -> u32 {
    let users = economy.goods.uses(g).iter();
    users
        .map(|&e| firm_level[economy.firms.edge_firm[e as usize] as usize] + 1)
        .max()
        .unwrap_or(0)
}

/// `items` grouped by `level` (stable: index order within a level), with level offsets.
fn bucket(items: &[u32], level: impl Fn(u32) -> u32) -> (Vec<u32>, Vec<usize>) {
    let levels = items.iter().map(|&i| level(i) as usize + 1).max().unwrap_or(0);
    let mut start = vec![0usize; levels + 1];
    for &i in items {
        start[level(i) as usize + 1] += 1;
    }
    for l in 0..levels {
        start[l + 1] += start[l];
    }
    let mut next = start.clone();
    let mut out = vec![0u32; items.len()];
    for &i in items {
        let l = level(i) as usize;
        out[next[l]] = i;
        next[l] += 1;
    }
    (out, start)
}

fn level_slice<'a>(items: &'a [u32], start: &[usize], level: usize) -> &'a [u32] {
    match (start.get(level), start.get(level + 1)) {
        (Some(&a), Some(&b)) => &items[a..b],
        _ => &[],
    }
}

/// Run backprop at the allocation `x` (one quantity per input edge). Fixed-price goods take
/// their adjoint from `prices` (the current fixed prices, shocks included).
pub fn backprop(economy: &Economy, prices: &[f64], x: &[f64]) -> Adjoints {
    let mut out = Adjoints::default();
    backprop_into(economy, &Schedule::new(economy), prices, x, &mut out);
    out
}

/// [`backprop`] along a prebuilt [`Schedule`] of `economy`, into reused buffers.
pub fn backprop_into(economy: &Economy, schedule: &Schedule, prices: &[f64], x: &[f64], out: &mut Adjoints) {
    let (goods, firms) = (&economy.goods, &economy.firms);
    let intervals = !schedule.smooth;
    reset(&mut out.good, goods.len(), f64::NAN);
    reset(&mut out.revenue, firms.len(), 0.0);
    reset(&mut out.per_use, firms.edges(), 0.0);
    reset(&mut out.spread, goods.len(), 0.0);
    for v in [&mut out.low, &mut out.high] {
        reset(v, goods.len(), 0.0);
    }
    for v in [&mut out.per_use_low, &mut out.per_use_high] {
        reset(v, if intervals { firms.edges() } else { 0 }, 0.0);
    }
    for g in (0..goods.len()).filter(|&g| goods.fixed[g]) {
        out.good[g] = prices[g];
        out.low[g] = prices[g];
        out.high[g] = prices[g];
    }
    let shared = SharedAdjoints::of(out);
    for level in 0..schedule.levels() {
        for_each(
            schedule.goods_at(level),
            schedule.parallel,
            || (),
            |_, g| {
                // SAFETY: a good is settled once, by one task; it reads per-use adjoints of
                // lower levels, which no task of this level writes.
                unsafe { settle_good(economy, g, x, &shared, intervals) }
            },
        );
        for_each(
            schedule.firms_at(level),
            schedule.parallel,
            Scratch::default,
            |scratch, f| {
                // SAFETY: a firm writes only its own revenue and input edges, and reads goods
                // settled above.
                unsafe { firm_backward(economy, f, x, &shared, intervals, scratch) }
            },
        );
    }
    if !intervals {
        // every firm is smooth: each good's interval is its adjoint
        out.low.copy_from_slice(&out.good);
        out.high.copy_from_slice(&out.good);
    }
}

fn reset(v: &mut Vec<f64>, len: usize, value: f64) {
    v.clear();
    v.resize(len, value);
}

/// Run `work` on every item, in parallel when `parallel` (each task with its own `init()`).
fn for_each<S>(items: &[u32], parallel: bool, init: impl Fn() -> S + Sync, work: impl Fn(&mut S, usize) + Sync) {
    use rayon::prelude::*;
    if parallel {
        items
            .par_iter()
            .with_min_len(512)
            .for_each_init(&init, |s, &i| work(s, i as usize));
    } else {
        let mut s = init();
        items.iter().for_each(|&i| work(&mut s, i as usize));
    }
}

/// Gradient buffers of one task.
#[derive(Default)]
struct Scratch {
    grad: Vec<f64>,
    low: Vec<f64>,
    high: Vec<f64>,
}

/// Pointers into an [`Adjoints`] shared by the tasks of one level, each of which writes
/// entries no other task of the level touches.
struct SharedAdjoints {
    good: *mut f64,
    low: *mut f64,
    high: *mut f64,
    spread: *mut f64,
    revenue: *mut f64,
    per_use: *mut f64,
    per_use_low: *mut f64,
    per_use_high: *mut f64,
}

// SAFETY: the tasks of a level write disjoint entries (see `backprop_into`).
unsafe impl Sync for SharedAdjoints {}

impl SharedAdjoints {
    fn of(out: &mut Adjoints) -> SharedAdjoints {
        SharedAdjoints {
            good: out.good.as_mut_ptr(),
            low: out.low.as_mut_ptr(),
            high: out.high.as_mut_ptr(),
            spread: out.spread.as_mut_ptr(),
            revenue: out.revenue.as_mut_ptr(),
            per_use: out.per_use.as_mut_ptr(),
            per_use_low: out.per_use_low.as_mut_ptr(),
            per_use_high: out.per_use_high.as_mut_ptr(),
        }
    }
}

/// a_g = quantity-weighted mean of the per-use adjoints of good g, and their spread.
///
/// # Safety
/// Only this call writes good g's entries, and nothing writes the per-use adjoints of g's
/// uses meanwhile.
unsafe fn settle_good(economy: &Economy, g: usize, x: &[f64], out: &SharedAdjoints, intervals: bool) {
    let uses = economy.goods.uses(g);
    // SAFETY (all reads and writes below): the caller's contract.
    let set = |p: *mut f64, v: f64| unsafe { *p.add(g) = v };
    if uses.is_empty() {
        // Nobody wants it: with free disposal its value is 0.
        set(out.good, 0.0);
        set(out.low, 0.0);
        set(out.high, 0.0);
        return;
    }
    let u = |p: *mut f64, e: u32| unsafe { *p.add(e as usize) };
    let mean = |p: *mut f64| {
        let (mut num, mut den) = (0.0, 0.0);
        for &e in uses {
            num += x[e as usize] * u(p, e);
            den += x[e as usize];
        }
        if den > 0.0 {
            num / den
        } else {
            uses.iter().map(|&e| u(p, e)).sum::<f64>() / uses.len() as f64
        }
    };
    let a = mean(out.per_use);
    set(out.good, a);
    if intervals {
        set(out.low, mean(out.per_use_low));
        set(out.high, mean(out.per_use_high));
    }
    set(
        out.spread,
        uses.iter().map(|&e| (u(out.per_use, e) - a).abs()).fold(0.0, f64::max),
    );
}

/// Firm f's adjoint revenue P^_f = sum_g w_fg a_g over its outputs, and the per-use adjoint
/// u_fh = P^_f * productivity * dF_f/dx_fh of each of its inputs (the chain rule, one link).
///
/// # Safety
/// Only this call writes firm f's revenue and input edges, and f's output goods are settled.
unsafe fn firm_backward(
    economy: &Economy,
    f: usize,
    x: &[f64],
    out: &SharedAdjoints,
    intervals: bool,
    s: &mut Scratch,
) {
    let firms = &economy.firms;
    // SAFETY (all reads and writes below): the caller's contract.
    let get = |p: *mut f64, i: usize| unsafe { *p.add(i) };
    let set = |p: *mut f64, i: usize, v: f64| unsafe { *p.add(i) = v };
    let (mut revenue, mut revenue_low, mut revenue_high) = (0.0, 0.0, 0.0);
    for k in firms.outputs(f) {
        let (g, w) = (firms.output_good[k] as usize, firms.output_weight[k]);
        revenue += w * get(out.good, g);
        if intervals {
            revenue_low += w * get(out.low, g);
            revenue_high += w * get(out.high, g);
        }
    }
    set(out.revenue, f, revenue);
    let inputs = firms.inputs(f);
    let (technology, plan, params) = (
        economy.technology(f),
        &x[inputs.clone()],
        &firms.input_param[inputs.clone()],
    );
    reset(&mut s.grad, inputs.len(), 0.0);
    technology.gradient(plan, params, &mut s.grad);
    let a = firms.productivity[f];
    for (i, e) in inputs.clone().enumerate() {
        set(out.per_use, e, revenue * a * s.grad[i]);
    }
    if intervals {
        reset(&mut s.low, inputs.len(), 0.0);
        reset(&mut s.high, inputs.len(), 0.0);
        if technology.is_smooth() {
            s.low.copy_from_slice(&s.grad);
            s.high.copy_from_slice(&s.grad);
        } else {
            technology.supergradient_range(plan, params, &mut s.low, &mut s.high);
        }
        for (i, e) in inputs.enumerate() {
            set(out.per_use_low, e, revenue_low * a * s.low[i]);
            set(out.per_use_high, e, revenue_high * a * s.high[i]);
        }
    }
}

/// The planner's allocation of a chain or tree, computed forward from the endowments.
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    /// Quantity per input edge.
    pub x: Vec<f64>,
    /// Output of each firm (productivity times F).
    pub y: Vec<f64>,
    /// Total supply of each good (endowment plus production).
    pub supply: Vec<f64>,
    /// V: value of the fixed-price output.
    pub value: f64,
}

/// Why the forward pass does not apply.
#[derive(Debug, Clone, PartialEq)]
pub enum ForwardError {
    /// A good has several users: the split must be solved for (reference solver).
    Split { good: String },
    /// A firm buys a fixed-price input: its quantity must be chosen (reference solver).
    FixedPriceInput { firm: String, good: String },
}

impl std::fmt::Display for ForwardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForwardError::Split { good } => write!(
                f,
                "good '{good}' has several users, so the planner must choose how to split it"
            ),
            ForwardError::FixedPriceInput { firm, good } => write!(
                f,
                "firm '{firm}' buys the fixed-price good '{good}', so the planner must choose how much"
            ),
        }
    }
}

/// Forward pass: each endogenous good goes entirely to its one user (if any).
pub fn forward(economy: &Economy, prices: &[f64]) -> Result<Forward, ForwardError> {
    let goods = &economy.goods;
    let firms = &economy.firms;
    for g in goods.endogenous() {
        if goods.uses(g).len() > 1 {
            return Err(ForwardError::Split {
                good: goods.name[g].to_string(),
            });
        }
    }
    if let Some(e) = (0..firms.edges()).find(|&e| goods.fixed[firms.input_good[e] as usize]) {
        return Err(ForwardError::FixedPriceInput {
            firm: economy.firm_name(firms.edge_firm[e] as usize),
            good: goods.name[firms.input_good[e] as usize].to_string(),
        });
    }
    let mut supply = goods.endowment.clone();
    let mut x = vec![0.0; firms.edges()];
    let mut y = vec![0.0; firms.len()];
    for &f in &firms.topo_order {
        let f = f as usize;
        let inputs = firms.inputs(f);
        for e in inputs.clone() {
            // producers come first in topological order, so the supply is complete
            x[e] = supply[firms.input_good[e] as usize];
        }
        y[f] = economy.output(f, &x[inputs]);
        for k in firms.outputs(f) {
            supply[firms.output_good[k] as usize] += firms.output_weight[k] * y[f];
        }
    }
    let value = (0..goods.len())
        .filter(|&g| goods.fixed[g])
        .map(|g| prices[g] * supply[g])
        .sum();
    Ok(Forward { x, y, supply, value })
}
