//! What the convergence chart draws, prepared from a run's rows: the series per good, the
//! quantile bands of many goods, the metrics over ticks, the shocks and the shock wave.

use super::window_prep::WindowPrep;
use super::{MANY_GOODS, WORST_SHOWN};
use crate::plot::axis::{Axis, LOG_FLOOR};
use crate::plot::canvas::PALETTE;
use crate::plot::series::{moving_average, quantile_band};
use crate::plot::{MetricsRow, PlotError, RunData, Selected, TrajectoryRow};
use plotters::style::RGBColor;
use std::collections::{BTreeMap, HashMap};

/// One good's series over the logged ticks.
pub(super) struct GoodSeries {
    pub(super) name: String,
    /// (tick, price)
    pub(super) price: Vec<(f64, f64)>,
    /// (tick, p*) with p* the reference price; NaN where the row has none (no dashed line
    /// is drawn there: the adjoint is not a reference)
    pub(super) pstar: Vec<(f64, f64)>,
    /// (tick, |p - q| / |q|), q the reference price, else the adjoint; NaN where undefined
    pub(super) rel: Vec<(f64, f64)>,
}

/// One good of `propagation.csv` that the shock reached: when, against its depth.
pub(super) struct WavePoint {
    /// Index into [`ConvPrep::wave_shocks`].
    pub(super) shock: usize,
    pub(super) depth: f64,
    /// Ticks from the shock to the arrival.
    pub(super) after: f64,
    pub(super) good: String,
}

/// What the distance panel shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum DistanceView {
    /// W and/or Φ − Φ* on a log axis.
    Gap,
    /// Φ itself on a linear axis: no reference, so Φ* is unknown.
    Phi,
    /// Nothing to draw.
    Empty,
}

/// Price steps smaller than this (relative) are rounding: the cosine is not drawn there.
pub(super) const COSINE_NOISE: f64 = 1e-12;

/// Everything the convergence chart draws, prepared from a run's rows.
pub(super) struct ConvPrep {
    pub(super) goods: Vec<GoodSeries>,
    /// Goods drawn individually, in legend order.
    pub(super) shown: Vec<usize>,
    pub(super) many: bool,
    /// (tick, q10, q50, q90) of price over all goods (many-goods mode).
    pub(super) price_band: Vec<(f64, f64, f64, f64)>,
    /// Same for relative error (floored).
    pub(super) rel_band: Vec<(f64, f64, f64, f64)>,
    pub(super) excess: Vec<(f64, f64)>,
    /// The Lyapunov function W and Φ − Φ* per logged tick (NaN where not logged).
    pub(super) lyapunov: Vec<(f64, f64)>,
    pub(super) phi_gap: Vec<(f64, f64)>,
    /// Φ itself (drawn when there is no reference: Φ* unknown).
    pub(super) phi: Vec<(f64, f64)>,
    pub(super) distance: DistanceView,
    /// Logged steps in which W rose, and steps with W on both ends.
    pub(super) lyapunov_rises: (usize, usize),
    pub(super) mispricing: Vec<(f64, f64)>,
    pub(super) firm_lag: Vec<(f64, f64)>,
    /// The cosine (in the rules' geometry where logged, else Euclidean), NaN where the price
    /// step is rounding; its moving average; whether it is the mirror cosine.
    pub(super) cosine: Vec<(f64, f64)>,
    pub(super) cosine_smooth: Vec<(f64, f64)>,
    pub(super) cosine_mirror: bool,
    pub(super) cosine_dropped: usize,
    pub(super) cosine_window: usize,
    pub(super) shocks: Vec<(f64, String)>,
    /// The shock wave: points, the shocks (tick, label), and goods that did not arrive.
    pub(super) wave: Vec<WavePoint>,
    pub(super) wave_shocks: Vec<(u64, String)>,
    pub(super) wave_missing: usize,
    pub(super) x: Axis,
    /// Rows without (with) a reference price.
    pub(super) refs_missing: usize,
    pub(super) refs_present: usize,
    pub(super) first_tick: u64,
    pub(super) last_tick: u64,
    pub(super) logged: usize,
    /// Logged ticks in the run's files, when more than were read (and drawn).
    pub(super) logged_in_files: Option<usize>,
    pub(super) diverged: bool,
    /// What was selected, when the data is a part of the run.
    pub(super) selected: Option<Selected>,
    /// The palette index of each good drawn, by rank: a selected good keeps the colour it has
    /// in the chart of the whole run (when that chart draws every good).
    pub(super) palette: Vec<usize>,
    /// The stationary window of a noisy run, with the series drawn in its panel.
    pub(super) window: Option<WindowPrep>,
}

