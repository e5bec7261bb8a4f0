//! The stationary window of a noisy run on the convergence chart: where it starts (a line
//! across the tick panels) and a panel of its own over its ticks with, per good, the running
//! mean price relative to the reference p*, its confidence band, and backprop at the mean plans.
//! The band at `n` of the window's `N` ticks is the reported interval widened by `sqrt(N / n)`
//! (a mean's standard error falls as `1 / sqrt(n)`), so it ends at the interval in
//! `summary.json`.

use super::panels::Layout;
use super::prep::ConvPrep;
use super::window_prep::WindowPrep;
use crate::plot::axis::Axis;
use crate::plot::canvas::MUTED;
use crate::plot::data_area::{draw_band, draw_path};
use crate::plot::legend::{entry, Swatch};
use crate::plot::panel::{data_rect, draw_mesh, put_caption, Mesh};
use crate::plot::PlotError;
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;

/// The stationary window's panel at `y0`, `height` pixels high.
pub(super) fn panel<DB: DrawingBackend>(l: &Layout<DB>, w: &WindowPrep, y0: i32, height: i32) -> Result<(), PlotError> {
    let (root, p, cols, th) = (l.root, l.p, &l.cols, l.th);
    let (caption_h, caption_w, xl_big, desc, lw) = (l.caption_h, l.caption_w, l.xl_big, l.desc, l.lw);
    let area = l.area(y0, height);
    let mut x = Axis::linear(w.first_tick as f64, (w.last_tick as f64).max(w.first_tick as f64 + 1.0));
    x.integer = true;
    // the y range: the bands, the means after the first batch, the adjoints and 0
    let mut vals = vec![0.0];
    for s in &w.series {
        vals.extend(s.band.iter().flat_map(|b| [b.1, b.2]));
        let from = s.band.first().map_or(f64::INFINITY, |b| b.0);
        vals.extend(s.mean.iter().filter(|m| m.0 >= from).map(|m| m.1));
        vals.push(s.adjoint);
    }
    let vals: Vec<f64> = vals.into_iter().filter(|v| v.is_finite()).collect();
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let pad = ((hi - lo) * 0.08).max(1e-6);
    let y = Axis::linear(lo - pad, hi + pad);
    let data_h = height - caption_h - xl_big;
    let mut chart = ChartBuilder::on(&area)
        .margin_top(caption_h)
        .margin_right(cols.right)
        .x_label_area_size(xl_big)
        .y_label_area_size(cols.y_label)
        .build_cartesian_2d(x.clone(), y.clone())?;
    let y_desc = "% from p*";
    draw_mesh(
        &mut chart,
        &x,
        &y,
        &Mesh {
            x_desc: Some("tick (stationary window)"),
            y_desc,
            x_labels: l.x_labels,
            y_labels: (data_h / th.px(36.0)).clamp(3, 10) as usize,
            desc_size: crate::plot::canvas::fit_font(root, y_desc, desc, data_h),
        },
        th,
    )?;
    let r = data_rect(&chart);
    // p* itself: the line at 0
    draw_path(
        &mut chart,
        &[(x.lo, 0.0), (x.hi, 0.0)],
        BLACK.stroke_width(lw),
        false,
        2,
        th,
    )?;
    let rank = |gi: usize| p.shown.iter().position(|&s| s == gi);
    for s in &w.series {
        let color = rank(s.good).map_or(MUTED, |k| p.good_color(k));
        draw_band(&mut chart, &s.band, color, l.buckets)?;
    }
    for s in &w.series {
        let color = rank(s.good).map_or(MUTED, |k| p.good_color(k));
        let adjoint = [(x.lo, s.adjoint), (x.hi, s.adjoint)];
        crate::plot::data_area::DataArea::of(&chart).line(
            &adjoint,
            color.stroke_width(lw),
            Some((th.px(3.0), th.px(4.0))),
            2,
            th,
        )?;
        draw_path(&mut chart, &s.mean, color.stroke_width(lw + 1), false, l.buckets, th)?;
    }
    let level = format!("{:.0}%", 100.0 * w.confidence);
    put_caption(
        root,
        &format!(
            "Stationary window, ticks {}–{}: running mean price relative to p* (%), with its {level} band; dotted: \
             backprop at the mean plans",
            w.first_tick, w.last_tick
        ),
        r,
        y0 + caption_h / 2,
        caption_w,
        th,
    )?;
    let mut e = vec![entry(Swatch::Heading, "running mean price")];
    for s in &w.series {
        if let Some(k) = rank(s.good) {
            e.push(entry(Swatch::Line(p.good_color(k)), p.goods[s.good].name.clone()));
        }
    }
    e.push(entry(
        Swatch::Band(MUTED),
        format!("{level} band (ends at the interval)"),
    ));
    e.push(entry(Swatch::Line(BLACK), "0: the reference p*"));
    e.push(entry(Swatch::Dashed(MUTED), "backprop at the mean plans"));
    if w.series.iter().any(|s| !s.reference) {
        e.push(entry(Swatch::Note, "(no p*: % from the adjoint)"));
    }
    l.legend(y0, height, &e)?;
    Ok(())
}

