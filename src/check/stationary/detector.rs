//! The drift test that ends a noisy run: consecutive windows of `K` batches of `b` ticks, each
//! judged at its end for every series (docs/NOISE.md, "When is a run stationary?"):
//!
//! 1. **batches long enough**: each series' integrated autocorrelation time, estimated from the
//!    window, is at most `b / F` (`F` = [`Settings::batch_autocorrelations`]); else `b` grows
//!    (at least doubles) and the windows start again;
//! 2. **no drift within the window**: the means of its two halves agree, `|m2 - m1| <= c se`,
//!    `se` from the batch means within the halves, `c` the Student t quantile with `K - 2`
//!    degrees of freedom at `alpha / (2 n)` (Bonferroni over the `n` series: a stationary
//!    window passes for all of them with probability at least `1 - alpha`);
//! 3. **no shift from the window before**: its mean agrees with the previous window's (which
//!    passed 1 and 2 with the same `b`), with the standard errors of both means and the t
//!    quantile with `K - 1` degrees of freedom at `alpha / (2 n)`.
//!
//! A window that passes all three is stationary: the run ends and is measured over it. The
//! statistics are streamed ([`super::batches::Batches`]): about 8 numbers per series.

use super::batches::{Batches, WindowStats};
use super::quantile::t_quantile;
use super::Settings;

/// What a value did to the detector.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Added to the current batch.
    Value,
    /// Closed a batch in half `half` of the window (0 or 1) whose index in the window is `index`;
    /// [`Detector::batch_means`] holds its means.
    Batch { index: usize, half: usize },
    /// Closed the last batch of the window (the batch means are in
    /// [`Detector::batch_means`]) and judged the window.
    Window { half: usize, index: usize, check: Check },
}

/// How a window was judged.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Stationary: the run is measured over this window.
    Stationary,
    /// Passed, with no window before it to compare with: the next window may be stationary.
    Settling,
    /// A series' autocorrelation time is too long for the batches: they grow to `next_batch`.
    Short {
        series: usize,
        autocorrelation: f64,
        next_batch: u64,
    },
    /// A series' halves differ (`t` standard errors, more than `critical`).
    Drift { series: usize, t: f64, critical: f64 },
    /// A series' mean moved from the window before (`t` standard errors).
    Shift { series: usize, t: f64, critical: f64 },
}

/// The state of the windows.
#[derive(Debug, Clone)]
pub struct Detector {
    settings: Settings,
    series: Batches,
    /// Ticks per batch.
    b: u64,
    /// Values in the current batch; closed batches in the window.
    in_batch: u64,
    closed: usize,
    /// Whether a window is open (its shift set), and the tick it started at.
    open: bool,
    window_start: u64,
    /// The previous window's means and their variances, when it passed tests 1 and 2 with
    /// the same batch length.
    prev: Option<Vec<(f64, f64)>>,
    batch_means: Vec<f64>,
    /// Windows judged so far.
    windows: u64,
    within_critical: f64,
    between_critical: f64,
}

impl Detector {
    /// A detector of `n` series.
    pub fn new(n: usize, settings: Settings) -> Detector {
        let k = settings.batches;
        let tail = settings.alpha / (2.0 * n.max(1) as f64);
        let first = settings.first_batch.max(settings.min_window.div_ceil(k as u64)).max(1);
        Detector {
            series: Batches::new(n, k),
            b: first,
            in_batch: 0,
            closed: 0,
            open: false,
            window_start: 0,
            prev: None,
            batch_means: vec![0.0; n],
            windows: 0,
            within_critical: t_quantile(tail, (k - 2) as f64),
            between_critical: t_quantile(tail, (k - 1) as f64),
            settings,
        }
    }

    /// Ticks per batch now.
    pub fn batch_ticks(&self) -> u64 {
        self.b
    }

    /// Batches per window.
    pub fn batches(&self) -> usize {
        self.settings.batches
    }

