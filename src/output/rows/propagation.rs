//! `propagation.csv`: how a run's shocks travelled, one row per good a shock reached
//! (docs/OUT_OF_EQUILIBRIUM.md).

use super::{columns, num};
use crate::check::propagation;
use serde::{Deserialize, Serialize};

/// One row of `propagation.csv`: when a shock reached a good (the fields are documented on
/// [`propagation::Arrival`], which a run records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropagationRow {
    /// The tick of the shock: a column only when the run had shocks at several ticks (with
    /// one, the file has no such column and this is None).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shock_tick: Option<u64>,
    pub good: String,
    pub depth: u32,
    pub arrival_tick: Option<u64>,
    #[serde(serialize_with = "num")]
    pub final_change: f64,
}

/// The header of a `propagation.csv`: with `shock_tick` first when the run had shocks at
/// several ticks (`several`), without it otherwise.
pub fn header(several: bool) -> Vec<&'static str> {
    columns::<PropagationRow>()
        .iter()
        .copied()
        .filter(|&c| several || c != "shock_tick")
        .collect()
}

/// Whether `rows` (by shock, as a run records them) come from shocks at several ticks, so that
/// the file needs the `shock_tick` column.
pub fn several_shocks(rows: &[propagation::Arrival]) -> bool {
    rows.windows(2).any(|w| w[0].shock_tick != w[1].shock_tick)
}

impl PropagationRow {
    /// Columns that a file may lack (`shock_tick`, with one shock tick).
    pub const OPTIONAL: [&'static str; 1] = ["shock_tick"];

    /// The row of `r` for a file with the `shock_tick` column when `several`; `good` is the
    /// good's name.
    pub fn new(r: &propagation::Arrival, good: &str, several: bool) -> PropagationRow {
        let propagation::Arrival {
            shock_tick,
            good: _,
            depth,
            arrival_tick,
            final_change,
        } = *r;
        PropagationRow {
            shock_tick: several.then_some(shock_tick),
            good: good.to_string(),
            depth,
            arrival_tick,
            final_change,
        }
    }
}
