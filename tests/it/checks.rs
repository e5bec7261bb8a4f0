//! The final checks at scale: finite differences of V accurate on generated economies with
//! split goods, the deterministic sample of goods they cover in big economies, `run`'s short
//! stdout for big economies, `gradient` on economies that are not trees, and verdicts that
//! name the checks they ran (a skipped check is never silent).

use crate::common::{generated_text, load, pricegrad, rel};
use pricegrad::check::reference;
use pricegrad::economy::Economy;
use pricegrad::generate::Family;
use pricegrad::run::{self, FD_ALL_UP_TO, FD_WORST};
use pricegrad::scenario;
use std::fs;
use std::sync::atomic::AtomicBool;

/// `generate --layers 4 --width 30 --inputs 3` (half the goods below the top split between
/// several users): dV/ds by finite differences matches the reference price of every one of
/// the 120 goods with a market to 1e-7 (it was 1e-6 with plain central differences at
/// h = 1e-4 of the flow, and failed on a 1,000-firm economy).
#[test]
fn finite_differences_match_the_prices_of_every_good_of_generated_economies() {
    for (seed, family) in [(1, Family::CobbDouglas), (2, Family::Ces)] {
        let e = load(&generated_text(4, 30, 3, seed, family));
        let eq = reference::solve(&e).unwrap_or_else(|err| panic!("seed {seed}: {err}"));
        let d = reference::envelope(&e, &eq).unwrap_or_else(|err| panic!("seed {seed}: {err}"));
        let mut checked = 0;
        let mut worst: f64 = 0.0;
        assert_eq!(d.len(), e.goods.len());
        for (g, dg) in d.iter().enumerate() {
            let market = !e.goods.fixed[g] && !e.goods.uses(g).is_empty();
            assert_eq!(dg.is_some(), market, "{}", &e.goods.name[g]);
            if let Some(dv) = *dg {
                let err = rel(dv, eq.prices[g]);
                assert!(
                    err <= 1e-7,
                    "seed {seed}: dV/ds_{} = {dv:.15e}, price {:.15e} (relative error {err:.1e})",
                    &e.goods.name[g],
                    eq.prices[g]
                );
                worst = worst.max(err);
                checked += 1;
            }
        }
        assert_eq!(checked, 120);
        eprintln!("seed {seed}: largest relative error of dV/ds {worst:.1e} over {checked} goods");
    }
}

/// Asking for some goods computes those (and only those).
#[test]
fn finite_differences_on_chosen_goods() {
    let e = load(&generated_text(3, 10, 2, 3, Family::CobbDouglas));
    let eq = reference::solve(&e).unwrap();
    let names = ["g0_1", "g1_7", "g2_0", "g3_4"]; // g3_* are fixed-price goods
    let want: Vec<usize> = names.iter().map(|n| e.goods.index(n).unwrap()).collect();
    let d = reference::envelope_for(&e, &eq, &want).unwrap();
    for (g, dg) in d.iter().enumerate() {
        let expected = want.contains(&g) && !e.goods.fixed[g];
        assert_eq!(dg.is_some(), expected, "{}", &e.goods.name[g]);
        if let Some(dv) = *dg {
            assert!(rel(dv, eq.prices[g]) <= 1e-7, "{}", &e.goods.name[g]);
        }
    }
}

