//! Parquet files of the row types ([`crate::output::rows`]): `--format parquet` writes
//! `trajectory.parquet`, `metrics.parquet`, `firms.parquet` in place of the CSV files and
//! `sweep.parquet` beside `sweep.csv`, with the CSV files' columns, in the same order.
//!
//! The columns and their Arrow types are read off the row type ([`layout`]), so a column added
//! to a row type appears in both formats. Integers are UInt64 (Int64 for signed fields),
//! numbers Float64 with null for a missing or non-finite value (CSV's empty field), texts and
//! enum values Utf8, an `Option` field nullable. Rows are encoded into Arrow columns by a serde
//! serializer ([`encode`]), written in row groups as they come ([`writer`]), and read back into
//! the row type by a serde deserializer ([`decode`], [`reader`]): the charts of a Parquet run
//! read them so.

pub mod decode;
pub mod encode;
pub mod layout;
pub mod reader;
pub mod writer;

pub use layout::{Kind, Layout};
pub use reader::{is_parquet, ReadError, Rows};
pub use writer::{write_rows, TableWriter};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::rows::{sweep, FirmRow, MetricsRow, Outcome, SweepRow, TrajectoryRow};
    use std::path::Path;

    fn trajectory_row(tick: u64, k: usize) -> TrajectoryRow {
        TrajectoryRow {
            tick,
            good: format!("good \"{k}\", é"),
            price: 0.1 + k as f64,
            supply: 1e-300,
            demand: 2.5e15 * tick as f64,
            excess: -0.0,
            adjoint: 1.0 / 3.0,
            reference: (!k.is_multiple_of(3)).then_some(k as f64 * 0.7),
            mispricing: Some(-1e-12),
            firm_lag: None,
        }
    }

    fn write_file<R: serde::Serialize + serde::de::DeserializeOwned>(path: &Path, rows: &[R]) {
        let file = std::fs::File::create(path).unwrap();
        write_rows(file, Layout::of::<R>(), rows).unwrap();
    }

    fn read_all<R: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<R>, ReadError> {
        Rows::<R>::open(path, &[])?.collect()
    }

    /// Rows come back as they went in, over several batches and row groups.
    #[test]
    fn rows_round_trip_over_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let n = writer::ROW_GROUP_ROWS + writer::BATCH_ROWS + 5;
        let rows: Vec<TrajectoryRow> = (0..n).map(|i| trajectory_row(i as u64 / 7, i % 7)).collect();
        write_file(&path, &rows);
        assert!(is_parquet(&path));
        let reader = Rows::<TrajectoryRow>::open(&path, &[]).unwrap();
        assert_eq!(reader.len(), n as u64);
        let back: Vec<TrajectoryRow> = reader.collect::<Result<_, _>>().unwrap();
        assert!(back == rows, "rows differ");
        // two row groups
        let meta = parquet::file::reader::FileReader::metadata(
            &parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap(),
        )
        .num_row_groups();
        assert_eq!(meta, 2);

        let metrics = vec![MetricsRow {
            tick: u64::MAX,
            max_rel_excess: 1.0,
            max_rel_price_change: 0.5,
            max_rel_adjoint_error: 1e-9,
            max_rel_reference_error: None,
            phi: Some(2.0),
            phi_gap: None,
            cosine: Some(-1.0),
            cosine_mirror: None,
            lyapunov: None,
            mispricing: None,
            firm_lag: Some(0.0),
            spread: 0.0,
            shock: Some("natgas x2;oil x0.5".into()),
        }];
        let path = dir.path().join("m.parquet");
        write_file(&path, &metrics);
        assert_eq!(read_all::<MetricsRow>(&path).unwrap(), metrics);
        let firms = vec![FirmRow {
            firm: "A".into(),
            count: u32::MAX,
            role: "output".into(),
            good: "ethylene".into(),
            quantity: 2.0,
            price: 0.25,
            value: 0.5,
            profit: -0.0,
            productivity: 1.0,
            productivity_min: 0.9,
            productivity_max: 1.1,
        }];
        let path = dir.path().join("f.parquet");
        write_file(&path, &firms);
        assert_eq!(read_all::<FirmRow>(&path).unwrap(), firms);
    }

    /// A non-finite number is written as null, as CSV writes an empty field; a required
    /// column read back null is an error naming the row and the column.
    #[test]
    fn non_finite_numbers_are_null() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut rows = vec![trajectory_row(0, 1), trajectory_row(1, 1)];
        rows[1].adjoint = f64::NAN;
        rows[1].reference = Some(f64::INFINITY);
        write_file(&path, &rows);
        let e = read_all::<TrajectoryRow>(&path).unwrap_err().to_string();
        assert!(
            e.contains("row 2") && e.contains("column `adjoint`") && e.contains("null"),
            "{e}"
        );
        let mut reader = Rows::<TrajectoryRow>::open(&path, &[]).unwrap();
        assert_eq!(reader.next().unwrap().unwrap(), rows[0]);
        let file = std::fs::File::open(&path).unwrap();
        let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let nulls: Vec<usize> = batch.columns().iter().map(|c| c.null_count()).collect();
        // adjoint and reference of row 2, firm_lag of both rows
        assert_eq!(nulls, [0, 0, 0, 0, 0, 0, 1, 1, 0, 2]);
    }

    /// A sweep's parameter columns are typed by their values and read back as the same text.
    #[test]
    fn sweep_rows_round_trip_with_typed_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let params = ["market.step".to_string(), "run.max_ticks".into(), "agents.rule".into()];
        let row = |point: u64, step: &str, rule: &str| SweepRow {
            point,
            replicate: 1,
            params: vec![step.into(), (1000 * point).to_string(), rule.into()],
            seed: u64::MAX - point,
            outcome: Outcome::MaxTicks,
            ticks: 20000,
            max_rel_error: Some(1.5e-7),
            max_rel_excess: None,
            mean_cosine: Some(0.25),
            wall_seconds: Some(0.01),
        };
        let rows = vec![row(0, "0.1", "gradient"), row(1, "2", "best_response")];
        let layout = sweep::layout(&params, &rows, true);
        let kinds: Vec<Kind> = layout.columns[2..5].iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [Kind::Float64, Kind::Int64, Kind::Utf8]);
        for timing in [true, false] {
            let path = dir.path().join(format!("sweep-{timing}.parquet"));
            sweep::write_parquet(std::fs::File::create(&path).unwrap(), &params, &rows, timing).unwrap();
            let read = Rows::<SweepRow>::open(&path, &["wall_seconds"]).unwrap();
            let back: Vec<SweepRow> = read.collect::<Result<_, _>>().unwrap();
            let expected: Vec<SweepRow> = rows
                .iter()
                .map(|r| SweepRow {
                    wall_seconds: r.wall_seconds.filter(|_| timing),
                    ..r.clone()
                })
                .collect();
            assert_eq!(back, expected);
        }
    }

    #[test]
    fn other_files_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("metrics.csv");
        std::fs::write(&csv, "tick,phi\n1,2\n").unwrap();
        assert!(!is_parquet(&csv));
        let e = read_all::<MetricsRow>(&csv).unwrap_err().to_string();
        assert!(
            e.contains("metrics.csv") && e.contains("not a readable Parquet file"),
            "{e}"
        );
        let path = dir.path().join("t.parquet");
        write_file(&path, &[trajectory_row(0, 0)]);
        let e = read_all::<MetricsRow>(&path).unwrap_err().to_string();
        assert!(e.contains("missing columns `max_rel_excess`"), "{e}");
        // a file without rows has its columns, and reads as no rows
        let empty = dir.path().join("empty.parquet");
        write_file::<MetricsRow>(&empty, &[]);
        assert!(Rows::<MetricsRow>::open(&empty, &[]).unwrap().is_empty());
        assert!(read_all::<MetricsRow>(&empty).unwrap().is_empty());
        let e = read_all::<MetricsRow>(&dir.path().join("none.parquet"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read") && e.contains("none.parquet"), "{e}");
    }
}
