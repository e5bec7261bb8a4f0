//! `--format parquet`: a run's tables as Parquet files hold the CSV run's rows (read back with
//! the parquet crate's own Arrow reader, not pricegrad's), with integer, number and text
//! columns; the chart of a Parquet run is the CSV run's chart; `sweep.parquet` holds the rows
//! of `sweep.csv`; merged shards give the unsharded sweep's `sweep.parquet`.

use crate::common::{pricegrad, TUPPERWARE};
use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
use arrow_array::Array;
use arrow_schema::DataType;
use std::fs;
use std::path::Path;

/// A Parquet file as read by the parquet crate: column names, types, and each row's cells
/// as text in CSV's way for comparison (None for null).
struct Table {
    names: Vec<String>,
    types: Vec<DataType>,
    rows: Vec<Vec<Cell>>,
}

/// One cell of a Parquet file.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    U(u64),
    I(i64),
    F(f64),
    S(String),
}

fn read_parquet(path: &Path) -> Table {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let mut rows = Vec::new();
    for batch in builder.with_batch_size(1000).build().unwrap() {
        let batch = batch.unwrap();
        for i in 0..batch.num_rows() {
            let row = batch
                .columns()
                .iter()
                .map(|a| {
                    if a.is_null(i) {
                        return Cell::Null;
                    }
                    match a.data_type() {
                        DataType::UInt64 => Cell::U(a.as_primitive::<UInt64Type>().value(i)),
                        DataType::Int64 => Cell::I(a.as_primitive::<Int64Type>().value(i)),
                        DataType::Float64 => Cell::F(a.as_primitive::<Float64Type>().value(i)),
                        DataType::Utf8 => Cell::S(a.as_string::<i32>().value(i).to_string()),
                        t => panic!("{}: unexpected column type {t}", path.display()),
                    }
                })
                .collect();
            rows.push(row);
        }
    }
    Table {
        names: schema.fields().iter().map(|f| f.name().clone()).collect(),
        types: schema.fields().iter().map(|f| f.data_type().clone()).collect(),
        rows,
    }
}

/// A CSV file: its header and its records, as text.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let records = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, records)
}

/// The Parquet file holds the CSV file's columns, in order, and its rows, value for value: a
/// number equal to the CSV text's to the bit, null where CSV has an empty field.
#[track_caller]
fn assert_same_rows(csv_path: &Path, parquet_path: &Path) -> Table {
    let (header, records) = read_csv(csv_path);
    let table = read_parquet(parquet_path);
    assert_eq!(table.names, header, "{}", parquet_path.display());
    assert_eq!(table.rows.len(), records.len(), "{}: rows", parquet_path.display());
    assert!(!records.is_empty(), "{}: no rows to compare", csv_path.display());
    for (k, (row, record)) in table.rows.iter().zip(&records).enumerate() {
        for ((cell, text), name) in row.iter().zip(record).zip(&header) {
            let same = match cell {
                Cell::Null => text.is_empty(),
                Cell::U(v) => text.parse::<u64>() == Ok(*v),
                Cell::I(v) => text.parse::<i64>() == Ok(*v),
                Cell::F(v) => text.parse::<f64>().map(f64::to_bits) == Ok(v.to_bits()),
                Cell::S(s) => s == text,
            };
            assert!(
                same,
                "{} row {}: column {name}: Parquet {cell:?}, CSV \"{text}\"",
                parquet_path.display(),
                k + 1
            );
        }
    }
    table
}

/// The types of the columns named in `names`, in that order.
fn types_of(t: &Table, names: &[&str]) -> Vec<DataType> {
    names
        .iter()
        .map(|n| {
            t.types[t
                .names
                .iter()
                .position(|m| m == n)
                .unwrap_or_else(|| panic!("no column {n}"))]
            .clone()
        })
        .collect()
}

