//! The sweep chart over two parameters whose points are not a full grid (a design table such
//! as a Latin hypercube): one dot per point at its first two parameter values, coloured by
//! the median ticks to converge, with the points where a replicate diverged or hit max_ticks
//! marked. A heatmap of such points would be mostly empty cells.

use super::heatmap::TickColours;
use super::{categories, value_axis, Agg};
use crate::plot::canvas::{put_cross, put_ring, put_text, text_width, Area, Theme, INK, MUTED, NO_CONVERGENCE};
use crate::plot::legend::{draw_legend, entry, Swatch};
use crate::plot::panel::{data_rect, draw_mesh, draw_title, Mesh};
use crate::plot::{PlotError, SweepData};
use plotters::prelude::*;
use plotters::style::text_anchor::HPos;

/// Whether every combination of the first two parameters' values has a run (a grid, drawn as
/// a heatmap), rather than scattered points.
pub(super) fn is_full_grid(data: &SweepData) -> bool {
    let (xc, _) = categories(data.rows.iter().map(|r| r.params[0].clone()));
    let (yc, _) = categories(data.rows.iter().map(|r| r.params[1].clone()));
    let mut pairs: Vec<(&str, &str)> = data
        .rows
        .iter()
        .map(|r| (r.params[0].as_str(), r.params[1].as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs.len() == xc.len() * yc.len()
}

pub(super) fn draw_sweep_scatter<DB: DrawingBackend>(
    root: &Area<DB>,
    data: &SweepData,
    title: &str,
    subtitle: &str,
    th: Theme,
) -> Result<(), PlotError> {
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let top = draw_title(root, title, subtitle, th)?;
    let names = &data.param_names;
    let (xc, xn) = categories(data.rows.iter().map(|r| r.params[0].clone()));
    let (yc, yn) = categories(data.rows.iter().map(|r| r.params[1].clone()));
    let (x_axis, xs, x_desc) = value_axis(&names[0], &xc, &xn);
    let (y_axis, ys, y_desc) = value_axis(&names[1], &yc, &yn);
    // the points (distinct pairs of the first two values), in order of first appearance
    let mut points: Vec<((usize, usize), Agg)> = Vec::new();
    for r in &data.rows {
        let i = xc.iter().position(|c| *c == r.params[0]).unwrap_or(0);
        let j = yc.iter().position(|c| *c == r.params[1]).unwrap_or(0);
        match points.iter_mut().find(|p| p.0 == (i, j)) {
            Some(p) => p.1.add(r),
            None => {
                let mut a = Agg::default();
                a.add(r);
                points.push(((i, j), a));
            }
        }
    }
    let medians: Vec<Option<f64>> = points.iter().map(|p| p.1.median_ticks()).collect();
    let scale = TickColours::new(medians.iter().flatten().copied());

    let pad = th.px(10.0);
    let right_w = ((w as f64 * 0.25) as i32).max(th.px(260.0));
    let chart_w = w - right_w - 2 * pad;
    let caption_h = th.caption_h();
    let tick = th.tick();
    let y_label = th.y_labels_w().max(
        yc.iter()
            .take(50)
            .map(|c| text_width(root, c, tick))
            .max()
            .unwrap_or(10)
            + th.px(60.0),
    );
    let x_label = th.x_labels_desc_h() + th.px(10.0);
    let chart_h = h - top - pad;
    let panel = root.clone().shrink((pad, top), (chart_w, chart_h));
    let data_w = chart_w - y_label - th.px(10.0);
    let data_h = chart_h - caption_h - x_label;
    let mut chart = ChartBuilder::on(&panel)
        .margin_top(caption_h)
        .margin_right(th.px(10.0))
        .x_label_area_size(x_label)
        .y_label_area_size(y_label)
        .build_cartesian_2d(x_axis.clone(), y_axis.clone())?;
    let desc_size = crate::plot::canvas::fit_font(root, &x_desc, th.desc(), data_w).min(crate::plot::canvas::fit_font(
        root,
        &y_desc,
        th.desc(),
        data_h,
    ));
    draw_mesh(
        &mut chart,
        &x_axis,
        &y_axis,
        &Mesh {
            x_desc: Some(&x_desc),
            y_desc: &y_desc,
            x_labels: (data_w / th.px(120.0)).clamp(2, 12) as usize,
            y_labels: (data_h / th.px(42.0)).clamp(2, 12) as usize,
            desc_size,
        },
        th,
    )?;
    let r = data_rect(&chart);
    root.draw(&Rectangle::new([(r.0, r.1), (r.2, r.3)], MUTED.stroke_width(1)))?;
    // dots shrink as points crowd the plane
    let dot = (((r.2 - r.0).min(r.3 - r.1) as f64 / (points.len() as f64).sqrt() * 0.18) as i32)
        .clamp(th.px(3.0), th.px(11.0));
    let mw = th.line().max(2);
    let at = |(i, j): (usize, usize)| (x_axis.map(&xs[i], (r.0, r.2)), y_axis.map(&ys[j], (r.3, r.1)));
    let (mut any_div, mut any_max, mut any_grey) = (false, false, false);
    for (p, m) in points.iter().zip(&medians) {
        let fill = match m {
            Some(m) => scale.colour(*m),
            None => {
                any_grey = true;
                NO_CONVERGENCE
            }
        };
        root.draw(&Circle::new(at(p.0), dot, fill.filled()))?;
        root.draw(&Circle::new(at(p.0), dot, MUTED.stroke_width(1)))?;
    }
    for (p, a) in &points {
        if a.max_ticks > 0 {
            any_max = true;
            put_ring(root, at(*p), dot + dot / 2 + 2, WHITE, Some(BLACK), mw)?;
        }
        if a.diverged > 0 {
            any_div = true;
            put_cross(root, at(*p), dot, WHITE, Some(BLACK), mw)?;
        }
    }
    put_text(
        root,
        "One dot per point: median ticks to converge over converged replicates (colour, log scale)",
        (r.0, top + caption_h / 2),
        th.caption(),
        INK,
        HPos::Left,
    )?;

    let bar_x0 = pad + chart_w + th.px(24.0);
    let bar_bot = scale.draw_bar(root, bar_x0, r.1, r.3 - r.1, th)?;
    let reps = points.iter().map(|p| p.1.n).max().unwrap_or(0);
    let mut e = vec![entry(Swatch::Heading, "point markers")];
    if any_div {
        e.push(entry(Swatch::WhiteCross, "≥1 replicate diverged"));
    }
    if any_max {
        e.push(entry(Swatch::Ring, "≥1 replicate hit max_ticks"));
    }
    if any_grey {
        e.push(entry(Swatch::Dot(NO_CONVERGENCE), "no replicate converged"));
    }
    if !(any_div || any_max || any_grey) {
        e.push(entry(Swatch::Note, "every replicate converged"));
    }
    e.push(entry(
        Swatch::Note,
        if reps == 1 {
            "1 replicate per point".to_string()
        } else {
            format!("up to {reps} replicates per point")
        },
    ));
    e.push(entry(Swatch::Note, "the points are not a full grid"));
    let ly = bar_bot + th.px(30.0);
    draw_legend(root, (bar_x0, ly, w - bar_x0 - pad, h - ly - pad), &e, th)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::{render_sweep, ChartSize, Outcome, SweepRow};

    /// Sweep data over (market.step, agents.rate) with one run per pair, some not converged.
    fn data(pairs: &[(&str, &str)]) -> SweepData {
        let rows = pairs
            .iter()
            .enumerate()
            .map(|(i, (x, y))| SweepRow {
                point: i as u64,
                replicate: 0,
                params: vec![x.to_string(), y.to_string()],
                seed: i as u64,
                outcome: [Outcome::Converged, Outcome::Diverged, Outcome::MaxTicks][i % 3],
                ticks: 100 + 37 * i as u64,
                max_rel_error: Some(1e-9),
                max_rel_excess: Some(1e-9),
                mean_cosine: Some(0.5),
                wall_seconds: None,
            })
            .collect();
        SweepData {
            title: "t".into(),
            param_names: vec!["market.step".into(), "agents.rate".into()],
            rows,
        }
    }

    #[test]
    fn a_grid_is_told_from_scattered_points() {
        let grid = data(&[("1", "a"), ("1", "b"), ("2", "a"), ("2", "b"), ("2", "b")]);
        assert!(is_full_grid(&grid));
        let diagonal = data(&[("1", "0.1"), ("2", "0.2"), ("3", "0.3")]);
        assert!(!is_full_grid(&diagonal));
        let missing_corner = data(&[("1", "a"), ("1", "b"), ("2", "a")]);
        assert!(!is_full_grid(&missing_corner));
    }

    /// Scattered points draw as a scatter (not the heatmap, which would be mostly empty), the
    /// same bytes twice.
    #[test]
    fn scattered_points_render() {
        let pairs: Vec<(String, String)> = (0..40)
            .map(|i| {
                (
                    format!("{}", 0.1 * 1.1f64.powi(i)),
                    format!("{}", (i * 7 % 40) as f64 / 40.0),
                )
            })
            .collect();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let d = data(&pairs);
        assert!(!is_full_grid(&d));
        let size = ChartSize {
            width: 800,
            height: 600,
        };
        let a = render_sweep(&d, "", size).unwrap();
        assert_eq!(&a[1..4], b"PNG");
        assert!(a == render_sweep(&d, "", size).unwrap());
    }
}
