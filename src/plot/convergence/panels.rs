//! The panels of the convergence chart, top to bottom: prices, relative errors, the distance
//! to equilibrium, the split of excess demand with the step cosine, and the shock wave.

use super::prep::{ConvPrep, DistanceView, COSINE_NOISE};
use super::{ShockStrip, WORST_SHOWN};
use crate::plot::axis::{fmt_num, positive_extent, Axis, LOG_FLOOR};
use crate::plot::canvas::{
    fit_font, fit_text, put_dashed_vline, put_text, style, Area, Chart, Theme, BAND, C_BLUE, C_INDIGO, C_ORANGE,
    C_VERMILLION, FONT, INK, MUTED, SHOCK,
};
use crate::plot::data_area::{draw_path, draw_quantiles, DataArea};
use crate::plot::legend::{draw_legend, entry, Entry, Swatch};
use crate::plot::panel::{data_rect, draw_mesh, put_caption, put_panel_note, Columns, Mesh, TickPanels};
use crate::plot::series::{floored, positive_only};
use crate::plot::PlotError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// The colour of the line marking a stationary window's start.
pub(super) const WINDOW: RGBColor = INK;

/// What every panel needs: the canvas, the prepared run, the columns and the sizes.
pub(super) struct Layout<'a, DB: DrawingBackend> {
    pub(super) root: &'a Area<DB>,
    pub(super) p: &'a ConvPrep,
    pub(super) cols: Columns,
    pub(super) th: Theme,
    /// Points per series drawn (decimation buckets).
    pub(super) buckets: usize,
    pub(super) caption_h: i32,
    pub(super) caption_w: i32,
    pub(super) lw: u32,
    pub(super) tick_panels: TickPanels,
    /// Heights of the tick labels under a panel, without and with an axis title.
    pub(super) xl_small: i32,
    pub(super) xl_big: i32,
    pub(super) n_goods: usize,
    pub(super) x_labels: usize,
    pub(super) desc: f64,
}

impl<DB: DrawingBackend> Layout<'_, DB> {
    /// The chart column of the panel at `y0`, `height` pixels high.
    pub(super) fn area(&self, y0: i32, height: i32) -> Area<DB> {
        self.root
            .clone()
            .shrink((self.cols.chart_x, y0), (self.cols.chart_w, height))
    }

    /// The legend of the panel at `y0`, `height` pixels high, beside it under its caption.
    pub(super) fn legend(&self, y0: i32, height: i32, entries: &[Entry]) -> Result<(), PlotError> {
        let (x, w) = (self.cols.legend_x, self.cols.legend_w);
        draw_legend(
            self.root,
            (x, y0 + self.caption_h, w, height - self.caption_h),
            entries,
            self.th,
        )
    }

    /// Labels on a value axis `data_h` pixels high.
    fn y_labels(&self, data_h: i32) -> usize {
        (data_h / self.th.px(42.0)).clamp(2, 10) as usize
    }
}

