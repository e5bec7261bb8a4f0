//! The drift test and the intervals on series whose answers are known: AR(1) processes (the
//! mean's 95% interval must cover the true mean in about 95% of seeds, with one series and
//! with several), a series with a trend (never stationary), and a decaying transient (found
//! stationary only once the transient is below the interval's width).

use super::{Check, Detector, Event, Settings};
use crate::numeric::random::{normal, stream, Purpose};
use rand_chacha::ChaCha8Rng;

/// `n` independent AR(1) series x_t = mu + phi (x_{t-1} - mu) + sd e_t, started in their
/// stationary distribution.
struct Ar1 {
    mu: f64,
    phi: f64,
    sd: f64,
    x: Vec<f64>,
    rng: ChaCha8Rng,
}

impl Ar1 {
    fn new(n: usize, mu: f64, phi: f64, sd: f64, seed: u64) -> Ar1 {
        let mut rng = stream(seed, Purpose::Generate, 77);
        let spread = sd / (1.0 - phi * phi).sqrt();
        let x = (0..n).map(|_| mu + spread * normal(&mut rng)).collect();
        Ar1 { mu, phi, sd, x, rng }
    }
    fn step(&mut self) -> &[f64] {
        for x in self.x.iter_mut() {
            *x = self.mu + self.phi * (*x - self.mu) + self.sd * normal(&mut self.rng);
        }
        &self.x
    }
}

/// Feed `value(t)` (one value per series) until the detector calls a window stationary or
/// `max` ticks pass; the tick it did.
fn run(detector: &mut Detector, max: u64, mut value: impl FnMut(u64) -> Vec<f64>) -> Option<u64> {
    for t in 0..max {
        let v = value(t);
        if let Event::Window {
            check: Check::Stationary,
            ..
        } = detector.observe(t, |i| v[i])
        {
            return Some(t);
        }
    }
    None
}

/// The share of seeds whose 95% interval covers the true mean, for `n` AR(1) series with
/// coefficient `phi`; and the mean window length.
fn coverage(n: usize, phi: f64, seeds: u64) -> (f64, f64) {
    let settings = Settings::default();
    let t = settings.t_factor();
    let (mut covered, mut total, mut ticks) = (0u64, 0u64, 0u64);
    for seed in 0..seeds {
        let mut d = Detector::new(n, settings.clone());
        let mut ar = Ar1::new(n, 1.0, phi, 0.1, seed);
        let stop = run(&mut d, 2_000_000, |_| ar.step().to_vec());
        assert!(stop.is_some(), "seed {seed}: an AR(1) process is stationary");
        ticks += d.batch_ticks() * d.batches() as u64;
        for i in 0..n {
            let s = d.stats(i);
            let h = t * s.var_of_mean.sqrt();
            covered += ((s.mean - 1.0).abs() <= h) as u64;
            total += 1;
        }
    }
    (covered as f64 / total as f64, ticks as f64 / seeds as f64)
}

#[test]
fn intervals_of_ar1_means_cover_the_true_mean_95_percent_of_the_time() {
    // 400 seeds: the share's standard error is 1.1 points; allow 2.5 of them either way
    for (n, phi) in [(1, 0.8), (1, 0.97), (4, 0.5)] {
        let (share, window) = coverage(n, phi, 400 / n as u64);
        assert!(
            (0.922..=0.978).contains(&share),
            "{n} series, phi {phi}: coverage {share} (window {window} ticks)"
        );
        // the window is at least 32 batches of 8 autocorrelation times (1 + phi) / (1 - phi)
        let tau = (1.0 + phi) / (1.0 - phi);
        assert!(window >= 0.8 * 256.0 * tau, "phi {phi}: window {window}, tau {tau}");
    }
}

#[test]
fn a_trend_is_never_stationary() {
    // AR(1) noise (sd 0.17) about a line rising 1e-4 per tick: over a window of a few
    // thousand ticks the halves differ by several standard errors
    let mut d = Detector::new(1, Settings::default());
    let mut ar = Ar1::new(1, 0.0, 0.8, 0.1, 5);
    let stop = run(&mut d, 1_000_000, |t| vec![ar.step()[0] + 1e-4 * t as f64]);
    assert_eq!(stop, None, "a trend was called stationary");
    // one series of three drifting is enough to keep the run going
    let mut d = Detector::new(3, Settings::default());
    let mut ar = Ar1::new(3, 0.0, 0.8, 0.1, 6);
    let stop = run(&mut d, 1_000_000, |t| {
        let x = ar.step();
        vec![x[0], x[1] + 1e-4 * t as f64, x[2]]
    });
    assert_eq!(stop, None);
}

#[test]
fn a_transient_ends_before_the_window_that_is_measured() {
    // white noise (sd 0.01) about 1 + 0.5 exp(-t / 2000): by the window that is called
    // stationary, what is left of the transient is within the interval's half-width
    for seed in 0..20 {
        let mut d = Detector::new(1, Settings::default());
        let mut ar = Ar1::new(1, 0.0, 0.0, 0.01, seed);
        let stop = run(&mut d, 1_000_000, |t| {
            vec![1.0 + 0.5 * (-(t as f64) / 2000.0).exp() + ar.step()[0]]
        })
        .expect("the transient decays");
        let first = d.window_start();
        let left = 0.5 * (-(first as f64) / 2000.0).exp();
        let s = d.stats(0);
        let h = Settings::default().t_factor() * s.var_of_mean.sqrt();
        assert!(
            left <= h,
            "seed {seed}: stationary at {stop}, window from {first}: {left} left, half-width {h}"
        );
    }
}

#[test]
fn a_constant_series_is_stationary_at_once() {
    // no noise at all (every batch mean equal): no drift, nothing to wait for
    let mut d = Detector::new(2, Settings::default());
    let stop = run(&mut d, 10_000, |_| vec![3.0, 0.5]);
    // two windows of 32 batches of 16 ticks
    assert_eq!(stop, Some(2 * 32 * 16 - 1));
    assert_eq!(d.stats(0).mean, 3.0);
    assert_eq!(d.stats(0).var_of_mean, 0.0);
}
