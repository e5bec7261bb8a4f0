//! The binary as a researcher uses it: commands, exit codes, files written, and one test per
//! kind of bad scenario (exit code 2, the place in the file, the fix, nothing written).

use crate::common::{pricegrad, TUPPERWARE};
use std::fs;
use std::path::Path;

/// Run `pricegrad run` on a scenario text; return (exit code, stderr) and check that the
/// output directory was not created.
fn run_bad(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let assert = pricegrad()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .assert();
    let output = assert.get_output();
    let code = output.status.code().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !out.exists(),
        "bad input must write nothing, but {} exists",
        out.display()
    );
    (code, stderr)
}

/// The scenario with `from` replaced by `to` (which must occur).
fn edit(from: &str, to: &str) -> String {
    assert!(TUPPERWARE.contains(from), "test bug: {from:?} not in the scenario");
    TUPPERWARE.replacen(from, to, 1)
}

/// Line (1-based) of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

#[track_caller]
fn expect_error(text: &str, line_needle: &str, words: &[&str]) {
    let (code, err) = run_bad(text);
    assert_eq!(code, 2, "exit code for bad input; stderr:\n{err}");
    let line = line_of(text, line_needle);
    assert!(
        err.contains(&format!("bad.toml:{line}:")),
        "expected a location on line {line}:\n{err}"
    );
    assert!(err.contains("help:"), "every error says how to fix it:\n{err}");
    for w in words {
        assert!(err.contains(w), "expected {w:?} in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn toml_syntax_error() {
    expect_error(&edit("step = 0.5", "step = = 0.5"), "step = = 0.5", &["step"]);
}

#[test]
fn unknown_key_with_suggestion() {
    expect_error(
        &edit("rate = 0.5", "rat = 0.5"),
        "rat = 0.5",
        &["unknown field", "did you mean 'rate'"],
    );
}

#[test]
fn wrong_type() {
    expect_error(
        &edit("step = 0.5", "step = \"fast\""),
        "step = \"fast\"",
        &["invalid type"],
    );
}

#[test]
fn unknown_good_with_suggestion() {
    let text = edit("output = \"ethylene\"", "output = \"ethylen\"");
    expect_error(
        &text,
        "output = \"ethylen\"",
        &["unknown good 'ethylen'", "did you mean 'ethylene'"],
    );
}

#[test]
fn unknown_good_in_an_expression_points_into_the_expression() {
    let text = edit(
        "production = \"1 - 1/(ethylene + 1)\"",
        "production = \"1 - 1/(etylene + 1)\"",
    );
    let (code, err) = run_bad(&text);
    assert_eq!(code, 2);
    let line = line_of(&text, "etylene");
    // column of 'etylene' inside the line (1-based)
    let col = text.lines().nth(line - 1).unwrap().find("etylene").unwrap() + 1;
    assert!(err.contains(&format!("bad.toml:{line}:{col}")), "{err}");
    assert!(err.contains("did you mean 'ethylene'"), "{err}");
}

#[test]
fn duplicate_firm_name() {
    let text = edit("name = \"B\"", "name = \"A\"");
    let (code, err) = run_bad(&text);
    assert_eq!(code, 2);
    assert!(err.contains("duplicate firm name 'A'"), "{err}");
    assert!(err.contains("first used on line"), "{err}");
}

#[test]
fn cycle_is_printed() {
    // A also needs polyethylene: natgas, polyethylene -> A -> ethylene -> B -> polyethylene
    let text = edit(
        "production = \"sqrt(natgas)\"",
        "production = \"sqrt(natgas) + sqrt(polyethylene)\"",
    );
    let (code, err) = run_bad(&text);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cycle"), "{err}");
    assert!(
        err.contains("ethylene -> B -> polyethylene -> A -> ethylene")
            || err.contains("polyethylene -> A -> ethylene -> B -> polyethylene"),
        "{err}"
    );
}

#[test]
fn endogenous_good_without_a_source() {
    let text = edit("[goods.natgas]\nendowment = 4.0", "[goods.natgas]");
    expect_error(&text, "[goods.natgas]", &["no source", "endowment"]);
}

#[test]
fn no_fixed_price_good() {
    let text = edit("price = 1.0", "endowment = 1.0");
    let (code, err) = run_bad(&text);
    assert_eq!(code, 2);
    assert!(err.contains("no good has a fixed price"), "{err}");
    assert!(err.contains("bad.toml"), "{err}");
}

#[test]
fn negative_and_non_finite_numbers() {
    expect_error(
        &edit("endowment = 4.0", "endowment = -4.0"),
        "endowment = -4.0",
        &["endowment", "-4"],
    );
    expect_error(
        &edit("endowment = 4.0", "endowment = nan"),
        "endowment = nan",
        &["finite"],
    );
    expect_error(&edit("step = 0.5", "step = inf"), "step = inf", &["finite"]);
    expect_error(&edit("step = 0.5", "step = 1e400"), "step = 1e400", &[]);
}

#[test]
fn expression_syntax_error_has_its_position() {
    let text = edit("production = \"sqrt(natgas)\"", "production = \"sqrt(natgas\"");
    expect_error(&text, "sqrt(natgas\"", &["production of firm 'A'"]);
}

#[test]
fn non_concave_production() {
    let text = edit("production = \"sqrt(natgas)\"", "production = \"natgas^2\"");
    expect_error(&text, "natgas^2", &["not concave"]);
}

#[test]
fn decreasing_production() {
    let text = edit("production = \"sqrt(natgas)\"", "production = \"1/natgas\"");
    expect_error(&text, "1/natgas", &["decreases"]);
}

#[test]
fn no_firms() {
    let cut = TUPPERWARE.find("[[firms]]").unwrap();
    let rest = &TUPPERWARE[cut..];
    let market = rest.find("[market]").unwrap();
    let text = format!("{}{}", &TUPPERWARE[..cut], &rest[market..]);
    let (code, err) = run_bad(&text);
    assert_eq!(code, 2);
    assert!(err.contains("no firms"), "{err}");
}

#[test]
fn bad_set_path_and_value() {
    let out = pricegrad()
        .args(["check", "--set", "market.stepp=0.2"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("did you mean 'market.step'"), "{err}");
    let out = pricegrad().args(["check", "--set", "market.step=-1"]).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("--set market.step=-1"), "{err}");
}

#[test]
fn missing_file() {
    let out = pricegrad().args(["run", "no/such/file.toml"]).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("no/such/file.toml") && err.contains("help:"), "{err}");
}

#[test]
fn gradient_prints_the_essays_numbers() {
    let out = pricegrad()
        .args(["gradient", "scenarios/tupperware.toml"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for want in ["0.0416666667", "0.1666666667", "1.5000000000"] {
        assert!(text.contains(want), "{text}");
    }
    let out = pricegrad()
        .args(["gradient", "scenarios/tupperware.toml", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let natgas = v["goods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["good"] == "natgas")
        .unwrap();
    assert!((natgas["adjoint"].as_f64().unwrap() - 1.0 / 24.0).abs() < 1e-12);
}

#[test]
fn validate_accepts_the_shipped_scenarios() {
    for entry in fs::read_dir("scenarios").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            pricegrad().arg("validate").arg(&path).assert().success();
        }
    }
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn run_writes_its_files_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    let assert = pricegrad()
        .args(["run", "scenarios/tupperware.toml", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("PASS"), "{stdout}");
    let names: Vec<String> = files_of(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            ".pricegrad",
            "convergence.png",
            "firms.csv",
            "metrics.csv",
            "scenario.toml",
            "summary.json",
            "trajectory.csv"
        ]
    );
    let summary: serde_json::Value = serde_json::from_slice(&fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["outcome"], "converged");
    assert_eq!(summary["pass"], true);
}

#[test]
fn files_are_bit_identical_for_any_thread_count_with_noise_and_activation() {
    // 40 replicas of two firms with noise and random activation exercise every parallel path.
    let text = TUPPERWARE
        .replace(
            "production = \"sqrt(natgas)\"",
            "production = \"sqrt(natgas)\"\ncount = 40\nproductivity_spread = 0.1",
        )
        .replace(
            "production = \"1 - 1/(ethylene + 1)\"",
            "production = \"1 - 1/(ethylene + 1)\"\ncount = 40",
        )
        .replace("rate = 0.5\n", "rate = 0.5\nnoise = 0.01\nactivation = 0.7\n")
        .replace("max_ticks = 20000", "max_ticks = 120");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("noisy.toml");
    fs::write(&file, text).unwrap();
    let mut results = Vec::new();
    for threads in ["1", "2", "8"] {
        let out = dir.path().join(format!("t{threads}"));
        pricegrad()
            .arg("run")
            .arg(&file)
            .args(["--quiet", "--no-timing", "--threads", threads, "--out"])
            .arg(&out)
            .assert()
            .code(1);
        results.push(files_of(&out));
    }
    assert!(
        results[0] == results[1] && results[1] == results[2],
        "outputs differ between thread counts"
    );
    let traj = String::from_utf8_lossy(&results[0].iter().find(|(n, _)| n == "trajectory.csv").unwrap().1).into_owned();
    assert!(traj.lines().count() > 120);
    assert!(!traj.contains("NaN") && !traj.contains("inf"));
}

#[test]
fn diverged_run_exits_1_and_writes_no_nan() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    pricegrad()
        .args([
            "run",
            "scenarios/tupperware.toml",
            "--quiet",
            "--set",
            "market.step=1000",
            "--out",
        ])
        .arg(&out)
        .assert()
        .code(1);
    for (name, bytes) in files_of(&out) {
        if name.ends_with(".csv") || name.ends_with(".json") {
            let text = String::from_utf8(bytes).unwrap();
            assert!(
                !text.contains("NaN") && !text.contains("inf"),
                "{name} has a non-finite value"
            );
        }
    }
    let summary: serde_json::Value = serde_json::from_slice(&fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["outcome"], "diverged");
}

#[test]
fn check_prints_the_verdict_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let assert = pricegrad().current_dir(dir.path()).args(["check"]).assert().success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("PASS"), "{stdout}");
    assert!(fs::read_dir(dir.path()).unwrap().next().is_none(), "check wrote files");
}

#[test]
fn charts_are_reproducible_and_plot_redraws_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        pricegrad()
            .args(["run", "--quiet", "--chart-size", "800x600", "--out"])
            .arg(out)
            .assert()
            .success();
    }
    let png = fs::read(a.join("convergence.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height, big-endian, at bytes 16..24
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 800);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 600);
    assert_eq!(
        png,
        fs::read(b.join("convergence.png")).unwrap(),
        "two runs gave different charts"
    );
    fs::remove_file(a.join("convergence.png")).unwrap();
    pricegrad()
        .arg("plot")
        .arg(&a)
        .args(["--chart-size", "800x600"])
        .assert()
        .success();
    assert_eq!(
        png,
        fs::read(a.join("convergence.png")).unwrap(),
        "plot did not reproduce the run's chart"
    );
}

