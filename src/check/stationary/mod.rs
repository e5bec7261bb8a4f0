//! Stationary runs: when firms see noisy prices (`agents.noise`) or skip ticks
//! (`agents.activation`), prices never settle to `run.tolerance`; instead the run watches the
//! price process until it is stationary ([`detector`]: windows of batch means, a drift test per
//! good) and measures its time averages over the last window ([`plans`]: the mean plans and,
//! per batch, the bias of the mean price against backprop at the batch's mean plans). The
//! statistics are streamed ([`batches`]): memory grows with the goods and edges, not the
//! ticks. Confidence intervals use Student's t ([`quantile`]); [`measured`] gathers what the
//! final checks compare. docs/NOISE.md has the method and its justification.

pub mod batches;
pub mod detector;
pub mod measured;
pub mod plans;
pub mod quantile;

pub use batches::{Batches, WindowStats};
pub use detector::{Check, Detector, Event};
pub use measured::{describe, Measured};
pub use plans::Plans;

use crate::economy::Economy;
use serde::Serialize;

/// How stationarity is judged and measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Batches per window (even). 32: the t quantile with 31 degrees of freedom (2.04) is
    /// within 4% of the normal one, and each half has 16 batches for the drift test.
    pub batches: usize,
    /// Ticks per batch of the first window.
    pub first_batch: u64,
    /// Batches are at least this many integrated autocorrelation times long, so that batch
    /// means are nearly independent (their lag-1 correlation is about 1 / (4 F) for an AR(1)
    /// process near a unit root, less otherwise: the interval's coverage stays within a point of
    /// its level; docs/NOISE.md).
    pub batch_autocorrelations: f64,
    /// The family-wise level of the drift tests (over all goods, Bonferroni).
    pub alpha: f64,
    /// The level of the confidence intervals.
    pub confidence: f64,
    /// The shortest window, in ticks (0: as short as the batches allow): a caller that wants
    /// tighter intervals asks for a longer window.
    pub min_window: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            batches: 32,
            first_batch: 16,
            batch_autocorrelations: 8.0,
            alpha: 0.05,
            confidence: 0.95,
            min_window: 0,
        }
    }
}

impl Settings {
    /// The half-width factor of the confidence interval of a window's mean: the Student t
    /// quantile with `batches - 1` degrees of freedom.
    pub fn t_factor(&self) -> f64 {
        quantile::t_quantile((1.0 - self.confidence) / 2.0, (self.batches - 1) as f64)
    }
}

/// The widest interval a stationary run can be judged by: a mean price known only within
/// more than this share of itself (95% half-width) says nothing about price = gradient, and
/// the run fails as too noisy to judge.
pub const JUDGEABLE: f64 = 0.1;

/// Whether a run of `economy` can only become stationary, not converge exactly: some firm
/// sees noisy prices or skips ticks. (Firms that only skip ticks keep the exact equilibrium as
/// a fixed point; such a run still ends `converged` when it reaches it first.)
pub fn applies(economy: &Economy) -> bool {
    economy.agents.iter().any(|a| a.noise > 0.0 || a.activation < 1.0)
}

/// The window a stationary run was measured over, in `summary.json` as `stationary`. Fields
/// in alphabetical order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// The longest integrated autocorrelation time of a good's price over the window, in ticks.
    pub autocorrelation_ticks: f64,
    /// Ticks per batch.
    pub batch_ticks: u64,
    pub batches: usize,
    /// The level of the intervals (`mean_price_ci`, `bias_ci`).
    pub confidence: f64,
    /// The first and last tick of the window (both included): the mean price is the mean of
    /// the prices of these ticks in `trajectory.csv` (when every tick is logged).
    pub first_tick: u64,
    pub last_tick: u64,
    /// The widest interval of a mean price, as the share of the price its half-width is
    /// (the run is judged only when it is at most [`JUDGEABLE`]).
    pub widest_interval: f64,
    /// Windows judged before the run was found stationary (this one included).
    pub windows: u64,
}

impl Window {
    /// Whether the intervals are narrow enough to judge price = gradient by.
    pub fn judgeable(&self) -> bool {
        self.widest_interval <= JUDGEABLE
    }
}

#[cfg(test)]
mod tests;
