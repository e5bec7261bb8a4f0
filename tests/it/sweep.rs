//! `pricegrad sweep` and `pricegrad merge` through the binary: row count and order,
//! byte-identical results for any --jobs and any sharding, a sweep killed by a real signal
//! and resumed, bad input (exit 2, nothing written), resume refusing another grid.

use crate::common::{args, journal_rows, pricegrad, sweep, sweep_ok, TUPPERWARE};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A temporary directory with the tupperware scenario in it.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tupperware.toml");
    fs::write(&file, TUPPERWARE).unwrap();
    (dir, file)
}

/// The 2 x 3 x 2 grid: observation noise makes the replicates differ, a short max_ticks keeps it fast.
const GRID: &[&str] = &[
    "--param",
    "market.step=0.2,0.5,1",
    "--param",
    "agents.rate=lin:0.1:0.5:3",
    "--replicates",
    "2",
    "--set",
    "agents.noise=0.01",
    "--set",
    "run.max_ticks=400",
    "--no-timing",
    "--quiet",
];

#[test]
fn two_by_three_by_two_has_18_rows_identical_for_any_jobs() {
    let (dir, file) = setup();
    let (a, b) = (dir.path().join("j1"), dir.path().join("j4"));
    sweep_ok(&file, &a, &args(GRID, &["--jobs", "1"]));
    sweep_ok(&file, &b, &args(GRID, &["--jobs", "4"]));
    let csv = fs::read_to_string(a.join("sweep.csv")).unwrap();
    assert_eq!(
        csv,
        fs::read_to_string(b.join("sweep.csv")).unwrap(),
        "--jobs 1 and 4 differ"
    );
    assert_eq!(
        fs::read(a.join("sweep.json")).unwrap(),
        fs::read(b.join("sweep.json")).unwrap()
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "point,replicate,market.step,agents.rate,seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine"
    );
    assert_eq!(lines.len(), 1 + 18, "{csv}");
    // point order, then replicate; the grid is row-major (the last parameter varies fastest)
    let mut seeds = Vec::new();
    for (i, line) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], (i / 2).to_string(), "{line}");
        assert_eq!(f[1], (i % 2).to_string(), "{line}");
        let step = ["0.2", "0.5", "1"][i / 6];
        let rate = ["0.1", "0.3", "0.5"][(i / 2) % 3];
        assert_eq!((f[2], f[3]), (step, rate), "{line}");
        assert!(["converged", "diverged", "max_ticks"].contains(&f[5]), "{line}");
        assert!(!line.contains("NaN") && !line.contains("inf"), "{line}");
        seeds.push(f[4].to_string());
    }
    seeds.sort();
    seeds.dedup();
    assert_eq!(seeds.len(), 18, "every run has its own seed");
    assert!(a.join("sweep.png").exists());
    let png = fs::read(a.join("sweep.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // with timing (the default) the last column is wall_seconds
    let c = dir.path().join("timed");
    let timed: Vec<&str> = GRID.iter().copied().filter(|a| *a != "--no-timing").collect();
    sweep_ok(&file, &c, &timed);
    let head = fs::read_to_string(c.join("sweep.csv")).unwrap();
    assert!(head.lines().next().unwrap().ends_with(",mean_cosine,wall_seconds"));
}

#[test]
fn a_row_is_reproduced_by_run_with_its_seed() {
    let (dir, file) = setup();
    let out = dir.path().join("s");
    sweep_ok(&file, &out, &args(GRID, &[]));
    let csv = fs::read_to_string(out.join("sweep.csv")).unwrap();
    let row: Vec<&str> = csv.lines().nth(8).unwrap().split(',').collect();
    let output = pricegrad()
        .args(["check"])
        .arg(&file)
        .args(["--set", "agents.noise=0.01", "--set", "run.max_ticks=400"])
        .args(["--set", &format!("market.step={}", row[2])])
        .args(["--set", &format!("agents.rate={}", row[3])])
        .args(["--seed", row[4]])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let expect = match row[5] {
        "converged" => format!("converged at tick {}", row[6].parse::<u64>().unwrap() - 1),
        "max_ticks" => "did not converge within max_ticks = 400".to_string(),
        other => other.to_string(),
    };
    assert!(stdout.contains(&expect), "row {row:?}, check says: {stdout}");
}

#[test]
fn shards_merged_equal_the_unsharded_sweep_byte_for_byte() {
    let (dir, file) = setup();
    let whole = dir.path().join("whole");
    sweep_ok(&file, &whole, GRID);
    let sharded = dir.path().join("sharded");
    for k in 1..=3 {
        let s = format!("{k}/3");
        let out = sweep_ok(&file, &sharded, &args(GRID, &["--shard", &s]));
        assert!(out.contains("pricegrad merge"), "{out}");
        assert!(sharded.join(format!("shard-{k}-of-3")).join("sweep.csv").exists());
    }
    // an incomplete merge: shard 3 missing -> exit 1, lists its points, writes nothing
    let partial = dir.path().join("partial");
    let output = pricegrad()
        .arg("merge")
        .arg(sharded.join("shard-1-of-3"))
        .arg(sharded.join("shard-2-of-3"))
        .arg("--out")
        .arg(&partial)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("6 of 18 runs are missing"), "{err}");
    assert!(err.contains("shard 3/3 (not given): points 2, 5, 8"), "{err}");
    assert!(!partial.exists());

    // the whole merge: DIR holding the shard directories, default output = that DIR
    let output = pricegrad()
        .arg("merge")
        .arg(&sharded)
        .arg("--no-timing")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        fs::read_to_string(sharded.join("sweep.csv")).unwrap(),
        fs::read_to_string(whole.join("sweep.csv")).unwrap(),
        "merged shards differ from the unsharded sweep"
    );
    assert_eq!(
        fs::read_to_string(sharded.join("sweep.json")).unwrap(),
        fs::read_to_string(whole.join("sweep.json")).unwrap()
    );
    assert!(sharded.join("sweep.png").exists());

    // shards of another sweep are refused
    let other = dir.path().join("other");
    let mut g = GRID.to_vec();
    g[3] = "agents.rate=0.1,0.3,0.6";
    sweep_ok(&file, &other, &args(&g, &["--shard", "3/3"]));
    let output = pricegrad()
        .arg("merge")
        .arg(sharded.join("shard-1-of-3"))
        .arg(sharded.join("shard-2-of-3"))
        .arg(other.join("shard-3-of-3"))
        .arg("--out")
        .arg(dir.path().join("mixed"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not shards of the same sweep") && err.contains("values of agents.rate"),
        "{err}"
    );
}

