//! What a chart reads of a run, whichever format its files are in: [`RunData`], the most
//! logged ticks a chart reads ([`MAX_CHART_TICKS`]), and [`TickSpan`], the logged ticks
//! counted against a `--ticks` range. Filled by [`super::read`] (CSV) and
//! [`super::read_parquet`].

use super::select::{Selected, TickRange};
use crate::output::rows::{MetricsRow, PropagationRow, TrajectoryRow};

/// The logged output of one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunData {
    /// Scenario name. [`read_run`] sets it to the directory name; callers may overwrite it.
    pub title: String,
    pub trajectory: Vec<TrajectoryRow>,
    pub metrics: Vec<MetricsRow>,
    /// `propagation.csv`, for a run with a shock (empty otherwise).
    pub propagation: Vec<PropagationRow>,
    /// The logged ticks in `metrics.csv`, all of them: more than the rows read when the run
    /// logged over [`MAX_CHART_TICKS`]. Of a selection ([`read_run_selected`]): the logged
    /// ticks in its range.
    pub logged_ticks: usize,
    /// What was selected, when the data is a part of the run ([`read_run_selected`]).
    pub selected: Option<Selected>,
    /// The stationary window of a noisy run (from its `summary.json`, or its report).
    pub stationary: Option<crate::plot::StationaryView>,
}

/// Most logged ticks a chart reads. A run that logged more (an explicit `log.every` over a
/// long run) is read every k-th logged tick, with every tick that has a shock and the last
/// one, so that drawing it takes bounded memory whatever its length.
pub const MAX_CHART_TICKS: usize = 20_000;

/// The logged ticks of a run's metrics against a range (counted from `metrics.csv` or
/// `metrics.parquet`).
#[derive(Debug, Default)]
pub(super) struct TickSpan {
    /// Logged ticks in the range.
    pub(super) in_range: usize,
    /// All logged ticks, the first and the last.
    pub(super) logged: usize,
    pub(super) first: u64,
    pub(super) last: u64,
    /// The last logged tick before the range and the first after it.
    pub(super) before: Option<u64>,
    pub(super) after: Option<u64>,
}

impl TickSpan {
    /// Count the next logged tick.
    pub(super) fn add(&mut self, tick: u64, range: TickRange) {
        if self.logged == 0 {
            self.first = tick;
        }
        self.logged += 1;
        self.last = tick;
        if range.contains(tick) {
            self.in_range += 1;
        } else if range.from.is_some_and(|a| tick < a) {
            self.before = Some(tick);
        } else if self.after.is_none() {
            self.after = Some(tick);
        }
    }
}

/// The goods of a run: those of the first logged tick among trajectory `rows` (every logged
/// tick has every good), in order; None when there are no rows.
pub(super) fn first_tick_goods<E>(
    rows: impl IntoIterator<Item = Result<TrajectoryRow, E>>,
) -> Result<Option<Vec<String>>, E> {
    let mut goods: Vec<String> = Vec::new();
    let mut first = None;
    for row in rows {
        let row = row?;
        if first.is_some_and(|t| t != row.tick) {
            break;
        }
        first = Some(row.tick);
        if !goods.contains(&row.good) {
            goods.push(row.good);
        }
    }
    Ok((!goods.is_empty()).then_some(goods))
}