    /// The tick the current (or last) window started at.
    pub fn window_start(&self) -> u64 {
        self.window_start
    }

    /// Windows judged so far.
    pub fn windows(&self) -> u64 {
        self.windows
    }

    /// Whether the window now open (or about to open) can end the run: the one before it
    /// passed tests 1 and 2.
    pub fn candidate(&self) -> bool {
        self.prev.is_some()
    }

    /// The means of the batch just closed, per series.
    pub fn batch_means(&self) -> &[f64] {
        &self.batch_means
    }

    /// The statistics of series `i` over the window just judged.
    pub fn stats(&self, i: usize) -> WindowStats {
        self.series.stats(i, self.b)
    }

    /// Forget the windows so far (a shock changed the economy): the next value opens a new
    /// window, with no window before it.
    pub fn reset(&mut self) {
        self.open = false;
        self.prev = None;
    }

    /// Add tick `tick`'s values (`value(i)` of series `i`).
    pub fn observe(&mut self, tick: u64, value: impl Fn(usize) -> f64) -> Event {
        if !self.open {
            self.series.start(&value);
            self.open = true;
            self.window_start = tick;
            self.in_batch = 0;
            self.closed = 0;
        }
        for i in 0..self.series.len() {
            self.series.add(i, value(i));
        }
        self.in_batch += 1;
        if self.in_batch < self.b {
            return Event::Value;
        }
        let k = self.settings.batches;
        let half = (self.closed >= k / 2) as usize;
        for i in 0..self.series.len() {
            self.batch_means[i] = self.series.close(i, self.b, half);
        }
        let index = self.closed;
        self.in_batch = 0;
        self.closed += 1;
        if self.closed < k {
            return Event::Batch { index, half };
        }
        self.open = false;
        self.windows += 1;
        let check = self.judge();
        Event::Window { half, index, check }
    }

    /// Judge the window just closed (tests 1 to 3 of the module's doc).
    fn judge(&mut self) -> Check {
        let n = self.series.len();
        let stats: Vec<WindowStats> = (0..n).map(|i| self.stats(i)).collect();
        let f = self.settings.batch_autocorrelations;
        // 1. batches long enough (the longest autocorrelation time; ties: the first series)
        if let Some((series, tau)) = worst(stats.iter().map(|s| s.autocorrelation)) {
            if f * tau > self.b as f64 {
                let next_batch = (2 * self.b).max((f * tau).ceil() as u64);
                self.b = next_batch;
                self.prev = None;
                return Check::Short {
                    series,
                    autocorrelation: tau,
                    next_batch,
                };
            }
        }
        // 2. no drift within the window
        if let Some((series, t)) = worst(stats.iter().map(|s| s.drift_t().abs())) {
            if t > self.within_critical {
                self.prev = None;
                return Check::Drift {
                    series,
                    t,
                    critical: self.within_critical,
                };
            }
        }
        let now: Vec<(f64, f64)> = stats.iter().map(|s| (s.mean, s.var_of_mean)).collect();
        let Some(prev) = self.prev.replace(now) else {
            return Check::Settling;
        };
        // 3. no shift from the window before
        let shift = stats.iter().zip(&prev).map(|(s, &(m, v))| {
            let d = s.mean - m;
            let se = (s.var_of_mean + v).sqrt();
            if d == 0.0 {
                0.0
            } else if se > 0.0 {
                (d / se).abs()
            } else {
                f64::INFINITY
            }
        });
        if let Some((series, t)) = worst(shift) {
            if t > self.between_critical {
                return Check::Shift {
                    series,
                    t,
                    critical: self.between_critical,
                };
            }
        }
        Check::Stationary
    }
}

/// The index and value of the largest of `values` (NaN counts as the largest; ties: the
/// first); None when empty.
fn worst(values: impl Iterator<Item = f64>) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in values.enumerate() {
        let v = if v.is_nan() { f64::INFINITY } else { v };
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best
}
