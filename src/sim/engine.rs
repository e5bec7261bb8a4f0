//! The tick loop. Each tick, synchronously (everyone reads tick t, writes t+1):
//!
//! 1. **firm phase** (parallel over firms, `sim::firm_phase`): each firm sees its
//!    revenue per unit of output and its input prices, and moves its input plan (its bids) by
//!    its rule ([`crate::sim::agents`], fast path [`crate::sim::cobb_douglas`]);
//! 2. **market phase** (parallel over endogenous goods, `sim::market_phase`): each
//!    market sums its supply and demand in a fixed order and moves its price
//!    ([`crate::sim::market`]);
//! 3. **shocks** scheduled for this tick apply ([`crate::sim::shocks`]).
//!
//! [`crate::sim::reference_tick`] is the same tick written plainly, firm by firm and market by
//! market; its tests hold the engine to it.
//!
//! Random draws come from per-firm streams positioned at the tick, and every sum runs in a
//! fixed order, so results are bit-identical for any number of threads.

use crate::economy::Economy;
use crate::sim::firm_phase::FirmPhase;
use crate::sim::fused_demand::FusedDemand;

pub use crate::sim::market::PRICE_RANGE;

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
    /// Noisy or intermittent firms keep prices moving, and the price process became
    /// stationary: the run was measured over the window that ended at `tick`
    /// ([`crate::check::stationary`]).
    Stationary { tick: u64 },
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
            Outcome::Stationary { .. } => "stationary",
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
    /// The kernels of the firm phase and their state.
    pub(super) firm_phase: FirmPhase,
    /// The segments of the firm phase and the goods whose demand each sums.
    pub(super) fused: FusedDemand,
    /// The first shock not yet applied (shocks are sorted by tick).
    pub(super) next_shock: usize,
    /// Prices at or below this count as 0 (1e-15 of the largest fixed price).
    pub(super) free_price: f64,
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
        let firm_phase = FirmPhase::new(&economy, &x);
        let n_goods = goods.len();
        let mut engine = Engine {
            prev_prices: prices.clone(),
            prices,
            x,
            y,
            supply: vec![0.0; n_goods],
            demand: vec![0.0; n_goods],
            traded,
            firm_phase,
            fused: FusedDemand::default(),
            next_shock: 0,
            free_price: FREE_PRICE
                * (0..goods.len())
                    .filter(|&g| goods.fixed[g])
                    .map(|g| goods.price[g])
                    .fold(0.0, f64::max),
            tick: 0,
            economy,
        };
        engine.count_markets();
        engine
    }

    /// Run the firm and market phases of one tick. Call [`Engine::finish_tick`] after
    /// looking at the result (diagnostics see the economy before this tick's shocks).
    pub fn step(&mut self) -> Step {
        let tick = self.tick;
        let threads = rayon::current_num_threads();
        if self.fused.threads != threads {
            let chunks = self.firm_phase.chunks(&self.economy);
            self.fused
                .plan(&self.economy, threads, chunks, crate::sim::firm_phase::FIRM_CHUNK);
        }
        self.demand.fill(0.0);
        self.firm_phase.step(
            &self.economy,
            &self.prices,
            tick,
            &mut self.x,
            &mut self.y,
            &self.fused,
            &mut self.demand,
        );
        let mut step = self.market_phase(tick);
        if step.diverged.is_some() {
            // a firm's output or plan that is not finite shows first as a market's supply or
            // demand: name the firm and the cause instead
            if let Some(what) = self.firm_fault() {
                step.diverged = Some(what);
            }
        }
        step.shocks = self.due_shocks(tick);
        step
    }

    /// Apply the shocks scheduled for this tick (those `step.shocks` names) and move to the
    /// next tick.
    pub fn finish_tick(&mut self, step: &Step) {
        self.apply_shocks(self.tick);
        debug_assert_eq!(step.tick, self.tick);
        self.tick += 1;
    }
}
