//! Batch means of many series over one window, kept as running sums (no series is stored):
//! a window is `K` consecutive batches of `b` values each; per series it keeps the current
//! batch's sum, the sum of squares of the values, and the sums and sums of squares of the batch
//! means of each half of the window. From these come the window's mean, the variance of its
//! batch means (the confidence interval), the difference of the halves' means against its
//! standard error (the drift test), and the integrated autocorrelation time
//! `b Var(batch mean) / Var(value)` (whether the batches are long enough).
//!
//! Every value is taken relative to the series' first value in the window (its shift), so
//! that the sums of squares keep their digits when a series varies little about a large mean.

/// Per series: 7 numbers.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    shift: f64,
    batch: f64,
    value_sq: f64,
    sum: [f64; 2],
    sq: [f64; 2],
}

/// The running sums of `n` series over one window of `batches` batches.
#[derive(Debug, Clone)]
pub struct Batches {
    acc: Vec<Acc>,
    /// Batches per window (even).
    batches: usize,
}

impl Batches {
    /// `n` series, windows of `batches` batches (an even number, at least 4).
    pub fn new(n: usize, batches: usize) -> Batches {
        assert!(
            batches >= 4 && batches.is_multiple_of(2),
            "an even number of batches, at least 4"
        );
        Batches {
            acc: vec![Acc::default(); n],
            batches,
        }
    }

    pub fn len(&self) -> usize {
        self.acc.len()
    }

    pub fn is_empty(&self) -> bool {
        self.acc.is_empty()
    }

    /// Batches per window.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Start a window: series `i`'s values are taken relative to `first(i)`.
    pub fn start(&mut self, first: impl Fn(usize) -> f64) {
        for (i, a) in self.acc.iter_mut().enumerate() {
            *a = Acc {
                shift: first(i),
                ..Acc::default()
            };
        }
    }

    /// Add a value of series `i` to its current batch.
    #[inline]
    pub fn add(&mut self, i: usize, value: f64) {
        let a = &mut self.acc[i];
        let d = value - a.shift;
        a.batch += d;
        a.value_sq += d * d;
    }

    /// Close the current batch of series `i` (of `b` values), in half `half` (0 or 1) of the
    /// window; returns its mean.
    #[inline]
    pub fn close(&mut self, i: usize, b: u64, half: usize) -> f64 {
        let a = &mut self.acc[i];
        let m = a.batch / b as f64;
        a.batch = 0.0;
        a.sum[half] += m;
        a.sq[half] += m * m;
        a.shift + m
    }

    /// Add a whole batch's value of series `i` (a series measured per batch), in `half`.
    #[inline]
    pub fn add_batch(&mut self, i: usize, value: f64, half: usize) {
        let a = &mut self.acc[i];
        let m = value - a.shift;
        a.sum[half] += m;
        a.sq[half] += m * m;
    }

    /// The statistics of series `i` over the full window (all its batches closed), with
    /// batches of `b` values.
    pub fn stats(&self, i: usize, b: u64) -> WindowStats {
        let a = &self.acc[i];
        let k = self.batches as f64;
        let h = k / 2.0;
        let sum = a.sum[0] + a.sum[1];
        let mean = sum / k;
        // sample variance of the batch means, and the pooled variance within the halves
        let var = ((a.sq[0] + a.sq[1] - sum * mean) / (k - 1.0)).max(0.0);
        let within = ((a.sq[0] - a.sum[0] * a.sum[0] / h) + (a.sq[1] - a.sum[1] * a.sum[1] / h)) / (k - 2.0);
        let within = within.max(0.0);
        let n = k * b as f64;
        let value_var = ((a.value_sq - n * mean * mean) / (n - 1.0)).max(0.0);
        let drift = a.sum[1] / h - a.sum[0] / h;
        let drift_se = (within * 2.0 / h).sqrt();
        WindowStats {
            mean: a.shift + mean,
            var_of_mean: var / k,
            drift,
            drift_se,
            autocorrelation: if value_var > 0.0 {
                b as f64 * within / value_var
            } else {
                0.0
            },
        }
    }
}

/// One series over one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowStats {
    /// The mean over the window.
    pub mean: f64,
    /// Its variance, from the batch means: `s^2 / K` (s^2 their sample variance).
    pub var_of_mean: f64,
    /// The second half's mean minus the first half's.
    pub drift: f64,
    /// The standard error of `drift`, from the variance of the batch means within the halves
    /// (pooled: a drift does not inflate it as it inflates the variance over the window).
    pub drift_se: f64,
    /// The integrated autocorrelation time, in values: `b s_w^2 / Var(value)` (s_w^2 the
    /// pooled variance of the batch means within the halves). Near the truth for batches much
    /// longer than it; at most about `b` when they are not.
    pub autocorrelation: f64,
}

impl WindowStats {
    /// `drift / drift_se`: 0 when both are 0 (a constant series), infinite when only the
    /// standard error is.
    pub fn drift_t(&self) -> f64 {
        if self.drift == 0.0 {
            0.0
        } else if self.drift_se > 0.0 {
            self.drift / self.drift_se
        } else {
            f64::INFINITY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running sums give what the stored batch means give, computed plainly.
    #[test]
    fn running_sums_agree_with_stored_batch_means() {
        let (k, b) = (8usize, 5u64);
        let values: Vec<f64> = (0..k * b as usize)
            .map(|t| 1e6 + (t as f64 * 0.7).sin() + 0.01 * t as f64)
            .collect();
        let mut s = Batches::new(1, k);
        s.start(|_| values[0]);
        let mut means = Vec::new();
        for (t, v) in values.iter().enumerate() {
            s.add(0, *v);
            if (t as u64 + 1).is_multiple_of(b) {
                let half = (means.len() >= k / 2) as usize;
                means.push(s.close(0, b, half));
            }
        }
        let st = s.stats(0, b);
        let mean = means.iter().sum::<f64>() / k as f64;
        let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (k as f64 - 1.0);
        let h = k / 2;
        let m0 = means[..h].iter().sum::<f64>() / h as f64;
        let m1 = means[h..].iter().sum::<f64>() / h as f64;
        let within = (means[..h].iter().map(|m| (m - m0).powi(2)).sum::<f64>()
            + means[h..].iter().map(|m| (m - m1).powi(2)).sum::<f64>())
            / (k as f64 - 2.0);
        let all = values.iter().sum::<f64>() / values.len() as f64;
        let value_var = values.iter().map(|v| (v - all).powi(2)).sum::<f64>() / (values.len() as f64 - 1.0);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-12);
        assert!(close(st.mean, all) && close(st.mean, mean), "{} {all}", st.mean);
        assert!(
            close(st.var_of_mean, var / k as f64),
            "{} {}",
            st.var_of_mean,
            var / k as f64
        );
        assert!(close(st.drift, m1 - m0));
        assert!(close(st.drift_se, (within * 2.0 / h as f64).sqrt()));
        assert!(close(st.autocorrelation, b as f64 * within / value_var));
    }
}
