//! The frame of a chart's panels: the title, the columns of panels and legends, a panel's
//! grid, axis labels and caption.

use super::axis::Axis;
use super::canvas::{fit_font, fit_text, put_text, Area, Chart, Theme, FONT, GRID_BOLD, GRID_LIGHT, INK, MUTED};
use super::PlotError;
use plotters::prelude::*;
use plotters::style::text_anchor::HPos;

/// Frame and labels of one chart panel.
pub(super) struct Mesh<'t> {
    pub(super) x_desc: Option<&'t str>,
    pub(super) y_desc: &'t str,
    pub(super) x_labels: usize,
    pub(super) y_labels: usize,
    pub(super) desc_size: f64,
}

pub(super) fn draw_mesh<DB: DrawingBackend>(
    chart: &mut Chart<DB>,
    x: &Axis,
    y: &Axis,
    m: &Mesh,
    th: Theme,
) -> Result<(), PlotError> {
    let xf = |v: &f64| x.label(*v);
    let yf = |v: &f64| y.label(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(m.x_labels)
        .y_labels(m.y_labels)
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style((FONT, th.tick()).into_font().color(&INK))
        .axis_desc_style((FONT, m.desc_size).into_font().color(&INK))
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .axis_style(MUTED.stroke_width(1))
        .max_light_lines(9)
        .y_desc(m.y_desc);
    if let Some(d) = m.x_desc {
        mesh.x_desc(d);
    }
    mesh.draw()?;
    Ok(())
}

/// The layout shared by the convergence chart's panels over ticks.
pub(super) struct TickPanels {
    /// Widths of the value-axis label area and of the margin right of the data area.
    pub(super) y_label: i32,
    pub(super) right: i32,
    /// Height of the tick labels under a panel (no axis title).
    pub(super) x_area: i32,
    pub(super) x_labels: usize,
    pub(super) desc: f64,
}

impl TickPanels {
    /// A panel over ticks (`x`) with value axis `y`: the chart on `panel` below `top` pixels
    /// of caption, its grid and labels drawn, the value axis titled `y_desc` (sized to fit
    /// `data_h`, the height of the data area).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn chart<'a, DB: DrawingBackend>(
        &self,
        panel: &'a Area<DB>,
        root: &Area<DB>,
        (x, y): (&Axis, &Axis),
        top: i32,
        data_h: i32,
        y_desc: &str,
        th: Theme,
    ) -> Result<Chart<'a, DB>, PlotError> {
        let mut chart = ChartBuilder::on(panel)
            .margin_top(top)
            .margin_right(self.right)
            .x_label_area_size(self.x_area)
            .y_label_area_size(self.y_label)
            .build_cartesian_2d(x.clone(), y.clone())?;
        draw_mesh(
            &mut chart,
            x,
            y,
            &Mesh {
                x_desc: None,
                y_desc,
                x_labels: self.x_labels,
                y_labels: (data_h / th.px(42.0)).clamp(2, 10) as usize,
                desc_size: fit_font(root, y_desc, self.desc, data_h),
            },
            th,
        )?;
        Ok(chart)
    }
}

/// Pixel rectangle (x0, y0, x1, y1) of a chart's data area.
pub(super) fn data_rect<DB: DrawingBackend>(chart: &Chart<DB>) -> (i32, i32, i32, i32) {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    (xr.start, yr.start, xr.end, yr.end)
}

/// Common horizontal layout of stacked panels with a legend column on the right.
pub(super) struct Columns {
    /// Left edge and width of the chart column (including axis label areas).
    pub(super) chart_x: i32,
    pub(super) chart_w: i32,
    pub(super) y_label: i32,
    pub(super) right: i32,
    pub(super) legend_x: i32,
    pub(super) legend_w: i32,
}

impl Columns {
    pub(super) fn new(w: i32, th: Theme, legend_frac: f64, right: f64) -> Columns {
        let pad = th.px(10.0);
        let legend_w = ((w as f64 * legend_frac) as i32).max(th.px(200.0)).max(190);
        let chart_w = w - legend_w - 2 * pad;
        Columns {
            chart_x: pad,
            chart_w,
            y_label: th.y_labels_w(),
            right: th.px(right),
            legend_x: pad + chart_w + th.px(18.0),
            legend_w: legend_w - th.px(18.0),
        }
    }
    pub(super) fn data_w(&self) -> i32 {
        self.chart_w - self.y_label - self.right
    }
}

pub(super) fn draw_title<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
    subtitle: &str,
    th: Theme,
) -> Result<i32, PlotError> {
    let (w, _) = root.dim_in_pixel();
    let w = w as i32;
    let max_w = w - th.px(40.0);
    let ts = fit_font(root, title, th.title(), max_w);
    put_text(root, title, (w / 2, th.px(28.0)), ts, INK, HPos::Center)?;
    let sub = fit_text(root, subtitle, th.subtitle(), max_w);
    put_text(root, &sub, (w / 2, th.px(62.0)), th.subtitle(), MUTED, HPos::Center)?;
    Ok(th.px(84.0))
}

/// A panel's caption, left-aligned over its data area, shrunk to fit the panel's width.
pub(super) fn put_caption<DB: DrawingBackend>(
    root: &Area<DB>,
    text: &str,
    r: (i32, i32, i32, i32),
    cy: i32,
    max_w: i32,
    th: Theme,
) -> Result<(), PlotError> {
    let size = fit_font(root, text, th.caption(), max_w);
    put_text(root, text, (r.0, cy), size, INK, HPos::Left)
}

/// A message in the middle of an empty panel's data area (wrapped onto two lines if long).
pub(super) fn put_panel_note<DB: DrawingBackend>(
    root: &Area<DB>,
    r: (i32, i32, i32, i32),
    lines: &[&str],
    th: Theme,
) -> Result<(), PlotError> {
    let size = th.font(20.0);
    let row = (size * 1.5) as i32;
    let cx = (r.0 + r.2) / 2;
    let top = (r.1 + r.3) / 2 - row * (lines.len() as i32 - 1) / 2;
    for (i, line) in lines.iter().enumerate() {
        let size = fit_font(root, line, size, r.2 - r.0 - th.px(20.0));
        let color = if i == 0 { INK } else { MUTED };
        put_text(root, line, (cx, top + i as i32 * row), size, color, HPos::Center)?;
    }
    Ok(())
}
