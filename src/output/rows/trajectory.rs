//! `trajectory.csv`: one row per logged tick and good (docs/MODEL.md, "Outputs").

use super::{num, opt};
use crate::check::diagnostics::GoodSample;
use serde::{Deserialize, Serialize};

/// One row of `trajectory.csv`: one good at one logged tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryRow {
    pub tick: u64,
    pub good: String,
    #[serde(serialize_with = "num")]
    pub price: f64,
    #[serde(serialize_with = "num")]
    pub supply: f64,
    #[serde(serialize_with = "num")]
    pub demand: f64,
    #[serde(serialize_with = "num")]
    pub excess: f64,
    #[serde(serialize_with = "num")]
    pub adjoint: f64,
    #[serde(serialize_with = "opt")]
    pub reference: Option<f64>,
    /// (D* - S*) / max(S, D) at the tick's prices (absent in files of earlier versions).
    #[serde(serialize_with = "opt")]
    pub mispricing: Option<f64>,
    /// (z - z*) / max(S, D) (absent in files of earlier versions).
    #[serde(serialize_with = "opt")]
    pub firm_lag: Option<f64>,
}

impl TrajectoryRow {
    /// Columns that files of earlier versions lack (a reader takes a file without them).
    pub const ADDED_LATER: [&'static str; 2] = ["mispricing", "firm_lag"];

    /// The row of a good's measurement `r` at a logged tick; `good` is its name.
    pub fn new(r: &GoodSample, good: &str) -> TrajectoryRow {
        let GoodSample {
            tick,
            good: _,
            price,
            supply,
            demand,
            excess,
            adjoint,
            reference,
            mispricing,
            firm_lag,
        } = *r;
        TrajectoryRow {
            tick,
            good: good.to_string(),
            price,
            supply,
            demand,
            excess,
            adjoint,
            reference,
            mispricing,
            firm_lag,
        }
    }
}
