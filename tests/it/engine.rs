//! The market engine on the essay's chain: converged prices equal the derivatives computed by
//! hand (natgas 1/24, ethylene 1/6, polyethylene 3/2), for every rule combination with its
//! documented stable settings, after shocks, and bit-identically for any thread count.

use pricegrad::run::{self, Memory, Report};
use pricegrad::scenario;
use pricegrad::sim::engine::Outcome;
use std::sync::atomic::AtomicBool;

/// Derivatives of f(x) = ln(1 - 1/(sqrt(x) + 1)) along the chain at x = 4, by hand:
/// polyethylene b = 2/3: df/db = 1/b = 3/2; ethylene a = 2: df/da = (3/2) / (a+1)^2 = 1/6;
/// natgas: (1/6) / (2 sqrt(4)) = 1/24.
const NATGAS: f64 = 1.0 / 24.0;
const ETHYLENE: f64 = 1.0 / 6.0;
const POLYETHYLENE: f64 = 1.5;

fn run_tupperware(sets: &[&str]) -> (Report, Memory) {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let economy = scenario::load_str("tupperware.toml", scenario::TUPPERWARE, &sets, None).expect("valid scenario");
    let mut sink = Memory::default();
    let report = run::execute(economy, &mut sink, &mut |_| {}, &AtomicBool::new(false)).expect("in-memory run");
    (report, sink)
}

fn price(r: &Report, good: &str) -> f64 {
    r.goods.get(good).unwrap().price
}

fn assert_essay_prices(r: &Report, scale: f64, what: &str) {
    assert!(
        matches!(r.outcome_kind, Some(Outcome::Converged { .. })),
        "{what}: {}",
        r.outcome_detail
    );
    for (good, want) in [
        ("natgas", NATGAS),
        ("ethylene", ETHYLENE),
        ("polyethylene", POLYETHYLENE),
    ] {
        let got = price(r, good);
        let want = want * scale;
        assert!((got - want).abs() <= 1e-8 * want, "{what}: {good} = {got}, want {want}");
    }
}

#[test]
fn every_rule_combination_finds_the_essays_derivatives() {
    // (firm rule, market rule, market step, firm rate): the stable settings in README.md
    let combos = [
        ("gradient", "multiplicative", "0.5", "0.5"),
        ("gradient", "additive", "0.05", "0.2"),
        ("best_response", "multiplicative", "0.5", "0.5"),
        ("best_response", "additive", "0.01", "0.5"),
        ("optimistic", "multiplicative", "0.5", "0.2"),
        ("optimistic", "additive", "0.05", "0.05"),
    ];
    for (rule, market, step, rate) in combos {
        let sets = [
            format!("agents.rule={rule}"),
            format!("market.rule={market}"),
            format!("market.step={step}"),
            format!("agents.rate={rate}"),
        ];
        let sets: Vec<&str> = sets.iter().map(|s| s.as_str()).collect();
        let (r, _) = run_tupperware(&sets);
        assert_essay_prices(&r, 1.0, &format!("{rule}/{market}"));
        assert!(r.pass, "{rule}/{market}: checks failed: {r:?}");
    }
}

#[test]
fn the_additive_gradient_form_converges_too() {
    let (r, _) = run_tupperware(&["agents.form=additive", "market.rule=additive", "market.step=0.5"]);
    assert_essay_prices(&r, 1.0, "additive gradient form");
}

