//! The sweep chart over one parameter: ticks to converge (median and range over the
//! replicates) above the final error of each replicate.

use super::{categories, value_axis, Agg};
use crate::plot::axis::{fmt_num, positive_extent, Axis, LOG_FLOOR};
use crate::plot::canvas::{
    fit_font, put_cross, put_line, put_text, put_triangle, text_width, Area, Theme, C_BLUE, C_ORANGE, C_VERMILLION,
    GRID_LIGHT, INK, MUTED,
};
use crate::plot::data_area::{draw_band, draw_path};
use crate::plot::legend::{draw_legend, entry, Swatch};
use crate::plot::panel::{data_rect, draw_mesh, draw_title, Columns, Mesh};
use crate::plot::series::median;
use crate::plot::{Outcome, PlotError, SweepData};
use plotters::prelude::*;
use plotters::style::text_anchor::HPos;

pub(super) fn draw_sweep_1d<DB: DrawingBackend>(
    root: &Area<DB>,
    data: &SweepData,
    title: &str,
    subtitle: &str,
    th: Theme,
) -> Result<(), PlotError> {
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let top = draw_title(root, title, subtitle, th)?;
    let cols = Columns::new(w, th, 0.22, 30.0);
    let name = &data.param_names[0];
    let (cats, nums) = categories(data.rows.iter().map(|r| r.params[0].clone()));
    let mut aggs: Vec<Agg> = (0..cats.len()).map(|_| Agg::default()).collect();
    for r in &data.rows {
        if let Some(i) = cats.iter().position(|c| *c == r.params[0]) {
            aggs[i].add(r);
        }
    }
    let (x_axis, xs, x_desc) = value_axis(name, &cats, &nums);
    let avail = h - top - th.px(6.0);
    let caption_h = th.caption_h();
    let marker_row = th.px(26.0).max((th.font(15.0) * 1.6) as i32);
    let any_div = aggs.iter().any(|a| a.diverged > 0);
    let any_max = aggs.iter().any(|a| a.max_ticks > 0);
    let any_stationary = aggs.iter().any(|a| a.stationary > 0);
    let strip_h = (any_div as i32 + any_max as i32) * marker_row + if any_div || any_max { th.px(6.0) } else { 0 };
    let h1 = (avail as f64 * 0.56) as i32;
    let h2 = avail - h1;
    let xl_small = th.x_labels_h();
    let xl_big = th.x_labels_desc_h();
    let lw = th.line();
    let n_x_labels = if x_axis.cats.is_empty() {
        (cols.data_w() / th.px(120.0)).clamp(2, 12) as usize
    } else {
        let maxw = cats.iter().map(|c| text_width(root, c, th.tick())).max().unwrap_or(10);
        (cols.data_w() / (maxw + th.px(24.0))).clamp(1, 50) as usize
    };

    // ---------------- Panel A: ticks to converge ----------------
    let mut y0 = top;
    {
        let panel = root.clone().shrink((cols.chart_x, y0), (cols.chart_w, h1));
        let vals = aggs.iter().flat_map(|a| a.conv_ticks.iter().copied());
        let extent = positive_extent(vals);
        let (lo, hi) = extent.unwrap_or((1.0, 1000.0));
        let mut y = Axis::log_padded(lo, hi, 0.06, 0.08);
        y.hidden = extent.is_none();
        let data_h = h1 - caption_h - strip_h - xl_small;
        let mut chart = ChartBuilder::on(&panel)
            .margin_top(caption_h + strip_h)
            .margin_right(cols.right)
            .x_label_area_size(xl_small)
            .y_label_area_size(cols.y_label)
            .build_cartesian_2d(x_axis.clone(), y.clone())?;
        let y_desc = "ticks to converge (ticks)";
        draw_mesh(
            &mut chart,
            &x_axis,
            &y,
            &Mesh {
                x_desc: None,
                y_desc,
                x_labels: n_x_labels,
                y_labels: (data_h / th.px(42.0)).clamp(2, 10) as usize,
                desc_size: fit_font(root, y_desc, th.desc(), data_h),
            },
            th,
        )?;
        // Min–max band and median line over runs of consecutive points that have converged replicates.
        let stats: Vec<(f64, f64, f64, f64)> = aggs
            .iter()
            .zip(&xs)
            .map(|(a, &x)| {
                let mut t = a.conv_ticks.clone();
                t.sort_by(f64::total_cmp);
                match median(&mut t) {
                    Some(m) => (x, t[0], m, t[t.len() - 1]),
                    None => (x, f64::NAN, f64::NAN, f64::NAN),
                }
            })
            .collect();
        let band: Vec<(f64, f64, f64)> = stats.iter().map(|s| (s.0, s.1, s.3)).collect();
        draw_band(&mut chart, &band, C_BLUE, 100_000)?;
        let med: Vec<(f64, f64)> = stats.iter().map(|s| (s.0, s.2)).collect();
        draw_path(&mut chart, &med, C_BLUE.stroke_width(lw + 1), false, 100_000, th)?;
        chart.draw_series(
            med.iter()
                .filter(|p| p.1.is_finite())
                .map(|&p| Circle::new(p, th.px(5.0), C_BLUE.filled())),
        )?;
        let r = data_rect(&chart);
        put_text(
            root,
            if any_stationary {
                "Ticks to converge or to the end of the stationary window: median over those replicates, band = min–max"
            } else {
                "Ticks to converge: median over converged replicates, band = min–max"
            },
            (r.0, y0 + caption_h / 2),
            th.caption(),
            INK,
            HPos::Left,
        )?;
        if extent.is_none() {
            let msg = "no replicate converged at any parameter value";
            put_text(
                root,
                msg,
                ((r.0 + r.2) / 2, (r.1 + r.3) / 2),
                th.font(22.0),
                INK,
                HPos::Center,
            )?;
        }
        // Outcome marker rows above the data area.
        let mut row = 0;
        let label_size = th.font(15.0);
        for (flag, label) in [(any_div, "diverged"), (any_max, "max_ticks")] {
            if !flag {
                continue;
            }
            let cy = y0 + caption_h + row * marker_row + marker_row / 2;
            put_text(root, label, (r.0 - th.px(10.0), cy), label_size, MUTED, HPos::Right)?;
            put_line(root, (r.0, cy), (r.2, cy), GRID_LIGHT.stroke_width(1))?;
            for (a, &x) in aggs.iter().zip(&xs) {
                let px = x_axis.map(&x, (r.0, r.2));
                if label == "diverged" && a.diverged > 0 {
                    put_cross(root, (px, cy), th.px(8.0), C_VERMILLION, None, lw + 1)?;
                }
                if label == "max_ticks" && a.max_ticks > 0 {
                    put_triangle(root, (px, cy), th.px(8.0), C_ORANGE)?;
                }
            }
            row += 1;
        }
        let reps = aggs.iter().map(|a| a.n).max().unwrap_or(0);
        let mut e = vec![
            entry(Swatch::Line(C_BLUE), "median ticks"),
            entry(Swatch::Band(C_BLUE), "min–max"),
            entry(
                Swatch::Note,
                if any_stationary {
                    "(converged or stationary)"
                } else {
                    "(converged replicates)"
                },
            ),
        ];
        if any_div {
            e.push(entry(Swatch::Cross(C_VERMILLION), "≥1 replicate diverged"));
        }
        if any_max {
            e.push(entry(Swatch::Triangle(C_ORANGE), "≥1 hit max_ticks"));
        }
        e.push(entry(
            Swatch::Note,
            if reps == 1 {
                "1 replicate per point".to_string()
            } else {
                format!("up to {reps} replicates per point")
            },
        ));
        draw_legend(
            root,
            (cols.legend_x, y0 + caption_h, cols.legend_w, h1 - caption_h),
            &e,
            th,
        )?;
        y0 += h1;
    }

    // ---------------- Panel B: final max relative error ----------------
    {
        let panel = root.clone().shrink((cols.chart_x, y0), (cols.chart_w, h2));
        let floored = aggs
            .iter()
            .any(|a| a.errors.iter().any(|e| e.0.is_finite() && e.0 < LOG_FLOOR));
        let pts: Vec<(f64, f64, Outcome)> = aggs
            .iter()
            .zip(&xs)
            .flat_map(|(a, &x)| a.errors.iter().map(move |e| (x, e.0.max(LOG_FLOOR), e.1)))
            .filter(|p| p.1.is_finite())
            .collect();
        let extent = positive_extent(pts.iter().map(|p| p.1));
        let (lo, hi) = extent.unwrap_or((1e-6, 1.0));
        let mut y = Axis::log_padded(lo, hi, 0.06, 0.06);
        y.hidden = extent.is_none();
        let data_h = h2 - caption_h - xl_big;
        let mut chart = ChartBuilder::on(&panel)
            .margin_top(caption_h)
            .margin_right(cols.right)
            .x_label_area_size(xl_big)
            .y_label_area_size(cols.y_label)
            .build_cartesian_2d(x_axis.clone(), y.clone())?;
        let y_desc = "final max rel. error (dimensionless)";
        draw_mesh(
            &mut chart,
            &x_axis,
            &y,
            &Mesh {
                x_desc: Some(&x_desc),
                y_desc,
                x_labels: n_x_labels,
                y_labels: (data_h / th.px(42.0)).clamp(2, 10) as usize,
                desc_size: fit_font(root, y_desc, th.desc(), data_h),
            },
            th,
        )?;
        let med: Vec<(f64, f64)> = aggs
            .iter()
            .zip(&xs)
            .map(|(a, &x)| {
                let mut v: Vec<f64> = a
                    .errors
                    .iter()
                    .map(|e| e.0.max(LOG_FLOOR))
                    .filter(|v| v.is_finite())
                    .collect();
                (x, median(&mut v).unwrap_or(f64::NAN))
            })
            .collect();
        draw_path(&mut chart, &med, MUTED.stroke_width(lw), false, 100_000, th)?;
        let r = data_rect(&chart);
        for &(x, v, o) in &pts {
            let c = (x_axis.map(&x, (r.0, r.2)), y.map(&v, (r.3, r.1)));
            match o {
                Outcome::Converged | Outcome::Stationary => {
                    root.draw(&Circle::new(c, th.px(5.0), C_BLUE.filled()))?;
                }
                Outcome::MaxTicks => put_triangle(root, c, th.px(7.0), C_ORANGE)?,
                Outcome::Diverged => put_cross(root, c, th.px(6.0), C_VERMILLION, None, lw)?,
            }
        }
        put_text(
            root,
            if any_stationary {
                "Final max relative error per replicate, of the mean prices in stationary runs (line = median)"
            } else {
                "Final max relative error per replicate (line = median)"
            },
            (r.0, y0 + caption_h / 2),
            th.caption(),
            INK,
            HPos::Left,
        )?;
        if extent.is_none() {
            let msg = "no replicate reported a finite error";
            put_text(
                root,
                msg,
                ((r.0 + r.2) / 2, (r.1 + r.3) / 2),
                th.font(22.0),
                INK,
                HPos::Center,
            )?;
        }
        let mut e = vec![
            entry(
                Swatch::Dot(C_BLUE),
                if any_stationary {
                    "converged or stationary"
                } else {
                    "converged"
                },
            ),
            entry(Swatch::Triangle(C_ORANGE), "max_ticks"),
            entry(Swatch::Cross(C_VERMILLION), "diverged"),
            entry(Swatch::Line(MUTED), "median"),
        ];
        if floored {
            e.push(entry(Swatch::Note, format!("zeros drawn at {}", fmt_num(LOG_FLOOR))));
        }
        draw_legend(
            root,
            (cols.legend_x, y0 + caption_h, cols.legend_w, h2 - caption_h),
            &e,
            th,
        )?;
    }
    Ok(())
}