/// Market prices and reference prices per good (with the shock labels above them). The panel at `y0`, `height` pixels high; returns its data area.
pub(super) fn prices<DB: DrawingBackend>(
    l: &Layout<DB>,
    y0: i32,
    height: i32,
    strip: &ShockStrip,
) -> Result<(i32, i32, i32, i32), PlotError> {
    let (root, p, th) = (l.root, l.p, l.th);
    let (buckets, caption_h, caption_w, lw) = (l.buckets, l.caption_h, l.caption_w, l.lw);
    let (tick_panels, xl_small, n_goods) = (&l.tick_panels, l.xl_small, l.n_goods);
    let (placed, omitted, row_h, label_size, strip_h) = (
        &strip.placed,
        strip.omitted,
        strip.row_h,
        strip.label_size,
        strip.height,
    );
    let panel = l.area(y0, height);
    let mut vals: Vec<f64> = Vec::new();
    for &gi in &p.shown {
        vals.extend(p.goods[gi].price.iter().map(|q| q.1));
        vals.extend(p.goods[gi].pstar.iter().map(|q| q.1));
    }
    vals.extend(p.price_band.iter().flat_map(|b| [b.1, b.3]));
    let (lo, hi) = positive_extent(vals).unwrap_or((0.1, 10.0));
    let y = Axis::log_padded(lo, hi, 0.05, 0.05);
    let data_h = height - caption_h - strip_h - xl_small;
    let y_desc = "price (units of the numeraire)";
    let mut chart = tick_panels.chart(&panel, root, (&p.x, &y), caption_h + strip_h, data_h, y_desc, th)?;
    if p.many {
        draw_quantiles(&mut chart, &p.price_band, lw, buckets, th)?;
    }
    for (rank, &gi) in p.shown.iter().enumerate() {
        let c = p.good_color(rank);
        draw_path(&mut chart, &p.goods[gi].pstar, c.stroke_width(lw), true, buckets, th)?;
        draw_path(&mut chart, &p.goods[gi].price, c.stroke_width(lw), false, buckets, th)?;
    }
    let r = data_rect(&chart);
    let caption = if p.refs_present > 0 {
        "Market price (solid) and reference p* (dashed) per good"
    } else {
        "Market price per good (no reference equilibrium: no p* to draw)"
    };
    put_caption(root, caption, r, y0 + caption_h / 2, caption_w, th)?;
    // Legend
    let mut e = Vec::new();
    if p.many {
        e.push(entry(
            Swatch::Heading,
            format!("{WORST_SHOWN} worst of {n_goods} goods"),
        ));
        e.push(entry(Swatch::Note, "(largest final relative error)"));
    } else {
        e.push(entry(Swatch::Heading, "goods"));
    }
    for (rank, &gi) in p.shown.iter().enumerate() {
        e.push(entry(Swatch::Line(p.good_color(rank)), p.goods[gi].name.clone()));
    }
    if p.many {
        e.push(entry(Swatch::Band(BAND), format!("10–90% of all {n_goods}")));
        e.push(entry(Swatch::Line(MUTED), format!("median of all {n_goods}")));
    }
    if p.refs_present > 0 {
        e.push(entry(Swatch::Dashed(MUTED), "p* (same colour)"));
    }
    if p.window.is_some() {
        e.push(entry(Swatch::VDashed(WINDOW), "stationary window from here"));
    }
    if !p.shocks.is_empty() {
        let s = if omitted > 0 {
            format!("shock ({omitted} labels not shown)")
        } else {
            "scheduled shock".to_string()
        };
        e.push(entry(Swatch::VDashed(SHOCK), s));
    }
    l.legend(y0, height, &e)?;
    // Shock labels in the strip above the data area.
    for (x, row, text, right) in placed {
        let cy = y0 + caption_h + *row as i32 * row_h + row_h / 2;
        let gap = th.px(4.0);
        let (tx, hp) = if *right {
            (x - gap, HPos::Right)
        } else {
            (x + gap, HPos::Left)
        };
        put_text(root, text, (tx, cy), label_size, SHOCK, hp)?;
        put_dashed_vline(root, *x, cy - row_h / 2, r.1, SHOCK.stroke_width(1), th)?;
    }
    Ok(r)
}

