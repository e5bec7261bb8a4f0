//! A run as a record: the effective `scenario.toml` reproduces it, `summary.json` says what
//! produced it, `firms.csv` holds the final quantities, and a directory that held another run
//! says so when it is replaced.

use crate::common::pricegrad;
use std::path::Path;

/// `summary.json` without its `provenance` (which names the file that was run).
fn summary_without_provenance(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("provenance");
    v
}

/// The TOML of a `scenario.toml`, without its comment header.
fn body(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("scenario.toml")).unwrap();
    text.lines()
        .skip_while(|l| l.starts_with('#') || l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_effective_scenario_reproduces_the_run_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, again) = (tmp.path().join("first"), tmp.path().join("again"));
    // overrides of a good, the market, a firm's production, and a seed from the command line
    pricegrad()
        .args(["run", "scenarios/diamond.toml", "--no-timing", "--seed", "7", "--out"])
        .arg(&first)
        .args([
            "--set",
            "goods.ore.endowment=5",
            "--set",
            "market.step=0.3",
            "--set",
            "firms.Right.production=sqrt(ore) * 1.5",
        ])
        .assert()
        .success();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.join("summary.json")).unwrap()).unwrap();
    let p = &summary["provenance"];
    assert_eq!(p["scenario_file"], "scenarios/diamond.toml");
    assert_eq!(p["sets"][2], "firms.Right.production=sqrt(ore) * 1.5");
    assert_eq!(p["effective_scenario"], "scenario.toml");
    let sha = p["scenario_sha256"].as_str().unwrap();
    assert_eq!(
        sha,
        pricegrad::scenario::sha256_file(Path::new("scenarios/diamond.toml")).unwrap()
    );
    assert_eq!(summary["seed"], 7);

    pricegrad()
        .args(["run", "--no-timing", "--out"])
        .arg(&again)
        .arg(first.join("scenario.toml"))
        .assert()
        .success();
    for file in ["trajectory.csv", "metrics.csv", "firms.csv", "convergence.png"] {
        let (a, b) = (
            std::fs::read(first.join(file)).unwrap(),
            std::fs::read(again.join(file)).unwrap(),
        );
        assert!(a == b, "{file} differs");
    }
    assert_eq!(summary_without_provenance(&first), summary_without_provenance(&again));
    // the effective scenario of the effective scenario is itself
    assert_eq!(body(&first), body(&again));
    // and it differs from a run without the overrides (the test could fail)
    let plain = tmp.path().join("plain");
    pricegrad()
        .args(["run", "scenarios/diamond.toml", "--no-timing", "--seed", "7", "--out"])
        .arg(&plain)
        .assert()
        .success();
    assert_ne!(
        std::fs::read(plain.join("trajectory.csv")).unwrap(),
        std::fs::read(first.join("trajectory.csv")).unwrap()
    );
}

/// The essay's economy shows how much natgas, ethylene and polyethylene flow: 4, 2 and 2/3
/// (A's sqrt(4) = 2 ethylene; B's 1 - 1/(2 + 1) = 2/3 polyethylene), and each firm's profit
/// is its revenue minus its cost at the final prices.
#[test]
fn firms_csv_holds_the_essays_flows() {
    let tmp = tempfile::tempdir().unwrap();
    pricegrad()
        .args(["run", "--no-timing", "--out"])
        .arg(tmp.path())
        .assert()
        .success();
    let mut rows = csv::Reader::from_path(tmp.path().join("firms.csv")).unwrap();
    let rows: Vec<pricegrad::output::rows::FirmRow> = rows.deserialize().map(|r| r.unwrap()).collect();
    let flow = |firm: &str, role: &str, good: &str| {
        rows.iter()
            .find(|r| r.firm == firm && r.role == role && r.good == good)
            .unwrap_or_else(|| panic!("no row {firm} {role} {good}"))
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(flow("A", "input", "natgas").quantity, 4.0));
    assert!(close(flow("A", "output", "ethylene").quantity, 2.0));
    assert!(close(flow("B", "input", "ethylene").quantity, 2.0));
    assert!(close(flow("B", "output", "polyethylene").quantity, 2.0 / 3.0));
    assert!(close(flow("C", "input", "polyethylene").quantity, 2.0 / 3.0));
    assert!(close(flow("A", "input", "natgas").price, 1.0 / 24.0));
    for firm in ["A", "B", "C"] {
        let mine: Vec<_> = rows.iter().filter(|r| r.firm == firm).collect();
        let revenue: f64 = mine.iter().filter(|r| r.role == "output").map(|r| r.value).sum();
        let cost: f64 = mine.iter().filter(|r| r.role == "input").map(|r| r.value).sum();
        assert!((mine[0].profit - (revenue - cost)).abs() < 1e-12, "{firm}");
        assert_eq!(mine[0].count, 1);
    }
    assert_eq!(rows.len(), 6);
}

#[test]
fn replacing_another_runs_files_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |sets: &[&str]| {
        let mut cmd = pricegrad();
        cmd.args(["run", "--no-timing", "--out"]).arg(tmp.path());
        for s in sets {
            cmd.args(["--set", s]);
        }
        let out = cmd.assert().success().get_output().clone();
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(!run(&[]).contains("held a run"));
    // the same run again replaces nothing worth a note
    assert!(!run(&[]).contains("held a run"));
    let e = run(&["goods.natgas.endowment=5"]);
    assert!(e.contains("held a run of no --set"), "{e}");
    let e = run(&["goods.natgas.endowment=6"]);
    assert!(e.contains("held a run of --set goods.natgas.endowment=5"), "{e}");
    let summary = std::fs::read_to_string(tmp.path().join("summary.json")).unwrap();
    assert!(summary.contains("goods.natgas.endowment=6"));
}

#[test]
fn a_production_set_is_checked_like_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // a family as an inline table, and an expression
    for value in [
        "{ cobb_douglas = { exponents = { natgas = 0.5 } } }",
        "\"sqrt(natgas) * 2\"",
    ] {
        pricegrad()
            .args(["check", "--set", &format!("firms.A.production={value}")])
            .assert()
            .success();
    }
    // an error is reported at the argument, with the file's message and help; nothing written
    let assert = pricegrad()
        .args(["run", "--set", "firms.A.production=natgas^2", "--out"])
        .arg(&out)
        .assert()
        .code(2);
    let e = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(
        e.contains("is not concave") && e.contains("(from --set firms.A.production=natgas^2)"),
        "{e}"
    );
    assert!(!out.exists());
    let assert = pricegrad()
        .args(["check", "--set", "firms.A.production=sqrt(natgs)"])
        .assert()
        .code(2);
    let e = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(e.contains("'natgs'") && e.contains("did you mean 'natgas'?"), "{e}");
    let assert = pricegrad()
        .args(["check", "--set", "firms.A.production={ cobb = 1 }"])
        .assert()
        .code(2);
    let e = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(e.contains("unknown variant `cobb`"), "{e}");
}