#[test]
fn plot_rejects_missing_and_truncated_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = pricegrad().arg("plot").arg(dir.path().join("nope")).assert().code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("not a directory"));
    let run = dir.path().join("r");
    pricegrad()
        .args(["run", "--quiet", "--out"])
        .arg(&run)
        .assert()
        .success();
    let traj = fs::read_to_string(run.join("trajectory.csv")).unwrap();
    fs::write(run.join("trajectory.csv"), &traj[..traj.len() / 2 - 7]).unwrap();
    let out = pricegrad().arg("plot").arg(&run).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("trajectory.csv") && err.contains("line"), "{err}");
}

#[test]
fn sigint_stops_at_the_end_of_a_tick_and_keeps_the_run_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("i");
    let bin = assert_cmd::cargo::cargo_bin("pricegrad");
    // A run that never converges (a market step so small that the firms' steps make prices
    // cycle) and does not run out of ticks soon. (A noisy run would end stationary.)
    let child = std::process::Command::new(bin)
        .args([
            "run",
            "scenarios/tupperware.toml",
            "--quiet",
            "--set",
            "market.step=0.0001",
        ])
        // every tick logged (a default cadence would thin a run this long)
        .args(["--set", "run.max_ticks=1000000000", "--set", "log.every=1", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // wait until the run is under way (its temporary trajectory file .trajectory.csv.PID.tmp exists)
    let temporary = |out: &Path| {
        fs::read_dir(out).into_iter().flatten().flatten().any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with('.') && n.ends_with(".tmp")
        })
    };
    for _ in 0..200 {
        if temporary(&out) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["outcome"], "interrupted");
    let ticks = summary["ticks"].as_u64().unwrap();
    let metrics = fs::read_to_string(out.join("metrics.csv")).unwrap();
    // one row per tick (log.every = 1), the header, and nothing torn
    assert_eq!(metrics.lines().count() as u64, ticks + 1);
    assert!(!temporary(&out), "temporary files are renamed into place");
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    )
}

