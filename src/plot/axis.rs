//! A chart axis: linear, base-10 logarithmic or categorical, with its ticks and their labels
//! chosen here (plotters' own log ticks vanish on short ranges).

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, KeyPointWeight, Ranged};
use std::ops::Range;

/// Smallest value drawn on the error / gap log axes; zeros are drawn here.
pub(super) const LOG_FLOOR: f64 = 1e-17;

/// A 1-D axis: linear, base-10 logarithmic or categorical, with tick placement
/// and labels chosen here (plotters' own log ticks vanish on short ranges).
#[derive(Clone, Debug)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
    /// Linear ticks at integers only (tick counts).
    pub(super) integer: bool,
    /// Non-empty: categorical axis with these labels at 0, 1, ...
    pub(super) cats: Vec<String>,
    /// Non-empty: use exactly these major ticks.
    pub(super) fixed: Vec<f64>,
    /// No ticks or labels (the axis has no data to show).
    pub(super) hidden: bool,
}

impl Axis {
    pub(super) fn linear(lo: f64, hi: f64) -> Axis {
        let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 1.0, lo + 1.0) };
        Axis {
            lo,
            hi,
            log: false,
            integer: false,
            cats: Vec::new(),
            fixed: Vec::new(),
            hidden: false,
        }
    }

    /// Log axis over positive `lo..hi` (in data units).
    pub(super) fn log(lo: f64, hi: f64) -> Axis {
        Axis {
            log: true,
            ..Axis::linear(lo, hi)
        }
    }

    pub(super) fn categorical(cats: Vec<String>) -> Axis {
        Axis {
            cats: cats.clone(),
            ..Axis::linear(-0.5, cats.len() as f64 - 0.5)
        }
    }

    /// Log axis covering `min..max` with `pad` (fraction of the span) on each side.
    pub(super) fn log_padded(min: f64, max: f64, pad_lo: f64, pad_hi: f64) -> Axis {
        let (mut a, mut b) = (min.log10(), max.log10());
        if (b - a).is_nan() || b - a <= 1e-9 {
            a -= 0.3;
            b += 0.3;
        } else {
            let span = b - a;
            a -= span * pad_lo;
            b += span * pad_hi;
        }
        Axis::log(pow10f(a.max(-307.0)), pow10f(b.min(307.9)))
    }

    /// Position of `v` in 0..=1 along the axis (not clamped; NaN for unmappable values).
    pub(super) fn frac(&self, v: f64) -> f64 {
        if self.log {
            let (a, b) = (self.lo.log10(), self.hi.log10());
            if v <= 0.0 {
                return f64::NEG_INFINITY;
            }
            (v.log10() - a) / (b - a)
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    pub(super) fn major(&self, n: usize) -> Vec<f64> {
        let n = n.max(2);
        if self.hidden {
            return Vec::new();
        }
        if !self.fixed.is_empty() {
            return self.fixed.clone();
        }
        if !self.cats.is_empty() {
            let k = self.cats.len().div_ceil(n).max(1);
            return (0..self.cats.len()).step_by(k).map(|i| i as f64).collect();
        }
        if self.log {
            log_major(self.lo, self.hi, n)
        } else {
            linear_ticks(self.lo, self.hi, n, self.integer).0
        }
    }

    fn minor(&self, n: usize) -> Vec<f64> {
        if self.hidden || !self.fixed.is_empty() || !self.cats.is_empty() {
            return Vec::new();
        }
        if self.log {
            log_minor(self.lo, self.hi, n.max(2))
        } else {
            let (_, step) = linear_ticks(self.lo, self.hi, n.max(2), self.integer);
            let sub = if self.integer && step < 2.0 {
                return Vec::new();
            } else {
                step / 2.0
            };
            linear_ticks_step(self.lo, self.hi, sub)
        }
    }

    pub(super) fn label(&self, v: f64) -> String {
        if !self.cats.is_empty() {
            let i = v.round();
            return if i >= 0.0 && (i as usize) < self.cats.len() {
                self.cats[i as usize].clone()
            } else {
                String::new()
            };
        }
        // Wide log axes label every power of ten as 10ⁿ (except 1 and 10) for consistency.
        if self.log && (self.lo < 0.9e-4 || self.hi > 1.1e5) && v > 0.0 {
            let l = v.log10();
            if (l - l.round()).abs() < 1e-9 {
                return match l.round() as i32 {
                    0 => "1".to_string(),
                    1 => "10".to_string(),
                    e => format!("10{}", superscript(e)),
                };
            }
        }
        fmt_num(v)
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = self.frac(*v);
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let len = (limit.1 - limit.0) as f64;
        limit.0 + (len * t + 1e-3).floor() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        match hint.weight() {
            KeyPointWeight::Bold => self.major(hint.max_num_points()),
            KeyPointWeight::Any => {
                let mut v = self.major(hint.bold_points());
                v.extend(self.minor(hint.bold_points()));
                v.sort_by(f64::total_cmp);
                v
            }
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// 10^x for integer-valued or fractional exponents, exact for integers.
fn pow10(e: i32) -> f64 {
    format!("1e{e}").parse().unwrap_or_else(|_| 10f64.powi(e))
}

fn pow10f(x: f64) -> f64 {
    if (x - x.round()).abs() < 1e-12 {
        pow10(x.round() as i32)
    } else {
        10f64.powf(x)
    }
}

/// "Nice" linear ticks (1-2-5 steps) and the step used.
fn linear_ticks(lo: f64, hi: f64, n: usize, integer: bool) -> (Vec<f64>, f64) {
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return (vec![lo], 1.0);
    }
    let raw = span / n.max(1) as f64;
    let mag = pow10(raw.log10().floor() as i32);
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= n as f64)
        .unwrap_or(10.0 * mag);
    if integer {
        step = step.max(1.0).round();
    }
    (linear_ticks_step(lo, hi, step), step)
}

fn linear_ticks_step(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let mut v = Vec::new();
    if step.is_nan() || step <= 0.0 {
        return v;
    }
    let mut k = (lo / step - 1e-9).ceil();
    let end = (hi / step + 1e-9).floor();
    while k <= end && v.len() < 1000 {
        let x = k * step;
        v.push(if x == 0.0 { 0.0 } else { x });
        k += 1.0;
    }
    v
}

fn log_major(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (a, b) = (lo.log10(), hi.log10());
    let e0 = (a - 1e-9).ceil() as i32;
    let e1 = (b + 1e-9).floor() as i32;
    let count = e1 - e0 + 1;
    if count >= 3 {
        let k = [1, 2, 3, 5, 10, 20, 25, 50, 100, 200]
            .into_iter()
            .find(|k| (count + k - 1) / k <= n as i32)
            .unwrap_or(200);
        return (e0..=e1).filter(|e| e.rem_euclid(k) == 0).map(pow10).collect();
    }
    let mut v = Vec::new();
    for e in (a.floor() as i32 - 1)..=(b.ceil() as i32) {
        for m in [1.0, 2.0, 5.0] {
            let x = m * pow10(e);
            if x >= lo * (1.0 - 1e-9) && x <= hi * (1.0 + 1e-9) {
                v.push(x);
            }
        }
    }
    if v.len() >= 3 && v.len() <= n {
        return v;
    }
    if count == 2 {
        return vec![pow10(e0), pow10(e1)];
    }
    let (mut lin, _) = linear_ticks(lo, hi, n.min(6), false);
    lin.retain(|x| *x > 0.0);
    lin
}

fn log_minor(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (a, b) = (lo.log10(), hi.log10());
    let e0 = (a - 1e-9).ceil() as i32;
    let e1 = (b + 1e-9).floor() as i32;
    let count = e1 - e0 + 1;
    let mut v = Vec::new();
    let majors = log_major(lo, hi, n);
    let powers = majors.iter().all(|m| {
        let l = m.log10();
        (l - l.round()).abs() < 1e-9
    });
    if count < 2 || !powers {
        return v;
    }
    if majors.len() as i32 == count {
        if count <= 10 {
            for e in (a.floor() as i32)..=e1 {
                for m in 2..=9 {
                    let x = m as f64 * pow10(e);
                    if x >= lo && x <= hi {
                        v.push(x);
                    }
                }
            }
        }
    } else if count <= 80 {
        v.extend((e0..=e1).map(pow10).filter(|x| !majors.contains(x)));
    }
    v
}

fn superscript(e: i32) -> String {
    e.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            '9' => '⁹',
            c => c,
        })
        .collect()
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Compact tick label: plain decimals for moderate values, `a×10ⁿ` otherwise.
pub(super) fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let av = v.abs();
    let l = av.log10();
    if (l - l.round()).abs() < 1e-9 {
        let p = l.round() as i32;
        if !(-3..=5).contains(&p) {
            return format!("{sign}10{}", superscript(p));
        }
    }
    let e = l.floor() as i32;
    if (-3..6).contains(&e) {
        let dec = (5 - e).clamp(0, 8) as usize;
        let s = trim_zeros(format!("{av:.dec$}"));
        return format!("{sign}{s}");
    }
    let mut e = e;
    let mut m = av / pow10(e);
    if m >= 9.995 {
        m /= 10.0;
        e += 1;
    }
    format!("{sign}{}×10{}", trim_zeros(format!("{m:.2}")), superscript(e))
}

/// Min and max of the finite, positive values.
pub(super) fn positive_extent(vals: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let mut r: Option<(f64, f64)> = None;
    for v in vals {
        if v.is_finite() && v > 0.0 {
            r = Some(match r {
                None => (v, v),
                Some((a, b)) => (a.min(v), b.max(v)),
            });
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_compact() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1e-17), "10⁻¹⁷");
        assert_eq!(fmt_num(0.1 + 0.2), "0.3");
        assert_eq!(fmt_num(100000.0), "100000");
        assert_eq!(fmt_num(2.5e-7), "2.5×10⁻⁷");
        assert_eq!(fmt_num(-0.5), "-0.5");
        assert_eq!(log_major(1e-17, 1e300, 8).len(), 7);
        assert!(log_major(1.6, 2.6, 8).len() >= 3);
    }
}
