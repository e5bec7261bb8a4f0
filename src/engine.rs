//! The tick loop. Each tick, synchronously (everyone reads tick t, writes t+1):
//!
//! 1. **firm phase** (parallel over firms): each firm sees its revenue per unit of output and
//!    its input prices, and moves its input plan (its bids) by its rule ([`crate::agents`]);
//! 2. **market phase** (parallel over endogenous goods): each market sums its supply and
//!    demand in a fixed order and moves its price ([`crate::market`]);
//! 3. **shocks** scheduled for this tick apply.
//!
//! Random draws come from per-firm streams positioned at the tick, and every sum runs in a
//! fixed order, so results are bit-identical for any number of threads.

use crate::agents::{self, FirmView, Scratch};
use crate::economy::{Economy, ShockKind};
use crate::market;
use crate::random;
use rayon::prelude::*;

/// Prices outside this range count as divergence.
pub const PRICE_RANGE: (f64, f64) = (1e-300, 1e300);

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
    /// Input plans (bids) placed in the last tick, per input edge.
    pub x: Vec<f64>,
    /// Output of each firm from those plans.
    pub y: Vec<f64>,
    /// Supply and demand of each good in the last tick.
    pub supply: Vec<f64>,
    pub demand: Vec<f64>,
    /// Whether each endogenous good has a market (goods nobody uses are free: price 0).
    pub traded: Vec<bool>,
    /// Last normalised profit gradient per edge (memory of the optimistic rule).
    last: Vec<f64>,
    next_x: Vec<f64>,
    next_last: Vec<f64>,
    next_shock: usize,
    randomised: bool,
    /// Prices at or below this count as 0 (1e-15 of the largest fixed price).
    free_price: f64,
}

/// A raw pointer to per-edge buffers, written by firms at disjoint edge ranges.
#[derive(Clone, Copy)]
struct EdgeBuffers {
    x: *mut f64,
    last: *mut f64,
}
// SAFETY: each firm writes only its own edge range (CSR rows are disjoint), and the buffers
// outlive the parallel loop that uses them.
unsafe impl Send for EdgeBuffers {}
unsafe impl Sync for EdgeBuffers {}

