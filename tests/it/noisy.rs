//! Noisy and intermittent firms (`agents.noise`, `agents.activation`): runs end `stationary`
//! well before `max_ticks`, `summary.json` holds the mean prices over the measuring window
//! with their intervals and the bias, which agree with `trajectory.csv` recomputed here;
//! the same seed gives the same files on 1 and 2 threads; exact runs are unaffected.

use crate::common::{load, pricegrad, TUPPERWARE};
use pricegrad::run::{self, Discard};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

const MARKET: [&str; 3] = ["natgas", "ethylene", "polyethylene"];

/// `pricegrad run scenarios/tupperware.toml --no-timing --out DIR ARGS...`: the exit code,
/// stdout and the summary.
fn run_tupperware(dir: &Path, args: &[&str]) -> (i32, String, Value) {
    let out = pricegrad()
        .args(["run", "scenarios/tupperware.toml", "--no-timing", "--quiet", "--out"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let summary = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap(),
        summary,
    )
}

fn good<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["goods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["good"] == name)
        .unwrap()
}

/// Per good, the prices of `trajectory.csv` at ticks `first..=last`, in tick order.
fn window_prices(dir: &Path, first: u64, last: u64) -> BTreeMap<String, Vec<f64>> {
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut reader = csv::Reader::from_path(dir.join("trajectory.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (tick, good, price) = (col("tick"), col("good"), col("price"));
    for record in reader.records() {
        let r = record.unwrap();
        let t: u64 = r[tick].parse().unwrap();
        if (first..=last).contains(&t) {
            out.entry(r[good].to_string())
                .or_default()
                .push(r[price].parse().unwrap());
        }
    }
    out
}

#[test]
fn a_noisy_chain_ends_stationary_and_its_summary_agrees_with_its_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text, s) = run_tupperware(dir.path(), &["--set", "agents.noise=0.02"]);
    assert_eq!(s["outcome"], "stationary", "{text}");
    let ticks = s["ticks"].as_u64().unwrap();
    assert!(ticks <= 10_000, "{ticks} ticks: not well before max_ticks = 20000");
    assert_eq!(code, if s["pass"] == true { 0 } else { 1 }, "{text}");
    assert!(text.contains("STATIONARY"), "{text}");
    let w = &s["stationary"];
    let (first, last) = (w["first_tick"].as_u64().unwrap(), w["last_tick"].as_u64().unwrap());
    let (b, k) = (w["batch_ticks"].as_u64().unwrap(), w["batches"].as_u64().unwrap());
    assert_eq!(k, 32);
    assert_eq!(last + 1 - first, b * k);
    assert_eq!(last + 1, ticks, "the run ends with its window");
    let prices = window_prices(dir.path(), first, last);
    for name in MARKET {
        let g = good(&s, name);
        let p = &prices[name];
        assert_eq!(p.len() as u64, b * k, "{name}: every tick of the window is logged");
        // the mean of trajectory.csv over the window
        let mean: f64 = p.iter().sum::<f64>() / p.len() as f64;
        let reported = g["mean_price"].as_f64().unwrap();
        assert!((reported - mean).abs() <= 1e-13 * mean, "{name}: {reported} vs {mean}");
        // the 95% interval: batch means of the window, Student t with 31 degrees of freedom
        // (2.0395, from the tables)
        let means: Vec<f64> = p.chunks(b as usize).map(|c| c.iter().sum::<f64>() / b as f64).collect();
        let m = means.iter().sum::<f64>() / k as f64;
        let var = means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1) as f64;
        let half = 2.0395 * (var / k as f64).sqrt();
        let ci: Vec<f64> = g["mean_price_ci"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(
            ((ci[1] - ci[0]) / 2.0 - half).abs() <= 1e-4 * half,
            "{name}: half-width {} vs {half}",
            (ci[1] - ci[0]) / 2.0
        );
        assert!(ci[0] < reported && reported < ci[1]);
        // the bias is the mean price less backprop at the mean plans, inside its interval
        let bias = g["bias"].as_f64().unwrap();
        let adjoint = g["adjoint"].as_f64().unwrap();
        assert!((bias - (reported - adjoint)).abs() <= 1e-15 * reported, "{name}");
        let bci: Vec<f64> = g["bias_ci"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(bci[0] < bias && bias < bci[1], "{name}: {bias} {bci:?}");
        // noise of 2% moves prices by about 2%: an interval of 0.05% to 1% of the price
        let rel = half / mean;
        assert!((5e-4..1e-2).contains(&rel), "{name}: half-width {rel}");
    }
    // the fixed-price good has no mean price
    assert!(good(&s, "tupperware").get("mean_price").is_none());
}

#[test]
fn the_same_seed_gives_the_same_files_on_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--set", "agents.noise=0.03", "--set", "agents.activation=0.7"];
    let mut summaries = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(threads);
        let mut a = args.to_vec();
        a.extend(["--threads", threads]);
        let (_, text, s) = run_tupperware(&out, &a);
        assert_eq!(s["outcome"], "stationary", "{text}");
        summaries.push(s);
    }
    for f in [
        "summary.json",
        "trajectory.csv",
        "metrics.csv",
        "firms.csv",
        "convergence.png",
    ] {
        let a = std::fs::read(dir.path().join("1").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("2").join(f)).unwrap();
        assert!(a == b, "{f} differs between 1 and 2 threads");
    }
    // another seed, another window
    let (_, _, other) = run_tupperware(&dir.path().join("seed"), &[args.as_slice(), &["--seed", "7"]].concat());
    assert_ne!(other["goods"], summaries[0]["goods"]);
}

