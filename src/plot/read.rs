//! Reading a run's CSV files and a sweep's `sweep.csv` for the charts, into the row types of
//! [`crate::output::rows`]. Every problem is reported with the file, the line and what to do;
//! files of earlier versions, which lack some columns, are read too.

use super::run_data::{self, RunData, TickSpan, MAX_CHART_TICKS};
use super::select::{list, Selected, Selection, TickRange};
use super::PlotError;
use crate::output::files;
use crate::output::format::Format;
use crate::output::rows::{self, columns, MetricsRow, PropagationRow, SweepRow, TrajectoryRow};
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The contents of `sweep.csv`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SweepData {
    /// Sweep name. [`read_sweep`] sets it to the file stem's parent directory name; callers may overwrite it.
    pub title: String,
    /// Dotted paths of the swept parameters (the columns between `replicate` and `seed`).
    pub param_names: Vec<String>,
    pub rows: Vec<SweepRow>,
}

const RERUN: &str = "re-run the scenario to rewrite it";

/// A CSV file being read: its header and the record read last.
struct CsvFile {
    path: PathBuf,
    reader: csv::Reader<File>,
    header: csv::StringRecord,
    record: csv::StringRecord,
    /// The line of `record` (1-based; the header is line 1).
    line: u64,
}

impl CsvFile {
    fn open(path: &Path, expected_header: &str) -> Result<CsvFile, PlotError> {
        let file = File::open(path).map_err(|source| PlotError::Io {
            path: path.to_path_buf(),
            source,
            hint: format!(
                "expected a CSV file whose header is `{expected_header}`; check the path, or re-run to produce it"
            ),
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(file);
        let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
        if header.iter().all(|h| h.is_empty()) {
            return Err(PlotError::Data {
                path: path.to_path_buf(),
                message: format!(
                    "the file is empty (expected the header `{expected_header}`; the run may have stopped before writing it; {RERUN})"
                ),
            });
        }
        Ok(CsvFile {
            path: path.to_path_buf(),
            reader,
            header,
            record: csv::StringRecord::new(),
            line: 1,
        })
    }

    /// A file of `R` rows, its header checked to have every column of `R` but those in
    /// `optional` (columns files of earlier versions lack).
    fn of_rows<R: DeserializeOwned>(path: &Path, optional: &[&str]) -> Result<CsvFile, PlotError> {
        let expected = columns::<R>().join(",");
        let f = CsvFile::open(path, &expected)?;
        f.require::<R>(optional, &expected)?;
        Ok(f)
    }

    /// Index of a required column, or an error naming the header line.
    fn column(&self, name: &str, expected_header: &str) -> Result<usize, PlotError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| PlotError::Parse {
                path: self.path.clone(),
                line: 1,
                message: format!(
                    "missing column `{name}` (header is `{}`, expected `{expected_header}`; the file was probably written by another version of pricegrad; {RERUN})",
                    self.header.iter().collect::<Vec<_>>().join(",")
                ),
            })
    }

    /// Check that the header has every column of `R` but those in `optional`.
    fn require<R: DeserializeOwned>(&self, optional: &[&str], expected_header: &str) -> Result<(), PlotError> {
        for c in columns::<R>().iter().filter(|c| !optional.contains(c)) {
            self.column(c, expected_header)?;
        }
        Ok(())
    }

    /// Reads the next record; false at the end of the file. Checks the column count.
    fn next(&mut self) -> Result<bool, PlotError> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return Ok(false),
                Ok(true) => {}
                Err(e) => return Err(csv_error(&self.path, e)),
            }
            self.line = self.record.position().map_or(0, |p| p.line());
            if self.record.len() == 1 && self.record[0].is_empty() {
                continue; // blank line
            }
            if self.record.len() != self.header.len() {
                let why = if self.record.len() < self.header.len() {
                    format!("the file looks truncated; {RERUN}")
                } else {
                    format!("a field may contain an unquoted comma; {RERUN}")
                };
                return Err(self.err(format!(
                    "expected {} columns, found {} ({why})",
                    self.header.len(),
                    self.record.len()
                )));
            }
            return Ok(true);
        }
    }

    /// The record read last, as a row.
    fn row<R: DeserializeOwned>(&self) -> Result<R, PlotError> {
        self.record
            .deserialize(Some(&self.header))
            .map_err(|e| self.row_error(e))
    }

    /// What is wrong with the record read last, which did not deserialize.
    fn row_error(&self, e: csv::Error) -> PlotError {
        let message = rows::describe(&e, &self.header, &self.record);
        self.err(format!("{message} (the file may be corrupted; {RERUN})"))
    }

    /// An error about the line read last.
    fn err(&self, message: String) -> PlotError {
        PlotError::Parse {
            path: self.path.clone(),
            line: self.line,
            message,
        }
    }
}

