//! The sweep chart over two parameters: a heatmap of the median ticks to converge per cell,
//! with the cells where a replicate diverged or hit max_ticks marked.

use super::{categories, display_labels, Agg};
use crate::plot::axis::{positive_extent, Axis};
use crate::plot::canvas::{
    fit_font, put_cross, put_line, put_ring, put_text, style, text_width, Area, Theme, FONT, INK, MUTED, NO_CONVERGENCE,
};
use crate::plot::legend::{draw_legend, entry, Swatch};
use crate::plot::panel::{data_rect, draw_title};
use crate::plot::{PlotError, SweepData};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Viridis colour map (colour-blind friendly, perceptually uniform), t in 0..=1.
pub(super) fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let pos = t * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

pub(super) fn draw_sweep_2d<DB: DrawingBackend>(
    root: &Area<DB>,
    data: &SweepData,
    title: &str,
    subtitle: &str,
    th: Theme,
) -> Result<(), PlotError> {
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let top = draw_title(root, title, subtitle, th)?;
    let (xc, xn) = categories(data.rows.iter().map(|r| r.params[0].clone()));
    let (yc, yn) = categories(data.rows.iter().map(|r| r.params[1].clone()));
    let (x_labels, y_labels) = (display_labels(&xc, &xn), display_labels(&yc, &yn));
    let mut cells: Vec<Agg> = (0..xc.len() * yc.len()).map(|_| Agg::default()).collect();
    for r in &data.rows {
        let i = xc.iter().position(|c| *c == r.params[0]);
        let j = yc.iter().position(|c| *c == r.params[1]);
        if let (Some(i), Some(j)) = (i, j) {
            cells[j * xc.len() + i].add(r);
        }
    }
    let medians: Vec<Option<f64>> = cells.iter().map(Agg::median_ticks).collect();
    let scale = TickColours::new(medians.iter().flatten().copied());

    let pad = th.px(10.0);
    let right_w = ((w as f64 * 0.25) as i32).max(th.px(260.0));
    let chart_w = w - right_w - 2 * pad;
    let caption_h = th.caption_h();
    let tick = th.tick();
    let ylab_w = y_labels.iter().map(|c| text_width(root, c, tick)).max().unwrap_or(10);
    let xlab_w = x_labels.iter().map(|c| text_width(root, c, tick)).max().unwrap_or(10);
    let y_label = ylab_w + th.px(60.0);
    let x_label = th.x_labels_desc_h() + th.px(10.0);
    let chart_h = h - top - pad;
    let panel = root.clone().shrink((pad, top), (chart_w, chart_h));
    let x_axis = Axis::categorical(x_labels.clone());
    let y_axis = Axis::categorical(y_labels.clone());
    let data_w = chart_w - y_label - th.px(10.0);
    let data_h = chart_h - caption_h - x_label;
    let mut chart = ChartBuilder::on(&panel)
        .margin_top(caption_h)
        .margin_right(th.px(10.0))
        .x_label_area_size(x_label)
        .y_label_area_size(y_label)
        .build_cartesian_2d(x_axis.clone(), y_axis.clone())?;
    {
        let xf = |v: &f64| x_axis.label(*v);
        let yf = |v: &f64| y_axis.label(*v);
        let (xd, yd) = (&data.param_names[0], &data.param_names[1]);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .x_labels((data_w / (xlab_w + th.px(24.0))).max(1) as usize)
            .y_labels((data_h / th.px(34.0)).max(1) as usize)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .label_style((FONT, tick).into_font().color(&INK))
            .axis_desc_style(
                (
                    FONT,
                    fit_font(root, xd, th.desc(), data_w).min(fit_font(root, yd, th.desc(), data_h)),
                )
                    .into_font()
                    .color(&INK),
            )
            .axis_style(MUTED.stroke_width(1))
            .x_desc(xd.as_str())
            .y_desc(yd.as_str())
            .draw()?;
    }
    let (mut any_div, mut any_max, mut any_grey, mut any_empty) = (false, false, false, false);
    for j in 0..yc.len() {
        for i in 0..xc.len() {
            let k = j * xc.len() + i;
            let (x, y) = (i as f64, j as f64);
            let fill = match (cells[k].n, medians[k]) {
                (0, _) => {
                    any_empty = true;
                    WHITE
                }
                (_, Some(m)) => scale.colour(m),
                (_, None) => {
                    any_grey = true;
                    NO_CONVERGENCE
                }
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                fill.filled(),
            )))?;
        }
    }
    let r = data_rect(&chart);
    let cell_w = (r.2 - r.0) / xc.len().max(1) as i32;
    let cell_h = (r.3 - r.1) / yc.len().max(1) as i32;
    // Cell borders, then outcome markers.
    if cell_w >= 6 && cell_h >= 6 {
        for i in 1..xc.len() {
            let px = x_axis.map(&(i as f64 - 0.5), (r.0, r.2));
            put_line(root, (px, r.1), (px, r.3), WHITE.stroke_width(1))?;
        }
        for j in 1..yc.len() {
            let py = y_axis.map(&(j as f64 - 0.5), (r.3, r.1));
            put_line(root, (r.0, py), (r.2, py), WHITE.stroke_width(1))?;
        }
    }
    root.draw(&Rectangle::new([(r.0, r.1), (r.2, r.3)], MUTED.stroke_width(1)))?;
    let mark = ((cell_w.min(cell_h) as f64 * 0.28) as i32).clamp(3, th.px(26.0));
    let mw = (th.line()).max(2);
    for j in 0..yc.len() {
        for i in 0..xc.len() {
            let a = &cells[j * xc.len() + i];
            let c = (x_axis.map(&(i as f64), (r.0, r.2)), y_axis.map(&(j as f64), (r.3, r.1)));
            if a.max_ticks > 0 {
                any_max = true;
                put_ring(root, c, mark + mark / 3, WHITE, Some(BLACK), mw)?;
            }
            if a.diverged > 0 {
                any_div = true;
                put_cross(root, c, mark, WHITE, Some(BLACK), mw)?;
            }
        }
    }
    put_text(
        root,
        "Median ticks to converge over converged replicates (colour, log scale)",
        (r.0, top + caption_h / 2),
        th.caption(),
        INK,
        HPos::Left,
    )?;

    let bar_x0 = pad + chart_w + th.px(24.0);
    let bar_bot = scale.draw_bar(root, bar_x0, r.1, r.3 - r.1, th)?;

    // Legend under the colour bar.
    let reps = cells.iter().map(|a| a.n).max().unwrap_or(0);
    let mut e = vec![entry(Swatch::Heading, "cell markers")];
    if any_div {
        e.push(entry(Swatch::WhiteCross, "≥1 replicate diverged"));
    }
    if any_max {
        e.push(entry(Swatch::Ring, "≥1 replicate hit max_ticks"));
    }
    if any_grey {
        e.push(entry(Swatch::Square(NO_CONVERGENCE), "no replicate converged"));
    }
    if any_empty {
        e.push(entry(Swatch::Square(WHITE), "no run at this grid point"));
    }
    if !(any_div || any_max || any_grey || any_empty) {
        e.push(entry(Swatch::Note, "every replicate converged"));
    }
    e.push(entry(
        Swatch::Note,
        if reps == 1 {
            "1 replicate per cell".to_string()
        } else {
            format!("up to {reps} replicates per cell")
        },
    ));
    let ly = bar_bot + th.px(30.0);
    draw_legend(root, (bar_x0, ly, w - bar_x0 - pad, h - ly - pad), &e, th)?;
    Ok(())
}