#[test]
fn diverged_and_shocked_runs_get_charts_of_the_asked_size() {
    let dir = tempfile::tempdir().unwrap();
    for (name, code, args) in [
        (
            "diverged",
            1,
            vec!["run", "scenarios/tupperware.toml", "--set", "market.step=1000"],
        ),
        ("shocked", 0, vec!["run", "scenarios/tupperware_shock.toml"]),
    ] {
        let mut pngs = Vec::new();
        for i in 0..2 {
            let out = dir.path().join(format!("{name}{i}"));
            pricegrad()
                .args(&args)
                .args(["--quiet", "--chart-size", "1000x700", "--out"])
                .arg(&out)
                .assert()
                .code(code);
            pngs.push(fs::read(out.join("convergence.png")).unwrap());
        }
        assert_eq!(png_size(&pngs[0]), (1000, 700), "{name}");
        assert_eq!(pngs[0], pngs[1], "{name}: two runs drew different charts");
    }
}

/// A run out of ticks is told which way to change its steps, from what its last ticks did
/// (`stall` in summary.json): the optimistic rule at rate 0.5 cycles (smaller steps), a tiny
/// market step is still converging (more ticks or larger steps, with an estimate), noisy firms
/// never meet the tolerance and found no stationary window in so few ticks.
#[test]
fn advice_after_max_ticks_follows_what_the_run_did() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str, &str); 3] = [
        (
            &["agents.rule=optimistic", "agents.rate=0.5"],
            "not_converging",
            "agents.rate <= 0.2 for the optimistic rule",
        ),
        (&["market.step=0.0005"], "still_converging", "more ticks"),
        (&["agents.noise=0.02"], "noisy", "no stationary window was found"),
    ];
    for (i, (sets, kind, advice)) in cases.iter().enumerate() {
        let out = dir.path().join(i.to_string());
        let mut cmd = pricegrad();
        cmd.args([
            "run",
            "scenarios/tupperware.toml",
            "--quiet",
            "--set",
            "run.max_ticks=3000",
            "--out",
        ])
        .arg(&out);
        for s in *sets {
            cmd.args(["--set", s]);
        }
        let o = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(advice), "{sets:?}: {stderr}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["stall"]["kind"], *kind, "{sets:?}");
        assert_eq!(
            summary["stall"]["more_ticks"].is_u64(),
            *kind == "still_converging",
            "{sets:?}"
        );
    }
}

