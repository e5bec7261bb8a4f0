//! Running a sweep's runs: one (point, replicate) into its row, and the pending runs in
//! parallel on the current rayon pool, each row appended to the journal as it finishes and
//! reported to the progress display, until all are done or `stop` is set.

use super::journal::Journal;
use super::{Error, Outcome, Plan, Row};
use crate::check::diagnostics::{GoodSample, TickSample};
use crate::economy::Economy;
use crate::run::{self, Sink};
use rayon::prelude::*;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Progress callbacks: `start(total, rows already done)`, then `done(row)` per finished run
/// (from worker threads).
pub trait Progress: Sync {
    fn start(&self, total: u64, done: &[Row]);
    fn done(&self, row: &Row);
}

/// Keeps what a sweep row needs from the logged metrics: the last excess, the mean cosine.
#[derive(Default)]
struct RowSink {
    last_excess: Option<f64>,
    cosine_sum: f64,
    cosine_n: u64,
}

impl Sink for RowSink {
    fn record(&mut self, _: &Economy, m: &TickSample, _: &[GoodSample]) -> io::Result<()> {
        self.last_excess = Some(m.max_rel_excess);
        if let Some(c) = m.cosine.filter(|c| c.is_finite()) {
            self.cosine_sum += c;
            self.cosine_n += 1;
        }
        Ok(())
    }
}

/// Run (point, replicate) and make its row; None when `stop` interrupted it.
pub fn run_point(plan: &Plan, point: u64, replicate: u64, stop: &AtomicBool) -> Result<Option<Row>, Error> {
    let start = Instant::now();
    let economy = plan
        .economy(point, replicate)
        .map_err(|error| Error::PointInvalid { point, error })?;
    let seed = economy.run.seed;
    let mut sink = RowSink::default();
    let report = run::execute(economy, &mut sink, &mut |_| {}, stop).map_err(|error| Error::Run { point, error })?;
    let Some(outcome) = Outcome::of_report(report.outcome) else {
        return Ok(None);
    };
    let diverged = outcome == Outcome::Diverged;
    let max_rel_error = (!diverged).then(|| {
        [
            Some(report.max_error_adjoint),
            report.max_error_reference,
            report.max_error_envelope,
        ]
        .into_iter()
        .flatten()
        .fold(0.0f64, f64::max)
    });
    Ok(Some(Row {
        point,
        replicate,
        params: plan.points.values(point).into_iter().map(str::to_string).collect(),
        seed,
        outcome,
        ticks: report.ticks,
        max_rel_error,
        max_rel_excess: sink.last_excess,
        mean_cosine: (sink.cosine_n > 0).then(|| sink.cosine_sum / sink.cosine_n as f64),
        wall_seconds: Some(start.elapsed().as_secs_f64()),
    }))
}

/// Run `pending` in parallel on the current rayon pool (one run per task), appending each
/// finished row to `journal`; the new rows, in the order they finished. When `stop` becomes
/// true no new run starts and runs in flight are abandoned (not journaled).
pub(super) fn run_pending(
    plan: &Plan,
    pending: &[(u64, u64)],
    journal: &mut Journal,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<Vec<Row>, Error> {
    // the journal with its length in whole lines: a failed append is cut back to that length
    journal.measure()?;
    let journal_path = journal.path().to_path_buf();
    let journal = Mutex::new(journal);
    let new_rows = Mutex::new(Vec::with_capacity(pending.len()));
    pending
        .par_iter()
        .with_max_len(1)
        .try_for_each(|&(p, r)| -> Result<(), Error> {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let Some(row) = run_point(plan, p, r, stop)? else {
                return Ok(());
            };
            let line = row
                .journal_line()
                .map_err(|e| Error::io("append to", &journal_path, e))?;
            journal.lock().unwrap_or_else(|e| e.into_inner()).append(&line)?;
            progress.done(&row);
            new_rows.lock().unwrap_or_else(|e| e.into_inner()).push(row);
            Ok(())
        })?;
    Ok(new_rows.into_inner().unwrap_or_else(|e| e.into_inner()))
}