/// The colour scale of the median ticks to converge: viridis over their extent, log scale.
pub(super) struct TickColours {
    vmin: f64,
    vmax: f64,
}

impl TickColours {
    pub(super) fn new(medians: impl IntoIterator<Item = f64>) -> TickColours {
        let (vmin, vmax) = match positive_extent(medians) {
            Some((a, b)) if b > a => (a, b),
            Some((a, _)) => (a / 1.5, a * 1.5),
            None => (1.0, 1000.0),
        };
        TickColours { vmin, vmax }
    }

    pub(super) fn colour(&self, m: f64) -> RGBColor {
        viridis((m.log10() - self.vmin.log10()) / (self.vmax.log10() - self.vmin.log10()))
    }

    /// The colour bar at `x0`, from `top` down over 55% of `data_h`, drawn by hand so that
    /// labels and title sit exactly beside it; its bottom.
    pub(super) fn draw_bar<DB: DrawingBackend>(
        &self,
        root: &Area<DB>,
        x0: i32,
        top: i32,
        data_h: i32,
        th: Theme,
    ) -> Result<i32, PlotError> {
        let tick = th.tick();
        let bar_w = th.px(34.0);
        let bar_x1 = x0 + bar_w;
        let bar_h = (data_h as f64 * 0.55) as i32;
        let bar_bot = top + bar_h;
        let cb_axis = Axis::log(self.vmin, self.vmax);
        for py in top..bar_bot {
            let t = (bar_bot - py) as f64 / bar_h.max(1) as f64;
            root.draw(&Rectangle::new([(x0, py), (bar_x1, py + 1)], viridis(t).filled()))?;
        }
        root.draw(&Rectangle::new([(x0, top), (bar_x1, bar_bot)], MUTED.stroke_width(1)))?;
        let mut label_w = 0;
        for v in cb_axis.major((bar_h / th.px(40.0)).clamp(2, 8) as usize) {
            let py = cb_axis.map(&v, (bar_bot, top));
            put_line(root, (bar_x1, py), (bar_x1 + th.px(6.0), py), MUTED.stroke_width(1))?;
            let text = cb_axis.label(v);
            label_w = label_w.max(text_width(root, &text, tick));
            put_text(root, &text, (bar_x1 + th.px(10.0), py), tick, INK, HPos::Left)?;
        }
        let bar_desc = "median ticks to converge";
        let ds = fit_font(root, bar_desc, th.desc(), bar_h);
        root.draw(&Text::new(
            bar_desc.to_string(),
            (bar_x1 + th.px(22.0) + label_w + (ds * 0.6) as i32, (top + bar_bot) / 2),
            style(ds, INK, HPos::Center, VPos::Center).transform(FontTransform::Rotate90),
        ))?;
        Ok(bar_bot)
    }
}