/// The x pixel of the window's first tick on the tick panels, if it is drawn there.
pub(super) fn start_px(p: &ConvPrep, w: &WindowPrep, (x0, x1): (i32, i32)) -> Option<i32> {
    let t = w.first_tick as f64;
    (t >= p.x.lo && t <= p.x.hi).then(|| p.x.map(&t, (x0, x1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::fixtures::*;
    use crate::plot::{render_convergence_as, Format, RunData, StationaryGood, StationaryView};

    /// A window over ticks 200–399 of a synthetic run, with an interval of ±1% about each
    /// good's mean price over those ticks and the adjoint 0.5% below it.
    fn with_window(data: &mut RunData) -> StationaryView {
        let mut goods: Vec<StationaryGood> = Vec::new();
        for r in data.trajectory.iter().filter(|r| (200..=399).contains(&r.tick)) {
            match goods.iter_mut().find(|g| g.name == r.good) {
                Some(g) => g.mean_price += r.price,
                None => goods.push(StationaryGood {
                    name: r.good.clone(),
                    mean_price: r.price,
                    mean_price_ci: [0.0; 2],
                    adjoint: 0.0,
                    reference: r.reference,
                }),
            }
        }
        for g in goods.iter_mut() {
            g.mean_price /= 200.0;
            g.mean_price_ci = [0.99 * g.mean_price, 1.01 * g.mean_price];
            g.adjoint = 0.995 * g.mean_price;
        }
        let view = StationaryView {
            first_tick: 200,
            last_tick: 399,
            confidence: 0.95,
            goods,
        };
        data.stationary = Some(view.clone());
        view
    }

    #[test]
    fn the_window_panel_ends_at_the_reported_interval() {
        let (_d, mut data) = Synth::converged().data();
        let view = with_window(&mut data);
        let prep = ConvPrep::new(&data).unwrap();
        let w = prep.window.as_ref().expect("a window panel");
        assert_eq!(w.series.len(), 4);
        for s in &w.series {
            let g = view.goods.iter().find(|g| g.name == prep.goods[s.good].name).unwrap();
            let q = g.reference.unwrap();
            // the running mean ends at the mean price, the band at its interval
            let (t, last) = *s.mean.last().unwrap();
            assert_eq!(t, 399.0);
            assert!((last - 100.0 * (g.mean_price / q - 1.0)).abs() < 1e-9, "{last}");
            let band = s.band.last().unwrap();
            assert!((band.1 - 100.0 * (g.mean_price_ci[0] / q - 1.0)).abs() < 1e-9);
            assert!((band.2 - 100.0 * (g.mean_price_ci[1] / q - 1.0)).abs() < 1e-9);
            // drawn from the end of the first of 32 batches (200 ticks / 32 = 6.25)
            assert_eq!(s.band.first().unwrap().0, 206.0);
            // halfway, the band is sqrt(2) times as wide
            let mid = s.band.iter().find(|b| b.0 == 299.0).unwrap();
            let m = s.mean.iter().find(|m| m.0 == 299.0).unwrap().1;
            let want = 100.0 * 0.01 * g.mean_price / q * 2f64.sqrt();
            assert!((mid.2 - m - want).abs() < 1e-9, "{} vs {want}", mid.2 - m);
        }
        let png = check_run(&data, SMALL);
        let (_d, plain) = Synth::converged().data();
        assert_ne!(png, check_run(&plain, SMALL), "the window is drawn");
        let svg = render_convergence_as(&data, "t", SMALL, Format::Svg).unwrap();
        let text = assert_svg(&svg, SMALL);
        for s in [
            "Stationary window, ticks 200–399",
            "stationary window from here",
            "backprop at the mean plans",
        ] {
            assert!(text.contains(s), "{s}");
        }
    }

    #[test]
    fn the_window_is_read_from_a_summary() {
        let summary = serde_json::json!({
            "stationary": {"first_tick": 10, "last_tick": 41, "confidence": 0.95},
            "goods": [
                {"good": "a", "mean_price": 2.0, "mean_price_ci": [1.9, 2.1], "adjoint": 1.95, "reference": 2.0},
                {"good": "fixed", "adjoint": 1.0, "reference": null}
            ]
        });
        let v = StationaryView::of_summary(&summary).unwrap();
        assert_eq!((v.first_tick, v.last_tick), (10, 41));
        assert_eq!(v.goods.len(), 1);
        assert_eq!(v.goods[0].mean_price_ci, [1.9, 2.1]);
        // an exact run's summary has no window
        assert!(StationaryView::of_summary(&serde_json::json!({"goods": []})).is_none());
    }
}
