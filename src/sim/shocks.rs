//! Shocks (docs/MODEL.md, "One tick"): the scenario's scheduled edits of fixed prices,
//! endowments and productivity, applied at the end of their tick.

use crate::economy::{Economy, Shock, ShockKind};
use crate::sim::engine::Engine;

/// Apply one shock to `economy` and to the current `prices`.
pub fn apply(economy: &mut Economy, prices: &mut [f64], shock: &Shock) {
    match shock.kind {
        ShockKind::Price { good, price } => {
            economy.goods.price[good] = price;
            prices[good] = price;
        }
        ShockKind::Endowment { good, endowment } => economy.goods.endowment[good] = endowment,
        ShockKind::Productivity { group, productivity } => {
            let g = &mut economy.groups[group];
            let ratio = productivity / g.productivity;
            g.productivity = productivity;
            let (first, count) = (g.first as usize, g.count as usize);
            for p in &mut economy.firms.productivity[first..first + count] {
                *p *= ratio;
            }
        }
    }
}

impl Engine {
    /// The labels of the shocks that apply at the end of tick `tick`.
    pub(super) fn due_shocks(&self, tick: u64) -> Vec<String> {
        self.economy.shocks[self.next_shock..]
            .iter()
            .take_while(|s| s.tick <= tick)
            .map(|s| s.label.clone())
            .collect()
    }

    /// Apply the shocks scheduled up to tick `tick` (the scenario sorts them by tick).
    pub(super) fn apply_shocks(&mut self, tick: u64) {
        while let Some(shock) = self.economy.shocks.get(self.next_shock) {
            if shock.tick > tick {
                break;
            }
            let shock = shock.clone();
            apply(&mut self.economy, &mut self.prices, &shock);
            self.next_shock += 1;
        }
    }

    /// Whether shocks are still to come (a run may not stop as converged before them).
    pub fn shocks_pending(&self) -> bool {
        self.next_shock < self.economy.shocks.len()
    }
}