#[test]
fn shard_auto_reads_the_slurm_array_variables() {
    let (dir, file) = setup();
    let out = dir.path().join("slurm");
    let output = pricegrad()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(GRID)
        .args(["--shard", "auto"])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = fs::read_to_string(out.join("shard-2-of-3").join("sweep.csv")).unwrap();
    let points: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(points, ["1", "1", "4", "4", "7", "7"]);

    let output = pricegrad()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("no-slurm"))
        .args(GRID)
        .args(["--shard", "auto"])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("SLURM_ARRAY_TASK_ID is not set"), "{err}");
    assert!(!dir.path().join("no-slurm").exists());
}

/// A sweep slow enough to be killed part-way: 4 x 5 points x 6 replicates of 3,000 ticks each.
const SLOW: &[&str] = &[
    "--param",
    "market.step=0.2,0.4,0.6,0.8",
    "--param",
    "agents.rate=log:0.05:0.5:5",
    "--replicates",
    "6",
    "--set",
    "agents.noise=0.01",
    "--set",
    "run.max_ticks=3000",
    "--set",
    "run.tolerance=1e-300",
    "--no-timing",
    "--quiet",
    "--jobs",
    "2",
];
const SLOW_RUNS: usize = 120;

#[test]
fn killed_with_sigkill_and_resumed_equals_an_uninterrupted_sweep() {
    let (dir, file) = setup();
    let reference = dir.path().join("reference");
    sweep_ok(&file, &reference, SLOW);

    let out = dir.path().join("killed");
    let bin = assert_cmd::cargo::cargo_bin("pricegrad");
    let mut child = std::process::Command::new(bin)
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(SLOW)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while journal_rows(&out).len() < 10 {
        assert!(t.elapsed() < Duration::from_secs(120), "the sweep wrote no rows");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the sweep finished before it was killed; make SLOW slower"
    );
    let before = journal_rows(&out);
    assert!(before.len() < SLOW_RUNS, "killed after it finished");
    assert!(!out.join("sweep.csv").exists(), "sweep.csv is written only at the end");

    // a crash can tear the last line: simulate one on top of the kill
    let mut j = fs::OpenOptions::new()
        .append(true)
        .open(out.join("sweep-journal.csv"))
        .unwrap();
    std::io::Write::write_all(&mut j, b"119,5,0.8,0.5,12345").unwrap();
    drop(j);

    let (code, _, err) = sweep(&file, &out, &args(SLOW, &["--resume"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs::read_to_string(out.join("sweep.csv")).unwrap(),
        fs::read_to_string(reference.join("sweep.csv")).unwrap(),
        "resumed sweep differs from the uninterrupted one"
    );
    // nothing finished was run again, nothing is duplicated
    let after = journal_rows(&out);
    assert_eq!(after.len(), SLOW_RUNS, "journal rows after resume");
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "finished rows were kept as they were"
    );
    let mut keys: Vec<String> = after
        .iter()
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), SLOW_RUNS, "duplicated runs in the journal");

    // resuming a finished sweep runs nothing and rewrites the same result
    let (code, stdout, err) = sweep(&file, &out, &args(SLOW, &["--resume"]));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("(0 ran now"), "{stdout}");
    assert_eq!(journal_rows(&out).len(), SLOW_RUNS);
}

