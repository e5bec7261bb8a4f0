//! The out-of-equilibrium measures (docs/OUT_OF_EQUILIBRIUM.md): the Lyapunov function falls
//! to rounding on the essay's chain, the excess demand splits exactly into mispricing and firm
//! lag, and a shock travels back up the chain one market at a time, with arrival ticks that do
//! not depend on how often the run logs.

use pricegrad::check::lyapunov;
use pricegrad::run::{self, Memory};
use pricegrad::scenario;
use std::process::Command;
use std::sync::atomic::AtomicBool;

fn run_scenario(path: &str, sets: &[&str]) -> Memory {
    let text = std::fs::read_to_string(path).unwrap();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let economy = scenario::load_str(path, &text, &sets, None).expect("valid scenario");
    let mut sink = Memory::default();
    run::execute(economy, &mut sink, &mut |_| {}, &AtomicBool::new(false)).expect("in-memory run");
    sink
}

/// `pricegrad run scenarios/tupperware.toml` writes the new columns, and the Lyapunov function
/// ends at most 1e-6 of where it started.
#[test]
fn tupperware_metrics_have_the_lyapunov_function_and_the_split() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    let status = Command::new(env!("CARGO_BIN_EXE_pricegrad"))
        .args(["run", "scenarios/tupperware.toml", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    let text = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (w, mis, lag) = (col("lyapunov"), col("mispricing"), col("firm_lag"));
    col("cosine_mirror");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let num = |r: &Vec<&str>, i: usize| r[i].parse::<f64>().unwrap();
    let (first, last) = (num(&rows[0], w), num(rows.last().unwrap(), w));
    assert!(first > 0.0 && last <= 1e-6 * first, "W from {first} to {last}");
    for r in &rows {
        assert!(num(r, mis) >= 0.0 && num(r, lag) >= 0.0);
    }
    let traj = std::fs::read_to_string(out.join("trajectory.csv")).unwrap();
    let header = traj.lines().next().unwrap();
    assert!(header.ends_with(",mispricing,firm_lag"), "{header}");
}

/// Per good, mispricing + firm_lag = excess / max(S, D); the norms in metrics.csv are those of
/// the per-good parts over the traded goods.
#[test]
fn excess_demand_splits_into_mispricing_and_firm_lag() {
    let m = run_scenario("scenarios/diamond.toml", &[]);
    let mut checked = 0;
    for r in &m.goods {
        let (Some(mis), Some(lag)) = (r.mispricing, r.firm_lag) else {
            continue;
        };
        let rel = r.excess / r.supply.max(r.demand);
        assert!(
            (mis + lag - rel).abs() <= 1e-12 * (1.0 + rel.abs()),
            "tick {}: {mis} + {lag} vs {rel}",
            r.tick
        );
        checked += 1;
    }
    assert!(checked > 100);
    // at the first tick: the norms of the parts, relative to the norm of max(S, D)
    let t0: Vec<_> = m.goods.iter().filter(|r| r.tick == 0).collect();
    let vol: f64 = t0.iter().map(|r| r.supply.max(r.demand).powi(2)).sum::<f64>().sqrt();
    let mis: f64 = t0
        .iter()
        .map(|r| (r.mispricing.unwrap() * r.supply.max(r.demand)).powi(2))
        .sum::<f64>()
        .sqrt();
    let got = m.metrics[0].mispricing.unwrap();
    assert!((got - mis / vol).abs() <= 1e-12 * got, "{got} vs {}", mis / vol);
}

/// With best responses at rate 1 the firms never lag: the excess demand is all mispricing,
/// and the price step is gradient descent on Phi in the rule's own geometry (cosine 1). (At
/// tick 0, firm B's best response at the initial prices is the corner 0, which a plan
/// approaches by at most a factor 1000 per tick.)
#[test]
fn best_responses_have_no_firm_lag() {
    let m = run_scenario(
        "scenarios/tupperware.toml",
        &["agents.rule=best_response", "agents.rate=1"],
    );
    for r in m.metrics.iter().filter(|r| r.tick > 0 && r.max_rel_excess > 1e-9) {
        let (mis, lag) = (r.mispricing.unwrap(), r.firm_lag.unwrap());
        assert!(lag <= 1e-6 * mis, "tick {}: lag {lag}, mispricing {mis}", r.tick);
        assert!(
            r.cosine_mirror.unwrap() > 1.0 - 1e-9,
            "tick {}: {:?}",
            r.tick,
            r.cosine_mirror
        );
    }
}

/// The shock wave on the essay's chain: the price of tupperware doubles at tick 300, and the
/// change reaches polyethylene first, then ethylene, then natgas; the arrival ticks are the
/// same whether every tick or every 7th is logged.
#[test]
fn the_shock_travels_back_up_the_chain() {
    let every = run_scenario("scenarios/tupperware_shock.toml", &[]);
    let rows = &every.propagation;
    let get = |rows: &[pricegrad::check::propagation::Arrival], name: &str| {
        let economy = scenario::load_str(
            "s.toml",
            &std::fs::read_to_string("scenarios/tupperware_shock.toml").unwrap(),
            &[],
            None,
        )
        .unwrap();
        let g = economy.goods.index(name).unwrap() as u32;
        rows.iter().find(|r| r.good == g).unwrap().clone()
    };
    let (poly, eth, gas) = (get(rows, "polyethylene"), get(rows, "ethylene"), get(rows, "natgas"));
    assert_eq!((poly.depth, eth.depth, gas.depth), (1, 2, 3));
    let (a, b, c) = (
        poly.arrival_tick.unwrap(),
        eth.arrival_tick.unwrap(),
        gas.arrival_tick.unwrap(),
    );
    assert!(300 < a && a < b && b < c, "arrivals {a}, {b}, {c}");
    // every price doubles
    for (r, p) in [(&poly, 1.5), (&eth, 1.0 / 6.0), (&gas, 1.0 / 24.0)] {
        assert!((r.final_change - p).abs() <= 1e-8 * p, "{r:?}");
        assert_eq!(r.shock_tick, 300);
    }
    let sparse = run_scenario("scenarios/tupperware_shock.toml", &["log.every=7"]);
    assert_eq!(
        &sparse.propagation, rows,
        "arrival is taken every tick, not from the logged rows"
    );
    // the files: one shock, no shock_tick column
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let status = Command::new(env!("CARGO_BIN_EXE_pricegrad"))
        .args(["run", "scenarios/tupperware_shock.toml", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    let text = std::fs::read_to_string(out.join("propagation.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "good,depth,arrival_tick,final_change");
    let order: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(order, ["polyethylene", "ethylene", "natgas"]);
    // a run without a shock in the same directory leaves no stale propagation.csv behind
    let status = Command::new(env!("CARGO_BIN_EXE_pricegrad"))
        .args(["run", "scenarios/tupperware.toml", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    assert!(!out.join("propagation.csv").exists());
}

/// Two shocks: a row per good and shock, with the shock's tick; and without a reference
/// equilibrium (the records of each good's moves) the same arrivals.
#[test]
fn several_shocks_and_no_reference() {
    let text = std::fs::read_to_string("scenarios/tupperware_shock.toml").unwrap()
        + "\n[[shocks]]\ntick = 700\ngood = \"natgas\"\nendowment = 9.0\n";
    let economy = scenario::load_str("two.toml", &text, &[], None).unwrap();
    let mut sink = Memory::default();
    run::execute(economy, &mut sink, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let rows = &sink.propagation;
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(rows[..3].iter().all(|r| r.shock_tick == 300));
    assert!(rows[3..].iter().all(|r| r.shock_tick == 700));
    // the endowment shock starts at natgas (depth 0) and travels down the chain
    let second: Vec<(u32, Option<u64>)> = rows[3..].iter().map(|r| (r.depth, r.arrival_tick)).collect();
    assert_eq!(second.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(
        second.windows(2).all(|w| w[0].1.unwrap() <= w[1].1.unwrap()),
        "{second:?}"
    );

    // no reference: the tracker keeps each good's record moves and reads the arrival at the end
    let economy = scenario::load_str("tupperware_shock.toml", &text, &[], None).unwrap();
    let mut tracker = pricegrad::check::propagation::Tracker::default();
    let mut engine = pricegrad::sim::engine::Engine::new(economy);
    for _ in 0..1500 {
        let step = engine.step();
        tracker.observe(step.tick, &engine.prices);
        engine.finish_tick(&step);
        if !step.shocks.is_empty() {
            tracker.shock(&engine.economy, step.tick, &engine.prices, &engine.traded, None);
        }
    }
    let without = tracker.finish(&engine.prices);
    for (a, b) in without.iter().zip(rows) {
        assert_eq!((a.good, a.depth, a.shock_tick), (b.good, b.depth, b.shock_tick));
        assert_eq!(a.arrival_tick, b.arrival_tick, "{a:?} vs {b:?}");
    }
}

/// KL-type divergence used by the Lyapunov function: 0 at the reference, positive elsewhere.
#[test]
fn kl_divergence_basics() {
    assert_eq!(lyapunov::kl(2.0, 2.0), 0.0);
    assert!(lyapunov::kl(2.0, 3.0) > 0.0 && lyapunov::kl(2.0, 1.0) > 0.0);
}