/// Relative price errors per good and the max relative excess demand. The panel at `y0`, `height` pixels high; returns its data area.
pub(super) fn errors<DB: DrawingBackend>(
    l: &Layout<DB>,
    y0: i32,
    height: i32,
) -> Result<(i32, i32, i32, i32), PlotError> {
    let (root, p, th) = (l.root, l.p, l.th);
    let (buckets, caption_h, caption_w, lw) = (l.buckets, l.caption_h, l.caption_w, l.lw);
    let (tick_panels, xl_small, n_goods) = (&l.tick_panels, l.xl_small, l.n_goods);
    let panel = l.area(y0, height);
    let rel: Vec<(Vec<(f64, f64)>, bool)> = p.shown.iter().map(|&gi| floored(&p.goods[gi].rel)).collect();
    let (excess, ex_floored) = floored(&p.excess);
    let floored_any = ex_floored || rel.iter().any(|r| r.1);
    let mut vals: Vec<f64> = rel.iter().flat_map(|r| r.0.iter().map(|q| q.1)).collect();
    vals.extend(excess.iter().map(|q| q.1));
    vals.extend(p.rel_band.iter().flat_map(|b| [b.1, b.3]));
    let (lo, hi) = positive_extent(vals).unwrap_or((1e-6, 1.0));
    let y = Axis::log_padded(lo, hi, 0.05, 0.05);
    let data_h = height - caption_h - xl_small;
    let y_desc = "relative error";
    let mut chart = tick_panels.chart(&panel, root, (&p.x, &y), caption_h, data_h, y_desc, th)?;
    if p.many {
        draw_quantiles(&mut chart, &p.rel_band, lw, buckets, th)?;
    }
    for (rank, series) in rel.iter().enumerate() {
        draw_path(
            &mut chart,
            &series.0,
            p.good_color(rank).stroke_width(lw),
            false,
            buckets,
            th,
        )?;
    }
    draw_path(&mut chart, &excess, BLACK.stroke_width(lw + 1), false, buckets, th)?;
    let r = data_rect(&chart);
    let caption = if p.refs_present == 0 {
        "Relative price error |p − a| / a against the backprop adjoint a, and max relative excess demand"
    } else {
        "Relative price error |p − p*| / p* and max relative excess demand"
    };
    put_caption(root, caption, r, y0 + caption_h / 2, caption_w, th)?;
    let mut e = vec![entry(Swatch::Line(BLACK), "max relative excess demand")];
    if p.many {
        e.push(entry(
            Swatch::Note,
            format!("colours: {WORST_SHOWN} worst goods as above"),
        ));
        e.push(entry(Swatch::Band(BAND), format!("10–90% of all {n_goods}")));
        e.push(entry(Swatch::Line(MUTED), format!("median of all {n_goods}")));
    } else if p.refs_present == 0 {
        e.push(entry(Swatch::Note, "|p − a|/a: colours as above"));
    } else {
        e.push(entry(Swatch::Note, "|p − p*|/p*: colours as above"));
    }
    if floored_any {
        e.push(entry(Swatch::Note, format!("zeros drawn at {}", fmt_num(LOG_FLOOR))));
    }
    l.legend(y0, height, &e)?;
    Ok(r)
}

