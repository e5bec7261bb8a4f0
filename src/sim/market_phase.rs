//! The market phase of a tick (docs/MODEL.md, "One tick"): every market sums its supply and
//! demand in a fixed order and moves its price by [`crate::sim::market`], in parallel over
//! chunks of goods, and the tick's statistics ([`crate::sim::tick_stats`]) are taken.

use crate::economy::market_settings;
use crate::economy::Economy;
use crate::sim::engine::{Engine, Step};
use crate::sim::fused_demand::CROSSING;
use crate::sim::market;
use crate::sim::tick_stats::{Markets, TickStats};
use rayon::prelude::*;

/// Goods per parallel task in the market phase.
const GOOD_CHUNK: usize = 2048;

impl Engine {
    /// Each market sums its supply and demand (in CSR order) and moves its price, in parallel
    /// over chunks of goods; the tick's statistics are reduced with max and min, which do not
    /// depend on how the goods were split between threads.
    pub(super) fn market_phase(&mut self, tick: u64) -> Step {
        let economy = &self.economy;
        let rule = economy.market.rule;
        let step_size = economy.market.step;
        let traded = &self.traded;
        let free_price = self.free_price;
        let (x, y) = (&self.x, &self.y);
        // the firm phase summed the demand of the goods it owns
        let (owner, any_crossing) = (&self.fused.owner, self.fused.any_crossing);
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
                if any_crossing {
                    market_demand(economy, x, goods.clone(), &owner[goods.clone()], ds);
                }
                let (last, traded) = (&prev[goods.clone()], &traded[goods.clone()]);
                market::next_prices(rule, step_size, traded, last, ss, ds, ps);
                let multiplicative = rule == market_settings::Rule::Multiplicative;
                TickStats::of_markets(Markets {
                    g0: goods.start,
                    traded,
                    last,
                    price: ps,
                    supply: ss,
                    demand: ds,
                    free_price,
                    multiplicative,
                })
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

/// The demand of those `goods` whose users straddle segments of the firm phase (`owner`
/// [`CROSSING`]; users' plans, in CSR order) into `demand`: the same sums as
/// [`market_totals`]. The firm phase summed the others.
#[inline(never)]
fn market_demand(economy: &Economy, x: &[f64], goods: std::ops::Range<usize>, owner: &[u8], demand: &mut [f64]) {
    let g = &economy.goods;
    let starts = &g.use_start[goods.start..=goods.end];
    for ((d, w), &o) in demand.iter_mut().zip(starts.windows(2)).zip(owner) {
        if o == CROSSING {
            let mut sum = 0.0;
            for &e in &g.use_edge[w[0] as usize..w[1] as usize] {
                sum += x[e as usize];
            }
            *d = sum;
        }
    }
}

impl Engine {
    /// Supply and demand of every good from the current plans (the engine's starting state).
    pub(super) fn count_markets(&mut self) {
        for g in 0..self.economy.goods.len() {
            (self.supply[g], self.demand[g]) = market_totals(&self.economy, &self.x, &self.y, g);
        }
    }
}

/// Supply (endowment plus producers' outputs) and demand (users' plans) of good `g`, summed
/// in CSR order.
#[inline]
pub(super) fn market_totals(economy: &Economy, x: &[f64], y: &[f64], g: usize) -> (f64, f64) {
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