/// Few goods: all of them. Many: the FD_WORST largest disagreements, then evenly spaced
/// goods, FD_ALL_UP_TO in all, sorted, the same every time.
#[test]
fn the_sample_of_goods_is_deterministic_and_as_documented() {
    let few: Vec<usize> = (0..FD_ALL_UP_TO).map(|i| 3 * i + 1).collect();
    assert_eq!(run::fd_sample(&few, &vec![0.0; few.len()]), few);

    let n = 1000;
    let goods: Vec<usize> = (0..n).map(|i| i + 100).collect();
    // disagreements: a few large ones scattered, one NaN (counts as the largest)
    let mut dis: Vec<f64> = (0..n).map(|i| 1e-12 * (i % 7) as f64).collect();
    let loud = [3, 77, 78, 500, 501, 502, 640, 900, 998, 999];
    for (j, &i) in loud.iter().enumerate() {
        dis[i] = 1e-3 * (j + 1) as f64;
    }
    dis[250] = f64::NAN;
    let s = run::fd_sample(&goods, &dis);
    assert_eq!(s.len(), FD_ALL_UP_TO);
    assert!(s.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
    assert_eq!(s, run::fd_sample(&goods, &dis), "deterministic");
    // the NaN and the 9 loudest (the quietest of the ten loud ones loses to the NaN)
    assert!(s.contains(&(250 + 100)));
    for &i in &loud[1..] {
        assert!(s.contains(&(i + 100)), "good {i} disagrees most");
    }
    assert_eq!(FD_WORST, 10);
    // the other 30 spread evenly: no gap between consecutive sampled goods wider than two
    // spacings
    let spacing = n / (FD_ALL_UP_TO - FD_WORST);
    let mut last = 100;
    for &g in &s {
        assert!(g - last <= 2 * spacing, "gap {last}..{g}");
        last = g;
    }
    assert!(100 + n - 1 - last <= spacing);
}

/// A run on an economy with more than FD_ALL_UP_TO goods computes dV/ds on the sample
/// only, says so, and the unsampled goods are not failed for it.
#[test]
fn runs_check_a_sample_of_big_economies_and_every_good_of_small_ones() {
    let e = load(&generated_text(4, 30, 3, 1, Family::CobbDouglas));
    let r = run::execute(e, &mut run::Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert!(r.pass, "{}", r.outcome_detail);
    assert_eq!(r.envelope_goods_checkable, 120);
    assert_eq!(r.envelope_goods_checked, FD_ALL_UP_TO);
    assert_eq!(r.goods.iter().filter(|g| g.envelope.is_some()).count(), FD_ALL_UP_TO);
    assert_eq!(
        r.goods.iter().filter(|g| g.error_envelope.is_some()).count(),
        FD_ALL_UP_TO
    );
    assert!(
        r.envelope_selection.contains("evenly spaced"),
        "{}",
        r.envelope_selection
    );
    assert!(r.max_error_envelope.unwrap() <= 1e-7);

    let small = scenario::load(Some(std::path::Path::new("scenarios/diamond.toml")), &[], None)
        .unwrap()
        .0;
    let r = run::execute(small, &mut run::Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert!(r.pass);
    assert_eq!(r.envelope_selection, "all");
    assert_eq!(r.envelope_goods_checked, 3);
    assert_eq!(r.envelope_goods_checkable, 3);
}

/// Big economy: a short stdout (the worst goods, one line per check, where the rest is),
/// ending with the verdict; summary.json has every good and says which were sampled.
#[test]
fn run_prints_a_short_summary_of_a_big_economy_ending_with_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.toml");
    fs::write(&file, generated_text(4, 30, 3, 1, Family::CobbDouglas)).unwrap();
    let out = dir.path().join("out");
    let assert = pricegrad()
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() <= 30, "{} lines:\n{stdout}", lines.len());
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("PASS (adjoint, reference, dV/ds on 40 of 120 goods): "),
        "{stdout}"
    );
    for want in [
        "120 market goods; the 15 with the largest errors",
        "summary.json",
        "adjoint (backprop at the final allocation): largest relative error",
        "over 120 goods",
        "over 40 of 120 goods",
    ] {
        assert!(stdout.contains(want), "missing {want:?}:\n{stdout}");
    }
    let summary: serde_json::Value = serde_json::from_slice(&fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["envelope_goods_checked"], 40);
    assert_eq!(summary["envelope_goods_checkable"], 120);
    let goods = summary["goods"].as_array().unwrap();
    assert_eq!(goods.len(), 150);
    assert_eq!(goods.iter().filter(|g| !g["envelope"].is_null()).count(), 40);

    // small economy: the full table, the verdict still last
    let assert = pricegrad()
        .args(["run", "scenarios/diamond.toml", "--quiet", "--out"])
        .arg(dir.path().join("diamond"))
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for good in ["ore", "alloy", "wire"] {
        assert!(stdout.lines().any(|l| l.starts_with(good)), "{good}:\n{stdout}");
    }
    assert!(stdout.contains("over 3 goods"), "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("PASS (adjoint, reference, dV/ds): "),
        "{stdout}"
    );
}

