//! Series before they are drawn: split at gaps, decimated to the pixels, summarised by
//! quantiles, smoothed, and prepared for a log axis.

use super::axis::LOG_FLOOR;
use std::collections::BTreeMap;

/// Splits a path at points with non-finite y.
pub(super) fn segments(pts: &[(f64, f64)]) -> Vec<&[(f64, f64)]> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, p) in pts.iter().enumerate() {
        let ok = p.0.is_finite() && p.1.is_finite();
        match (ok, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(&pts[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&pts[s..]);
    }
    out
}

/// Keeps first, min, max and last point of each of `buckets` x-buckets
/// (deterministic; preserves extremes). Input must be sorted by x.
pub(super) fn decimate(pts: &[(f64, f64)], buckets: usize) -> Vec<(f64, f64)> {
    let buckets = buckets.max(1);
    if pts.len() <= buckets * 4 {
        return pts.to_vec();
    }
    let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0);
    if x1.is_nan() || x0.is_nan() || x1 <= x0 {
        return pts.to_vec();
    }
    let bucket = |x: f64| (((x - x0) / (x1 - x0) * buckets as f64).floor() as usize).min(buckets - 1);
    let mut out = Vec::with_capacity(buckets * 4);
    let mut i = 0;
    while i < pts.len() {
        let b = bucket(pts[i].0);
        let start = i;
        let (mut lo, mut hi) = (i, i);
        while i < pts.len() && bucket(pts[i].0) == b {
            if pts[i].1 < pts[lo].1 {
                lo = i;
            }
            if pts[i].1 > pts[hi].1 {
                hi = i;
            }
            i += 1;
        }
        let mut idx = [start, lo, hi, i - 1];
        idx.sort_unstable();
        let mut last = usize::MAX;
        for j in idx {
            if j != last {
                out.push(pts[j]);
                last = j;
            }
        }
    }
    out
}

/// Linear-interpolated quantile of sorted data.
pub(super) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let f = pos - i as f64;
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - f) + sorted[i + 1] * f
    } else {
        sorted[i]
    }
}

pub(super) fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(quantile(v, 0.5))
}

pub(super) fn quantile_band(samples: &BTreeMap<u64, Vec<f64>>) -> Vec<(f64, f64, f64, f64)> {
    samples
        .iter()
        .map(|(t, v)| {
            let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            v.sort_by(f64::total_cmp);
            (*t as f64, quantile(&v, 0.1), quantile(&v, 0.5), quantile(&v, 0.9))
        })
        .collect()
}

/// Centred moving average over `2 k + 1` points, of the finite values in each window (NaN
/// where the window has none or the point itself is NaN).
pub(super) fn moving_average(pts: &[(f64, f64)], k: usize) -> Vec<(f64, f64)> {
    let n = pts.len();
    // prefix sums of the finite values and of their count
    let mut sum = vec![0.0; n + 1];
    let mut count = vec![0usize; n + 1];
    for (i, p) in pts.iter().enumerate() {
        let ok = p.1.is_finite();
        sum[i + 1] = sum[i] + if ok { p.1 } else { 0.0 };
        count[i + 1] = count[i] + ok as usize;
    }
    (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(k), (i + k + 1).min(n));
            let c = count[b] - count[a];
            let v = if c > 0 && pts[i].1.is_finite() {
                (sum[b] - sum[a]) / c as f64
            } else {
                f64::NAN
            };
            (pts[i].0, v)
        })
        .collect()
}

/// The positive values (others NaN, not drawn on a log axis), and whether any was not.
pub(super) fn positive_only(pts: &[(f64, f64)]) -> (Vec<(f64, f64)>, bool) {
    let mut any = false;
    let v = pts
        .iter()
        .map(|q| {
            if q.1.is_finite() && q.1 <= 0.0 {
                any = true;
                (q.0, f64::NAN)
            } else {
                *q
            }
        })
        .collect();
    (v, any)
}

/// Values floored at [`LOG_FLOOR`] for a log axis (NaN stays NaN), and whether any was.
pub(super) fn floored(pts: &[(f64, f64)]) -> (Vec<(f64, f64)>, bool) {
    let mut any = false;
    let v = pts
        .iter()
        .map(|q| {
            if q.1.is_finite() && q.1 < LOG_FLOOR {
                any = true;
                (q.0, LOG_FLOOR)
            } else {
                *q
            }
        })
        .collect();
    (v, any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_skips_gaps() {
        let pts = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0), (3.0, 5.0)];
        let m = moving_average(&pts, 1);
        assert_eq!(m[0].1, 1.0);
        assert!(m[1].1.is_nan());
        assert_eq!(m[2].1, 4.0);
        assert_eq!(m[3].1, 4.0);
    }

    #[test]
    fn decimation_keeps_extremes_and_ends() {
        let pts: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, ((i * 7919) % 1000) as f64)).collect();
        let d = decimate(&pts, 50);
        assert!(d.len() <= 200);
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert!(d.iter().any(|p| p.1 == 999.0));
        assert!(d.iter().any(|p| p.1 == 0.0));
        assert_eq!(d, decimate(&pts, 50));
    }
}