/// The distance to equilibrium: W and Φ − Φ* (or Φ itself without a reference). The panel at `y0`, `height` pixels high; returns its data area.
pub(super) fn distance<DB: DrawingBackend>(
    l: &Layout<DB>,
    y0: i32,
    height: i32,
) -> Result<(i32, i32, i32, i32), PlotError> {
    let (root, p, th) = (l.root, l.p, l.th);
    let (buckets, caption_h, caption_w, lw) = (l.buckets, l.caption_h, l.caption_w, l.lw);
    let (tick_panels, xl_small) = (&l.tick_panels, l.xl_small);
    let panel = l.area(y0, height);
    let data_h = height - caption_h - xl_small;
    // W and the gap fall to rounding (the gap can then be <= 0): such values are not drawn
    let (lyap, lyap_cut) = positive_only(&p.lyapunov);
    let (gap, gap_cut) = positive_only(&p.phi_gap);
    let y = match p.distance {
        DistanceView::Gap => {
            let vals = lyap.iter().chain(&gap).map(|q| q.1);
            let (lo, hi) = positive_extent(vals).unwrap_or((1e-6, 1.0));
            Axis::log_padded(lo, hi, 0.05, 0.05)
        }
        DistanceView::Phi => {
            let vals: Vec<f64> = p.phi.iter().map(|q| q.1).filter(|v| v.is_finite()).collect();
            let (lo, hi) = vals
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            let pad = ((hi - lo) * 0.05).max(1e-12 * hi.abs().max(1e-300));
            Axis::linear(lo - pad, hi + pad)
        }
        DistanceView::Empty => {
            let mut a = Axis::log(1e-6, 1.0);
            a.hidden = true;
            a
        }
    };
    let y_desc = if p.distance == DistanceView::Phi {
        "Φ (numeraire)"
    } else {
        "numeraire units"
    };
    let mut chart = tick_panels.chart(&panel, root, (&p.x, &y), caption_h, data_h, y_desc, th)?;
    let mut e = Vec::new();
    match p.distance {
        DistanceView::Gap => {
            draw_path(&mut chart, &gap, C_ORANGE.stroke_width(lw), false, buckets, th)?;
            draw_path(&mut chart, &lyap, C_INDIGO.stroke_width(lw + 1), false, buckets, th)?;
            if lyap.iter().any(|q| q.1.is_finite()) {
                e.push(entry(Swatch::Line(C_INDIGO), "W: distance to (x*, p*)"));
                e.push(entry(Swatch::Note, "(Bregman, the rules' geometry)"));
                let (up, of) = p.lyapunov_rises;
                if of > 0 {
                    e.push(entry(Swatch::Note, format!("W rose in {up} of {of} steps")));
                    e.push(entry(Swatch::Note, "(steps with W above rounding)"));
                }
            } else {
                e.push(entry(Swatch::Note, "W: no reference equilibrium"));
            }
            if gap.iter().any(|q| q.1.is_finite()) {
                e.push(entry(Swatch::Line(C_ORANGE), "Φ − Φ* (dual gap)"));
            } else {
                e.push(entry(Swatch::Note, "Φ not finite: no Φ − Φ*"));
            }
            if lyap_cut || gap_cut {
                e.push(entry(Swatch::Note, "values ≤ 0 (rounding): not drawn"));
            }
        }
        DistanceView::Phi => {
            draw_path(&mut chart, &p.phi, C_ORANGE.stroke_width(lw + 1), false, buckets, th)?;
            e.push(entry(Swatch::Line(C_ORANGE), "Φ(p_t), dual potential"));
            e.push(entry(Swatch::Note, "Φ* = min Φ = V unknown"));
            e.push(entry(Swatch::Note, "(no reference equilibrium)"));
        }
        DistanceView::Empty => {}
    }
    let r = data_rect(&chart);
    let caption = match p.distance {
        DistanceView::Gap => "Distance to equilibrium: Lyapunov function W and dual potential gap Φ − Φ* (log)",
        DistanceView::Phi => "Dual potential Φ itself: Φ* is unknown without a reference equilibrium (linear)",
        DistanceView::Empty => "Distance to equilibrium",
    };
    put_caption(root, caption, r, y0 + caption_h / 2, caption_w, th)?;
    if p.distance == DistanceView::Empty {
        put_panel_note(
            root,
            r,
            &[
                "Nothing to measure the distance with:",
                "no reference equilibrium (so no W) and Φ not finite (a firm without a finite best response)",
            ],
            th,
        )?;
    }
    l.legend(y0, height, &e)?;
    Ok(r)
}

