//! `pricegrad sweep --design FILE.csv` through the binary: a design table listing a grid's
//! points gives the grid's rows (and chart); resume and shards + merge work with a design; a
//! changed design is refused on resume; bad tables exit 2 naming file, line and column, and
//! write nothing.

use crate::common::{args, pricegrad, sweep, sweep_ok, TUPPERWARE};
use std::fs;
use std::path::{Path, PathBuf};

/// A temporary directory with the tupperware scenario in it.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tupperware.toml");
    fs::write(&file, TUPPERWARE).unwrap();
    (dir, file)
}

/// Observation noise makes replicates differ; a short max_ticks keeps the runs fast.
const COMMON: &[&str] = &[
    "--set",
    "agents.noise=0.01",
    "--set",
    "run.max_ticks=400",
    "--replicates",
    "2",
    "--no-timing",
    "--quiet",
];

/// Write a design table: `header`, then one line per row.
fn write_design(path: &Path, header: &str, rows: &[String]) {
    let mut text = format!("{header}\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    fs::write(path, text).unwrap();
}

#[test]
fn a_design_listing_a_grids_points_gives_the_grids_rows() {
    let (dir, file) = setup();
    let (steps, rates) = (["0.2", "0.5", "1"], ["0.1", "0.3", "0.5"]);
    let grid = dir.path().join("grid");
    sweep_ok(
        &file,
        &grid,
        &args(
            COMMON,
            &[
                "--param",
                "market.step=0.2,0.5,1",
                "--param",
                "agents.rate=0.1,0.3,0.5",
                "--jobs",
                "1",
            ],
        ),
    );
    // the grid's points written out row-major (the first parameter varies slowest), as a
    // Python user would with itertools.product
    let table = dir.path().join("design.csv");
    let rows: Vec<String> = steps
        .iter()
        .flat_map(|s| rates.iter().map(move |r| format!("{s},{r}")))
        .collect();
    write_design(&table, "market.step,agents.rate", &rows);
    let design = dir.path().join("design");
    let stdout = sweep_ok(
        &file,
        &design,
        &args(COMMON, &["--design", table.to_str().unwrap(), "--jobs", "2"]),
    );
    assert!(stdout.contains("18 runs"), "{stdout}");

    let a = fs::read_to_string(grid.join("sweep.csv")).unwrap();
    let b = fs::read_to_string(design.join("sweep.csv")).unwrap();
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(a.len(), 1 + 18);
    assert_eq!(b.len(), a.len(), "the design sweep has another number of rows");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "line {} of sweep.csv differs (grid, design)", i + 1);
    }
    // the design's values are in the rows as the grid's, point by point
    for (i, line) in b[1..].iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(format!("{},{}", f[2], f[3]), rows[i / 2], "row {i} holds another point");
    }
    // a design that is a full grid charts like the grid
    assert_eq!(
        fs::read(grid.join("sweep.png")).unwrap(),
        fs::read(design.join("sweep.png")).unwrap(),
        "the chart of a full-grid design differs from the grid's"
    );
    // the manifest records the design: its SHA-256 and its rows
    let m: serde_json::Value = serde_json::from_str(&fs::read_to_string(design.join("sweep.json")).unwrap()).unwrap();
    let sha = {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(fs::read(&table).unwrap()))
    };
    assert_eq!(m["design"]["sha256"], sha.as_str());
    assert_eq!(m["design"]["rows"][4], serde_json::json!(["0.5", "0.3"]));
    assert_eq!(m["points"], 9);
    assert!(m.get("parameters").is_none(), "{m}");
}

/// Seven scattered points (not a grid), with a third swept path.
fn scattered(dir: &Path) -> PathBuf {
    let table = dir.join("lhs.csv");
    let rows: Vec<String> = [
        ("0.31", "0.12", "0"),
        ("1.7", "0.45", "0.005"),
        ("0.52", "0.33", "0.02"),
        ("0.9", "0.08", "0.01"),
        ("0.24", "0.51", "0"),
        ("1.2", "0.27", "0.015"),
        ("0.65", "0.19", "0.01"),
    ]
    .iter()
    .map(|(s, r, n)| format!("{s}, {r} ,{n}"))
    .collect();
    write_design(&table, "market.step,agents.rate,agents.noise", &rows);
    table
}