fn run(dir: &Path, extra: &[&str]) {
    let output = pricegrad()
        .args([
            "run",
            "scenarios/tupperware_shock.toml",
            "--no-timing",
            "--quiet",
            "--seed",
            "11",
        ])
        .args(extra)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        output.status.code() == Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_parquet_run_has_the_csv_runs_rows_and_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let (csv_dir, pq_dir, pq_one) = (tmp.path().join("csv"), tmp.path().join("pq"), tmp.path().join("pq1"));
    run(&csv_dir, &[]);
    run(&pq_dir, &["--format", "parquet", "--threads", "2"]);
    for table in ["trajectory", "metrics", "firms"] {
        assert!(!pq_dir.join(format!("{table}.csv")).exists(), "{table}.csv written too");
        assert!(
            !csv_dir.join(format!("{table}.parquet")).exists(),
            "{table}.parquet by default"
        );
    }
    let t = assert_same_rows(&csv_dir.join("trajectory.csv"), &pq_dir.join("trajectory.parquet"));
    assert_eq!(
        types_of(&t, &["tick", "good", "price", "reference", "firm_lag"]),
        [
            DataType::UInt64,
            DataType::Utf8,
            DataType::Float64,
            DataType::Float64,
            DataType::Float64
        ]
    );
    let m = assert_same_rows(&csv_dir.join("metrics.csv"), &pq_dir.join("metrics.parquet"));
    assert_eq!(
        types_of(&m, &["tick", "phi", "shock"]),
        [DataType::UInt64, DataType::Float64, DataType::Utf8]
    );
    // the shock's tick has a label, the others null (CSV: empty)
    let shock = m.names.iter().position(|n| n == "shock").unwrap();
    let labelled = m.rows.iter().filter(|r| matches!(r[shock], Cell::S(_))).count();
    assert!(
        labelled >= 1 && labelled < m.rows.len(),
        "{labelled} of {}",
        m.rows.len()
    );
    let f = assert_same_rows(&csv_dir.join("firms.csv"), &pq_dir.join("firms.parquet"));
    assert_eq!(
        types_of(&f, &["firm", "count", "role", "quantity"]),
        [DataType::Utf8, DataType::UInt64, DataType::Utf8, DataType::Float64]
    );
    // the shock's propagation stays CSV, the same file
    assert_eq!(
        fs::read(csv_dir.join("propagation.csv")).unwrap(),
        fs::read(pq_dir.join("propagation.csv")).unwrap()
    );
    // the chart, drawn from the Parquet files, is the CSV run's
    let png = fs::read(csv_dir.join("convergence.png")).unwrap();
    assert!(
        fs::read(pq_dir.join("convergence.png")).unwrap() == png,
        "the charts differ"
    );
    // and `plot` draws it again from them
    fs::remove_file(pq_dir.join("convergence.png")).unwrap();
    pricegrad().arg("plot").arg(&pq_dir).assert().success();
    assert!(
        fs::read(pq_dir.join("convergence.png")).unwrap() == png,
        "plot's chart differs"
    );
    // a part of it (--goods, --ticks): the CSV run's part, with its shock and out of range
    for part in [
        &["--goods", "ethylene,natgas", "--ticks", "50:300"][..],
        &["--ticks", "200:"][..],
        &["--goods", "polyethylene"][..],
    ] {
        let (a, b) = (tmp.path().join("part-csv.png"), tmp.path().join("part-pq.png"));
        pricegrad()
            .arg("plot")
            .arg(&csv_dir)
            .args(part)
            .arg("--out")
            .arg(&a)
            .assert()
            .success();
        pricegrad()
            .arg("plot")
            .arg(&pq_dir)
            .args(part)
            .arg("--out")
            .arg(&b)
            .assert()
            .success();
        assert!(
            fs::read(&a).unwrap() == fs::read(&b).unwrap(),
            "{part:?}: the parts differ"
        );
        assert!(fs::read(&a).unwrap() != png, "{part:?} drew the whole run");
    }
    let e = pricegrad()
        .arg("plot")
        .arg(&pq_dir)
        .args(["--ticks", "900000:"])
        .arg("--out")
        .arg(tmp.path().join("none.png"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("holds no logged tick"),
        "{e:?}"
    );
    // the same bytes on one thread
    run(&pq_one, &["--format", "parquet", "--threads", "1"]);
    for file in ["trajectory.parquet", "metrics.parquet", "firms.parquet"] {
        assert!(
            fs::read(pq_dir.join(file)).unwrap() == fs::read(pq_one.join(file)).unwrap(),
            "{file}"
        );
    }
    let summary: serde_json::Value = serde_json::from_slice(&fs::read(pq_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["pass"], true);
}

/// A run in one format replaces the tables of an earlier run in the other: a directory never
/// holds two runs' tables.
#[test]
fn a_run_replaces_the_other_formats_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let tables = |ext: &str| {
        ["trajectory", "metrics", "firms"]
            .iter()
            .filter(|t| dir.join(format!("{t}.{ext}")).exists())
            .count()
    };
    run(&dir, &[]);
    assert_eq!((tables("csv"), tables("parquet")), (3, 0));
    run(&dir, &["--format", "parquet"]);
    assert_eq!((tables("csv"), tables("parquet")), (0, 3));
    run(&dir, &["--format", "csv"]);
    assert_eq!((tables("csv"), tables("parquet")), (3, 0));
    let output = pricegrad()
        .args(["run", "--format", "arrow", "--out"])
        .arg(tmp.path().join("never"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("'csv' or 'parquet'"));
    assert!(!tmp.path().join("never").exists());
}

fn sweep(file: &Path, out: &Path, extra: &[&str]) {
    let output = pricegrad()
        .arg("sweep")
        .arg(file)
        .args([
            "--param",
            "market.step=0.2,0.5",
            "--param",
            "agents.rule=gradient,best_response",
            "--param",
            "run.max_ticks=300,400",
            "--replicates",
            "2",
            "--set",
            "agents.noise=0.01",
            "--quiet",
            "--format",
            "parquet",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.code() == Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn sweep_parquet_has_the_rows_of_sweep_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("tupperware.toml");
    fs::write(&file, TUPPERWARE).unwrap();
    let whole = tmp.path().join("whole");
    sweep(&file, &whole, &[]);
    let t = assert_same_rows(&whole.join("sweep.csv"), &whole.join("sweep.parquet"));
    assert_eq!(t.rows.len(), 16);
    // a parameter column of numbers is numbers, of integers integers, of words text
    assert_eq!(
        types_of(
            &t,
            &[
                "point",
                "market.step",
                "agents.rule",
                "run.max_ticks",
                "seed",
                "outcome",
                "max_rel_error",
                "wall_seconds"
            ]
        ),
        [
            DataType::UInt64,
            DataType::Float64,
            DataType::Utf8,
            DataType::Int64,
            DataType::UInt64,
            DataType::Utf8,
            DataType::Float64,
            DataType::Float64
        ]
    );

    // merged shards give the unsharded sweep's files, byte for byte (without the times)
    let timeless = tmp.path().join("timeless");
    sweep(&file, &timeless, &["--no-timing"]);
    assert_same_rows(&timeless.join("sweep.csv"), &timeless.join("sweep.parquet"));
    let sharded = tmp.path().join("sharded");
    for k in ["1/2", "2/2"] {
        sweep(&file, &sharded, &["--no-timing", "--shard", k]);
    }
    pricegrad()
        .arg("merge")
        .arg(&sharded)
        .args(["--no-timing", "--format", "parquet"])
        .assert()
        .success();
    for f in ["sweep.csv", "sweep.parquet"] {
        assert!(
            fs::read(sharded.join(f)).unwrap() == fs::read(timeless.join(f)).unwrap(),
            "{f} differs"
        );
    }
    // a sweep without --format parquet removes an earlier sweep's sweep.parquet
    let output = pricegrad()
        .arg("sweep")
        .arg(&file)
        .args(["--param", "market.step=0.2", "--quiet", "--out"])
        .arg(&whole)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(whole.join("sweep.csv").exists() && !whole.join("sweep.parquet").exists());
}
