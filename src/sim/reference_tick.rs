//! One tick written for clarity, not speed: the definition of what the engine computes
//! (docs/MODEL.md, "One tick"). For each firm: observe the prices of tick t, update the plan
//! by its rule, compute the output. For each market: sum supply and demand in order and move
//! the price. Then the shocks of tick t apply. The engine ([`crate::sim::engine`]) does the
//! same in parallel, with specialised kernels; the tests below hold it to this.

use crate::economy::{market_settings, Economy};
use crate::numeric::random;
use crate::sim::agents::{self, FirmView, Scratch};
use crate::sim::engine::Engine;
use crate::sim::{market, shocks};

/// Everything a tick reads and writes.
#[derive(Debug, Clone)]
pub struct State {
    pub economy: Economy,
    /// Prices per good, plans (and the last normalised gradient) per input edge, output per
    /// firm, supply and demand per good.
    pub prices: Vec<f64>,
    pub x: Vec<f64>,
    pub last: Vec<f64>,
    pub y: Vec<f64>,
    pub supply: Vec<f64>,
    pub demand: Vec<f64>,
}

impl State {
    /// The state an engine starts from (its starting prices and plans; no memory yet).
    pub fn of(engine: &Engine) -> State {
        State {
            economy: engine.economy.clone(),
            prices: engine.prices.clone(),
            x: engine.x.clone(),
            last: vec![0.0; engine.x.len()],
            y: engine.y.clone(),
            supply: engine.supply.clone(),
            demand: engine.demand.clone(),
        }
    }
}