#[test]
fn an_exact_run_is_unaffected_and_skipping_ticks_alone_still_converges() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text, s) = run_tupperware(dir.path(), &[]);
    assert_eq!((code, s["outcome"].as_str()), (0, Some("converged")), "{text}");
    let json = std::fs::read_to_string(dir.path().join("summary.json")).unwrap();
    for key in ["mean_price", "bias", "stationary"] {
        assert!(!json.contains(&format!("\"{key}")), "{key} in an exact run's summary");
    }
    // firms that only skip ticks keep the equilibrium as a fixed point and reach it
    let (code, text, s) = run_tupperware(&dir.path().join("a"), &["--set", "agents.activation=0.8"]);
    assert_eq!((code, s["outcome"].as_str()), (0, Some("converged")), "{text}");
    assert!(text.contains("PASS") && !text.contains("STATIONARY"), "{text}");
}

#[test]
fn a_tolerance_wider_than_the_bias_passes_and_a_run_too_short_says_why() {
    let out = pricegrad()
        .args(["check", "scenarios/tupperware.toml", "--set", "agents.noise=0.02"])
        .args(["--set", "run.check_tolerance=0.05"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("STATIONARY PASS (adjoint, reference, dV/ds): the mean prices equal the gradient within"),
        "{text}"
    );
    // no room for a window: max_ticks, and the advice says which window failed how
    let dir = tempfile::tempdir().unwrap();
    let (code, text, s) = run_tupperware(
        dir.path(),
        &["--set", "agents.noise=0.02", "--set", "run.max_ticks=700"],
    );
    assert_eq!((code, s["outcome"].as_str()), (1, Some("max_ticks")), "{text}");
    let detail = s["stall"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("no stationary window was found: the last one (ticks 0–511"),
        "{detail}"
    );
    assert!(
        text.contains("help: noisy or intermittent firms") && text.contains(detail),
        "{text}"
    );
}

#[test]
fn noise_raises_mean_prices_most_at_the_top_of_the_chain() {
    // docs/NOISE.md: lognormal noise makes every firm bid as if its input cost e^{-noise^2}
    // of its price, and the error compounds up the chain; at 5% noise natgas, three firms from
    // the final good, is about 1.7% above its reference, ethylene 1.1%, polyethylene 0.5%
    let mut economy = load(TUPPERWARE);
    economy.agents.iter_mut().for_each(|a| a.noise = 0.05);
    let r = run::execute(economy, &mut Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(r.outcome, "stationary", "{}", r.outcome_detail);
    let above = |name: &str| {
        let g = r.goods.get(name).unwrap();
        let q = g.reference.unwrap();
        let [lo, hi] = g.mean_price_ci.unwrap();
        assert!(
            lo > q,
            "{name}: the interval [{lo}, {hi}] does not lie above the reference {q}"
        );
        g.mean_price.unwrap() / q - 1.0
    };
    let (n, e, p) = (above("natgas"), above("ethylene"), above("polyethylene"));
    assert!(n > e && e > p, "{n} {e} {p}");
    // the run is judged by its intervals: a bias this large fails check_tolerance 1e-6
    assert!(!r.pass);
    assert!(r.check("adjoint").is_some_and(|c| c.ran && !c.pass));
}

#[test]
fn a_noisy_run_with_a_shock_is_measured_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = pricegrad()
        .args(["run", "scenarios/tupperware_shock.toml", "--no-timing", "--quiet"])
        .args(["--set", "agents.noise=0.02", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let s: Value = serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["outcome"], "stationary", "{}", String::from_utf8_lossy(&out.stdout));
    // the shock (tupperware's price doubles at tick 300) is before the windows
    assert!(s["stationary"]["first_tick"].as_u64().unwrap() > 300);
    // after it every price is about twice the essay's: natgas 1/12
    let g = good(&s, "natgas");
    assert!((g["mean_price"].as_f64().unwrap() * 12.0 - 1.0).abs() < 0.02);
}

/// A sweep of noisy runs counts its stationary runs, and so does the merge of its shards.
#[test]
fn sweeps_and_merges_count_stationary_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = |shard: &str| {
        let out = pricegrad()
            .args(["sweep", "scenarios/tupperware.toml", "--no-timing", "--param"])
            .args(["agents.noise=0.02,0.03", "--shard", shard, "--out"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(sweep("1/2").contains("0 converged, 1 stationary"));
    sweep("2/2");
    let out = pricegrad()
        .arg("merge")
        .arg(dir.path())
        .arg("--no-timing")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("2 runs: 0 converged, 2 stationary, 0 diverged"),
        "{stdout}"
    );
}
