//! The tick loop. Each tick, synchronously (everyone reads tick t, writes t+1):
//!
//! 1. **firm phase** (parallel over firms): each firm sees its revenue per unit of output and
//!    its input prices, and moves its input plan (its bids) by its rule ([`crate::sim::agents`]);
//! 2. **market phase** (parallel over endogenous goods): each market sums its supply and
//!    demand in a fixed order and moves its price ([`crate::sim::market`]);
//! 3. **shocks** scheduled for this tick apply.
//!
//! Random draws come from per-firm streams positioned at the tick, and every sum runs in a
//! fixed order, so results are bit-identical for any number of threads.

use crate::economy::{agent_settings, market_settings};
use crate::economy::{Economy, ShockKind};
use crate::numeric::random;
use crate::sim::agents::{self, FirmView, Scratch};
use crate::sim::market;
use rayon::prelude::*;

/// Prices outside this range count as divergence.
pub const PRICE_RANGE: (f64, f64) = (market::PRICE_FLOOR, 1e300);

/// A price below this fraction of the largest fixed price is zero to working precision.
pub const FREE_PRICE: f64 = 1e-15;

/// Words in the divergence message of a firm whose production function was evaluated outside
/// its domain (e.g. `ln(x - 1)` at x < 1): the fault of the scenario, not of the dynamics.
pub const DOMAIN_FAULT: &str = "left its domain";

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Relative excess demand and relative price change stayed below the tolerance for
    /// `patience` ticks (after the last shock).
    Converged { tick: u64 },
    /// A price or quantity left the finite range.
    Diverged { tick: u64, what: String },
    /// `max_ticks` ran out first.
    MaxTicks,
    /// Stopped by a signal at the end of a tick.
    Interrupted { tick: u64 },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Converged { .. } => "converged",
            Outcome::Diverged { .. } => "diverged",
            Outcome::MaxTicks => "max_ticks",
            Outcome::Interrupted { .. } => "interrupted",
        }
    }
}

/// What one tick did, for logging and stopping.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The tick just run (0-based).
    pub tick: u64,
    /// max over markets of |D - S| / max(S, D).
    pub max_rel_excess: f64,
    /// max over markets of |p_{t+1} - p_t| / p_t.
    pub max_rel_change: f64,
    /// Labels of the shocks that apply at the end of this tick.
    pub shocks: Vec<String>,
    /// Set when the tick produced a non-finite or out-of-range value.
    pub diverged: Option<String>,
}

/// The state of the simulation.
pub struct Engine {
    /// The economy as of now: shocks edit fixed prices, endowments and productivity here.
    pub economy: Economy,
    /// Ticks run so far.
    pub tick: u64,
    /// Prices at the start of the last tick (p_t) and after it (p_{t+1}), per good.
    pub prev_prices: Vec<f64>,
    pub prices: Vec<f64>,
    /// Input plans (bids) placed in the last tick, per input edge. Each firm updates its own
    /// edges in place: no one else reads them during the firm phase.
    pub x: Vec<f64>,
    /// Output of each firm from those plans.
    pub y: Vec<f64>,
    /// Supply and demand of each good in the last tick.
    pub supply: Vec<f64>,
    pub demand: Vec<f64>,
    /// Whether each endogenous good has a market (goods nobody uses are free: price 0).
    pub traded: Vec<bool>,
    /// Last normalised profit gradient per edge (memory of the optimistic rule; empty when no
    /// firm uses that rule).
    last: Vec<f64>,
    /// How each firm group updates (a specialised kernel where one applies).
    kernels: Vec<Kernel>,
    /// The runs of Cobb–Douglas firms, and for each chunk of the firm phase the index of its
    /// first run (one entry more than chunks).
    cd_runs: Vec<CdRun>,
    chunk_runs: Vec<usize>,
    /// ln x per edge and F(x) per firm, kept by the Cobb–Douglas kernel (empty when no firm
    /// uses it; meaningful only on that kernel's firms).
    ln_x: Vec<f64>,
    f_value: Vec<f64>,
    next_shock: usize,
    randomised: bool,
    /// Prices at or below this count as 0 (1e-15 of the largest fixed price).
    free_price: f64,
}

/// How the firms of one group update their plans.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kernel {
    /// [`agents::cobb_douglas_step`]: Cobb–Douglas, gradient rule, relative form, no noise,
    /// always active, plans of positive and finite size. The common case of large generated
    /// economies.
    CobbDouglas { scale: f64, rate: f64 },
    /// [`agents::update`]: any technology and rule; `constant_returns` switches on the
    /// stabiliser of constant-returns firms.
    General { constant_returns: bool },
}

