//! Where the interior point starts (step 1 of the algorithm in the module docs of `mod.rs`):
//! a strictly feasible point from a forward pass over the firms in topological order, or why
//! there is none; and a price guess there (backprop-style adjoints) that sets the value scale.

use super::problem::{Eval, Problem};
use super::{ReferenceError, NONE};

impl Problem<'_> {
    /// Strictly feasible starting point: the forward pass of [`Problem::start_keeping`] keeping
    /// half of each good's supply back, then (for production functions that are negative or
    /// undefined near 0, such as `ln(x)` or `1 - 1/x`, whose producers need more than a small
    /// share to make a positive amount) keeping back less and less, down to 1e-6 of it. The
    /// programme has no interior point only if even that leaves a used good without supply.
    pub(super) fn start(&self) -> Result<Vec<f64>, ReferenceError> {
        let mut last = None;
        for keep in [0.5, 0.1, 1e-2, 1e-3, 1e-4, 1e-6] {
            match self.start_keeping(keep) {
                Ok(x) => return Ok(x),
                Err(e @ ReferenceError::Infeasible(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// The forward pass from the endowments: firms in topological order, each use of an
    /// endogenous good gets an equal share of the fraction `1 - keep` of its available supply
    /// (endowment plus what its producers make at this point), so that every market keeps a
    /// slack of `keep` of its supply.
    fn start_keeping(&self, keep: f64) -> Result<Vec<f64>, ReferenceError> {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        let n = self.n();
        let mut x = vec![0.0; n];
        let mut avail = vec![0.0; goods.len()];
        let mut produced = vec![0.0; goods.len()];
        let mut n_uses = vec![0usize; goods.len()];
        for v in 0..n {
            for (h, _) in self.uses(v) {
                n_uses[h] += 1;
            }
        }
        for g in goods.endogenous() {
            avail[g] = goods.endowment[g];
        }
        if self.supply.len() == self.m() {
            for k in 0..self.m() {
                avail[self.con_good[k]] = self.supply[k];
            }
        }
        let mut ev = self.new_eval();
        let mut checked = vec![false; goods.len()];
        for &f in &firms.topo_order {
            let f = f as usize;
            for v in self.vars(f) {
                let mut share = f64::INFINITY;
                let mut any_endog = false;
                for (h, a) in self.uses(v) {
                    if goods.fixed[h] {
                        continue;
                    }
                    any_endog = true;
                    if !checked[h] {
                        checked[h] = true;
                        if !positive(avail[h]) {
                            return Err(self.no_supply(h, produced[h]));
                        }
                    }
                    share = share.min(avail[h] * (1.0 - keep) / (n_uses[h] as f64 * a));
                }
                x[v] = if any_endog { share } else { 1.0 };
            }
            // fixed-price inputs: scale up if the output is not positive at one unit
            let mut y = firms.productivity[f] * self.firm_eval(f, &x, &mut ev, false);
            let only_fixed: Vec<usize> = self
                .vars(f)
                .filter(|&v| self.uses(v).all(|(h, _)| goods.fixed[h]))
                .collect();
            let mut tries = 0;
            while !positive(y) && !only_fixed.is_empty() && tries < 12 {
                for &v in &only_fixed {
                    x[v] *= 10.0;
                }
                y = firms.productivity[f] * self.firm_eval(f, &x, &mut ev, false);
                tries += 1;
            }
            if !y.is_finite() {
                return Err(ReferenceError::Infeasible(format!(
                    "firm '{}' has no finite output at the solver's starting point (inputs {}); its production \
                     function must be finite for all positive inputs",
                    self.eco.firm_name(f),
                    self.describe_inputs(f, &x)
                )));
            }
            for k in firms.outputs(f) {
                let g = firms.output_good[k] as usize;
                avail[g] += firms.output_weight[k] * y;
                produced[g] += firms.output_weight[k] * y;
            }
        }
        for k in 0..self.m() {
            let g = self.con_good[k];
            if !checked[g] && !positive(avail[g]) {
                return Err(self.no_supply(g, produced[g]));
            }
        }
        Ok(x)
    }

    fn no_supply(&self, g: usize, produced: f64) -> ReferenceError {
        let k = self.con_of[g];
        let s = if k != NONE {
            self.supply[k]
        } else {
            self.eco.goods.endowment[g]
        };
        ReferenceError::Infeasible(format!(
            "good '{}' is used by firms but has no positive supply to share (endowment {s}, production {produced} \
             when every use gets an equal share of all but 1e-6 of the supply of its good): the programme has no \
             interior point, the users of '{}' cannot operate and its price is not determined; give it a \
             positive endowment or a producer with positive output",
            self.good_name(g),
            self.good_name(g)
        ))
    }

    fn describe_inputs(&self, f: usize, x: &[f64]) -> String {
        self.vars(f)
            .map(|v| {
                let names: Vec<&str> = self.uses(v).map(|(h, _)| self.good_name(h)).collect();
                format!("{} = {:.4e}", names.join("+"), x[v])
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Backprop-style adjoints at x (a price guess for the value scale).
    pub(super) fn start_adjoints(&self, x: &[f64], ev: &Eval) -> Vec<f64> {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        let mut adj = vec![f64::NAN; goods.len()];
        let mut num = vec![0.0f64; goods.len()];
        let mut den = vec![0.0f64; goods.len()];
        for g in 0..goods.len() {
            if goods.fixed[g] {
                adj[g] = goods.price[g];
            }
        }
        for &f in firms.topo_order.iter().rev() {
            let f = f as usize;
            let mut rf = 0.0;
            for k in firms.outputs(f) {
                let g = firms.output_good[k] as usize;
                if adj[g].is_nan() {
                    adj[g] = if den[g] > 0.0 { (num[g] / den[g]).max(0.0) } else { 0.0 };
                }
                rf += firms.output_weight[k] * adj[g];
            }
            for v in self.vars(f) {
                let mv = rf * ev.grad[v];
                let fixed_cost: f64 = self
                    .uses(v)
                    .filter(|(h, _)| goods.fixed[*h])
                    .map(|(h, a)| a * goods.price[h])
                    .sum();
                let endog: Vec<(usize, f64)> = self.uses(v).filter(|(h, _)| !goods.fixed[*h]).collect();
                let total: f64 = endog.iter().map(|(_, a)| a).sum();
                for (h, a) in endog {
                    num[h] += a * x[v] * ((mv - fixed_cost).max(0.0) / total);
                    den[h] += a * x[v];
                }
            }
        }
        let mut p = vec![0.0; self.m()];
        for k in 0..self.m() {
            let g = self.con_good[k];
            let a = if adj[g].is_nan() {
                if den[g] > 0.0 {
                    num[g] / den[g]
                } else {
                    0.0
                }
            } else {
                adj[g]
            };
            p[k] = if a.is_finite() { a } else { 0.0 };
        }
        p
    }
}

/// A finite positive number.
fn positive(v: f64) -> bool {
    v > 0.0 && v.is_finite()
}
