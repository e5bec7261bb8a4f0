//! Reading a run's Parquet tables (`pricegrad run --format parquet`: `trajectory.parquet`,
//! `metrics.parquet`) for its chart, into the same row types and with the same sampling as the
//! CSV files ([`super::read`]); and the parts of them that `plot --goods/--ticks` selects.

use super::run_data::{self, RunData, TickSpan, MAX_CHART_TICKS};
use super::select::TickRange;
use super::PlotError;
use crate::output::columnar::{ReadError, Rows};
use crate::output::rows::{MetricsRow, TrajectoryRow};
use std::collections::HashSet;
use std::path::Path;

const RERUN: &str = "re-run the scenario to rewrite it";

/// A Parquet reading error as a chart's error, with what to do.
fn plot_error(e: ReadError) -> PlotError {
    match e {
        ReadError::Io { path, source } => PlotError::Io {
            path,
            source,
            hint:
                "expected a Parquet file as `pricegrad run --format parquet` writes it; check the path, or re-run to \
                   produce it"
                    .to_string(),
        },
        ReadError::File { path, message } => PlotError::Data {
            path,
            message: format!("{message} ({RERUN})"),
        },
        ReadError::Row { path, row, message } => PlotError::Data {
            path,
            message: format!("row {row}: {message} (the file may be corrupted; {RERUN})"),
        },
    }
}

/// Read a run's trajectory and metrics from Parquet files (e.g. the temporary files of a run
/// being written): every `stride`-th logged tick of a run that logged more than
/// [`MAX_CHART_TICKS`], with every tick that has a shock and the last one.
pub fn read_run_files(trajectory: &Path, metrics: &Path, title: String) -> Result<RunData, PlotError> {
    let rows = Rows::<MetricsRow>::open(metrics, &MetricsRow::ADDED_LATER).map_err(plot_error)?;
    let logged_ticks = usize::try_from(rows.len()).unwrap_or(usize::MAX);
    let stride = logged_ticks.div_ceil(MAX_CHART_TICKS).max(1);
    let mut kept = Vec::new();
    for (i, row) in rows.enumerate() {
        let row = row.map_err(plot_error)?;
        if i % stride == 0 || i + 1 == logged_ticks || row.shock.is_some() {
            kept.push(row);
        }
    }
    // the trajectory's rows of the ticks kept (the two files log the same ticks)
    let keep: Option<HashSet<u64>> = (stride > 1).then(|| kept.iter().map(|m| m.tick).collect());
    let rows = Rows::<TrajectoryRow>::open(trajectory, &TrajectoryRow::ADDED_LATER).map_err(plot_error)?;
    let mut points = Vec::new();
    for (i, row) in rows.enumerate() {
        let row = row.map_err(plot_error)?;
        if keep.as_ref().is_some_and(|k| !k.contains(&row.tick)) {
            continue;
        }
        if row.good.is_empty() {
            return Err(PlotError::Data {
                path: trajectory.to_path_buf(),
                message: format!(
                    "row {}: column `good` is empty (every row needs a good name; {RERUN})",
                    i + 1
                ),
            });
        }
        points.push(row);
    }
    if points.is_empty() {
        return Err(PlotError::Data {
            path: trajectory.to_path_buf(),
            message: format!("no data rows (the run logged no ticks; {RERUN} with logging enabled)"),
        });
    }
    Ok(RunData {
        title,
        trajectory: points,
        metrics: kept,
        propagation: Vec::new(),
        logged_ticks,
        selected: None,
        stationary: None,
    })
}

/// The goods of a run: those of its first logged tick in `trajectory.parquet`, in order.
pub(super) fn first_tick_goods(path: &Path) -> Result<Vec<String>, PlotError> {
    let rows = Rows::<TrajectoryRow>::open(path, &TrajectoryRow::ADDED_LATER).map_err(plot_error)?;
    run_data::first_tick_goods(rows.map(|r| r.map_err(plot_error)))?.ok_or_else(|| no_rows(path))
}

/// The logged ticks of `metrics.parquet` against a range.
pub(super) fn tick_span(path: &Path, range: TickRange) -> Result<TickSpan, PlotError> {
    let mut span = TickSpan::default();
    for row in Rows::<MetricsRow>::open(path, &MetricsRow::ADDED_LATER).map_err(plot_error)? {
        span.add(row.map_err(plot_error)?.tick, range);
    }
    Ok(span)
}

/// The rows of `metrics.parquet` in `range` (`logged` of them): every `stride`-th, every one
/// with a shock, and the last.
pub(super) fn read_metrics(
    path: &Path,
    stride: usize,
    logged: usize,
    range: TickRange,
) -> Result<Vec<MetricsRow>, PlotError> {
    let mut rows = Vec::new();
    let mut i = 0;
    for row in Rows::<MetricsRow>::open(path, &MetricsRow::ADDED_LATER).map_err(plot_error)? {
        let row = row.map_err(plot_error)?;
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

/// The rows of `trajectory.parquet` that `keep` keeps (at least one).
pub(super) fn read_trajectory(
    path: &Path,
    keep: impl Fn(&TrajectoryRow) -> bool,
) -> Result<Vec<TrajectoryRow>, PlotError> {
    let mut rows = Vec::new();
    let reader = Rows::<TrajectoryRow>::open(path, &TrajectoryRow::ADDED_LATER).map_err(plot_error)?;
    for (i, row) in reader.enumerate() {
        let row = row.map_err(plot_error)?;
        if !keep(&row) {
            continue;
        }
        if row.good.is_empty() {
            return Err(PlotError::Data {
                path: path.to_path_buf(),
                message: format!(
                    "row {}: column `good` is empty (every row needs a good name; {RERUN})",
                    i + 1
                ),
            });
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(no_rows(path));
    }
    Ok(rows)
}

fn no_rows(path: &Path) -> PlotError {
    PlotError::Data {
        path: path.to_path_buf(),
        message: format!("no data rows (the run logged no ticks; {RERUN} with logging enabled)"),
    }
}
