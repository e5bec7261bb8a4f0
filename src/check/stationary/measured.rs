//! What a stationary run measured over its window, ready for the final checks: per market
//! good the mean price and the half-widths of its interval and of the bias's; the mean plans;
//! the window ([`Window`]); and why a window was not stationary, in words.

use super::{Check, Detector, Plans, Settings, Window};

/// A noisy run's measurements over its stationary window: per market good, the mean price
/// and its interval's half-width, the bias's half-width; the mean plans; the window.
pub struct Measured {
    /// Per market good: the mean price and its interval's half-width.
    pub price: Vec<(f64, f64)>,
    /// Per market good: the half-width of the bias's interval.
    pub bias_half_width: Vec<f64>,
    /// The mean plans, per input edge.
    pub plans: Vec<f64>,
    pub window: Window,
}

impl Measured {
    /// The measurements of the window `detector` just called stationary.
    pub fn new(detector: &Detector, plans: &Plans, settings: &Settings) -> Measured {
        let t = settings.t_factor();
        let n = detector.batch_means().len();
        let stats: Vec<_> = (0..n).map(|i| detector.stats(i)).collect();
        let b = detector.batch_ticks();
        let k = detector.batches() as u64;
        let first_tick = detector.window_start();
        Measured {
            price: stats.iter().map(|s| (s.mean, t * s.var_of_mean.sqrt())).collect(),
            bias_half_width: (0..n).map(|i| t * plans.bias(i).var_of_mean.sqrt()).collect(),
            plans: plans.mean_plans(),
            window: Window {
                autocorrelation_ticks: stats.iter().map(|s| s.autocorrelation).fold(0.0, f64::max),
                batch_ticks: b,
                batches: detector.batches(),
                confidence: settings.confidence,
                first_tick,
                last_tick: first_tick + k * b - 1,
                widest_interval: stats
                    .iter()
                    .map(|s| {
                        let h = t * s.var_of_mean.sqrt() / s.mean.abs();
                        if h.is_nan() {
                            f64::INFINITY
                        } else {
                            h
                        }
                    })
                    .fold(0.0, f64::max),
                windows: detector.windows(),
            },
        }
    }
}

/// Why a window was not stationary, in words (`name(i)` is series i's good).
pub fn describe<'a>(check: &Check, name: impl Fn(usize) -> &'a str) -> String {
    match check {
        Check::Stationary => "was stationary".to_string(),
        Check::Settling => "passed, but had no window before it to compare with".to_string(),
        Check::Short {
            series,
            autocorrelation,
            next_batch,
        } => format!(
            "had batches too short for the price of {} (autocorrelation time {autocorrelation:.0} ticks; the next \
             batches were to be {next_batch} ticks)",
            name(*series)
        ),
        Check::Drift { series, t, critical } => format!(
            "was drifting: the price of {} moved by {t:.1} standard errors between its halves (more than {critical:.1})",
            name(*series)
        ),
        Check::Shift { series, t, critical } => format!(
            "had moved from the window before: the mean price of {} by {t:.1} standard errors (more than {critical:.1})",
            name(*series)
        ),
    }
}