#[test]
fn shards_merged_and_a_resumed_design_sweep_equal_the_whole_sweep() {
    let (dir, file) = setup();
    let table = scattered(dir.path());
    let t = table.to_str().unwrap();
    let whole = dir.path().join("whole");
    sweep_ok(&file, &whole, &args(COMMON, &["--design", t]));
    let csv = fs::read_to_string(whole.join("sweep.csv")).unwrap();
    assert_eq!(
        csv.lines().next().unwrap(),
        "point,replicate,market.step,agents.rate,agents.noise,seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine"
    );
    assert_eq!(csv.lines().count(), 1 + 14);
    assert!(csv.lines().nth(3).unwrap().starts_with("1,0,1.7,0.45,0.005,"), "{csv}");

    // shards, then merge
    let sharded = dir.path().join("sharded");
    for k in 1..=3 {
        sweep_ok(
            &file,
            &sharded,
            &args(COMMON, &["--design", t, "--shard", &format!("{k}/3")]),
        );
    }
    let shard2 = fs::read_to_string(sharded.join("shard-2-of-3").join("sweep.csv")).unwrap();
    let points: Vec<&str> = shard2.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(points, ["1", "1", "4", "4"], "shard 2/3 runs points 1 and 4");
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
    assert_eq!(fs::read_to_string(sharded.join("sweep.csv")).unwrap(), csv);
    assert_eq!(
        fs::read_to_string(sharded.join("sweep.json")).unwrap(),
        fs::read_to_string(whole.join("sweep.json")).unwrap()
    );

    // an interrupted sweep: the journal holds 5 of the 14 runs and there is no sweep.csv
    let journal = whole.join("sweep-journal.csv");
    let text = fs::read_to_string(&journal).unwrap();
    let kept: Vec<&str> = text.lines().take(1 + 5).collect();
    fs::write(&journal, kept.join("\n") + "\n").unwrap();
    fs::remove_file(whole.join("sweep.csv")).unwrap();
    let stdout = sweep_ok(&file, &whole, &args(COMMON, &["--design", t, "--resume"]));
    assert!(stdout.contains("(9 ran now"), "{stdout}");
    assert_eq!(fs::read_to_string(whole.join("sweep.csv")).unwrap(), csv);

    // resuming with a changed design is refused, and changes nothing
    let changed = dir.path().join("changed.csv");
    let edited = fs::read_to_string(&table).unwrap().replace("0.52, 0.33", "0.52, 0.34");
    fs::write(&changed, edited).unwrap();
    let (code, _, err) = sweep(
        &file,
        &whole,
        &args(COMMON, &["--design", changed.to_str().unwrap(), "--resume"]),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("refusing to resume"), "{err}");
    assert!(err.contains("design table (SHA-256 of the file)"), "{err}");
    assert!(err.contains("design row 3: 0.52,0.33,0.02 -> 0.52,0.34,0.02"), "{err}");
    // ... as is resuming it as a grid
    let (code, _, err) = sweep(
        &file,
        &whole,
        &args(COMMON, &["--param", "market.step=0.31,1.7", "--resume"]),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("points: the design table"), "{err}");
    assert_eq!(fs::read_to_string(whole.join("sweep.csv")).unwrap(), csv);
}

#[track_caller]
fn expect_bad(file: &Path, table: Option<&str>, extra: &[&str], words: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut a: Vec<String> = COMMON.iter().map(|s| s.to_string()).collect();
    if let Some(text) = table {
        let path = dir.path().join("design.csv");
        fs::write(&path, text).unwrap();
        a.extend(["--design".to_string(), path.display().to_string()]);
    }
    a.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, stdout, err) = sweep(file, &out, &a);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{err}");
    assert!(!out.exists(), "bad input must write nothing");
    assert!(err.contains("help:"), "every error says how to fix it:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for w in words {
        assert!(err.contains(w), "expected {w:?} in:\n{err}");
    }
}

#[test]
fn bad_design_tables_exit_2_naming_file_line_and_column() {
    let (_dir, file) = setup();
    let ok = "market.step,agents.rate\n0.2,0.1\n";
    // an unknown path, with did-you-mean, at its header cell
    expect_bad(
        &file,
        Some("market.step,agents.rat\n0.2,0.1\n"),
        &[],
        &[
            "column 2 of",
            "design.csv:1:13",
            "unknown --set path 'agents.rat'",
            "did you mean 'agents.rate'",
        ],
    );
    expect_bad(
        &file,
        Some("goods.natgs.price\n2\n"),
        &[],
        &["design.csv:1:1", "no good 'natgs'", "did you mean 'natgas'"],
    );
    // a value that does not parse, at its cell
    expect_bad(
        &file,
        Some("market.step,agents.rate\n0.2,0.1\n0.5,fast\n"),
        &[],
        &[
            "design.csv:3:5",
            "row 2 (point 1), column agents.rate",
            "'fast' is not a number",
        ],
    );
    // a value that parses but does not validate: the scenario's message, and the cell
    expect_bad(
        &file,
        Some("market.step,agents.rate\n0.2,0.1\n0.3,0.2\n-0.5,0.3\n"),
        &[],
        &[
            "market.step must be",
            "design.csv:4:1: row 3 (point 2) sets market.step=-0.5",
        ],
    );
    // a ragged row, a row too wide, an empty cell
    expect_bad(
        &file,
        Some("market.step,agents.rate\n0.2,0.1\n0.5\n"),
        &[],
        &[
            "design.csv:3:4",
            "line 3 of",
            "(row 2) has 1 cell, the header has 2 columns: no cell for agents.rate",
        ],
    );
    expect_bad(
        &file,
        Some("market.step,agents.rate\n0.2,0.1,7\n"),
        &[],
        &["design.csv:2:9", "cell 3 has no column"],
    );
    expect_bad(
        &file,
        Some("market.step,agents.rate\n,0.1\n"),
        &[],
        &["design.csv:2:1", "the cell of column market.step is empty"],
    );
    // an empty table, a header without rows, a nameless or repeated column
    expect_bad(&file, Some(""), &[], &["design table", "design.csv is empty"]);
    expect_bad(
        &file,
        Some("market.step,agents.rate\n"),
        &[],
        &["design.csv:1:1", "has a header but no rows"],
    );
    expect_bad(
        &file,
        Some(",market.step\n0,0.2\n"),
        &[],
        &["design.csv:1:1", "column 1 of", "has no name", "index=False"],
    );
    expect_bad(
        &file,
        Some("market.step,market.step\n0.1,0.2\n"),
        &[],
        &["design.csv:1:13", "repeats 'market.step' (column 1)"],
    );
    // --design with --param, and a file that is not there
    expect_bad(
        &file,
        Some(ok),
        &["--param", "market.step=0.1,0.2"],
        &["--design and --param together"],
    );
    expect_bad(
        &file,
        None,
        &["--design", "no-such-design.csv"],
        &["cannot read the design table no-such-design.csv"],
    );
}