impl Kernel {
    fn of(economy: &Economy, group: usize) -> Kernel {
        let g = &economy.groups[group];
        let s = economy.group_agent(group);
        let technology = economy.group_technology(group);
        // replicas share the technology; their parameters are the group's
        let constant_returns = g.count > 0 && {
            let r = economy.firms.inputs(g.first as usize);
            technology.constant_returns(&economy.firms.input_param[r.clone()], r.len())
        };
        match *technology {
            crate::production::Technology::CobbDouglas { scale }
                if s.rule == agent_settings::Rule::Gradient
                    && s.form == agent_settings::Form::Relative
                    && s.noise == 0.0
                    && s.activation >= 1.0
                    && !constant_returns =>
            {
                Kernel::CobbDouglas { scale, rate: s.rate }
            }
            _ => Kernel::General { constant_returns },
        }
    }
}

/// A run of consecutive Cobb–Douglas firms inside one chunk of the firm phase, with at most
/// [`CD_RUN_EDGES`] input edges (one firm may have more), and what its firms share: found
/// once, when the engine starts (technologies and rules do not change during a run).
#[derive(Debug, Clone)]
struct CdRun {
    firms: std::ops::Range<usize>,
    /// The number of inputs of every firm of the run, when they all have the same.
    same_inputs: Option<usize>,
    /// Whether every firm has exactly one output.
    one_output: bool,
    /// Scale and rate, when every firm of the run has the same.
    shared: Option<(f64, f64)>,
}

