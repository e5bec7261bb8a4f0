//! `metrics.csv`: one row per logged tick (docs/MODEL.md, "Outputs").

use super::{num, opt};
use crate::check::diagnostics;
use serde::{Deserialize, Serialize};

/// One row of `metrics.csv`: the worst errors and the distance to equilibrium at one logged
/// tick (the fields are documented on [`diagnostics::TickSample`], which a run measures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub tick: u64,
    #[serde(serialize_with = "num")]
    pub max_rel_excess: f64,
    #[serde(serialize_with = "num")]
    pub max_rel_price_change: f64,
    #[serde(serialize_with = "num")]
    pub max_rel_adjoint_error: f64,
    #[serde(serialize_with = "opt")]
    pub max_rel_reference_error: Option<f64>,
    #[serde(serialize_with = "opt")]
    pub phi: Option<f64>,
    #[serde(serialize_with = "opt")]
    pub phi_gap: Option<f64>,
    #[serde(serialize_with = "opt")]
    pub cosine: Option<f64>,
    /// This column and the three after it are absent in files of earlier versions.
    #[serde(serialize_with = "opt")]
    pub cosine_mirror: Option<f64>,
    #[serde(serialize_with = "opt")]
    pub lyapunov: Option<f64>,
    #[serde(serialize_with = "opt")]
    pub mispricing: Option<f64>,
    #[serde(serialize_with = "opt")]
    pub firm_lag: Option<f64>,
    #[serde(serialize_with = "num")]
    pub spread: f64,
    /// The shocks that applied at the end of this tick, `;`-separated; None (an empty field)
    /// when there was none.
    pub shock: Option<String>,
}

impl MetricsRow {
    /// Columns that files of earlier versions lack (a reader takes a file without them).
    pub const ADDED_LATER: [&'static str; 4] = ["cosine_mirror", "lyapunov", "mispricing", "firm_lag"];
}

impl From<&diagnostics::TickSample> for MetricsRow {
    fn from(m: &diagnostics::TickSample) -> MetricsRow {
        let diagnostics::TickSample {
            tick,
            max_rel_excess,
            max_rel_price_change,
            max_rel_adjoint_error,
            max_rel_reference_error,
            phi,
            phi_gap,
            cosine,
            cosine_mirror,
            lyapunov,
            mispricing,
            firm_lag,
            spread,
            ref shock,
        } = *m;
        MetricsRow {
            tick,
            max_rel_excess,
            max_rel_price_change,
            max_rel_adjoint_error,
            max_rel_reference_error,
            phi,
            phi_gap,
            cosine,
            cosine_mirror,
            lyapunov,
            mispricing,
            firm_lag,
            spread,
            shock: (!shock.is_empty()).then(|| shock.clone()),
        }
    }
}
