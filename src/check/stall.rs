//! Why a run ran out of ticks, from the worst relative excess demand of its last ticks:
//!
//! - **still converging**: the excess fell over the window (steps too small, or too few
//!   ticks); at the window's pace, the ticks it would still need to reach `run.tolerance`.
//!   It fell when the second half's median is well below the first's, or when it fell
//!   steadily however slowly: the medians of [`SEGMENTS`] consecutive segments each below the
//!   one before (a cycle that does not shrink, or an excess stuck at one value, does not do
//!   that; tiny steps do);
//! - **not converging**: it did not fall (an oscillation or cycle that does not shrink: steps
//!   too large);
//! - **noisy**: firms see noisy prices or skip ticks (`agents.noise`, `agents.activation`),
//!   so prices never settle to a tolerance, and no window of the price process was found
//!   stationary before `max_ticks` ([`crate::check::stationary`]; the run says why in
//!   `detail`).
//!
//! The window is the last [`WINDOW`] ticks (or the second half of a shorter run); its first
//! and second halves are compared by their medians, which a few spikes do not move.

use serde::Serialize;
use std::collections::VecDeque;

/// Ticks of history kept.
pub const WINDOW: usize = 2048;

/// The excess fell when the second half's median is below this share of the first half's.
const FALLING: f64 = 0.9;

/// Or when the medians of this many consecutive segments of the window each fall.
pub const SEGMENTS: usize = 8;

/// What the last ticks of a run that ran out of ticks looked like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StallKind {
    StillConverging,
    NotConverging,
    Noisy,
}

/// Written to `summary.json` as `stall` when a run ends at `max_ticks`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stall {
    /// Noisy: why no window of the price process was stationary
    /// ([`crate::check::stationary`]), set by the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub kind: StallKind,
    /// Still converging: the further ticks the window's pace needs to reach the tolerance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_ticks: Option<u64>,
}

/// The worst relative excess demand of the last ticks.
#[derive(Debug, Default)]
pub struct StallWatch {
    excess: VecDeque<f64>,
}

impl StallWatch {
    /// Record one tick's worst relative excess demand.
    pub fn observe(&mut self, max_rel_excess: f64) {
        if self.excess.len() == WINDOW {
            self.excess.pop_front();
        }
        self.excess.push_back(max_rel_excess);
    }

    /// The diagnosis, given whether the firms are noisy and the run's tolerance.
    pub fn diagnose(&self, noisy: bool, tolerance: f64) -> Stall {
        if noisy {
            return Stall {
                detail: None,
                kind: StallKind::Noisy,
                more_ticks: None,
            };
        }
        // the kept ticks, or the second half of a run shorter than the window
        let n = self.excess.len();
        let skip = if n < WINDOW { n / 2 } else { 0 };
        let window: Vec<f64> = self.excess.iter().skip(skip).copied().collect();
        let half = window.len() / 2;
        let (first, second) = (median(&window[..half]), median(&window[half..]));
        let pace = match (first, second) {
            // log-linear pace between the halves' centres, half a window apart
            (Some(a), Some(b)) if b < FALLING * a && b > 0.0 => Some((a / b).ln() / half as f64),
            _ => steady_fall(&window),
        };
        match pace {
            Some(per_tick) => {
                let last = *window.last().unwrap();
                let more = (last / tolerance).ln() / per_tick;
                Stall {
                    detail: None,
                    kind: StallKind::StillConverging,
                    more_ticks: (more.is_finite() && more > 0.0).then(|| more.ceil() as u64),
                }
            }
            _ => Stall {
                detail: None,
                kind: StallKind::NotConverging,
                more_ticks: None,
            },
        }
    }
}

/// The pace (log fall per tick) of an excess whose segment medians each fall below the one
/// before, between the first and the last segment's centres; None when any does not.
fn steady_fall(window: &[f64]) -> Option<f64> {
    let len = window.len() / SEGMENTS;
    if len == 0 {
        return None;
    }
    let medians: Option<Vec<f64>> = window.chunks_exact(len).take(SEGMENTS).map(median).collect();
    let medians = medians?;
    let falls = medians.windows(2).all(|m| m[1] < m[0]);
    let (a, b) = (medians[0], medians[SEGMENTS - 1]);
    (falls && b > 0.0).then(|| (a / b).ln() / ((SEGMENTS - 1) * len) as f64)
}

fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    Some(s[s.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(series: impl Iterator<Item = f64>) -> StallWatch {
        let mut w = StallWatch::default();
        series.for_each(|e| w.observe(e));
        w
    }

    #[test]
    fn a_falling_excess_is_still_converging_with_the_ticks_it_needs() {
        // e_t = 0.5 * 0.999^t: from e_T it needs ln(e_T / tol) / 0.0010005 more ticks
        let w = watch((0..20_000).map(|t| 0.5 * 0.999f64.powi(t)));
        let s = w.diagnose(false, 1e-10);
        assert_eq!(s.kind, StallKind::StillConverging);
        let last = 0.5 * 0.999f64.powi(19_999);
        let want = (last / 1e-10).ln() / -(0.999f64.ln());
        let got = s.more_ticks.unwrap() as f64;
        assert!((got - want).abs() <= 0.01 * want, "{got} vs {want}");
    }

    #[test]
    fn a_cycle_that_does_not_shrink_is_not_converging() {
        let w = watch((0..20_000).map(|t| 0.26 + 0.1 * ((t % 7) as f64 - 3.0).abs()));
        assert_eq!(w.diagnose(false, 1e-10).kind, StallKind::NotConverging);
        // a constant excess (a fixed point off equilibrium) too
        let w = watch((0..100).map(|_| 0.26));
        assert_eq!(w.diagnose(false, 1e-10).kind, StallKind::NotConverging);
    }

    #[test]
    fn a_slow_steady_fall_is_still_converging_not_a_cycle() {
        // tiny price steps: the excess falls 3e-5 per tick, 6% over the window, smoothly
        let rate = 3e-5f64;
        let w = watch((0..300_000).map(|t| 0.34 * (-rate * t as f64).exp()));
        let s = w.diagnose(false, 1e-10);
        assert_eq!(s.kind, StallKind::StillConverging);
        let last = 0.34 * (-rate * 299_999.0).exp();
        let want = (last / 1e-10).ln() / rate;
        let got = s.more_ticks.unwrap() as f64;
        assert!((got - want).abs() <= 0.01 * want, "{got} vs {want}");
        // the same slow fall beside a cycle that does not shrink is a cycle
        let w = watch((0..300_000).map(|t| 0.34 * (-rate * t as f64).exp() + 0.01 * (1.5 + (t as f64).sin())));
        assert_eq!(w.diagnose(false, 1e-10).kind, StallKind::NotConverging);
    }

    #[test]
    fn noisy_firms_are_named_as_the_cause() {
        let w = watch((0..100).map(|t| 0.5 * 0.9f64.powi(t)));
        assert_eq!(w.diagnose(true, 1e-10).kind, StallKind::Noisy);
    }
}