impl CdRun {
    /// The runs of the Cobb–Douglas firms among `firms`, chunk by chunk of `chunk` firms.
    fn find(economy: &Economy, kernels: &[Kernel], chunk: usize) -> Vec<CdRun> {
        let firms = &economy.firms;
        let kernel = |f: usize| match kernels[firms.group[f] as usize] {
            Kernel::CobbDouglas { scale, rate } => Some((scale, rate)),
            Kernel::General { .. } => None,
        };
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
                while g < end && kernel(g).is_some() && firms.input_start[g + 1] - firms.input_start[f] <= CD_RUN_EDGES
                {
                    g += 1;
                }
                let k = firms.inputs(f).len();
                let first = kernel(f).map(|(s, r)| (s.to_bits(), r.to_bits()));
                runs.push(CdRun {
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

/// Firms per parallel task in the firm phase.
const FIRM_CHUNK: usize = 2048;
/// Goods per parallel task in the market phase.
const GOOD_CHUNK: usize = 2048;

/// Raw pointers to per-edge and per-firm buffers, written by firms at disjoint ranges.
#[derive(Clone, Copy)]
struct EdgeBuffers {
    x: *mut f64,
    last: *mut f64,
    ln_x: *mut f64,
    f_value: *mut f64,
}
// SAFETY: each firm writes only its own edge range (CSR rows are disjoint), and the buffers
// outlive the parallel loop that uses them.
unsafe impl Send for EdgeBuffers {}
unsafe impl Sync for EdgeBuffers {}

impl EdgeBuffers {
    /// The plan slice of edges `r`.
    ///
    /// # Safety
    /// No two live calls may have overlapping ranges, and `r` must lie inside the buffer.
    #[allow(clippy::mut_from_ref)]
    unsafe fn plans(&self, r: std::ops::Range<usize>) -> &mut [f64] {
        std::slice::from_raw_parts_mut(self.x.add(r.start), r.len())
    }

    /// The gradient-memory slice of edges `r` (the buffer must not be empty).
    ///
    /// # Safety
    /// As for [`EdgeBuffers::plans`].
    #[allow(clippy::mut_from_ref)]
    unsafe fn memory(&self, r: std::ops::Range<usize>) -> &mut [f64] {
        std::slice::from_raw_parts_mut(self.last.add(r.start), r.len())
    }
}

impl Engine {
    /// Start from the prices in the scenario and plans that split each good's available
    /// supply equally between its users (walking producers before users).
    pub fn new(economy: Economy) -> Engine {
        let goods = &economy.goods;
        let firms = &economy.firms;
        let traded: Vec<bool> = (0..goods.len())
            .map(|g| !goods.fixed[g] && !goods.uses(g).is_empty())
            .collect();
        let mut prices = goods.price.clone();
        for g in 0..goods.len() {
            if !goods.fixed[g] && !traded[g] {
                prices[g] = 0.0;
            }
        }
        let mut available = goods.endowment.clone();
        let mut x = vec![1.0; firms.edges()];
        let mut y = vec![0.0; firms.len()];
        for &f in &firms.topo_order {
            let f = f as usize;
            let r = firms.inputs(f);
            for e in r.clone() {
                let g = firms.input_good[e] as usize;
                if !goods.fixed[g] && available[g] > 0.0 && available[g].is_finite() {
                    x[e] = available[g] / goods.uses(g).len() as f64;
                }
            }
            y[f] = economy.output(f, &x[r]);
            for k in firms.outputs(f) {
                available[firms.output_good[k] as usize] += firms.output_weight[k] * y[f];
            }
        }
        let randomised = economy
            .groups
            .iter()
            .any(|g| economy.agents[g.agent as usize].noise > 0.0 || economy.agents[g.agent as usize].activation < 1.0);
        // the gradient memory: for optimistic firms and for stabilised constant-returns firms
        let optimistic = economy.groups.iter().enumerate().any(|(i, g)| {
            economy.agents[g.agent as usize].rule == agent_settings::Rule::Optimistic
                || (economy.agents[g.agent as usize].rule == agent_settings::Rule::Gradient
                    && matches!(Kernel::of(&economy, i), Kernel::General { constant_returns: true }))
        });
        let kernels: Vec<Kernel> = (0..economy.groups.len()).map(|g| Kernel::of(&economy, g)).collect();
        let cd_runs = CdRun::find(&economy, &kernels, FIRM_CHUNK);
        let chunks = firms.len().div_ceil(FIRM_CHUNK);
        let chunk_runs: Vec<usize> = (0..=chunks)
            .map(|c| cd_runs.partition_point(|r| r.firms.start < c * FIRM_CHUNK))
            .collect();
        let (mut ln_x, mut f_value) = (Vec::new(), Vec::new());
        if kernels.iter().any(|k| matches!(k, Kernel::CobbDouglas { .. })) {
            ln_x = vec![0.0; firms.edges()];
            f_value = vec![0.0; firms.len()];
            for f in 0..firms.len() {
                if let Kernel::CobbDouglas { scale, .. } = kernels[firms.group[f] as usize] {
                    let r = firms.inputs(f);
                    let mut ln_f = 0.0;
                    for e in r {
                        ln_x[e] = x[e].ln();
                        ln_f += firms.input_param[e] * ln_x[e];
                    }
                    f_value[f] = scale * ln_f.exp();
                }
            }
        }
        let n_goods = goods.len();
        let mut engine = Engine {
            prev_prices: prices.clone(),
            prices,
            x,
            y,
            supply: vec![0.0; n_goods],
            demand: vec![0.0; n_goods],
            traded,
            last: if optimistic {
                vec![0.0; firms.edges()]
            } else {
                Vec::new()
            },
            kernels,
            cd_runs,
            chunk_runs,
            ln_x,
            f_value,
            next_shock: 0,
            randomised,
            free_price: FREE_PRICE
                * (0..goods.len())
                    .filter(|&g| goods.fixed[g])
                    .map(|g| goods.price[g])
                    .fold(0.0, f64::max),
            tick: 0,
            economy,
        };
        let (supply, demand) = (&mut engine.supply, &mut engine.demand);
        for g in 0..n_goods {
            (supply[g], demand[g]) = market_totals(&engine.economy, &engine.x, &engine.y, g);
        }
        engine
    }

    /// Run the firm and market phases of one tick. Call [`Engine::finish_tick`] after
    /// looking at the result (diagnostics see the economy before this tick's shocks).
    pub fn step(&mut self) -> Step {
        let tick = self.tick;
        self.firm_phase(tick);
        let mut step = self.market_phase(tick);
        if step.diverged.is_some() {
            // a firm's output or plan that is not finite shows first as a market's supply or
            // demand: name the firm and the cause instead
            if let Some(what) = self.firm_fault() {
                step.diverged = Some(what);
            }
        }
        step.shocks = self.economy.shocks[self.next_shock..]
            .iter()
            .take_while(|s| s.tick <= tick)
            .map(|s| s.label.clone())
            .collect();
        step
    }

    /// Apply the shocks scheduled for this tick (those `step.shocks` names) and move to the
    /// next tick.
    pub fn finish_tick(&mut self, step: &Step) {
        self.apply_shocks(self.tick);
        debug_assert_eq!(step.tick, self.tick);
        self.tick += 1;
    }

    /// Every firm moves its plan (in place) and sets its output, in parallel over chunks of
    /// firms; each firm touches only its own edges and output.
    fn firm_phase(&mut self, tick: u64) {
        let economy = &self.economy;
        let firms = &economy.firms;
        let prices = &self.prices;
        let kernels = &self.kernels;
        let seed = economy.run.seed;
        let randomised = self.randomised;
        let out = EdgeBuffers {
            x: self.x.as_mut_ptr(),
            last: self.last.as_mut_ptr(),
            ln_x: self.ln_x.as_mut_ptr(),
            f_value: self.f_value.as_mut_ptr(),
        };
        let has_memory = !self.last.is_empty();
        let (cd_runs, chunk_runs) = (&self.cd_runs, &self.chunk_runs);
        self.y.par_chunks_mut(FIRM_CHUNK).enumerate().for_each(|(c, ys)| {
            let first = c * FIRM_CHUNK;
            // any other firm, one at a time
            let general = |f: usize, y: &mut f64| {
                let r = firms.inputs(f);
                // SAFETY: firm f writes only edges r, which no other firm owns.
                let x = unsafe { out.plans(r.clone()) };
                let Kernel::General { constant_returns } = kernels[firms.group[f] as usize] else {
                    unreachable!("Cobb–Douglas firms run in runs")
                };
                // SAFETY: as above.
                let memory = has_memory.then(|| unsafe { out.memory(r.clone()) });
                let tick = randomised.then_some(tick);
                *y = general_update(economy, f, prices, seed, tick, constant_returns, x, memory);
            };
            let mut f = first;
            for run in &cd_runs[chunk_runs[c]..chunk_runs[c + 1]] {
                while f < run.firms.start {
                    general(f, &mut ys[f - first]);
                    f += 1;
                }
                let ys = &mut ys[run.firms.start - first..run.firms.end - first];
                // SAFETY: the run's firms own exactly their edges and outputs.
                unsafe { cobb_douglas_run(economy, kernels, run, prices, ys, out) };
                f = run.firms.end;
            }
            while f < first + ys.len() {
                general(f, &mut ys[f - first]);
                f += 1;
            }
        });
    }

    /// Each market sums its supply and demand (in CSR order) and moves its price, in parallel
    /// over chunks of goods; the tick's statistics are reduced with max and min, which do not
    /// depend on how the goods were split between threads.
    fn market_phase(&mut self, tick: u64) -> Step {
        let economy = &self.economy;
        let rule = economy.market.rule;
        let step_size = economy.market.step;
        let traded = &self.traded;
        let free_price = self.free_price;
        let (x, y) = (&self.x, &self.y);
        std::mem::swap(&mut self.prev_prices, &mut self.prices);
        let prev = &self.prev_prices;
        let stats = self
            .prices
            .par_chunks_mut(GOOD_CHUNK)
            .zip(self.supply.par_chunks_mut(GOOD_CHUNK))
            .zip(self.demand.par_chunks_mut(GOOD_CHUNK))
            .enumerate()
            .map(|(c, ((ps, ss), ds))| {
                let goods = c * GOOD_CHUNK..c * GOOD_CHUNK + ps.len();
                // the sums first, in tight loops of their own, so that the processor has many
                // of their scattered loads in flight at once; then the prices; then the
                // statistics, each a loop without branches
                market_supply(economy, y, goods.clone(), ss);
                market_demand(economy, x, goods.clone(), ds);
                let (last, traded) = (&prev[goods.clone()], &traded[goods.clone()]);
                market::next_prices(rule, step_size, traded, last, ss, ds, ps);
                let multiplicative = rule == market_settings::Rule::Multiplicative;
                TickStats::of_markets(goods.start, traded, last, ps, ss, ds, free_price, multiplicative)
            })
            .reduce(TickStats::default, TickStats::merge);
        Step {
            tick,
            max_rel_excess: stats.rel_excess,
            max_rel_change: stats.rel_change,
            shocks: Vec::new(),
            diverged: stats.first_bad.map(|g| self.divergence(g)),
        }
    }

    /// What went wrong at good `g`, which left the finite range this tick.
    fn divergence(&self, g: usize) -> String {
        let (p, s, d) = (self.prices[g], self.supply[g], self.demand[g]);
        let name = &self.economy.goods.name[g];
        if !p.is_finite() || !s.is_finite() || !d.is_finite() {
            let what = if !p.is_finite() {
                "price"
            } else if !s.is_finite() {
                "supply"
            } else {
                "demand"
            };
            format!(
                "the {what} of '{name}' is no longer a finite number (last price {:e})",
                self.prev_prices[g]
            )
        } else {
            format!("the price of '{name}' left [1e-300, 1e300] (it is {p:e})")
        }
    }

    /// The first firm (in firm order) whose new plan or output is not a finite number, and
    /// why, worded for the user; None when every firm's numbers are finite. Only called when a
    /// tick went wrong, so it costs nothing otherwise.
    fn firm_fault(&self) -> Option<String> {
        let economy = &self.economy;
        let firms = &economy.firms;
        let goods = &economy.goods.name;
        let describe = |v: f64| if v.is_nan() { "not a number" } else { "infinite" };
        for f in 0..firms.len() {
            let r = firms.inputs(f);
            let plan = &self.x[r.clone()];
            let tech = economy.technology(f);
            let formula = match tech {
                crate::production::Technology::Expression(e) => format!("`{}`", e.source()),
                t => format!("({})", t.kind()),
            };
            if let Some(i) = plan.iter().position(|v| !v.is_finite()) {
                return Some(format!(
                    "the input plan of firm '{}' for '{}' is {}: its update step was not finite, so its production \
                     function {formula} or its gradient {DOMAIN_FAULT} (or overflowed) at its previous plan",
                    economy.firm_name(f),
                    &goods[firms.input_good[r.start + i] as usize],
                    describe(plan[i]),
                ));
            }
            let y = self.y[f];
            if !y.is_finite() {
                let at = r
                    .clone()
                    .map(|e| format!("{} = {:.6e}", &goods[firms.input_good[e] as usize], self.x[e]))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Some(format!(
                    "the output of firm '{}' is {}: its production function {formula} {DOMAIN_FAULT} at {at}",
                    economy.firm_name(f),
                    describe(y),
                ));
            }
        }
        None
    }

    fn apply_shocks(&mut self, tick: u64) {
        while let Some(shock) = self.economy.shocks.get(self.next_shock) {
            if shock.tick > tick {
                break;
            }
            let shock = shock.clone();
            match shock.kind {
                ShockKind::Price { good, price } => {
                    self.economy.goods.price[good] = price;
                    self.prices[good] = price;
                }
                ShockKind::Endowment { good, endowment } => self.economy.goods.endowment[good] = endowment,
                ShockKind::Productivity { group, productivity } => {
                    let g = &mut self.economy.groups[group];
                    let ratio = productivity / g.productivity;
                    g.productivity = productivity;
                    let (first, count) = (g.first as usize, g.count as usize);
                    for p in &mut self.economy.firms.productivity[first..first + count] {
                        *p *= ratio;
                    }
                }
            }
            self.next_shock += 1;
        }
    }

    /// Whether shocks are still to come (a run may not stop as converged before them).
    pub fn shocks_pending(&self) -> bool {
        self.next_shock < self.economy.shocks.len()
    }
}

/// Statistics of one tick's market phase.
#[derive(Debug, Clone, Copy, Default)]
struct TickStats {
    rel_excess: f64,
    rel_change: f64,
    /// The first good (lowest index) that left the finite range.
    first_bad: Option<usize>,
}

impl TickStats {
    /// The statistics of the markets of goods g0, g0 + 1, ...: whether each is `traded`, its
    /// `last` and new `price`, its `supply` and `demand`. Markets that do not count: goods
    /// without a market (whose quantities must still be finite) and free goods (excess supply
    /// at a price that is 0 to working precision: in equilibrium by free disposal, they do not
    /// hold up convergence). A loop without branches; the first bad market is looked for only
    /// when there is one.
    #[allow(clippy::too_many_arguments)]
    fn of_markets(
        g0: usize,
        traded: &[bool],
        last: &[f64],
        price: &[f64],
        supply: &[f64],
        demand: &[f64],
        free_price: f64,
        multiplicative: bool,
    ) -> TickStats {
        let n = price.len();
        assert!(traded.len() == n && last.len() == n && supply.len() == n && demand.len() == n);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe {
                Self::of_markets_avx2(g0, traded, last, price, supply, demand, free_price, multiplicative)
            };
        }
        Self::of_markets_loop(g0, traded, last, price, supply, demand, free_price, multiplicative)
    }

    /// [`TickStats::of_markets_loop`] compiled for AVX2; the same results (max and min are
    /// exact).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn of_markets_avx2(
        g0: usize,
        traded: &[bool],
        last: &[f64],
        price: &[f64],
        supply: &[f64],
        demand: &[f64],
        free_price: f64,
        multiplicative: bool,
    ) -> TickStats {
        Self::of_markets_loop(g0, traded, last, price, supply, demand, free_price, multiplicative)
    }

    /// The loop of [`TickStats::of_markets`] (all slices of one length).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn of_markets_loop(
        g0: usize,
        traded: &[bool],
        last: &[f64],
        price: &[f64],
        supply: &[f64],
        demand: &[f64],
        free_price: f64,
        multiplicative: bool,
    ) -> TickStats {
        let n = price.len();
        let (traded, last, supply, demand) = (&traded[..n], &last[..n], &supply[..n], &demand[..n]);
        // The maxima are taken over the bits: for numbers >= +0 (these are, or NaN, which
        // f64::max would skip and which count as 0 here) the order of the bits is the order
        // of the numbers, and an integer maximum vectorises where a float one may not.
        let (mut rel_excess, mut rel_change, mut any_bad) = (0u64, 0u64, false);
        for i in 0..n {
            let (p, s, d, l) = (price[i], supply[i], demand[i], last[i]);
            let counted = traded[i] & !((d <= s) & (p <= free_price) & (l <= free_price));
            let scale = s.abs().max(d.abs());
            let excess = (d - s).abs() / scale;
            let change = (p - l).abs() / l;
            let excess = if counted & (scale > 0.0) & !excess.is_nan() {
                excess
            } else {
                0.0
            };
            let change = if counted & (l > 0.0) & !change.is_nan() {
                change
            } else {
                0.0
            };
            rel_excess = rel_excess.max(excess.to_bits());
            rel_change = rel_change.max(change.to_bits());
            let out_of_range = !p.is_finite()
                | !s.is_finite()
                | !d.is_finite()
                | (p > PRICE_RANGE.1)
                | ((p < PRICE_RANGE.0) & multiplicative);
            // goods without a market: no one moves their prices, but their quantities come
            // from firms too
            let bad = if traded[i] {
                counted & out_of_range
            } else {
                !(s.is_finite() & d.is_finite())
            };
            any_bad |= bad;
        }
        // the first bad market, looked for only when there is one
        let first_bad = || {
            (0..n).find(|&i| {
                let (p, s, d, l) = (price[i], supply[i], demand[i], last[i]);
                if traded[i] {
                    let free = d <= s && p <= free_price && l <= free_price;
                    let out_of_range = !p.is_finite()
                        || !s.is_finite()
                        || !d.is_finite()
                        || p > PRICE_RANGE.1
                        || (p < PRICE_RANGE.0 && multiplicative);
                    !free && out_of_range
                } else {
                    !(s.is_finite() && d.is_finite())
                }
            })
        };
        TickStats {
            rel_excess: f64::from_bits(rel_excess),
            rel_change: f64::from_bits(rel_change),
            first_bad: if any_bad { first_bad().map(|i| g0 + i) } else { None },
        }
    }

    fn merge(a: TickStats, b: TickStats) -> TickStats {
        TickStats {
            rel_excess: a.rel_excess.max(b.rel_excess),
            rel_change: a.rel_change.max(b.rel_change),
            first_bad: match (a.first_bad, b.first_bad) {
                (Some(i), Some(j)) => Some(i.min(j)),
                (i, j) => i.or(j),
            },
        }
    }
}

/// Most input edges in one call of the Cobb–Douglas passes (their scratch stays in L1).
const CD_RUN_EDGES: u32 = 512;

/// [`agents::cobb_douglas_step`] for the consecutive Cobb–Douglas firms `run`, through the
/// vectorised [`agents::cobb_douglas_plans`]: per firm r F (revenue, productivity, F), then
/// every plan, then every F; `ys` are the firms' outputs.
///
/// # Safety
/// No other thread may touch the edges and firms of `run` meanwhile (`out` is written there).
unsafe fn cobb_douglas_run(
    economy: &Economy,
    kernels: &[Kernel],
    run: &CdRun,
    prices: &[f64],
    ys: &mut [f64],
    out: EdgeBuffers,
) {
    let firms = &economy.firms;
    let run_firms = run.firms.clone();
    let edges = firms.input_start[run_firms.start] as usize..firms.input_start[run_firms.end] as usize;
    let e0 = edges.start;
    // SAFETY: the run's firms own exactly these edges (the caller's promise).
    let (x, ln_x) = unsafe {
        (
            std::slice::from_raw_parts_mut(out.x.add(e0), edges.len()),
            std::slice::from_raw_parts_mut(out.ln_x.add(e0), edges.len()),
        )
    };
    // the prices of the run's inputs are scattered: ask for them while the revenues are computed
    for &g in &firms.input_good[edges.clone()] {
        prefetch(&prices[g as usize]);
    }
    BUFFERS.with_borrow_mut(|b| {
        let n = run_firms.len();
        b.reserve(n, edges.len());
        let (rf, rate, scale, ln_f) = (&mut b.rf[..n], &mut b.rate[..n], &mut b.scale[..n], &mut b.ln_f[..n]);
        // SAFETY: the run's firms are the caller's.
        let big_f = unsafe { std::slice::from_raw_parts_mut(out.f_value.add(run_firms.start), n) };
        let productivity = &firms.productivity[run_firms.clone()];
        match run.shared {
            Some((s, r)) => {
                scale.fill(s);
                rate.fill(r);
            }
            None => {
                for (i, f) in run_firms.clone().enumerate() {
                    let Kernel::CobbDouglas { scale: s, rate: r } = kernels[firms.group[f] as usize] else {
                        unreachable!("a Cobb–Douglas run")
                    };
                    (scale[i], rate[i]) = (s, r);
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
        agents::cobb_douglas_plans(ar, rate_e, &firms.input_good[edges.clone()], prices, x, ln_x);
        match run.same_inputs {
            Some(1) => fixed_inputs::ln_f::<1>(a, ln_x, ln_f),
            Some(2) => fixed_inputs::ln_f::<2>(a, ln_x, ln_f),
            Some(3) => fixed_inputs::ln_f::<3>(a, ln_x, ln_f),
            Some(4) => fixed_inputs::ln_f::<4>(a, ln_x, ln_f),
            _ => {
                let starts = &firms.input_start[run_firms.start..=run_firms.end];
                for (ln_f, w) in ln_f.iter_mut().zip(starts.windows(2)) {
                    let es = w[0] as usize - e0..w[1] as usize - e0;
                    *ln_f = agents::cobb_douglas_ln_f(&a[es.clone()], &ln_x[es]);
                }
            }
        }
        agents::cobb_douglas_outputs(scale, productivity, ln_f, big_f, ys);
    });
}

/// The per-firm loops of [`cobb_douglas_run`] for firms that all have `K` inputs.
mod fixed_inputs {
    use crate::sim::agents;

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

    /// ln F / scale of each firm, [`agents::cobb_douglas_ln_f`] of its K edges.
    pub fn ln_f<const K: usize>(a: &[f64], ln_x: &[f64], ln_f: &mut [f64]) {
        for ((a, l), ln_f) in a.chunks_exact(K).zip(ln_x.chunks_exact(K)).zip(ln_f) {
            *ln_f = agents::cobb_douglas_ln_f(a, l);
        }
    }
}

/// The supply of `goods` (endowment plus producers' outputs, in CSR order) into `supply`:
/// the same sums as [`market_totals`].
#[inline(never)]
fn market_supply(economy: &Economy, y: &[f64], goods: std::ops::Range<usize>, supply: &mut [f64]) {
    let (g, firms) = (&economy.goods, &economy.firms);
    let starts = &g.prod_start[goods.start..=goods.end];
    let mut slots = g.prod_slot[starts[0] as usize..starts[starts.len() - 1] as usize].iter();
    for ((s, w), endowment) in supply.iter_mut().zip(starts.windows(2)).zip(&g.endowment[goods]) {
        let mut sum = *endowment;
        for &k in slots.by_ref().take((w[1] - w[0]) as usize) {
            let k = k as usize;
            sum += firms.output_weight[k] * y[firms.output_firm[k] as usize];
        }
        *s = sum;
    }
}

/// The demand of `goods` (users' plans, in CSR order) into `demand`: the same sums as
/// [`market_totals`].
#[inline(never)]
fn market_demand(economy: &Economy, x: &[f64], goods: std::ops::Range<usize>, demand: &mut [f64]) {
    let g = &economy.goods;
    let starts = &g.use_start[goods.start..=goods.end];
    let mut uses = g.use_edge[starts[0] as usize..starts[starts.len() - 1] as usize].iter();
    for (d, w) in demand.iter_mut().zip(starts.windows(2)) {
        let mut sum = 0.0;
        for &e in uses.by_ref().take((w[1] - w[0]) as usize) {
            sum += x[e as usize];
        }
        *d = sum;
    }
}

/// Ask the cache for the line holding `v` (a hint; no effect where unsupported).
#[inline(always)]
fn prefetch<T>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, and `v` is a valid reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(v as *const T as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// Supply (endowment plus producers' outputs) and demand (users' plans) of good `g`, summed
/// in CSR order.
#[inline]
fn market_totals(economy: &Economy, x: &[f64], y: &[f64], g: usize) -> (f64, f64) {
    let goods = &economy.goods;
    let firms = &economy.firms;
    let mut supply = goods.endowment[g];
    for &k in goods.producers(g) {
        let k = k as usize;
        supply += firms.output_weight[k] * y[firms.output_firm[k] as usize];
    }
    let mut demand = 0.0;
    for &e in goods.uses(g) {
        demand += x[e as usize];
    }
    (supply, demand)
}

/// Per-thread buffers of [`general_update`], reused from tick to tick.
#[derive(Default)]
struct Buffers {
    scratch: Scratch,
    /// Per firm of a Cobb–Douglas run ([`cobb_douglas_run`]): revenue * productivity * F,
    /// rate, scale and ln F.
    rf: Vec<f64>,
    rate: Vec<f64>,
    scale: Vec<f64>,
    ln_f: Vec<f64>,
    /// Per edge of the run: a * rf and the rate of its firm.
    ar: Vec<f64>,
    rate_e: Vec<f64>,
    prices: Vec<f64>,
    x: Vec<f64>,
    memory: Vec<f64>,
    memory_next: Vec<f64>,
}

impl Buffers {
    /// Room for a Cobb–Douglas run of `firms` firms and `edges` edges (grown, never shrunk).
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

/// Firm f's update by [`agents::update`] (any technology and rule), in place on its plan `x`
/// and gradient memory; `tick` is Some when firms draw noise or activation.
#[allow(clippy::too_many_arguments)]
fn general_update(
    economy: &Economy,
    f: usize,
    prices: &[f64],
    seed: u64,
    tick: Option<u64>,
    constant_returns: bool,
    x: &mut [f64],
    memory: Option<&mut [f64]>,
) -> f64 {
    let firms = &economy.firms;
    let r = firms.inputs(f);
    BUFFERS.with_borrow_mut(|b| {
        let n = r.len();
        b.prices.clear();
        b.prices
            .extend(firms.input_good[r.clone()].iter().map(|&g| prices[g as usize]));
        b.x.clear();
        b.x.extend_from_slice(x);
        b.memory.clear();
        match &memory {
            Some(m) => b.memory.extend_from_slice(m),
            None => b.memory.resize(n, 0.0),
        }
        b.memory_next.resize(n, 0.0);
        let view = FirmView {
            settings: economy.agent(f),
            technology: economy.technology(f),
            params: &firms.input_param[r],
            productivity: firms.productivity[f],
            revenue: economy.revenue(f, prices),
            input_prices: &b.prices,
            constant_returns,
        };
        let mut rng = tick.map(|tick| {
            let mut rng = random::stream(seed, random::Purpose::Agent, f as u64);
            rng.set_word_pos((tick as u128) << 24);
            rng
        });
        let y = agents::update(
            &view,
            rng.as_mut(),
            &b.x,
            &b.memory,
            x,
            &mut b.memory_next,
            &mut b.scratch,
        );
        if let Some(m) = memory {
            m.copy_from_slice(&b.memory_next);
        }
        y
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The statistics as the market phase used to take them, one market at a time.
    fn stats_one_by_one(
        traded: &[bool],
        last: &[f64],
        price: &[f64],
        supply: &[f64],
        demand: &[f64],
        free_price: f64,
        multiplicative: bool,
    ) -> TickStats {
        let mut stats = TickStats::default();
        for g in 0..price.len() {
            let (p, supply, demand, last) = (price[g], supply[g], demand[g], last[g]);
            if !traded[g] {
                if !(supply.is_finite() && demand.is_finite()) && stats.first_bad.is_none() {
                    stats.first_bad = Some(g);
                }
                continue;
            }
            if demand <= supply && p <= free_price && last <= free_price {
                continue;
            }
            let scale = supply.abs().max(demand.abs());
            if scale > 0.0 {
                stats.rel_excess = stats.rel_excess.max((demand - supply).abs() / scale);
            }
            if last > 0.0 {
                stats.rel_change = stats.rel_change.max((p - last).abs() / last);
            }
            let out_of_range = !p.is_finite()
                || !supply.is_finite()
                || !demand.is_finite()
                || p > PRICE_RANGE.1
                || (p < PRICE_RANGE.0 && multiplicative);
            if out_of_range && stats.first_bad.is_none() {
                stats.first_bad = Some(g);
            }
        }
        stats
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(1e-16),
            Just(1e-301),
            1e-3f64..1e3,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(2e300),
        ]
    }

    proptest! {
        /// The branch-free statistics equal the one-market-at-a-time ones: free goods, goods
        /// without a market, NaN, infinite and out-of-range numbers included.
        #[test]
        fn market_statistics_match_one_market_at_a_time(
            markets in proptest::collection::vec((any::<bool>(), number(), number(), number(), number()), 0..30),
            multiplicative in any::<bool>(),
        ) {
            let traded: Vec<bool> = markets.iter().map(|m| m.0).collect();
            let last: Vec<f64> = markets.iter().map(|m| m.1).collect();
            let price: Vec<f64> = markets.iter().map(|m| m.2).collect();
            let supply: Vec<f64> = markets.iter().map(|m| m.3).collect();
            let demand: Vec<f64> = markets.iter().map(|m| m.4).collect();
            let free = 1e-15;
            let got = TickStats::of_markets(7, &traded, &last, &price, &supply, &demand, free, multiplicative);
            let want = stats_one_by_one(&traded, &last, &price, &supply, &demand, free, multiplicative);
            prop_assert_eq!(got.rel_excess.to_bits(), want.rel_excess.to_bits());
            prop_assert_eq!(got.rel_change.to_bits(), want.rel_change.to_bits());
            prop_assert_eq!(got.first_bad, want.first_bad.map(|g| g + 7));
        }
    }
}