/// Run tick `tick` on `s`.
pub fn tick(s: &mut State, tick: u64) {
    let (economy, p) = (&s.economy, &s.prices);
    let (goods, firms) = (&economy.goods, &economy.firms);
    for f in 0..firms.len() {
        let inputs = firms.inputs(f);
        let input_prices: Vec<f64> = firms.input_good[inputs.clone()]
            .iter()
            .map(|&g| p[g as usize])
            .collect();
        let params = &firms.input_param[inputs.clone()];
        let view = FirmView {
            settings: economy.agent(f),
            technology: economy.technology(f),
            params,
            productivity: firms.productivity[f],
            revenue: economy.revenue(f, p),
            input_prices: &input_prices,
            constant_returns: economy.technology(f).constant_returns(params, inputs.len()),
        };
        // the firm's own random stream, positioned at the tick
        let mut rng = random::stream(economy.run.seed, random::Purpose::Agent, f as u64);
        rng.set_word_pos((tick as u128) << 24);
        let (x, last) = (s.x[inputs.clone()].to_vec(), s.last[inputs.clone()].to_vec());
        let (x_next, last_next) = (&mut s.x[inputs.clone()], &mut s.last[inputs]);
        s.y[f] = agents::update(
            &view,
            Some(&mut rng),
            &x,
            &last,
            x_next,
            last_next,
            &mut Scratch::default(),
        );
    }
    let rule = economy.market.rule;
    for g in 0..goods.len() {
        let mut supply = goods.endowment[g];
        for &k in goods.producers(g) {
            let k = k as usize;
            supply += firms.output_weight[k] * s.y[firms.output_firm[k] as usize];
        }
        let mut demand = 0.0;
        for &e in goods.uses(g) {
            demand += s.x[e as usize];
        }
        (s.supply[g], s.demand[g]) = (supply, demand);
        // fixed prices, and goods nobody buys (price 0), have no market
        if !goods.fixed[g] && !goods.uses(g).is_empty() {
            let next = market::next_price(rule, economy.market.step, s.prices[g], supply, demand);
            // a multiplicative price in excess supply rests at the floor
            let floor = rule == market_settings::Rule::Multiplicative && next < market::PRICE_FLOOR && demand <= supply;
            s.prices[g] = if floor { market::PRICE_FLOOR } else { next };
        }
    }
    for shock in s.economy.shocks.clone().iter().filter(|shock| shock.tick == tick) {
        shocks::apply(&mut s.economy, &mut s.prices, shock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    /// The largest relative difference between the engine's and the reference's numbers
    /// after each tick is at most this where Cobb–Douglas firms take the fast kernel (see
    /// `engine_matches_the_reference_tick`); elsewhere they are the same bits.
    const FAST_KERNEL_TOLERANCE: f64 = 1e-12;

    /// |a - b| relative to the larger of the two, 0 for the same bits.
    fn relative_difference(a: f64, b: f64) -> f64 {
        if a.to_bits() == b.to_bits() {
            0.0
        } else {
            (a - b).abs() / a.abs().max(b.abs())
        }
    }

    fn largest_difference(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(a, b)| relative_difference(*a, *b))
            .fold(0.0, f64::max)
    }

    /// Runs the engine (on a pool of `threads`) and the reference side by side for `ticks`
    /// ticks from the engine's starting state; returns whether the engine takes the
    /// Cobb–Douglas kernel and the largest relative difference seen in prices, plans,
    /// outputs, supply and demand after a tick. Where it takes that kernel, the reference
    /// restarts from the engine's numbers after each tick, so that what is compared is one
    /// tick (a run carries differences in the last bits on, and some economies amplify them
    /// on the way to equilibrium: 4.5e-11 after 30 ticks on the generated Cobb–Douglas one).
    fn side_by_side(economy: Economy, ticks: u64, threads: usize) -> (bool, f64) {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut engine = Engine::new(economy);
        let fast = engine.firm_phase.has_cobb_douglas_runs();
        let mut reference = State::of(&engine);
        let mut largest: f64 = 0.0;
        for t in 0..ticks {
            let step = pool.install(|| engine.step());
            engine.finish_tick(&step);
            tick(&mut reference, t);
            for (a, b) in [
                (&engine.prices, &reference.prices),
                (&engine.x, &reference.x),
                (&engine.y, &reference.y),
                (&engine.supply, &reference.supply),
                (&engine.demand, &reference.demand),
            ] {
                largest = largest.max(largest_difference(a, b));
            }
            assert_eq!(engine.economy.firms.productivity, reference.economy.firms.productivity);
            assert_eq!(engine.economy.goods.endowment, reference.economy.goods.endowment);
            if fast {
                reference.prices.clone_from(&engine.prices);
                reference.x.clone_from(&engine.x);
                reference.y.clone_from(&engine.y);
            }
        }
        (fast, largest)
    }

    fn check(label: &str, economy: Economy, ticks: u64, threads: usize) {
        let (fast, largest) = side_by_side(economy, ticks, threads);
        if fast {
            assert!(
                largest <= FAST_KERNEL_TOLERANCE,
                "{label}: the engine differs from the reference tick by {largest:e} (relative)"
            );
        } else {
            assert!(
                largest == 0.0,
                "{label}: the engine differs from the reference tick by {largest:e} (relative), not 0"
            );
        }
    }

    fn load(label: &str, text: &str, sets: &[&str]) -> Economy {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        scenario::load_str(label, text, &sets, None).unwrap_or_else(|e| panic!("{label}: {e:?}"))
    }

    /// The engine equals the plain tick, bit for bit, on every economy whose firms take the
    /// general rule ([`agents::update`], which both call with the same numbers) and every
    /// market (`market::next_prices` has the bits of [`market::next_price`], and both sum in
    /// CSR order). Where Cobb–Douglas firms take the fast kernel ([`crate::sim::cobb_douglas`])
    /// the two agree to [`FAST_KERNEL_TOLERANCE`] and not to the bit: the kernel steps ln x
    /// and takes exp of it (`x * exp(rate * r)` in the rule), keeps F from ln x rather than
    /// evaluating it at x, and its exp is within 2 ulp of `f64::exp`, so a step differs in
    /// the last bits, and the ticks carry that on.
    #[test]
    fn engine_matches_the_reference_tick() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut shipped: Vec<_> = std::fs::read_dir(dir.join("scenarios"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        shipped.sort();
        assert!(shipped.len() >= 10);
        for path in &shipped {
            let text = std::fs::read_to_string(path).unwrap();
            check(&path.display().to_string(), load("shipped", &text, &[]), 60, 2);
        }
        // generated economies, kept as fixtures so that this module does not depend on the
        // generator (layered, 120 firms, 3 inputs each)
        let fixtures = [
            (
                "generated_cobb_douglas",
                include_str!("../../tests/fixtures/generated_cobb_douglas.toml"),
            ),
            ("generated_ces", include_str!("../../tests/fixtures/generated_ces.toml")),
            (
                "generated_expression",
                include_str!("../../tests/fixtures/generated_expression.toml"),
            ),
            (
                "generated_power",
                include_str!("../../tests/fixtures/generated_power.toml"),
            ),
        ];
        for (label, text) in fixtures {
            check(label, load(label, text, &[]), 60, 2);
            // the general rule for Cobb–Douglas firms too, with noise and activation draws
            check(
                label,
                load(label, text, &["agents.noise=0.02", "agents.activation=0.7"]),
                30,
                2,
            );
            check(
                label,
                load(label, text, &["market.rule=additive", "market.step=0.1"]),
                30,
                1,
            );
        }
        // every rule and form, on the essay's chain
        let tupperware = scenario::TUPPERWARE;
        for sets in [
            &["agents.rule=optimistic"][..],
            &["agents.rule=best_response", "agents.rate=0.5"],
            &["agents.form=additive", "agents.rate=0.05"],
            &["agents.rule=optimistic", "agents.form=additive", "agents.rate=0.05"],
            &["market.rule=additive", "market.step=0.3"],
            &["agents.noise=0.05", "agents.activation=0.5", "run.seed=7"],
        ] {
            check(
                &format!("tupperware {sets:?}"),
                load("tupperware", tupperware, sets),
                60,
                2,
            );
        }
    }

    /// More firms than a chunk of the firm phase, on two threads: the tasks' shares of the
    /// plans, memories and kernel state are split at the right edges, and runs of
    /// Cobb–Douglas firms sit next to firms on the general rule inside one chunk.
    #[test]
    fn engine_matches_the_reference_tick_over_many_chunks() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/labour_wage.toml")).unwrap();
        let replicated = text.replace(
            "production = ",
            "count = 3000\nproductivity_spread = 0.1\nproduction = ",
        );
        check("labour_wage x 3000", load("labour_wage", &replicated, &[]), 30, 2);
        check(
            "labour_wage x 3000, optimistic",
            load("labour_wage", &replicated, &["agents.rule=optimistic"]),
            30,
            2,
        );
        let chain = scenario::TUPPERWARE.replace("production = \"", "count = 2500\nproduction = \"");
        check(
            "tupperware x 2500, noisy",
            load("tupperware", &chain, &["agents.noise=0.01"]),
            20,
            2,
        );
    }
}
