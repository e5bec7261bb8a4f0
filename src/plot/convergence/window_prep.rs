//! The stationary window of a noisy run, prepared for the convergence chart: what the run
//! reports of it (from its report or its `summary.json`) and, per good, the running mean price
//! over the window's ticks relative to the reference p*, with its confidence band (drawn by
//! [`super::window`]).

use crate::plot::TrajectoryRow;
use crate::run::Report;

/// What a stationary run reports of its window, for the chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StationaryView {
    /// The window's first and last tick.
    pub first_tick: u64,
    pub last_tick: u64,
    /// The level of the intervals (0.95).
    pub confidence: f64,
    pub goods: Vec<StationaryGood>,
}

/// One market good of a stationary run.
#[derive(Debug, Clone, PartialEq)]
pub struct StationaryGood {
    pub name: String,
    pub mean_price: f64,
    pub mean_price_ci: [f64; 2],
    /// Backprop at the mean plans.
    pub adjoint: f64,
    pub reference: Option<f64>,
}

impl StationaryView {
    /// The window of a stationary run's report (None for other runs).
    pub fn of_report(r: &Report) -> Option<StationaryView> {
        let w = r.stationary.as_ref()?;
        let goods = r
            .goods
            .iter()
            .filter_map(|g| {
                Some(StationaryGood {
                    name: r.goods.name(g.good).to_string(),
                    mean_price: g.mean_price?,
                    mean_price_ci: g.mean_price_ci?,
                    adjoint: g.adjoint,
                    reference: g.reference,
                })
            })
            .collect();
        Some(StationaryView {
            first_tick: w.first_tick,
            last_tick: w.last_tick,
            confidence: w.confidence,
            goods,
        })
    }

    /// The window of a run's `summary.json` (None when it has none, or the file is not one).
    pub fn of_summary(summary: &serde_json::Value) -> Option<StationaryView> {
        let w = summary.get("stationary")?;
        let num = |v: &serde_json::Value| v.as_f64();
        let goods = summary
            .get("goods")?
            .as_array()?
            .iter()
            .filter_map(|g| {
                let ci = g.get("mean_price_ci")?.as_array()?;
                Some(StationaryGood {
                    name: g.get("good")?.as_str()?.to_string(),
                    mean_price: num(g.get("mean_price")?)?,
                    mean_price_ci: [num(ci.first()?)?, num(ci.get(1)?)?],
                    adjoint: num(g.get("adjoint")?)?,
                    reference: g.get("reference").and_then(num),
                })
            })
            .collect();
        Some(StationaryView {
            first_tick: w.get("first_tick")?.as_u64()?,
            last_tick: w.get("last_tick")?.as_u64()?,
            confidence: w.get("confidence").and_then(num).unwrap_or(0.95),
            goods,
        })
    }
}

/// One good's series over the window, in percent of its reference price (of the adjoint where
/// there is none).
pub(super) struct WindowSeries {
    /// Index into [`ConvPrep::goods`].
    pub(super) good: usize,
    /// (tick, running mean)
    pub(super) mean: Vec<(f64, f64)>,
    /// (tick, low, high) of the band, from the first batch's end on
    pub(super) band: Vec<(f64, f64, f64)>,
    /// Backprop at the mean plans.
    pub(super) adjoint: f64,
    /// Whether the values are relative to the reference (else to the adjoint).
    pub(super) reference: bool,
}

/// The window as the chart draws it.
pub(super) struct WindowPrep {
    pub(super) first_tick: u64,
    pub(super) last_tick: u64,
    pub(super) confidence: f64,
    pub(super) series: Vec<WindowSeries>,
}

impl WindowPrep {
    /// The series of the goods `names` (in that order) from `rows` (sorted by tick).
    pub(super) fn new(view: &StationaryView, names: &[&str], rows: &[&TrajectoryRow]) -> Option<WindowPrep> {
        let (first, last) = (view.first_tick, view.last_tick);
        let ticks = (last + 1 - first) as f64;
        let mut series = Vec::new();
        for (good, name) in names.iter().enumerate() {
            let Some(s) = view.goods.iter().find(|g| g.name == *name) else {
                continue;
            };
            let q = s.reference.filter(|q| q.is_finite() && *q != 0.0).unwrap_or(s.adjoint);
            if !(q.is_finite() && q != 0.0) {
                continue;
            }
            let pct = |v: f64| 100.0 * (v / q - 1.0);
            let half = 0.5 * (s.mean_price_ci[1] - s.mean_price_ci[0]);
            let (mut sum, mut n) = (0.0, 0.0);
            let (mut mean, mut band) = (Vec::new(), Vec::new());
            for r in rows
                .iter()
                .filter(|r| r.good == *name && (first..=last).contains(&r.tick))
            {
                if !r.price.is_finite() {
                    continue;
                }
                sum += r.price;
                n += 1.0;
                let m = sum / n;
                let t = r.tick as f64;
                mean.push((t, pct(m)));
                let into = t - first as f64 + 1.0;
                if into * s_batches() >= ticks {
                    let h = half * (ticks / into).sqrt();
                    band.push((t, pct(m - h), pct(m + h)));
                }
            }
            series.push(WindowSeries {
                good,
                mean,
                band,
                adjoint: pct(s.adjoint),
                reference: s.reference.is_some(),
            });
        }
        (!series.is_empty()).then_some(WindowPrep {
            first_tick: first,
            last_tick: last,
            confidence: view.confidence,
            series,
        })
    }
}

/// The band is drawn from the end of the window's first batch of 32.
fn s_batches() -> f64 {
    32.0
}
