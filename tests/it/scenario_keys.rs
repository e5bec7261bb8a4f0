//! The scenario keys that stand for command-line options: `[log] format` (as `--format`, the
//! flag wins) and `[sweep] design` (as `--design`, its path relative to the scenario file).

use crate::common::{pricegrad, sweep, sweep_ok, TUPPERWARE};
use std::fs;
use std::path::{Path, PathBuf};

/// The tupperware scenario with `extra` appended, in `dir`.
fn scenario(dir: &Path, extra: &str) -> PathBuf {
    let file = dir.join("s.toml");
    fs::write(&file, format!("{TUPPERWARE}\n{extra}\n")).unwrap();
    file
}

/// `pricegrad run FILE --out OUT --quiet EXTRA...`: exit code and stderr.
fn run(file: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let o = pricegrad()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn log_format_chooses_the_tables_and_the_flag_wins() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(!TUPPERWARE.contains("\n[log]"), "the test appends a [log] table");
    let file = scenario(tmp.path(), "[log]\nformat = \"parquet\"");
    let out = tmp.path().join("a");
    assert_eq!(run(&file, &out, &[]).0, 0);
    assert!(out.join("trajectory.parquet").exists() && !out.join("trajectory.csv").exists());
    let out = tmp.path().join("b");
    assert_eq!(run(&file, &out, &["--format", "csv"]).0, 0);
    assert!(out.join("trajectory.csv").exists() && !out.join("trajectory.parquet").exists());
    // a sweep: sweep.parquet beside sweep.csv
    let out = tmp.path().join("c");
    sweep_ok(
        &file,
        &out,
        &["--param", "market.step=0.5,1", "--quiet", "--set", "run.max_ticks=300"],
    );
    assert!(out.join("sweep.parquet").exists() && out.join("sweep.csv").exists());
    // "csv" is the default written out
    let file = scenario(tmp.path(), "[log]\nformat = \"csv\"");
    let out = tmp.path().join("d");
    assert_eq!(run(&file, &out, &[]).0, 0);
    assert!(out.join("trajectory.csv").exists());
    // --set log.format overrides the file's, as any --set does
    let out = tmp.path().join("e");
    assert_eq!(run(&file, &out, &["--set", "log.format=parquet"]).0, 0);
    assert!(out.join("trajectory.parquet").exists() && !out.join("trajectory.csv").exists());
    let out = tmp.path().join("f");
    let (code, e) = run(&file, &out, &["--set", "log.format=parqet"]);
    assert_eq!(code, 2, "{e}");
    assert!(
        e.contains("'parqet' is not a log format") && e.contains("did you mean 'parquet'?"),
        "{e}"
    );
    assert!(!out.exists());
}

#[test]
fn a_bad_log_format_is_placed_with_a_suggestion() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = TUPPERWARE.lines().count();
    let file = scenario(tmp.path(), "[log]\nformat = \"parqet\"");
    let out = tmp.path().join("o");
    let (code, e) = run(&file, &out, &[]);
    assert_eq!(code, 2, "{e}");
    // the value, on the line after [log]
    assert!(e.contains(&format!("s.toml:{}:10", lines + 3)), "{e}");
    assert!(
        e.contains("did you mean 'parquet'?") && e.contains("csv, parquet"),
        "{e}"
    );
    assert!(!out.exists());
    // a misspelled key
    let file = scenario(tmp.path(), "[log]\nfromat = \"csv\"");
    let (code, e) = run(&file, &out, &[]);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("did you mean 'format'?"), "{e}");
    let file = scenario(tmp.path(), "[sweep]\ndesing = \"d.csv\"");
    let (code, e) = run(&file, &out, &[]);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("did you mean 'design'?"), "{e}");
}

#[test]
fn sweep_design_in_the_scenario_equals_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = tmp.path().join("sub");
    fs::create_dir(&sub).unwrap();
    fs::write(sub.join("d.csv"), "market.step,agents.rate\n0.5,0.2\n1,0.4\n0.7,0.3\n").unwrap();
    let common = ["--no-timing", "--quiet", "--set", "run.max_ticks=300"];
    // the path is relative to the scenario file's folder, not the working directory
    let keyed = scenario(&sub, "[sweep]\ndesign = \"d.csv\"");
    sweep_ok(&keyed, &tmp.path().join("a"), &common);
    let plain = scenario(tmp.path(), "");
    let mut flag = common.to_vec();
    let table = sub.join("d.csv");
    flag.extend(["--design", table.to_str().unwrap()]);
    sweep_ok(&plain, &tmp.path().join("b"), &flag);
    let a = fs::read_to_string(tmp.path().join("a/sweep.csv")).unwrap();
    let b = fs::read_to_string(tmp.path().join("b/sweep.csv")).unwrap();
    assert_eq!(a.lines().count(), 4);
    assert_eq!(a, b);
    // --param replaces the file's design
    sweep_ok(
        &keyed,
        &tmp.path().join("c"),
        &[&common[..], &["--param", "market.step=0.5,1"]].concat(),
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("c/sweep.csv"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    // a missing table, at the key's value; design and params together
    let missing = scenario(&sub, "[sweep]\ndesign = \"nothere.csv\"");
    let (code, _, e) = sweep(&missing, &tmp.path().join("d"), &common);
    assert_eq!(code, 2, "{e}");
    assert!(
        e.contains("no table at") && e.contains(&format!("s.toml:{}:10", TUPPERWARE.lines().count() + 3)),
        "{e}"
    );
    let both = scenario(
        &sub,
        "[sweep]\ndesign = \"d.csv\"\nparams = { \"market.step\" = \"0.5,1\" }",
    );
    let (code, _, e) = sweep(&both, &tmp.path().join("d"), &common);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("both params and a design"), "{e}");
    assert!(!tmp.path().join("d").exists());
}