/// The split of excess demand into mispricing and firm lag, with the step cosine. The panel at `y0`, `height` pixels high; returns its data area.
pub(super) fn split<DB: DrawingBackend>(
    l: &Layout<DB>,
    y0: i32,
    height: i32,
) -> Result<(i32, i32, i32, i32), PlotError> {
    let (root, p, cols, th) = (l.root, l.p, &l.cols, l.th);
    let (buckets, caption_h, caption_w, lw) = (l.buckets, l.caption_h, l.caption_w, l.lw);
    let (xl_big, x_labels, desc) = (l.xl_big, l.x_labels, l.desc);
    let panel = l.area(y0, height);
    let (mis, mis_floored) = floored(&p.mispricing);
    let (lag, lag_floored) = floored(&p.firm_lag);
    let has_split = mis.iter().chain(&lag).any(|q| q.1.is_finite());
    let has_cos = p.cosine.iter().any(|q| q.1.is_finite());
    let (lo, hi) = positive_extent(mis.iter().chain(&lag).map(|q| q.1)).unwrap_or((1e-6, 1.0));
    let mut y = Axis::log_padded(lo, hi, 0.05, 0.05);
    y.hidden = !has_split;
    let mut cos_axis = Axis::linear(-1.08, 1.08);
    cos_axis.fixed = vec![-1.0, -0.5, 0.0, 0.5, 1.0];
    cos_axis.hidden = !has_cos;
    let data_h = height - caption_h - xl_big;
    let chart = ChartBuilder::on(&panel)
        .margin_top(caption_h)
        .x_label_area_size(xl_big)
        .y_label_area_size(cols.y_label)
        .right_y_label_area_size(cols.right)
        .build_cartesian_2d(p.x.clone(), y.clone())?;
    let mut chart = chart.set_secondary_coord(p.x.clone(), cos_axis.clone());
    let y_desc = "÷ volume";
    draw_mesh(
        &mut chart,
        &p.x,
        &y,
        &Mesh {
            x_desc: Some("tick"),
            y_desc,
            x_labels,
            y_labels: l.y_labels(data_h),
            desc_size: fit_font(root, y_desc, desc, data_h),
        },
        th,
    )?;
    if has_cos {
        let cos_desc = "cosine";
        let cf = |v: &f64| fmt_num(*v);
        chart
            .configure_secondary_axes()
            .y_labels(5)
            .y_label_formatter(&cf)
            .label_style((FONT, th.tick()).into_font().color(&INK))
            .axis_desc_style((FONT, fit_font(root, cos_desc, desc, data_h)).into_font().color(&INK))
            .axis_style(MUTED.stroke_width(1))
            .y_desc(cos_desc)
            .draw()?;
    }
    let primary: &mut Chart<DB> = &mut chart;
    let cos_canvas = DataArea::with_y(primary, cos_axis.clone());
    if has_cos {
        // the raw values faint, their moving average bold
        cos_canvas.line(&p.cosine, C_VERMILLION.mix(0.3).stroke_width(1), None, buckets, th)?;
        cos_canvas.line(&p.cosine_smooth, C_VERMILLION.stroke_width(lw), None, buckets, th)?;
    }
    draw_path(primary, &lag, C_BLUE.stroke_width(lw), false, buckets, th)?;
    draw_path(primary, &mis, BLACK.stroke_width(lw + 1), false, buckets, th)?;
    let r = data_rect(primary);
    put_caption(
        root,
        "Excess demand split: mispricing −∇Φ(p) and firm lag z − z* (log, relative to volume); step cosine (right)",
        r,
        y0 + caption_h / 2,
        caption_w,
        th,
    )?;
    if !has_split && !has_cos {
        put_panel_note(
            root,
            r,
            &[
                "Φ is not finite for this economy: no split and no cosine",
                "(a firm without a finite best response, e.g. constant returns, has no D*(p) or S*(p))",
            ],
            th,
        )?;
    }
    let mut e = Vec::new();
    if has_split {
        e.push(entry(Swatch::Line(BLACK), "mispricing ‖D* − S*‖"));
        e.push(entry(Swatch::Line(C_BLUE), "firm lag ‖z − z*‖"));
        e.push(entry(Swatch::Note, "(both ÷ ‖max(S, D)‖)"));
        if mis_floored || lag_floored {
            e.push(entry(Swatch::Note, format!("zeros drawn at {}", fmt_num(LOG_FLOOR))));
        }
    }
    if has_cos {
        let which = if p.cosine_mirror {
            "cosine (rule's geometry)"
        } else {
            "cosine of step and −∇Φ"
        };
        e.push(entry(Swatch::Line(C_VERMILLION), which));
        e.push(entry(
            Swatch::Note,
            format!("bold: {}-point mean; faint: raw", 2 * p.cosine_window + 1),
        ));
        if p.cosine_dropped > 0 {
            e.push(entry(
                Swatch::Note,
                format!("gaps: steps < {} (rounding)", fmt_num(COSINE_NOISE)),
            ));
        }
    }
    l.legend(y0, height, &e)?;
    Ok(r)
}