impl ConvPrep {
    /// Prepare the chart of `data` (which needs at least one trajectory row).
    pub(super) fn new(data: &RunData) -> Result<ConvPrep, PlotError> {
        if data.trajectory.is_empty() {
            return Err(PlotError::NoData(
                "the run has no trajectory rows (trajectory.csv is empty)".to_string(),
            ));
        }
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut goods: Vec<GoodSeries> = Vec::new();
        let mut rows: Vec<&TrajectoryRow> = data.trajectory.iter().collect();
        rows.sort_by_key(|r| r.tick); // stable: keeps file order within a tick
        let (mut refs_missing, mut refs_present) = (0usize, 0usize);
        let mut diverged = false;
        for r in &rows {
            let gi = *index.entry(r.good.as_str()).or_insert_with(|| {
                goods.push(GoodSeries {
                    name: r.good.clone(),
                    price: Vec::new(),
                    pstar: Vec::new(),
                    rel: Vec::new(),
                });
                goods.len() - 1
            });
            let t = r.tick as f64;
            let (pstar, q) = match r.reference {
                Some(v) => {
                    refs_present += 1;
                    (v, v)
                }
                None => {
                    refs_missing += 1;
                    (f64::NAN, r.adjoint)
                }
            };
            let rel = if q.is_finite() && q != 0.0 && r.price.is_finite() {
                (r.price - q).abs() / q.abs()
            } else {
                f64::NAN
            };
            if !r.price.is_finite() || r.price.abs() > 1e100 {
                diverged = true;
            }
            let g = &mut goods[gi];
            g.price.push((t, r.price));
            g.pstar.push((t, pstar));
            g.rel.push((t, rel));
        }
        let many = goods.len() > MANY_GOODS;
        let shown: Vec<usize> = if many {
            let mut order: Vec<(f64, usize)> = goods
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    let last = g.rel.last().map_or(f64::NAN, |p| p.1);
                    (if last.is_nan() { f64::INFINITY } else { last }, i)
                })
                .collect();
            order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            order.into_iter().take(WORST_SHOWN).map(|p| p.1).collect()
        } else {
            (0..goods.len()).collect()
        };
        let (mut price_band, mut rel_band) = (Vec::new(), Vec::new());
        if many {
            let mut ps: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            let mut rs: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for r in &rows {
                ps.entry(r.tick).or_default().push(r.price);
            }
            for g in &goods {
                for &(t, v) in &g.rel {
                    rs.entry(t as u64)
                        .or_default()
                        .push(if v.is_finite() { v.max(LOG_FLOOR) } else { v });
                }
            }
            price_band = quantile_band(&ps);
            rel_band = quantile_band(&rs);
        }
        let mut metrics: Vec<&MetricsRow> = data.metrics.iter().collect();
        metrics.sort_by_key(|m| m.tick);
        let series = |f: &dyn Fn(&MetricsRow) -> Option<f64>| -> Vec<(f64, f64)> {
            metrics
                .iter()
                .map(|m| (m.tick as f64, f(m).unwrap_or(f64::NAN)))
                .collect()
        };
        let excess = series(&|m| Some(m.max_rel_excess));
        let lyapunov = series(&|m| m.lyapunov);
        let phi_gap = series(&|m| m.phi_gap);
        let phi = series(&|m| m.phi);
        let finite = |v: &[(f64, f64)]| v.iter().any(|q| q.1.is_finite());
        let distance = if finite(&lyapunov) || finite(&phi_gap) {
            DistanceView::Gap
        } else if finite(&phi) {
            DistanceView::Phi
        } else {
            DistanceView::Empty
        };
        // rises of W between consecutive logged ticks above rounding (not across a shock, which
        // moves the equilibrium W measures from)
        let lyapunov_rises = crate::check::lyapunov::rises(metrics.iter().map(|m| (m.lyapunov, m.shock.is_some())));
        let mispricing = series(&|m| m.mispricing);
        let firm_lag = series(&|m| m.firm_lag);
        let cosine_mirror = metrics.iter().any(|m| m.cosine_mirror.is_some());
        let mut cosine_dropped = 0;
        let cosine: Vec<(f64, f64)> = metrics
            .iter()
            .map(|m| {
                let c = if cosine_mirror { m.cosine_mirror } else { m.cosine };
                let c = c.unwrap_or(f64::NAN);
                if c.is_finite() && m.max_rel_price_change < COSINE_NOISE {
                    cosine_dropped += 1;
                    (m.tick as f64, f64::NAN)
                } else {
                    (m.tick as f64, c)
                }
            })
            .collect();
        let cosine_window = (cosine.len() / 80).clamp(2, 50);
        let cosine_smooth = moving_average(&cosine, cosine_window);
        let shocks: Vec<(f64, String)> = metrics
            .iter()
            .filter_map(|m| m.shock.as_ref().map(|s| (m.tick as f64, s.clone())))
            .collect();
        // the shock wave: with one shock tick, propagation.csv has no shock_tick column
        let mut wave_shocks: Vec<(u64, String)> = Vec::new();
        let (mut wave, mut wave_missing) = (Vec::new(), 0usize);
        for r in &data.propagation {
            let tick = match r.shock_tick {
                Some(t) => t,
                None => match metrics.iter().find(|m| m.shock.is_some()) {
                    Some(m) => m.tick,
                    None => continue,
                },
            };
            let shock = match wave_shocks.iter().position(|s| s.0 == tick) {
                Some(i) => i,
                None => {
                    let label = metrics
                        .iter()
                        .find(|m| m.tick == tick)
                        .and_then(|m| m.shock.clone())
                        .unwrap_or_default();
                    wave_shocks.push((tick, label));
                    wave_shocks.len() - 1
                }
            };
            match r.arrival_tick {
                Some(a) => wave.push(WavePoint {
                    shock,
                    depth: r.depth as f64,
                    after: a.saturating_sub(tick) as f64,
                    good: r.good.clone(),
                }),
                None => wave_missing += 1,
            }
        }
        let first = rows[0].tick.min(metrics.first().map_or(u64::MAX, |m| m.tick));
        let last = rows[rows.len() - 1].tick.max(metrics.last().map_or(0, |m| m.tick));
        let mut x = if last > first {
            Axis::linear(first as f64, last as f64)
        } else {
            let mut a = Axis::linear(first as f64 - 0.5, first as f64 + 0.5);
            a.fixed = vec![first as f64];
            a
        };
        x.integer = true;
        let logged = {
            let mut t: Vec<u64> = rows.iter().map(|r| r.tick).collect();
            t.dedup();
            t.len()
        };
        let palette = match &data.selected {
            Some(sel) if !many && sel.run_goods.len() <= MANY_GOODS => shown
                .iter()
                .map(|&gi| {
                    let name = &goods[gi].name;
                    sel.run_goods.iter().position(|g| g == name).unwrap_or(gi)
                })
                .collect(),
            _ => (0..shown.len()).collect(),
        };
        let window = data.stationary.as_ref().and_then(|view| {
            let names: Vec<&str> = goods.iter().map(|g| g.name.as_str()).collect();
            let shown: Vec<&str> = shown.iter().map(|&gi| names[gi]).collect();
            // the goods drawn: those shown, by their index in `goods`
            let prep = WindowPrep::new(view, &names, &rows)?;
            Some(WindowPrep {
                series: prep
                    .series
                    .into_iter()
                    .filter(|s| shown.contains(&names[s.good]))
                    .collect(),
                ..prep
            })
        });
        Ok(ConvPrep {
            window,
            goods,
            shown,
            many,
            price_band,
            rel_band,
            excess,
            lyapunov,
            phi_gap,
            phi,
            distance,
            lyapunov_rises,
            mispricing,
            firm_lag,
            cosine,
            cosine_smooth,
            cosine_mirror,
            cosine_dropped,
            cosine_window,
            shocks,
            wave,
            wave_shocks,
            wave_missing,
            x,
            refs_missing,
            refs_present,
            first_tick: first,
            last_tick: last,
            logged,
            logged_in_files: (data.logged_ticks > logged).then_some(data.logged_ticks),
            diverged,
            selected: data.selected.clone(),
            palette,
        })
    }

    /// The colour of the shock of this rank.
    pub(super) fn color(&self, rank: usize) -> RGBColor {
        PALETTE[rank % PALETTE.len()]
    }

    /// The colour of the good drawn at this rank.
    pub(super) fn good_color(&self, rank: usize) -> RGBColor {
        self.color(self.palette.get(rank).copied().unwrap_or(rank))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::fixtures::*;
    use crate::plot::{read_run, ChartSize};

    /// Without a reference Φ* (large economies) the panel draws Φ itself and says that Φ* is
    /// unknown: it does not invent a minimum (Φ minus its smallest logged value drew a dip that
    /// was not there). With a reference, Φ − Φ* as logged.
    #[test]
    fn phi_without_reference_is_drawn_itself() {
        let (_d, mut data) = Synth::converged().data();
        for m in &mut data.metrics {
            m.phi_gap = None;
            m.lyapunov = None;
            m.phi = Some(10.0 + 2.0 * 0.9f64.powf(m.tick as f64));
        }
        let prep = ConvPrep::new(&data).unwrap();
        assert_eq!(prep.distance, DistanceView::Phi);
        for (q, m) in prep.phi.iter().zip(&data.metrics) {
            assert_eq!(q.1, m.phi.unwrap());
        }
        check_run(&data, SMALL);
        // with the reference, the gap as logged
        let (_d, data) = Synth::converged().data();
        let prep = ConvPrep::new(&data).unwrap();
        assert_eq!(prep.distance, DistanceView::Gap);
        assert_eq!(prep.phi_gap[0].1, data.metrics[0].phi_gap.unwrap());
        // neither: an empty panel that says why
        let (_d, mut data) = Synth {
            phi: false,
            refs: false,
            ..Synth::converged()
        }
        .data();
        for m in &mut data.metrics {
            m.lyapunov = None;
        }
        assert_eq!(ConvPrep::new(&data).unwrap().distance, DistanceView::Empty);
        check_run(&data, SMALL);
    }

    /// The dashed p* line is the reference price only: where a row has none (the reference
    /// solver did not take the economy), nothing is drawn, not the moving adjoint.
    #[test]
    fn pstar_is_drawn_only_where_there_is_a_reference() {
        let (_d, mut data) = Synth::converged().data();
        for r in data.trajectory.iter_mut().filter(|r| r.tick >= 200) {
            r.reference = None;
        }
        let prep = ConvPrep::new(&data).unwrap();
        for g in &prep.goods {
            for (q, r) in g.pstar.iter().zip(data.trajectory.iter().filter(|r| r.good == g.name)) {
                assert_eq!(q.1.is_nan(), r.reference.is_none(), "{} at {}", g.name, r.tick);
            }
        }
        check_run(&data, SMALL);
    }

    /// The shock wave panel: one point per good that arrived, at its depth, from
    /// `propagation.csv` with one shock (no shock_tick column) or several.
    #[test]
    fn shock_wave_is_read_and_drawn() {
        let (d, _) = Synth {
            goods: 3,
            ticks: 300,
            shocks: vec![(100, "tupperware.price=2")],
            ..Synth::converged()
        }
        .data();
        std::fs::write(
            d.path().join("propagation.csv"),
            "good,depth,arrival_tick,final_change\nsteel,1,102,1.5\ngrain,2,104,0.2\ntupperware,3,,0\n",
        )
        .unwrap();
        let data = read_run(d.path()).unwrap();
        assert_eq!(data.propagation.len(), 3);
        let prep = ConvPrep::new(&data).unwrap();
        assert_eq!(prep.wave.len(), 2);
        assert_eq!(prep.wave_missing, 1);
        assert_eq!((prep.wave[0].depth, prep.wave[0].after), (1.0, 2.0));
        assert_eq!(prep.wave_shocks, vec![(100, "tupperware.price=2".to_string())]);
        check_run(&data, SMALL);
        check_run(&data, ChartSize::default());
        std::fs::write(
            d.path().join("propagation.csv"),
            "shock_tick,good,depth,arrival_tick,final_change\n100,steel,1,102,1.5\n200,steel,1,210,-1\n",
        )
        .unwrap();
        let data = read_run(d.path()).unwrap();
        let prep = ConvPrep::new(&data).unwrap();
        assert_eq!(prep.wave_shocks.len(), 2);
        assert_eq!(prep.wave[1].after, 10.0);
        check_run(&data, SMALL);
    }
}
