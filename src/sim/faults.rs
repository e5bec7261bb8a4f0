//! What went wrong in a tick that left the finite range, worded for the user: which market's
//! price, supply or demand, and which firm's plan or output and why (a production function
//! evaluated outside its domain is the scenario's fault, not the dynamics').

use crate::sim::engine::{Engine, DOMAIN_FAULT};

impl Engine {
    /// What went wrong at good `g`, which left the finite range this tick.
    pub(super) fn divergence(&self, g: usize) -> String {
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
    pub(super) fn firm_fault(&self) -> Option<String> {
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
}