fn csv_error(path: &Path, e: csv::Error) -> PlotError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => PlotError::Io {
            path: path.to_path_buf(),
            source,
            hint: "the file could not be read to the end".to_string(),
        },
        csv::ErrorKind::Utf8 { err, .. } => PlotError::Parse {
            path: path.to_path_buf(),
            line,
            message: format!("the line is not valid UTF-8 ({err}; the file is corrupted; {RERUN})"),
        },
        other => PlotError::Parse {
            path: path.to_path_buf(),
            line,
            message: format!("malformed CSV ({other:?}; {RERUN})"),
        },
    }
}

/// The rows of `trajectory.csv` that `keep` keeps (at least one).
fn read_trajectory(path: &Path, keep: impl Fn(&TrajectoryRow) -> bool) -> Result<Vec<TrajectoryRow>, PlotError> {
    let mut f = CsvFile::of_rows::<TrajectoryRow>(path, &TrajectoryRow::ADDED_LATER)?;
    let mut rows = Vec::new();
    while f.next()? {
        let row: TrajectoryRow = f.row()?;
        if !keep(&row) {
            continue;
        }
        if row.good.is_empty() {
            return Err(f.err(format!("column `good` is empty (every row needs a good name; {RERUN})")));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(no_trajectory_rows(path));
    }
    Ok(rows)
}

fn no_trajectory_rows(path: &Path) -> PlotError {
    PlotError::Data {
        path: path.to_path_buf(),
        message: format!("no data rows after the header (the run logged no ticks; {RERUN} with logging enabled)"),
    }
}

/// The rows of `metrics.csv` in `range` (`logged` of them): every `stride`-th, every one with
/// a shock, and the last.
fn read_metrics(path: &Path, stride: usize, logged: usize, range: TickRange) -> Result<Vec<MetricsRow>, PlotError> {
    let mut f = CsvFile::of_rows::<MetricsRow>(path, &MetricsRow::ADDED_LATER)?;
    let mut rows = Vec::new();
    let mut i = 0;
    while f.next()? {
        let row: MetricsRow = f.row()?;
        if !range.contains(row.tick) {
            continue;
        }
        if i % stride == 0 || i + 1 == logged || row.shock.is_some() {
            rows.push(row);
        }
        i += 1;
    }
    Ok(rows)
}

/// Reads `trajectory.csv` and `metrics.csv` from a run directory.
///
/// `title` is set to the directory's name. `trajectory.csv` must have at least
/// one data row; `metrics.csv` may have none.
pub fn read_run(dir: &Path) -> Result<RunData, PlotError> {
    let title = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // a run with --format parquet has Parquet tables instead of the CSV files
    let format = match dir.join(files::TRAJECTORY).exists() {
        false if dir.join(files::TRAJECTORY_PARQUET).exists() => Format::Parquet,
        _ => Format::Csv,
    };
    let (trajectory, metrics) = (format.name(files::TRAJECTORY), format.name(files::METRICS));
    let mut data = read_run_files(&dir.join(trajectory), &dir.join(metrics), title)?;
    let wave = dir.join(files::PROPAGATION);
    if wave.exists() {
        data.propagation = read_propagation(&wave)?;
    }
    data.stationary = read_stationary(dir);
    Ok(data)
}

/// The stationary window in a run directory's `summary.json`, if there is one.
fn read_stationary(dir: &Path) -> Option<crate::plot::StationaryView> {
    let bytes = std::fs::read(dir.join(files::SUMMARY)).ok()?;
    crate::plot::StationaryView::of_summary(&serde_json::from_slice(&bytes).ok()?)
}

/// Reads `propagation.csv` (`[shock_tick,]good,depth,arrival_tick,final_change`).
pub fn read_propagation(path: &Path) -> Result<Vec<PropagationRow>, PlotError> {
    let mut f = CsvFile::of_rows::<PropagationRow>(path, &PropagationRow::OPTIONAL)?;
    let mut rows = Vec::new();
    while f.next()? {
        rows.push(f.row()?);
    }
    Ok(rows)
}

/// Read a run's trajectory and metrics from the given files (e.g. the temporary files of a
/// run that is still being written), CSV or Parquet (by their first bytes).
pub fn read_run_files(trajectory: &Path, metrics: &Path, title: String) -> Result<RunData, PlotError> {
    if crate::output::columnar::is_parquet(trajectory) {
        return super::read_parquet::read_run_files(trajectory, metrics, title);
    }
    let logged_ticks = count_rows::<MetricsRow>(metrics, &MetricsRow::ADDED_LATER)?;
    let stride = logged_ticks.div_ceil(MAX_CHART_TICKS).max(1);
    let metrics = read_metrics(metrics, stride, logged_ticks, TickRange::ALL)?;
    // the trajectory's rows of the ticks kept (the two files log the same ticks)
    let keep: Option<HashSet<u64>> = (stride > 1).then(|| metrics.iter().map(|m| m.tick).collect());
    Ok(RunData {
        title,
        trajectory: read_trajectory(trajectory, |r| keep.as_ref().is_none_or(|k| k.contains(&r.tick)))?,
        metrics,
        propagation: Vec::new(),
        logged_ticks,
        selected: None,
        stationary: None,
    })
}

/// Reads a part of a run directory: the goods and ticks of `sel` (all of them when it selects
/// nothing, as [`read_run`]). A good the run does not have, or a range without a logged tick,
/// is a [`PlotError::Selection`]. Of a range that logged over `MAX_CHART_TICKS` ticks, every
/// k-th is read, as [`read_run`] does with a whole run.
pub fn read_run_selected(dir: &Path, sel: &Selection) -> Result<RunData, PlotError> {
    if sel.is_all() {
        return read_run(dir);
    }
    // a run with --format parquet has Parquet tables instead of the CSV files
    let parquet = !dir.join(files::TRAJECTORY).exists() && dir.join(files::TRAJECTORY_PARQUET).exists();
    let format = if parquet { Format::Parquet } else { Format::Csv };
    let trajectory = dir.join(format.name(files::TRAJECTORY));
    let metrics = dir.join(format.name(files::METRICS));
    let run_goods = if parquet {
        super::read_parquet::first_tick_goods(&trajectory)?
    } else {
        first_tick_goods(&trajectory)?
    };
    let goods = if sel.goods.is_empty() {
        run_goods.clone()
    } else {
        sel.goods_of(&run_goods)?
    };
    let range = sel.ticks;
    let span = if parquet {
        super::read_parquet::tick_span(&metrics, range)?
    } else {
        tick_span(&metrics, range)?
    };
    if span.in_range == 0 && !range.is_all() {
        return Err(empty_range(range, &span));
    }
    let stride = span.in_range.div_ceil(MAX_CHART_TICKS).max(1);
    let metrics = if parquet {
        super::read_parquet::read_metrics(&metrics, stride, span.in_range, range)?
    } else {
        read_metrics(&metrics, stride, span.in_range, range)?
    };
    // the trajectory's rows of the ticks kept (the two files log the same ticks)
    let kept: Option<HashSet<u64>> = (stride > 1).then(|| metrics.iter().map(|m| m.tick).collect());
    let wanted: HashSet<&str> = goods.iter().map(String::as_str).collect();
    let keep = |r: &TrajectoryRow| {
        kept.as_ref().map_or(range.contains(r.tick), |k| k.contains(&r.tick)) && wanted.contains(r.good.as_str())
    };
    let rows = if parquet {
        super::read_parquet::read_trajectory(&trajectory, keep)
    } else {
        read_trajectory(&trajectory, keep)
    };
    let rows = match rows {
        // metrics.csv logged ticks in the range that trajectory.csv lacks
        Err(PlotError::Data { .. }) if !range.is_all() => return Err(empty_range(range, &span)),
        other => other?,
    };
    let wave = dir.join(files::PROPAGATION);
    let propagation = if wave.exists() {
        read_propagation(&wave)?
            .into_iter()
            .filter(|r| wanted.contains(r.good.as_str()) && r.shock_tick.is_none_or(|t| range.contains(t)))
            .collect()
    } else {
        Vec::new()
    };
    Ok(RunData {
        title: dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        trajectory: rows,
        metrics,
        propagation,
        logged_ticks: span.in_range,
        selected: Some(Selected {
            goods: !sel.goods.is_empty(),
            run_goods,
            ticks: (!range.is_all()).then_some(range),
            run_ticks: (span.first, span.last),
        }),
        // a part of the window would give a part of its running mean: drawn only when whole
        stationary: read_stationary(dir).filter(|w| range.contains(w.first_tick) && range.contains(w.last_tick)),
    })
}

/// The goods of a run: those of its first logged tick in `trajectory.csv`, in the file's
/// order.
fn first_tick_goods(path: &Path) -> Result<Vec<String>, PlotError> {
    let mut f = CsvFile::of_rows::<TrajectoryRow>(path, &TrajectoryRow::ADDED_LATER)?;
    let rows = std::iter::from_fn(|| match f.next() {
        Ok(true) => Some(f.row::<TrajectoryRow>()),
        Ok(false) => None,
        Err(e) => Some(Err(e)),
    });
    run_data::first_tick_goods(rows)?.ok_or_else(|| no_trajectory_rows(path))
}

fn tick_span(path: &Path, range: TickRange) -> Result<TickSpan, PlotError> {
    let mut f = CsvFile::of_rows::<MetricsRow>(path, &MetricsRow::ADDED_LATER)?;
    let column = f.column("tick", "tick,...")?;
    let mut span = TickSpan::default();
    while f.next()? {
        let tick: u64 = match f.record[column].parse() {
            Ok(t) => t,
            // the row's own error, which says what is wrong with the field
            Err(_) => return Err(f.row::<MetricsRow>().err().unwrap_or_else(|| f.err("bad tick".into()))),
        };
        span.add(tick, range);
    }
    Ok(span)
}

/// The error of a range that holds no logged tick.
fn empty_range(range: TickRange, span: &TickSpan) -> PlotError {
    let message = format!("--ticks {range} holds no logged tick of this run");
    let help = if span.logged == 0 {
        "metrics.csv logs no tick: re-run the scenario with logging enabled".to_string()
    } else {
        let nearest: Vec<String> = [span.before, span.after].iter().flatten().map(u64::to_string).collect();
        let of = if span.logged == 1 { "tick" } else { "ticks" };
        format!(
            "the run logged {} {of}, from {} to {}; the nearest to {range} {} {}",
            span.logged,
            span.first,
            span.last,
            if nearest.len() == 1 { "is" } else { "are" },
            list(&nearest, 2).replace(", ", " and ")
        )
    };
    PlotError::Selection { message, help }
}

/// The data rows of a CSV file of rows `R` (read, not kept).
fn count_rows<R: DeserializeOwned>(path: &Path, optional: &[&str]) -> Result<usize, PlotError> {
    let mut f = CsvFile::of_rows::<R>(path, optional)?;
    let mut n = 0;
    while f.next()? {
        n += 1;
    }
    Ok(n)
}

/// Reads `sweep.csv`.
///
/// `title` is set to the name of the directory holding the file.
pub fn read_sweep(path: &Path) -> Result<SweepData, PlotError> {
    let expected = rows::sweep::header(&["<parameters...>".to_string()], true).join(",");
    let mut f = CsvFile::open(path, &expected)?;
    let header_err = |message: String| PlotError::Parse {
        path: path.to_path_buf(),
        line: 1,
        message,
    };
    let header_text = f.header.iter().collect::<Vec<_>>().join(",");
    if f.header.len() < 2 || &f.header[0] != "point" || &f.header[1] != "replicate" {
        return Err(header_err(format!(
            "the header must start with `point,replicate` but is `{header_text}` (expected `{expected}`; is this a sweep.csv?)"
        )));
    }
    let seed = f.column("seed", &expected)?;
    if seed < 3 {
        return Err(header_err(format!(
            "no parameter columns between `replicate` and `seed` (header `{header_text}`; a sweep needs at least one swept parameter)"
        )));
    }
    let params = 2..seed;
    let param_names: Vec<String> = f.header.iter().take(seed).skip(2).map(str::to_string).collect();
    // the parameter columns stand for `params`; files of earlier versions lack `wall_seconds`
    f.require::<SweepRow>(&["params", "wall_seconds"], &expected)?;
    let mut rows = Vec::new();
    while f.next()? {
        let row = SweepRow::read(&f.record, &f.header, params.clone()).map_err(|e| f.row_error(e))?;
        if let Some(i) = row.params.iter().position(String::is_empty) {
            return Err(f.err(format!(
                "parameter column `{}` is empty (every row needs its parameter values; {RERUN})",
                param_names[i]
            )));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(PlotError::Data {
            path: path.to_path_buf(),
            message: "no data rows after the header (the sweep ran no point; re-run the sweep)".to_string(),
        });
    }
    let title = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(SweepData {
        title,
        param_names,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::fixtures::*;
    use crate::plot::Outcome;

    #[test]
    fn sweep_without_wall_seconds_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.csv");
        std::fs::write(&path, sweep_csv(&[("market.step", STEPS)], 2, false)).unwrap();
        let data = read_sweep(&path).unwrap();
        assert!(data.rows.iter().all(|r| r.wall_seconds.is_none()));
        assert!(data
            .rows
            .iter()
            .any(|r| r.outcome == Outcome::Diverged && r.max_rel_error.is_none()));
    }

    fn run_error(traj: &str, met: Option<&str>) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("trajectory.csv"), traj).unwrap();
        if let Some(m) = met {
            std::fs::write(dir.path().join("metrics.csv"), m).unwrap();
        }
        read_run(dir.path()).unwrap_err().to_string()
    }

    const GOOD_METRICS: &str = "tick,max_rel_excess,max_rel_price_change,max_rel_adjoint_error,max_rel_reference_error,phi,phi_gap,cosine,spread,shock\n0,0.1,0.1,0.1,,,,,0.1,\n";

    #[test]
    fn truncated_trajectory_names_file_and_line() {
        let traj = format!("{TRAJ_HEADER}\n0,a,1,1,1,0,1,1\n1,a,1,1,1,0,1,1\n2,a,1");
        let msg = run_error(&traj, Some(GOOD_METRICS));
        assert!(msg.contains("trajectory.csv line 4"), "{msg}");
        assert!(msg.contains("expected 8 columns, found 3"), "{msg}");
        assert!(msg.contains("truncated"), "{msg}");
    }

    #[test]
    fn bad_number_names_column_and_line() {
        let traj = format!("{TRAJ_HEADER}\n0,a,1,1,1,0,1,1\n1,a,abc,1,1,0,1,1\n");
        let msg = run_error(&traj, Some(GOOD_METRICS));
        assert!(msg.contains("trajectory.csv line 3"), "{msg}");
        assert!(msg.contains("`price`") && msg.contains("\"abc\""), "{msg}");
    }

    #[test]
    fn missing_column_names_header_line() {
        let traj = "tick,good,price\n0,a,1\n";
        let msg = run_error(traj, Some(GOOD_METRICS));
        assert!(msg.contains("trajectory.csv line 1"), "{msg}");
        assert!(msg.contains("missing column `supply`"), "{msg}");
    }

    #[test]
    fn malformed_metrics_names_file_and_line() {
        let traj = format!("{TRAJ_HEADER}\n0,a,1,1,1,0,1,1\n");
        let met = format!("{GOOD_METRICS}1,0.1,0.1\n");
        let msg = run_error(&traj, Some(&met));
        assert!(msg.contains("metrics.csv line 3"), "{msg}");
        assert!(msg.contains("expected 10 columns, found 3"), "{msg}");
        let met = format!("{GOOD_METRICS}1,,0.1,0.1,,,,,0.1,\n");
        let msg = run_error(&traj, Some(&met));
        assert!(
            msg.contains("metrics.csv line 3") && msg.contains("`max_rel_excess` is empty"),
            "{msg}"
        );
    }

    #[test]
    fn missing_and_empty_files_are_reported() {
        let traj = format!("{TRAJ_HEADER}\n0,a,1,1,1,0,1,1\n");
        let msg = run_error(&traj, None);
        assert!(msg.contains("metrics.csv"), "{msg}");
        let msg = run_error("", Some(GOOD_METRICS));
        assert!(msg.contains("trajectory.csv") && msg.contains("empty"), "{msg}");
        let msg = run_error(&format!("{TRAJ_HEADER}\n"), Some(GOOD_METRICS));
        assert!(msg.contains("trajectory.csv") && msg.contains("no data rows"), "{msg}");
    }

    #[test]
    fn malformed_sweep_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.csv");
        let head = "point,replicate,market.step,seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine\n";
        std::fs::write(
            &path,
            format!("{head}0,0,0.1,1,converged,10,1e-9,1e-9,1\n1,0,0.2,2,exploded,10,,,\n"),
        )
        .unwrap();
        let msg = read_sweep(&path).unwrap_err().to_string();
        assert!(msg.contains("sweep.csv line 3") && msg.contains("exploded"), "{msg}");
        std::fs::write(&path, format!("{head}0,0,0.1,1,conv")).unwrap();
        let msg = read_sweep(&path).unwrap_err().to_string();
        assert!(
            msg.contains("sweep.csv line 2") && msg.contains("expected 9 columns, found 5"),
            "{msg}"
        );
        std::fs::write(
            &path,
            "point,replicate,seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine\n",
        )
        .unwrap();
        let msg = read_sweep(&path).unwrap_err().to_string();
        assert!(
            msg.contains("sweep.csv line 1") && msg.contains("no parameter columns"),
            "{msg}"
        );
    }
}