#[test]
fn doubling_the_final_price_doubles_every_price() {
    // The gradient of 2 ln(...) is twice the gradient of ln(...).
    let text = format!(
        "{}\n[[shocks]]\ntick = 1000\ngood = \"tupperware\"\nprice = 2.0\n",
        scenario::TUPPERWARE
    );
    let economy = scenario::load_str("shock.toml", &text, &[], None).unwrap();
    let mut sink = Memory::default();
    let r = run::execute(economy, &mut sink, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_essay_prices(&r, 2.0, "after the shock");
    // the market had converged to the old prices before the shock
    let before = sink.goods.iter().find(|g| g.tick == 999 && g.good == 0).unwrap();
    assert!(
        (before.price - NATGAS).abs() <= 1e-8 * NATGAS,
        "natgas before the shock: {}",
        before.price
    );
    let marked: Vec<u64> = sink
        .metrics
        .iter()
        .filter(|m| !m.shock.is_empty())
        .map(|m| m.tick)
        .collect();
    assert_eq!(marked, vec![1000]);
    assert!(r.ticks > 1000);
}

#[test]
fn an_oversized_step_diverges_and_says_where() {
    let (r, sink) = run_tupperware(&["market.step=1000"]);
    match &r.outcome_kind {
        Some(Outcome::Diverged { what, .. }) => {
            assert!(what.contains("price of") || what.contains("non-finite"), "{what}")
        }
        other => panic!("expected divergence, got {other:?}"),
    }
    assert!(!r.pass);
    for row in &sink.goods {
        assert!(row.price.is_finite() && row.supply.is_finite() && row.demand.is_finite());
    }
}

#[test]
fn best_responding_firms_make_tatonnement_exact_gradient_descent_on_phi() {
    // beta = 1 best responses and additive tatonnement: the price step is -eta grad Phi(p),
    // so the logged cosine is 1, and for a small step Phi falls every tick. Start from the
    // neighbourhood of the answer so that no firm is at a corner (x* = 0).
    let (r, sink) = run_tupperware(&[
        "agents.rule=best_response",
        "agents.rate=1",
        "market.rule=additive",
        "market.step=0.002",
        "goods.natgas.initial_price=0.05",
        "goods.ethylene.initial_price=0.2",
        "goods.polyethylene.initial_price=1.3",
        "run.max_ticks=400",
    ]);
    let _ = r;
    let rows: Vec<_> = sink.metrics.iter().filter(|m| m.max_rel_excess > 1e-6).collect();
    assert!(
        rows.len() > 100,
        "the run should stay out of equilibrium for a while ({} rows)",
        rows.len()
    );
    for m in &rows {
        let c = m.cosine.expect("Phi is finite for the tupperware chain");
        assert!((c - 1.0).abs() < 1e-9, "tick {}: cosine {c}", m.tick);
    }
    for w in rows.windows(2) {
        let (a, b) = (w[0].phi.unwrap(), w[1].phi.unwrap());
        assert!(
            b <= a + 1e-15 * a.abs(),
            "Phi rose from {a} to {b} at tick {}",
            w[1].tick
        );
    }
}

#[test]
fn gradient_rule_cosine_is_logged() {
    // With gradient-rule firms the step is not exactly -grad Phi; the cosine is logged and is
    // positive on average (the market moves downhill), which is what this test states.
    let (_, sink) = run_tupperware(&[]);
    let cos: Vec<f64> = sink.metrics.iter().filter_map(|m| m.cosine).collect();
    assert!(cos.len() > 50);
    let mean = cos.iter().sum::<f64>() / cos.len() as f64;
    assert!(mean > 0.0, "mean cosine {mean}");
}

#[test]
fn defaults_converge_across_endowments_and_price_scales() {
    // natgas price = P f'(x) with f'(x) = 1 / (2 x (sqrt(x) + 1)), for x from 1e-3 to 1e3 and
    // the unit of account's price P from 1e-3 to 1e3, with the default settings untouched.
    for x in [1e-3f64, 0.1, 4.0, 1e3] {
        for p in [1e-3, 1.0, 1e3] {
            let sets = [
                format!("goods.natgas.endowment={x}"),
                format!("goods.tupperware.price={p}"),
            ];
            let sets: Vec<&str> = sets.iter().map(|s| s.as_str()).collect();
            let (r, _) = run_tupperware(&sets);
            assert!(r.pass, "x = {x}, P = {p}: {}", r.outcome_detail);
            let want = p / (2.0 * x * (x.sqrt() + 1.0));
            let got = price(&r, "natgas");
            assert!(
                (got - want).abs() <= 1e-8 * want,
                "x = {x}, P = {p}: natgas {got}, want {want}"
            );
        }
    }
}

/// A constant-returns expression firm, sqrt(x) * sqrt(y) on two endowments, converges under
/// the default gradient rule (the constant-returns stabiliser), to prices df/dx and df/dy.
/// Without the stabiliser it oscillated forever (period 2).
#[test]
fn constant_returns_expressions_converge_with_default_settings() {
    let text = r#"
name = "crs"
[goods.x]
endowment = 4.0
[goods.y]
endowment = 2.0
[goods.f]
price = 1.0
[[firms]]
name = "op"
output = "f"
production = "sqrt(x)*sqrt(y)"
"#;
    let economy = scenario::load_str("crs.toml", text, &[], None).unwrap();
    let r = run::execute(economy, &mut Memory::default(), &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert!(
        matches!(r.outcome_kind, Some(Outcome::Converged { .. })),
        "{}",
        r.outcome_detail
    );
    // f = sqrt(xy): df/dx = sqrt(y/x)/2, df/dy = sqrt(x/y)/2
    let (px, py) = (price(&r, "x"), price(&r, "y"));
    assert!((px - 0.5 * (2.0f64 / 4.0).sqrt()).abs() < 1e-8, "{px}");
    assert!((py - 0.5 * (4.0f64 / 2.0).sqrt()).abs() < 1e-8, "{py}");
    assert!(r.pass);
}

/// summary.json, streamed from the report, is byte for byte what the report gives as a JSON
/// tree (sorted keys) pretty-printed, the way it was written before: on shipped scenarios with
/// adjoint intervals (leontief), shocks, and several kinds of goods.
#[test]
fn streamed_summary_matches_the_tree_serialization_on_shipped_scenarios() {
    for name in ["leontief", "tupperware_shock", "labour_wage", "competitive_industry"] {
        let path = std::path::PathBuf::from(format!("scenarios/{name}.toml"));
        let (economy, _, _) = scenario::load(Some(&path), &[], None).expect("valid scenario");
        let mut report =
            run::execute(economy, &mut run::Discard, &mut |_| {}, &AtomicBool::new(false)).expect("in-memory run");
        report.timings = None;
        let mut streamed = Vec::new();
        pricegrad::output::run_writer::write_summary(&mut streamed, &report).unwrap();
        let mut tree = serde_json::to_string_pretty(&serde_json::to_value(&report).unwrap()).unwrap();
        tree.push('\n');
        assert_eq!(String::from_utf8(streamed).unwrap(), tree, "{name}");
    }
}

/// On an economy big enough for the potential's best responses to run in parallel, Phi is
/// the same to the bit on 1 and 2 threads, it equals sum_f pi*_f + sum_g s_g p_g computed
/// firm by firm, and its gradient matches central differences of Phi.
#[test]
fn the_potential_of_a_large_economy_is_its_best_response_profits() {
    use pricegrad::check::diagnostics::potential;
    use pricegrad::generate::{self, Spec};
    use pricegrad::sim::agents::{self, Scratch};
    use pricegrad::sim::engine::Engine;
    let mut text = Vec::new();
    generate::write(&generate::plan(&Spec::new(4, 1500, 3)).unwrap(), &mut text).unwrap();
    let e = scenario::load_str("g.toml", &String::from_utf8(text).unwrap(), &[], None).unwrap();
    let mut engine = Engine::new(e.clone());
    for _ in 0..5 {
        let s = engine.step();
        engine.finish_tick(&s);
    }
    let p = engine.prices.clone();
    let phi_at = |p: &[f64], threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut warm = vec![1.0; e.firms.edges()];
        pool.install(|| potential(&e, p, &mut warm))
            .expect("decreasing returns: Phi is finite")
    };
    let (one, two) = (phi_at(&p, 1), phi_at(&p, 2));
    assert_eq!(one.value.to_bits(), two.value.to_bits());
    assert_eq!(one.gradient, two.gradient);
    // firm by firm
    let mut sum = 0.0;
    let mut scratch = Scratch::default();
    for f in 0..e.firms.len() {
        let r = e.firms.inputs(f);
        let prices: Vec<f64> = e.firms.input_good[r.clone()].iter().map(|&g| p[g as usize]).collect();
        let mut x = vec![1.0; r.len()];
        let revenue = e.revenue(f, &p) * e.firms.productivity[f];
        sum += agents::best_response(
            e.technology(f),
            &e.firms.input_param[r],
            revenue,
            &prices,
            &mut x,
            &mut scratch,
        )
        .unwrap();
    }
    sum += e.goods.endogenous().map(|g| e.goods.endowment[g] * p[g]).sum::<f64>();
    assert!(
        (one.value - sum).abs() <= 1e-12 * sum.abs(),
        "Phi {} vs {sum}",
        one.value
    );
    // dPhi/dp_g by central differences, for goods spread over the layers
    let traded: Vec<usize> = e.goods.endogenous().filter(|&g| !e.goods.uses(g).is_empty()).collect();
    for &g in traded.iter().step_by(traded.len() / 7) {
        let h = 1e-6 * p[g];
        let (mut up, mut down) = (p.clone(), p.clone());
        up[g] += h;
        down[g] -= h;
        let fd = (phi_at(&up, 2).value - phi_at(&down, 2).value) / (2.0 * h);
        let scale = one.gradient[g].abs().max(1e-3 * e.goods.uses(g).len() as f64);
        assert!(
            (fd - one.gradient[g]).abs() <= 1e-4 * scale,
            "good {g}: dPhi/dp {} vs FD {fd}",
            one.gradient[g]
        );
    }
}
