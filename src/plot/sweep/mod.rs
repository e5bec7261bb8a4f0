//! The chart of a sweep (`sweep.png`): a line chart for one swept parameter
//! ([`line`]), a heatmap over the first two parameters otherwise ([`heatmap`]), or, when the
//! points are not a full grid of those two (a design table), a scatter of them ([`scatter`]).

mod heatmap;
mod line;
mod scatter;

use super::axis::{fmt_num, Axis};
use super::canvas::{render, Area, Drawing, Format, Theme};
use super::series::median;
use super::{ChartSize, Outcome, PlotError, SweepData, SweepRow};
use heatmap::draw_sweep_2d;
use line::draw_sweep_1d;
use plotters::prelude::DrawingBackend;
use scatter::{draw_sweep_scatter, is_full_grid};

/// Replicates aggregated at one parameter value (or grid cell).
#[derive(Default)]
pub(super) struct Agg {
    pub(super) conv_ticks: Vec<f64>,
    /// (max_rel_error, outcome) per replicate with a value.
    pub(super) errors: Vec<(f64, Outcome)>,
    pub(super) n: usize,
    pub(super) diverged: usize,
    pub(super) max_ticks: usize,
    /// Runs that ended stationary (noisy firms; their ticks are in `conv_ticks`).
    pub(super) stationary: usize,
}

impl Agg {
    pub(super) fn add(&mut self, r: &SweepRow) {
        self.n += 1;
        match r.outcome {
            Outcome::Converged => self.conv_ticks.push(r.ticks.max(1) as f64),
            // a stationary run settled too: its ticks are those to its measured window's end
            Outcome::Stationary => {
                self.stationary += 1;
                self.conv_ticks.push(r.ticks.max(1) as f64)
            }
            Outcome::Diverged => self.diverged += 1,
            Outcome::MaxTicks => self.max_ticks += 1,
        }
        if let Some(e) = r.max_rel_error {
            self.errors.push((e, r.outcome));
        }
    }
    pub(super) fn median_ticks(&self) -> Option<f64> {
        median(&mut self.conv_ticks.clone())
    }
}

/// Distinct values of a parameter, sorted numerically when all are numbers,
/// otherwise in order of first appearance. Also returns the numeric values.
pub(super) fn categories(values: impl Iterator<Item = String>) -> (Vec<String>, Option<Vec<f64>>) {
    let mut seen: Vec<String> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    let nums: Option<Vec<f64>> = seen
        .iter()
        .map(|s| s.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect();
    match nums {
        Some(nums) => {
            let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(seen).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (n, s): (Vec<f64>, Vec<String>) = pairs.into_iter().unzip();
            (s, Some(n))
        }
        None => (seen, None),
    }
}

/// The axis of a parameter's values `cats` (`nums` when all are numbers): numeric (log if
/// positive and spanning > 30x) or categorical; the position of each value and the axis title.
pub(super) fn value_axis(name: &str, cats: &[String], nums: &Option<Vec<f64>>) -> (Axis, Vec<f64>, String) {
    match nums {
        Some(n) => {
            let (lo, hi) = (n[0], n[n.len() - 1]);
            if lo > 0.0 && hi / lo > 30.0 {
                (
                    Axis::log_padded(lo, hi, 0.04, 0.04),
                    n.clone(),
                    format!("{name} (log scale)"),
                )
            } else {
                let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
                let pad = span * 0.05;
                (Axis::linear(lo - pad, hi + pad), n.clone(), name.to_string())
            }
        }
        None => (
            Axis::categorical(cats.to_vec()),
            (0..cats.len()).map(|i| i as f64).collect(),
            name.to_string(),
        ),
    }
}

/// Axis labels for parameter values: numbers in short form (`0.30000000000000004`
/// becomes `0.3`) unless that would make two values look the same.
pub(super) fn display_labels(raw: &[String], nums: &Option<Vec<f64>>) -> Vec<String> {
    let Some(nums) = nums else {
        return raw.to_vec();
    };
    let distinct = |labels: &[String]| {
        let mut sorted = labels.to_vec();
        sorted.sort();
        sorted.dedup();
        sorted.len() == labels.len()
    };
    // Fewest significant digits (3 to 6) that keep the values apart.
    for digits in 3..=6 {
        let short: Vec<String> = raw
            .iter()
            .zip(nums)
            .map(|(r, &v)| {
                let rounded: f64 = format!("{:.*e}", digits - 1, v).parse().unwrap_or(v);
                let f = fmt_num(rounded);
                if f.chars().count() < r.chars().count() {
                    f
                } else {
                    r.clone()
                }
            })
            .collect();
        if distinct(&short) {
            return short;
        }
    }
    raw.to_vec()
}

/// Renders a sweep chart as PNG bytes: a line chart for one swept parameter, a heatmap over
/// the first two parameters otherwise, or a scatter of them when they are not a full grid.
///
/// `title` is drawn at the top; when empty, `data.title` is used.
pub fn render_sweep(data: &SweepData, title: &str, size: ChartSize) -> Result<Vec<u8>, PlotError> {
    render_sweep_as(data, title, size, Format::Png)
}

/// [`render_sweep`] as PNG or SVG bytes.
pub fn render_sweep_as(data: &SweepData, title: &str, size: ChartSize, format: Format) -> Result<Vec<u8>, PlotError> {
    if data.rows.is_empty() {
        return Err(PlotError::NoData("the sweep has no rows".to_string()));
    }
    if data.param_names.is_empty() {
        return Err(PlotError::NoData("the sweep has no parameter columns".to_string()));
    }
    if let Some(r) = data.rows.iter().find(|r| r.params.len() != data.param_names.len()) {
        return Err(PlotError::NoData(format!(
            "sweep row (point {}, replicate {}) has {} parameter values but there are {} parameter names",
            r.point,
            r.replicate,
            r.params.len(),
            data.param_names.len()
        )));
    }
    let base = if title.is_empty() { data.title.as_str() } else { title };
    let np = data.param_names.len();
    let title = if np > 2 {
        format!(
            "{base} — first 2 of {np} parameters shown ({} pooled)",
            data.param_names[2..].join(", ")
        )
    } else {
        base.to_string()
    };
    let (c, d, m) = data.rows.iter().fold((0, 0, 0), |(c, d, m), r| match r.outcome {
        Outcome::Converged => (c + 1, d, m),
        Outcome::Diverged => (c, d + 1, m),
        Outcome::MaxTicks => (c, d, m + 1),
        Outcome::Stationary => (c, d, m),
    });
    let s = data.rows.iter().filter(|r| r.outcome == Outcome::Stationary).count();
    let c = if s > 0 {
        format!("{c} converged, {s} stationary")
    } else {
        format!("{c} converged")
    };
    let mut points: Vec<u64> = data.rows.iter().map(|r| r.point).collect();
    points.sort_unstable();
    points.dedup();
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let subtitle = format!(
        "{}, {}: {c}, {d} diverged, {m} hit max_ticks",
        plural(points.len(), "point"),
        plural(data.rows.len(), "run")
    );
    let chart = Sweep {
        data,
        title: &title,
        subtitle: &subtitle,
    };
    render(format, size, &chart)
}

struct Sweep<'a> {
    data: &'a SweepData,
    title: &'a str,
    subtitle: &'a str,
}