#[test]
fn resume_refuses_a_different_grid_or_scenario() {
    let (dir, file) = setup();
    let out = dir.path().join("s");
    sweep_ok(&file, &out, GRID);
    let before = fs::read(out.join("sweep.csv")).unwrap();

    let mut g = GRID.to_vec();
    g[1] = "market.step=0.2,0.5,2";
    let (code, _, err) = sweep(&file, &out, &args(&g, &["--resume"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("refusing to resume"), "{err}");
    assert!(err.contains("values of market.step: 0.2,0.5,1 -> 0.2,0.5,2"), "{err}");

    let mut g = GRID.to_vec();
    g[5] = "3";
    let (code, _, err) = sweep(&file, &out, &args(&g, &["--resume"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("replicates: 2 -> 3"), "{err}");

    let edited = dir.path().join("edited.toml");
    fs::write(&edited, TUPPERWARE.replace("endowment = 4.0", "endowment = 5.0")).unwrap();
    let (code, _, err) = sweep(&edited, &out, &args(GRID, &["--resume"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("scenario (SHA-256"), "{err}");
    assert_eq!(
        fs::read(out.join("sweep.csv")).unwrap(),
        before,
        "a refused resume changes nothing"
    );
}

#[track_caller]
fn expect_bad(file: &Path, extra: &[&str], words: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stdout, err) = sweep(file, &out, extra);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{err}");
    assert!(!out.exists(), "bad input must write nothing");
    assert!(err.contains("help:"), "every error says how to fix it:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for w in words {
        assert!(err.contains(w), "expected {w:?} in:\n{err}");
    }
}

#[test]
fn bad_params_exit_2_and_write_nothing() {
    let (_dir, file) = setup();
    expect_bad(
        &file,
        &["--param", "market.stepp=0.1,0.2"],
        &["market.stepp", "did you mean 'market.step'"],
    );
    expect_bad(&file, &["--param", "market.step"], &["PATH=SPEC"]);
    expect_bad(&file, &["--param", "market.step=lin:0:1"], &["lin:A:B:N"]);
    expect_bad(&file, &["--param", "market.step=log:0:1:5"], &["A > 0"]);
    expect_bad(&file, &["--param", "market.step=0.1,,0.2"], &["empty value"]);
    expect_bad(&file, &["--param", "market.step=0.5,0.50"], &["twice"]);
    expect_bad(
        &file,
        &["--param", "market.step=0.1,fast"],
        &["market.step=fast", "not a number"],
    );
    // a value that parses but is not a valid setting
    expect_bad(&file, &["--param", "market.step=0.5,-1"], &["market.step=-1"]);
    expect_bad(&file, &["--param", "firms.Z.rate=0.1"], &["no firm 'Z'"]);
    expect_bad(
        &file,
        &["--param", "agents.rate=0.1", "--param", "agents.rate=0.2"],
        &["swept twice"],
    );
    expect_bad(&file, &[], &["nothing to sweep"]);
    expect_bad(
        &file,
        &["--param", "agents.rate=0.1", "--replicates", "0"],
        &["at least one"],
    );
    expect_bad(
        &file,
        &["--param", "agents.rate=0.1", "--shard", "4/3"],
        &["between 1 and N"],
    );
    expect_bad(
        &file,
        &["--param", "agents.rate=0.1", "--set", "market.stp=1"],
        &["market.stp"],
    );
}

#[test]
fn the_sweep_table_of_the_file_is_used_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    let text = format!(
        "{TUPPERWARE}\n[sweep]\nparams = {{ \"market.step\" = \"0.25,0.5\", \"goods.natgas.endowment\" = \"lin:1:9:3\" }}\nreplicates = 2\n"
    );
    fs::write(&file, &text).unwrap();
    let out = dir.path().join("a");
    sweep_ok(&file, &out, &["--no-timing", "--quiet"]);
    let csv = fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(
        csv.starts_with("point,replicate,market.step,goods.natgas.endowment,seed,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + 2 * 3 * 2);
    // every run converges to the gradient prices
    assert!(csv.lines().skip(1).all(|l| l.contains(",converged,")), "{csv}");

    let out = dir.path().join("b");
    sweep_ok(
        &file,
        &out,
        &[
            "--param",
            "agents.rate=0.2,0.4",
            "--replicates",
            "1",
            "--no-timing",
            "--quiet",
        ],
    );
    let csv = fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(csv.starts_with("point,replicate,agents.rate,seed,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 2);

    // a bad spec in the file is located there
    let bad = dir.path().join("bad.toml");
    let text = format!("{TUPPERWARE}\n[sweep]\nparams = {{ \"market.step\" = \"log:0.1:1\" }}\n");
    fs::write(&bad, &text).unwrap();
    let line = text.lines().position(|l| l.contains("log:0.1:1")).unwrap() + 1;
    expect_bad(&bad, &[], &[&format!("bad.toml:{line}:"), "log:A:B:N"]);
}

#[test]
fn the_example_scenarios_validate() {
    for f in ["scenarios/sweep_stability.toml", "scenarios/sweep_noise.toml"] {
        pricegrad().arg("validate").arg(f).assert().success();
    }
}