/// The shock wave: each good's arrival against its depth. The panel at `y0`, `height` pixels high.
pub(super) fn wave<DB: DrawingBackend>(l: &Layout<DB>, y0: i32, height: i32) -> Result<(), PlotError> {
    let (root, p, cols, th) = (l.root, l.p, &l.cols, l.th);
    let (caption_h, caption_w, xl_big, desc) = (l.caption_h, l.caption_w, l.xl_big, l.desc);
    let panel = l.area(y0, height);
    let max_depth = p.wave.iter().map(|q| q.depth).fold(0.0, f64::max);
    let max_after = p.wave.iter().map(|q| q.after).fold(0.0, f64::max);
    let mut x = Axis::linear(-0.5, max_depth + 0.5);
    x.integer = true;
    let mut y = Axis::linear(0.0, (max_after * 1.12).max(1.0));
    y.integer = true;
    let data_h = height - th.px(8.0) - caption_h - xl_big;
    let mut chart = ChartBuilder::on(&panel)
        .margin_top(caption_h + th.px(8.0))
        .margin_right(cols.right)
        .x_label_area_size(xl_big)
        .y_label_area_size(cols.y_label)
        .build_cartesian_2d(x.clone(), y.clone())?;
    let y_desc = "ticks";
    draw_mesh(
        &mut chart,
        &x,
        &y,
        &Mesh {
            x_desc: Some("depth: firms between the good and the shock"),
            y_desc,
            x_labels: ((max_depth as usize) + 1).clamp(2, 16),
            y_labels: l.y_labels(data_h),
            desc_size: fit_font(root, y_desc, desc, data_h),
        },
        th,
    )?;
    let canvas = DataArea::of(&chart);
    let label_names = p.wave.len() <= 12;
    let size = th.font(15.0);
    for q in &p.wave {
        // several shocks: each a little to the side of its depth
        let k = p.wave_shocks.len() as f64;
        let dx = if k > 1.0 {
            (q.shock as f64 - (k - 1.0) / 2.0) * 0.25 / k
        } else {
            0.0
        };
        if let Some(c) = canvas.at((q.depth + dx, q.after)) {
            let color = p.color(q.shock);
            canvas.area.draw(&Circle::new(c, th.px(6.0), color.filled()))?;
            if label_names {
                let text = fit_text(root, &q.good, size, cols.data_w() / 4);
                canvas.area.draw(&Text::new(
                    text,
                    (c.0 + th.px(10.0), c.1),
                    style(size, INK, HPos::Left, VPos::Center),
                ))?;
            }
        }
    }
    let r = data_rect(&chart);
    put_caption(
        root,
        "Shock wave: ticks after the shock until each good's price moved 10% of its final change, against its depth",
        r,
        y0 + caption_h / 2 + th.px(4.0),
        caption_w,
        th,
    )?;
    if p.wave.is_empty() {
        put_panel_note(root, r, &["No good's price moved after the shock"], th)?;
    }
    let mut e = vec![entry(Swatch::Heading, "shocks (propagation.csv)")];
    for (i, (tick, label)) in p.wave_shocks.iter().enumerate() {
        let text = if label.is_empty() {
            format!("tick {tick}")
        } else {
            format!("tick {tick}: {label}")
        };
        e.push(entry(Swatch::Dot(p.color(i)), text));
    }
    if p.wave_missing > 0 {
        e.push(entry(
            Swatch::Note,
            format!("{} goods did not move 10%", p.wave_missing),
        ));
    }
    l.legend(y0, height, &e)?;
    Ok(())
}