impl EdgeBuffers {
    /// The plan and gradient-memory slices of edges `r`.
    ///
    /// # Safety
    /// No two live calls may have overlapping ranges, and `r` must lie inside the buffers.
    #[allow(clippy::mut_from_ref)]
    unsafe fn rows(&self, r: std::ops::Range<usize>) -> (&mut [f64], &mut [f64]) {
        (
            std::slice::from_raw_parts_mut(self.x.add(r.start), r.len()),
            std::slice::from_raw_parts_mut(self.last.add(r.start), r.len()),
        )
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
            .any(|g| g.agent.noise > 0.0 || g.agent.activation < 1.0);
        let n_edges = firms.edges();
        let n_goods = goods.len();
        let mut engine = Engine {
            prev_prices: prices.clone(),
            prices,
            next_x: x.clone(),
            x,
            y,
            supply: vec![0.0; n_goods],
            demand: vec![0.0; n_goods],
            traded,
            last: vec![0.0; n_edges],
            next_last: vec![0.0; n_edges],
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
        engine.sum_markets();
        engine
    }

    /// Run the firm and market phases of one tick. Call [`Engine::finish_tick`] after
    /// looking at the result (diagnostics see the economy before this tick's shocks).
    pub fn step(&mut self) -> Step {
        let tick = self.tick;
        self.firm_phase(tick);
        std::mem::swap(&mut self.x, &mut self.next_x);
        std::mem::swap(&mut self.last, &mut self.next_last);
        self.sum_markets();
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

    fn firm_phase(&mut self, tick: u64) {
        let economy = &self.economy;
        let firms = &economy.firms;
        let prices = &self.prices;
        let x = &self.x;
        let last = &self.last;
        let seed = economy.run.seed;
        let randomised = self.randomised;
        let out = EdgeBuffers {
            x: self.next_x.as_mut_ptr(),
            last: self.next_last.as_mut_ptr(),
        };
        self.y.par_iter_mut().enumerate().with_min_len(512).for_each_init(
            || (Scratch::default(), Vec::<f64>::new()),
            |(scratch, input_prices), (f, y)| {
                let r = firms.inputs(f);
                input_prices.clear();
                input_prices.extend(firms.input_good[r.clone()].iter().map(|&g| prices[g as usize]));
                let view = FirmView {
                    settings: economy.agent(f),
                    technology: economy.technology(f),
                    params: &firms.input_param[r.clone()],
                    productivity: firms.productivity[f],
                    revenue: economy.revenue(f, prices),
                    input_prices,
                };
                let mut rng = randomised.then(|| {
                    let mut rng = random::stream(seed, random::Purpose::Agent, f as u64);
                    rng.set_word_pos((tick as u128) << 24);
                    rng
                });
                // SAFETY: firm f writes only edges r, which no other firm owns.
                let (x_next, last_next) = unsafe { out.rows(r.clone()) };
                *y = agents::update(&view, rng.as_mut(), &x[r.clone()], &last[r], x_next, last_next, scratch);
            },
        );
    }

    /// Supply and demand of every good from the current plans, summed in CSR order.
    fn sum_markets(&mut self) {
        let economy = &self.economy;
        let goods = &economy.goods;
        let firms = &economy.firms;
        let (x, y) = (&self.x, &self.y);
        self.supply
            .par_iter_mut()
            .zip(self.demand.par_iter_mut())
            .enumerate()
            .with_min_len(256)
            .for_each(|(g, (s, d))| {
                let mut supply = goods.endowment[g];
                for &k in goods.producers(g) {
                    let k = k as usize;
                    supply += firms.output_weight[k] * y[firms.output_firm[k] as usize];
                }
                let mut demand = 0.0;
                for &e in goods.uses(g) {
                    demand += x[e as usize];
                }
                *s = supply;
                *d = demand;
            });
    }

    fn market_phase(&mut self, tick: u64) -> Step {
        let rule = self.economy.market.rule;
        let step_size = self.economy.market.step;
        let fixed = &self.economy.goods.fixed;
        let traded = &self.traded;
        let (supply, demand) = (&self.supply, &self.demand);
        std::mem::swap(&mut self.prev_prices, &mut self.prices);
        let prev = &self.prev_prices;
        self.prices
            .par_iter_mut()
            .enumerate()
            .with_min_len(256)
            .for_each(|(g, p)| {
                *p = if traded[g] {
                    let next = market::next_price(rule, step_size, prev[g], supply[g], demand[g]);
                    // A multiplicative price in lasting excess supply decays towards 0 (a free
                    // good); it rests at the bottom of the range instead of leaving it.
                    if rule == market::Rule::Multiplicative && next < PRICE_RANGE.0 && demand[g] <= supply[g] {
                        PRICE_RANGE.0
                    } else {
                        next
                    }
                } else {
                    prev[g]
                };
            });
        let mut step = Step {
            tick,
            ..Step::default()
        };
        for g in 0..self.prices.len() {
            let (s, d) = (supply[g], demand[g]);
            if fixed[g] || !traded[g] {
                // no market moves these prices, but their quantities come from firms too
                if step.diverged.is_none() && !(s.is_finite() && d.is_finite()) {
                    step.diverged = Some(format!(
                        "the {} of '{}' is no longer a finite number",
                        if s.is_finite() { "demand" } else { "supply" },
                        self.economy.goods.name[g]
                    ));
                }
                continue;
            }
            // A free good (excess supply at a price that is 0 to working precision) is in
            // equilibrium: free disposal. It does not hold up convergence.
            if d <= s && self.prices[g] <= self.free_price && prev[g] <= self.free_price {
                continue;
            }
            let scale = s.abs().max(d.abs());
            let rel_excess = if scale > 0.0 { (d - s).abs() / scale } else { 0.0 };
            let rel_change = if prev[g] > 0.0 {
                (self.prices[g] - prev[g]).abs() / prev[g]
            } else {
                0.0
            };
            step.max_rel_excess = step.max_rel_excess.max(rel_excess);
            step.max_rel_change = step.max_rel_change.max(rel_change);
            let p = self.prices[g];
            if step.diverged.is_none() {
                if !p.is_finite() || !s.is_finite() || !d.is_finite() {
                    let what = if !p.is_finite() {
                        "price"
                    } else if !s.is_finite() {
                        "supply"
                    } else {
                        "demand"
                    };
                    step.diverged = Some(format!(
                        "the {what} of '{}' is no longer a finite number (last price {:e})",
                        self.economy.goods.name[g], prev[g]
                    ));
                } else if p > PRICE_RANGE.1 || (p < PRICE_RANGE.0 && rule == market::Rule::Multiplicative) {
                    step.diverged = Some(format!(
                        "the price of '{}' left [1e-300, 1e300] (it is {p:e})",
                        self.economy.goods.name[g]
                    ));
                }
            }
        }
        step
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
                    goods[firms.input_good[r.start + i] as usize],
                    describe(plan[i]),
                ));
            }
            let y = self.y[f];
            if !y.is_finite() {
                let at = r
                    .clone()
                    .map(|e| format!("{} = {:.6e}", goods[firms.input_good[e] as usize], self.x[e]))
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
                    let (first, count) = (g.first, g.count);
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
