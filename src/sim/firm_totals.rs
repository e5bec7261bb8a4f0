//! What each firm group (`[[firms]]` entry) buys, makes and earns at the end of a run: the
//! quantities behind `firms.csv`. A group of `count` replicas is summed over its replicas;
//! its productivity is given as the mean, smallest and largest over them.

use crate::economy::Economy;

/// Whether a flow is something a firm buys or something it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Input,
    Output,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Output => "output",
        }
    }
}

/// One good a group buys or makes: the quantity summed over the group's firms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flow {
    pub good: u32,
    pub role: Role,
    pub quantity: f64,
}

/// A firm group's totals. Reused from group to group ([`GroupTotals::measure`]), so that a
/// million groups cost one buffer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupTotals {
    pub group: usize,
    pub count: u32,
    pub productivity_mean: f64,
    pub productivity_min: f64,
    pub productivity_max: f64,
    /// Revenue minus cost at the final prices, summed over the group's firms.
    pub profit: f64,
    /// The inputs in the technology's order, then the outputs.
    pub flows: Vec<Flow>,
}

impl GroupTotals {
    /// Measure group `g` from the final plans: `x` per input edge, `y` per firm (output
    /// before each output's weight), at `prices` per good.
    pub fn measure(&mut self, economy: &Economy, prices: &[f64], x: &[f64], y: &[f64], g: usize) {
        let firms = &economy.firms;
        let group = &economy.groups[g];
        self.group = g;
        self.count = group.count;
        self.flows.clear();
        self.profit = 0.0;
        let (mut sum, mut lo, mut hi) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
        for (i, f) in group.firms().enumerate() {
            let p = firms.productivity[f];
            sum += p;
            lo = lo.min(p);
            hi = hi.max(p);
            let (inputs, outputs) = (firms.inputs(f), firms.outputs(f));
            if i == 0 {
                let input = |e: usize| Flow {
                    good: firms.input_good[e],
                    role: Role::Input,
                    quantity: 0.0,
                };
                let output = |k: usize| Flow {
                    good: firms.output_good[k],
                    role: Role::Output,
                    quantity: 0.0,
                };
                self.flows.extend(inputs.clone().map(input));
                self.flows.extend(outputs.clone().map(output));
            }
            let n_in = inputs.len();
            for (j, e) in inputs.enumerate() {
                self.flows[j].quantity += x[e];
                self.profit -= prices[firms.input_good[e] as usize] * x[e];
            }
            for (j, k) in outputs.enumerate() {
                let made = firms.output_weight[k] * y[f];
                self.flows[n_in + j].quantity += made;
                self.profit += prices[firms.output_good[k] as usize] * made;
            }
        }
        let n = group.count.max(1) as f64;
        self.productivity_mean = sum / n;
        self.productivity_min = lo;
        self.productivity_max = hi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::engine::Engine;

    /// The totals of every group add up to the engine's demand and supply of each good (the
    /// markets count the same plans).
    #[test]
    fn groups_add_up_to_the_markets() {
        let text = crate::scenario::TUPPERWARE.replace("name = \"B\"", "name = \"B\"\ncount = 3");
        let economy = crate::scenario::load_str("t.toml", &text, &[], None).unwrap();
        let mut engine = Engine::new(economy);
        for _ in 0..50 {
            let step = engine.step();
            engine.finish_tick(&step);
        }
        let e = &engine.economy;
        let (mut bought, mut made) = (vec![0.0; e.goods.len()], vec![0.0; e.goods.len()]);
        let mut t = GroupTotals::default();
        let mut replicas = 0;
        for g in 0..e.groups.len() {
            t.measure(e, &engine.prices, &engine.x, &engine.y, g);
            replicas += t.count;
            assert!(t.productivity_min <= t.productivity_mean && t.productivity_mean <= t.productivity_max);
            for f in &t.flows {
                match f.role {
                    Role::Input => bought[f.good as usize] += f.quantity,
                    Role::Output => made[f.good as usize] += f.quantity,
                }
            }
        }
        assert_eq!(replicas as usize, e.firms.len());
        assert!(
            e.groups.iter().any(|g| g.count == 3),
            "the test needs a group of several"
        );
        for g in 0..e.goods.len() {
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
            assert!(
                close(bought[g], engine.demand[g]),
                "{g}: {} vs {}",
                bought[g],
                engine.demand[g]
            );
            let produced = engine.supply[g] - e.goods.endowment[g];
            assert!(close(made[g], produced), "{g}: {} vs {produced}", made[g]);
        }
    }
}
