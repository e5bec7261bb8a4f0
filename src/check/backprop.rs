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
    /// Empty when every firm is smooth (then every interval is the point `good`: 16 bytes
    /// per good not held); read them with [`Adjoints::low`] and [`Adjoints::high`].
    low: Vec<f64>,
    high: Vec<f64>,
    per_use_low: Vec<f64>,
    per_use_high: Vec<f64>,
}

impl Adjoints {
    /// The point of good g's adjoint interval nearest to `price` (the adjoint itself where
    /// the interval is a point).
    pub fn nearest(&self, g: usize, price: f64) -> f64 {
        if self.is_interval(g) {
            price.clamp(self.low[g], self.high[g])
        } else {
            self.good[g]
        }
    }

    /// Whether good g's adjoint is an interval (a kink of a non-smooth firm downstream).
    pub fn is_interval(&self, g: usize) -> bool {
        !self.low.is_empty() && self.low[g] < self.high[g]
    }

    /// The low end of good g's adjoint interval.
    pub fn low(&self, g: usize) -> f64 {
        if self.low.is_empty() {
            self.good[g]
        } else {
            self.low[g]
        }
    }

    /// The high end of good g's adjoint interval.
    pub fn high(&self, g: usize) -> f64 {
        if self.high.is_empty() {
            self.good[g]
        } else {
            self.high[g]
        }
    }

    /// Free what only backprop itself needs (the per-firm revenues and the per-use adjoints,
    /// 8 bytes per firm and 8 to 24 per edge), keeping the per-good results that
    /// [`Adjoints::nearest`], [`Adjoints::low`], [`Adjoints::high`], `good` and `spread`
    /// read: a run's final checks hold only these while the reference's finite differences
    /// run.
    pub fn keep_goods_only(&mut self) {
        for v in [
            &mut self.revenue,
            &mut self.per_use,
            &mut self.per_use_low,
            &mut self.per_use_high,
        ] {
            *v = Vec::new();
        }
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
        reset(v, if intervals { goods.len() } else { 0 }, 0.0);
    }
    for v in [&mut out.per_use_low, &mut out.per_use_high] {
        reset(v, if intervals { firms.edges() } else { 0 }, 0.0);
    }
    for g in (0..goods.len()).filter(|&g| goods.fixed[g]) {
        out.good[g] = prices[g];
        if intervals {
            out.low[g] = prices[g];
            out.high[g] = prices[g];
        }
    }
    for level in 0..schedule.levels() {
        // a good is settled once, by the task that owns its entries; it reads per-use
        // adjoints of lower levels, which no task of this level writes
        let per_use = (&out.per_use[..], &out.per_use_low[..], &out.per_use_high[..]);
        let goods_out = GoodEntries {
            g0: 0,
            good: &mut out.good,
            low: &mut out.low,
            high: &mut out.high,
            spread: &mut out.spread,
        };
        for_each(
            schedule.goods_at(level),
            schedule.parallel,
            goods_out,
            GoodEntries::split_at,
            || (),
            |_, entries, g| settle_good(economy, g, x, per_use, intervals, entries),
        );
        // a firm writes only its own revenue and input edges, and reads goods settled above
        let settled = (&out.good[..], &out.low[..], &out.high[..]);
        let firms_out = FirmEntries {
            f0: 0,
            e0: 0,
            revenue: &mut out.revenue,
            per_use: &mut out.per_use,
            per_use_low: &mut out.per_use_low,
            per_use_high: &mut out.per_use_high,
        };
        for_each(
            schedule.firms_at(level),
            schedule.parallel,
            firms_out,
            |entries, f| entries.split_at(f, &firms.input_start),
            Scratch::default,
            |scratch, entries, f| firm_backward(economy, f, x, settled, intervals, scratch, entries),
        );
    }
    // every firm smooth: each good's interval is its adjoint, and `low`, `high` stay empty
}

fn reset(v: &mut Vec<f64>, len: usize, value: f64) {
    v.clear();
    v.resize(len, value);
}

/// Run `work` on every item of `items` (indices in increasing order), in parallel when
/// `parallel`. The entries `out` the items write are split between the tasks (by `split`,
/// at the first item of a task), so each task owns the entries of its items; each task has
/// its own `init()`.
fn for_each<E: Send, S>(
    items: &[u32],
    parallel: bool,
    out: E,
    split: impl Fn(E, usize) -> (E, E) + Sync,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &mut E, usize) + Sync,
) {
    use rayon::iter::ParallelIterator;
    let task = |(items, mut out): (&[u32], E)| {
        let mut s = init();
        items.iter().for_each(|&i| work(&mut s, &mut out, i as usize));
    };
    if !parallel {
        return task((items, out));
    }
    // halves while both have at least MIN_TASK items
    rayon::iter::split((items, out), |(items, out)| {
        if items.len() < 2 * MIN_TASK {
            return ((items, out), None);
        }
        let (first, rest) = items.split_at(items.len() / 2);
        let (out_first, out_rest) = split(out, rest[0] as usize);
        ((first, out_first), Some((rest, out_rest)))
    })
    .for_each(task);
}

/// Fewest items of a level in one parallel task.
const MIN_TASK: usize = 512;

/// Gradient buffers of one task.
#[derive(Default)]
struct Scratch {
    grad: Vec<f64>,
    low: Vec<f64>,
    high: Vec<f64>,
}

/// The per-good entries of an [`Adjoints`] from good `g0` on: what the tasks settling goods
/// own.
struct GoodEntries<'a> {
    g0: usize,
    good: &'a mut [f64],
    low: &'a mut [f64],
    high: &'a mut [f64],
    spread: &'a mut [f64],
}