fn gradient_json(file: &std::path::Path) -> serde_json::Value {
    let out = pricegrad().arg("gradient").arg(file).arg("--json").assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// The adjoint of each market good in `gradient --json` output.
fn adjoints(v: &serde_json::Value, e: &Economy) -> Vec<(usize, f64)> {
    v["goods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["fixed_price"] == false)
        .map(|g| {
            let i = e.goods.index(g["good"].as_str().unwrap()).unwrap();
            (i, g["adjoint"].as_f64().unwrap())
        })
        .collect()
}

/// Economies that are not trees (a good with several users): the gradient is backprop at
/// the reference solver's optimum, and it equals the prices the simulated market converges
/// to (an independent computation) and the reference prices. Trees keep the forward pass.
#[test]
fn gradient_works_on_economies_that_are_not_trees() {
    let diamond = std::path::Path::new("scenarios/diamond.toml");
    let v = gradient_json(diamond);
    assert_eq!(v["method"], "reference");
    let e = scenario::load(Some(diamond), &[], None).unwrap().0;
    let r = run::execute(e.clone(), &mut run::Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert!(r.pass);
    let eq = reference::solve(&e).unwrap();
    let adj = adjoints(&v, &e);
    assert_eq!(adj.len(), 3);
    for (g, a) in adj {
        assert!(
            rel(a, r.goods[g].price) <= 1e-6,
            "{}: {a} vs market {}",
            &e.goods.name[g],
            r.goods[g].price
        );
        assert!(
            rel(a, eq.prices[g]) <= 1e-9,
            "{}: {a} vs reference {}",
            &e.goods.name[g],
            eq.prices[g]
        );
    }
    let out = pricegrad()
        .args(["gradient", "scenarios/diamond.toml"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains("reference solver") && text.contains("'ore' has several users"),
        "{text}"
    );

    let v = gradient_json(std::path::Path::new("scenarios/tupperware.toml"));
    assert_eq!(v["method"], "forward");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gen.toml");
    let text = generated_text(3, 10, 2, 5, Family::CobbDouglas);
    fs::write(&file, &text).unwrap();
    let e = load(&text);
    let v = gradient_json(&file);
    assert_eq!(v["method"], "reference");
    let r = run::execute(e.clone(), &mut run::Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert!(r.pass, "{}", r.outcome_detail);
    let adj = adjoints(&v, &e);
    assert_eq!(adj.len(), 30);
    for (g, a) in adj {
        assert!(
            rel(a, r.goods[g].price) <= 1e-6,
            "{}: {a} vs market {}",
            &e.goods.name[g],
            r.goods[g].price
        );
    }
}

/// The essay's chain with firm C's production wrapped in a `min` that never binds: the
/// market converges as on the plain chain, but the reference solver does not take `min`
/// (not smooth), so the reference and dV/ds checks cannot run.
fn chain_with_min() -> String {
    let text = include_str!("../../scenarios/tupperware.toml");
    let (from, to) = ("\"ln(polyethylene)\"", "\"min(ln(polyethylene), 100)\"");
    assert_eq!(text.matches(from).count(), 1, "firm C's production in tupperware.toml");
    text.replace(from, to)
}

/// A skipped check fails the run under the default `--require all`, with its reason on the
/// verdict line; `--require adjoint` passes it and still says what was skipped and why.
/// summary.json lists the three checks with `ran`, `goods`, `max_error`, `reason`.
#[test]
fn a_skipped_check_is_named_in_the_verdict_and_fails_unless_only_the_adjoint_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chain_min.toml");
    fs::write(&file, chain_with_min()).unwrap();

    let out = pricegrad().arg("check").arg(&file).assert().code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains(": FAIL (adjoint only; --require all needs every check"),
        "{stdout}"
    );
    assert!(stdout.contains("reference and dV/ds skipped: "), "{stdout}");
    assert!(
        stdout.contains("min"),
        "the reason names what the solver cannot take:\n{stdout}"
    );

    let out = pricegrad()
        .arg("check")
        .arg(&file)
        .args(["--require", "adjoint"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains(": PASS (adjoint only; reference and dV/ds skipped: "),
        "{stdout}"
    );

    let dest = dir.path().join("out");
    pricegrad()
        .arg("run")
        .arg(&file)
        .args(["--quiet", "--require", "adjoint", "--out"])
        .arg(&dest)
        .assert()
        .success();
    let summary: serde_json::Value = serde_json::from_slice(&fs::read(dest.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["require"], "adjoint");
    assert_eq!(summary["pass"], true);
    let checks = summary["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["check"].as_str().unwrap()).collect();
    assert_eq!(names, ["adjoint", "reference", "envelope"]);
    assert_eq!(checks[0]["ran"], true);
    assert_eq!(checks[0]["goods"], 3);
    assert!(checks[0]["max_error"].as_f64().unwrap() < 1e-6);
    for c in &checks[1..] {
        assert_eq!(c["ran"], false, "{c}");
        assert_eq!(c["goods"], 0, "{c}");
        assert!(c["max_error"].is_null(), "{c}");
        assert!(!c["reason"].as_str().unwrap().is_empty(), "{c}");
    }
}

/// A run stopped early by a loose tolerance fails its checks, and the verdict says which
/// check, at which good, by how much, against which tolerance.
#[test]
fn a_failed_check_is_explained_in_one_line() {
    let out = pricegrad()
        .args(["check", "scenarios/tupperware.toml", "--set", "run.tolerance=1e-3"])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let line = stdout.trim();
    assert!(line.contains(": FAIL: adjoint check: the price of "), "{line}");
    assert!(line.contains("differs from its backprop adjoint"), "{line}");
    assert!(line.contains("(check_tolerance 1e-6)"), "{line}");
    let good = ["natgas", "ethylene", "polyethylene"]
        .into_iter()
        .find(|g| line.contains(&format!("the price of {g},")));
    assert!(good.is_some(), "names a good: {line}");

    // every check ran and all three are reported in summary.json's terms: the verdict of a
    // passing run names them
    let out = pricegrad()
        .args(["check", "scenarios/tupperware.toml"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains(": PASS (adjoint, reference, dV/ds): "), "{stdout}");
}

/// `gradient` shows what the planner's firms use of a fixed-price input: on labour_wage the
/// farm hires labour at the wage, and V is the value of output less the wage bill.
#[test]
fn gradient_shows_the_planners_use_of_fixed_price_inputs() {
    let v = gradient_json(std::path::Path::new("scenarios/labour_wage.toml"));
    let goods = v["goods"].as_array().unwrap();
    let good = |n: &str| goods.iter().find(|g| g["good"] == n).unwrap().clone();
    let labour = good("labour");
    let meal = good("meal");
    let used = labour["used"].as_f64().unwrap();
    assert!(used > 0.1, "labour used {used}");
    let wage = labour["adjoint"].as_f64().unwrap();
    let value = v["value"].as_f64().unwrap();
    let made = meal["supplied"].as_f64().unwrap() * meal["adjoint"].as_f64().unwrap();
    assert!(
        rel(value, made - wage * used) < 1e-9,
        "V {value} vs {made} - {wage} * {used}"
    );
}