/// summary.json records what produced the run: the scenario file as given, its SHA-256, the
/// --set overrides in order, and the command line (left out under --no-timing, with the
/// times, so that the file stays identical across runs).
#[test]
fn summary_records_the_scenario_its_hash_and_the_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let sets = ["goods.natgas.endowment=5", "market.step=0.5"];
    for no_timing in [false, true] {
        let out = dir.path().join(no_timing.to_string());
        let mut cmd = pricegrad();
        cmd.args(["run", "scenarios/tupperware.toml", "--quiet", "--out"])
            .arg(&out);
        for s in sets {
            cmd.args(["--set", s]);
        }
        if no_timing {
            cmd.arg("--no-timing");
        }
        cmd.assert().success();
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        let p = &summary["provenance"];
        assert_eq!(p["scenario_file"], "scenarios/tupperware.toml");
        let bytes = std::fs::read("scenarios/tupperware.toml").unwrap();
        assert_eq!(p["scenario_sha256"], pricegrad::scenario::sha256_hex(&bytes).as_str());
        assert_eq!(p["sets"], serde_json::json!(sets));
        let command = p["command"].as_array();
        assert_eq!(command.is_none(), no_timing, "{p}");
        if let Some(c) = command {
            assert!(c.iter().any(|a| a == "goods.natgas.endowment=5"), "{p}");
        }
    }
}

/// A long run's files stay bounded by default: after 10,000 logged ticks the default cadence
/// thins, so a 60,000-tick run logs about 20,000 ticks; an explicit log.every keeps them all.
#[test]
fn a_long_run_logs_a_bounded_number_of_ticks_unless_log_every_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let rows = |extra: &[&str]| {
        let out = dir.path().join(extra.len().to_string());
        pricegrad()
            .args(["run", "scenarios/tupperware.toml", "--quiet", "--no-timing", "--out"])
            .arg(&out)
            .args(["--set", "market.rule=additive", "--set", "run.max_ticks=60000"])
            .args(extra)
            .assert()
            .code(1); // the additive market at step 0.5 cycles: out of ticks
        std::fs::read_to_string(out.join("metrics.csv"))
            .unwrap()
            .lines()
            .count()
            - 1
    };
    let thinned = rows(&[]);
    assert!((10_000..=20_001).contains(&thinned), "{thinned} rows");
    assert_eq!(rows(&["--set", "log.every=1"]), 60_000);
}

/// summary.json gives each good's final supply and demand: on the essay's chain natgas is its
/// endowment (4), and every market clears at the converged prices.
#[test]
fn summary_shows_how_much_of_each_good_flows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q");
    pricegrad()
        .args(["run", "scenarios/tupperware.toml", "--quiet", "--no-timing", "--out"])
        .arg(&out)
        .assert()
        .success();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let goods = summary["goods"].as_array().unwrap();
    let natgas = goods.iter().find(|g| g["good"] == "natgas").unwrap();
    assert_eq!(natgas["supply"], 4.0);
    for g in goods.iter().filter(|g| g["fixed_price"] == false) {
        let (s, d) = (g["supply"].as_f64().unwrap(), g["demand"].as_f64().unwrap());
        assert!(s > 0.0 && (s - d).abs() <= 1e-9 * s, "{g}");
    }
}