impl GoodEntries<'_> {
    /// The entries before good `g`, and those from `g` on.
    fn split_at(self, g: usize) -> (Self, Self) {
        let at = g - self.g0;
        let (good, good_rest) = self.good.split_at_mut(at);
        let (low, low_rest) = split_unless_empty(self.low, at);
        let (high, high_rest) = split_unless_empty(self.high, at);
        let (spread, spread_rest) = self.spread.split_at_mut(at);
        (
            GoodEntries {
                g0: self.g0,
                good,
                low,
                high,
                spread,
            },
            GoodEntries {
                g0: g,
                good: good_rest,
                low: low_rest,
                high: high_rest,
                spread: spread_rest,
            },
        )
    }
}

/// The per-firm and per-edge entries of an [`Adjoints`] from firm `f0` (and its first input
/// edge `e0`) on: what the tasks differentiating firms own. The interval entries are empty
/// when every firm is smooth.
struct FirmEntries<'a> {
    f0: usize,
    e0: usize,
    revenue: &'a mut [f64],
    per_use: &'a mut [f64],
    per_use_low: &'a mut [f64],
    per_use_high: &'a mut [f64],
}

impl FirmEntries<'_> {
    /// The entries before firm `f`, and those from `f` on (`input_start` as in the economy).
    fn split_at(self, f: usize, input_start: &[u32]) -> (Self, Self) {
        let e = input_start[f] as usize;
        let (revenue, revenue_rest) = self.revenue.split_at_mut(f - self.f0);
        let (per_use, per_use_rest) = self.per_use.split_at_mut(e - self.e0);
        let (per_use_low, per_use_low_rest) = split_unless_empty(self.per_use_low, e - self.e0);
        let (per_use_high, per_use_high_rest) = split_unless_empty(self.per_use_high, e - self.e0);
        (
            FirmEntries {
                f0: self.f0,
                e0: self.e0,
                revenue,
                per_use,
                per_use_low,
                per_use_high,
            },
            FirmEntries {
                f0: f,
                e0: e,
                revenue: revenue_rest,
                per_use: per_use_rest,
                per_use_low: per_use_low_rest,
                per_use_high: per_use_high_rest,
            },
        )
    }
}

/// `v` split at `at`, or two empty slices when `v` is empty.
fn split_unless_empty(v: &mut [f64], at: usize) -> (&mut [f64], &mut [f64]) {
    if v.is_empty() {
        (Default::default(), Default::default())
    } else {
        v.split_at_mut(at)
    }
}

/// a_g = quantity-weighted mean of the per-use adjoints of good g (`per_use`: the point,
/// low and high per-use adjoints of every edge), and their spread, into `out`.
fn settle_good(
    economy: &Economy,
    g: usize,
    x: &[f64],
    per_use: (&[f64], &[f64], &[f64]),
    intervals: bool,
    out: &mut GoodEntries,
) {
    let uses = economy.goods.uses(g);
    let i = g - out.g0;
    if uses.is_empty() {
        // Nobody wants it: with free disposal its value is 0.
        out.good[i] = 0.0;
        if intervals {
            out.low[i] = 0.0;
            out.high[i] = 0.0;
        }
        return;
    }
    let mean = |u: &[f64]| {
        let (mut num, mut den) = (0.0, 0.0);
        for &e in uses {
            num += x[e as usize] * u[e as usize];
            den += x[e as usize];
        }
        if den > 0.0 {
            num / den
        } else {
            uses.iter().map(|&e| u[e as usize]).sum::<f64>() / uses.len() as f64
        }
    };
    let (u, u_low, u_high) = per_use;
    let a = mean(u);
    out.good[i] = a;
    if intervals {
        out.low[i] = mean(u_low);
        out.high[i] = mean(u_high);
    }
    out.spread[i] = uses.iter().map(|&e| (u[e as usize] - a).abs()).fold(0.0, f64::max);
}

/// Firm f's adjoint revenue P^_f = sum_g w_fg a_g over its outputs (`settled`: the point, low
/// and high adjoints of every good, f's outputs settled), and the per-use adjoint
/// u_fh = P^_f * productivity * dF_f/dx_fh of each of its inputs (the chain rule, one link),
/// into `out`.
fn firm_backward(
    economy: &Economy,
    f: usize,
    x: &[f64],
    settled: (&[f64], &[f64], &[f64]),
    intervals: bool,
    s: &mut Scratch,
    out: &mut FirmEntries,
) {
    let firms = &economy.firms;
    let (good, low, high) = settled;
    let (mut revenue, mut revenue_low, mut revenue_high) = (0.0, 0.0, 0.0);
    for k in firms.outputs(f) {
        let (g, w) = (firms.output_good[k] as usize, firms.output_weight[k]);
        revenue += w * good[g];
        if intervals {
            revenue_low += w * low[g];
            revenue_high += w * high[g];
        }
    }
    out.revenue[f - out.f0] = revenue;
    let inputs = firms.inputs(f);
    let (technology, plan, params) = (
        economy.technology(f),
        &x[inputs.clone()],
        &firms.input_param[inputs.clone()],
    );
    reset(&mut s.grad, inputs.len(), 0.0);
    technology.gradient(plan, params, &mut s.grad);
    let a = firms.productivity[f];
    let edges = inputs.start - out.e0..inputs.end - out.e0;
    for (u, grad) in out.per_use[edges.clone()].iter_mut().zip(&s.grad) {
        *u = revenue * a * grad;
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
        for (u, low) in out.per_use_low[edges.clone()].iter_mut().zip(&s.low) {
            *u = revenue_low * a * low;
        }
        for (u, high) in out.per_use_high[edges].iter_mut().zip(&s.high) {
            *u = revenue_high * a * high;
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