impl Drawing for Sweep<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, th: Theme) -> Result<(), PlotError> {
        if self.data.param_names.len() == 1 {
            draw_sweep_1d(root, self.data, self.title, self.subtitle, th)
        } else if is_full_grid(self.data) {
            draw_sweep_2d(root, self.data, self.title, self.subtitle, th)
        } else {
            draw_sweep_scatter(root, self.data, self.title, self.subtitle, th)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::fixtures::*;

    #[test]
    fn sweep_one_param_renders() {
        let (_d, data) = sweep_data(&[("market.step", STEPS)], 3);
        assert_eq!(data.param_names, vec!["market.step"]);
        assert_eq!(data.rows.len(), STEPS.len() * 3);
        check_sweep(&data, ChartSize::default());
    }

    #[test]
    fn sweep_one_param_categorical_renders() {
        let (_d, data) = sweep_data(&[("market.rule", &["walras", "tatonnement", "double_auction"])], 2);
        check_sweep(&data, SMALL);
    }

    #[test]
    fn sweep_two_params_renders() {
        let (_d, data) = sweep_data(&[("market.step", STEPS), ("agents.rate", RATES)], 2);
        assert_eq!(data.param_names.len(), 2);
        check_sweep(&data, ChartSize::default());
    }

    #[test]
    fn sweep_three_params_renders() {
        let (_d, data) = sweep_data(
            &[
                ("market.step", STEPS),
                ("agents.rate", RATES),
                ("market.noise", &["0", "0.1"]),
            ],
            1,
        );
        check_sweep(&data, SMALL);
    }

    #[test]
    fn sweeps_render_as_svg() {
        for params in [
            vec![("market.step", STEPS)],
            vec![("market.step", STEPS), ("agents.rate", RATES)],
        ] {
            let (_d, data) = sweep_data(&params, 2);
            let svg = render_sweep_as(&data, "test sweep", SMALL, Format::Svg).unwrap();
            let text = assert_svg(&svg, SMALL);
            assert!(text.contains("test sweep") && text.contains("market.step"));
            assert_eq!(
                render_sweep_as(&data, "test sweep", SMALL, Format::Png).unwrap(),
                check_sweep(&data, SMALL)
            );
        }
    }

    #[test]
    fn parameter_labels_are_short_but_distinct() {
        let raw: Vec<String> = ["0.1", "0.30000000000000004", "0.0010"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let nums = Some(vec![0.1, 0.30000000000000004, 0.001]);
        assert_eq!(display_labels(&raw, &nums), vec!["0.1", "0.3", "0.001"]);
        let raw: Vec<String> = ["1.0000001", "1.0000002"].iter().map(|s| s.to_string()).collect();
        let nums = Some(vec![1.0000001, 1.0000002]);
        assert_eq!(display_labels(&raw, &nums), raw);
    }
}
