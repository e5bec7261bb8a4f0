//! Drawing inside a chart's data area: lines, dashes, bands and markers in data coordinates,
//! clipped to the area.

use super::axis::Axis;
use super::canvas::{Area, Chart, Theme, BAND, MUTED};
use super::series::{decimate, segments};
use super::PlotError;
use plotters::prelude::*;

/// The data area of a chart in its own pixel coordinates, for drawing that never leaves it:
/// every line, band and marker is clipped to the area here (plotters does not clip, and its
/// wide lines grow spikes at sharp turns, which reached across the panel above).
pub(super) struct DataArea<DB: DrawingBackend> {
    pub(super) area: Area<DB>,
    pub(super) x: Axis,
    pub(super) y: Axis,
    /// Largest pixel coordinates inside the area.
    pub(super) w: f64,
    pub(super) h: f64,
}

/// How far outside the area a point may be mapped (further is pulled in to this distance,
/// along the same direction from the area, before clipping).
const OUTSIDE: f64 = 1e5;

impl<DB: DrawingBackend> DataArea<DB> {
    /// The chart's data area with its axes.
    pub(super) fn of(chart: &Chart<'_, DB>) -> DataArea<DB> {
        let spec = chart.as_coord_spec();
        DataArea::with_y(chart, spec.y_spec().clone())
    }

    /// The chart's data area with another vertical axis (a secondary axis).
    pub(super) fn with_y(chart: &Chart<'_, DB>, y: Axis) -> DataArea<DB> {
        let area = chart.plotting_area().strip_coord_spec();
        let (w, h) = area.dim_in_pixel();
        DataArea {
            area,
            x: chart.as_coord_spec().x_spec().clone(),
            y,
            w: (w.max(1) - 1) as f64,
            h: (h.max(1) - 1) as f64,
        }
    }

    /// Pixel position of a data point (not clamped); None where it has none (NaN). On a log
    /// axis, values <= 0 lie far below the area (a line down to 0 leaves at the bottom).
    pub(super) fn px(&self, (xv, yv): (f64, f64)) -> Option<(f64, f64)> {
        let fx = self.x.frac(xv);
        let fy = self.y.frac(yv);
        if fx.is_nan() || fy.is_nan() || !xv.is_finite() || yv.is_nan() || (yv.is_infinite() && !self.y.log) {
            return None;
        }
        let limit = OUTSIDE / self.w.max(self.h).max(1.0);
        let (fx, fy) = (fx.clamp(-limit, 1.0 + limit), fy.clamp(-limit, 1.0 + limit));
        Some((fx * self.w, (1.0 - fy) * self.h))
    }

    fn inside(&self, p: (f64, f64)) -> bool {
        p.0 >= -0.5 && p.0 <= self.w + 0.5 && p.1 >= -0.5 && p.1 <= self.h + 0.5
    }

    /// The part of segment a-b inside the area (Liang-Barsky), or None.
    fn clip(&self, a: (f64, f64), b: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [(-dx, a.0), (dx, self.w - a.0), (-dy, a.1), (dy, self.h - a.1)] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        (t0 <= t1).then_some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
    }

    /// A line through the points (split where a value is not finite, decimated to `buckets`
    /// per piece), clipped to the area; dashed with (dash, gap) pixels if asked. A piece of
    /// one point is a dot (a ring when dashed).
    pub(super) fn line(
        &self,
        pts: &[(f64, f64)],
        st: ShapeStyle,
        dash: Option<(i32, i32)>,
        buckets: usize,
        th: Theme,
    ) -> Result<(), PlotError> {
        for seg in segments(pts) {
            let seg = decimate(seg, buckets);
            let px: Vec<Option<(f64, f64)>> = seg.iter().map(|&p| self.px(p)).collect();
            if seg.len() == 1 {
                if let Some(c) = px[0].filter(|&c| self.inside(c)) {
                    let c = (c.0.round() as i32, c.1.round() as i32);
                    if dash.is_some() {
                        self.area.draw(&Circle::new(c, th.px(7.0), st.color.stroke_width(2)))?;
                    } else {
                        self.area.draw(&Circle::new(c, th.px(4.0), st.color.filled()))?;
                    }
                }
                continue;
            }
            // runs of clipped pixel points, broken where the line leaves the area
            let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
            let mut run: Vec<(f64, f64)> = Vec::new();
            for w in px.windows(2) {
                let (Some(a), Some(b)) = (w[0], w[1]) else {
                    if run.len() > 1 {
                        runs.push(std::mem::take(&mut run));
                    }
                    run.clear();
                    continue;
                };
                match self.clip(a, b) {
                    Some((ca, cb)) => {
                        let joined = run
                            .last()
                            .is_some_and(|l| (l.0 - ca.0).abs() < 1e-9 && (l.1 - ca.1).abs() < 1e-9);
                        if !joined {
                            if run.len() > 1 {
                                runs.push(std::mem::take(&mut run));
                            }
                            run.clear();
                            run.push(ca);
                        }
                        run.push(cb);
                    }
                    None => {
                        if run.len() > 1 {
                            runs.push(std::mem::take(&mut run));
                        }
                        run.clear();
                    }
                }
            }
            if run.len() > 1 {
                runs.push(run);
            }
            for run in runs {
                match dash {
                    Some((on, off)) => self.dashes(&run, st, on as f64, off as f64)?,
                    None => self.polyline(&run, st)?,
                }
            }
        }
        Ok(())
    }

    /// A polyline of pixel points inside the area, drawn in pieces that never turn sharply (a
    /// wide line is a polygon, and its corners at sharp turns reach far out).
    fn polyline(&self, run: &[(f64, f64)], st: ShapeStyle) -> Result<(), PlotError> {
        let mut pts: Vec<(i32, i32)> = Vec::with_capacity(run.len());
        for p in run {
            let q = (p.0.round() as i32, p.1.round() as i32);
            if pts.last() != Some(&q) {
                pts.push(q);
            }
        }
        if pts.len() == 1 {
            pts.push(pts[0]);
        }
        let mut piece: Vec<(i32, i32)> = vec![pts[0]];
        for i in 1..pts.len() {
            if piece.len() >= 2 {
                let a = piece[piece.len() - 2];
                let b = piece[piece.len() - 1];
                let u = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
                let v = ((pts[i].0 - b.0) as f64, (pts[i].1 - b.1) as f64);
                let dot = u.0 * v.0 + u.1 * v.1;
                let norms = ((u.0 * u.0 + u.1 * u.1) * (v.0 * v.0 + v.1 * v.1)).sqrt();
                // turning by more than 60 degrees: start a new piece at b
                if st.stroke_width > 1 && dot < 0.5 * norms {
                    self.area.draw(&PathElement::new(std::mem::take(&mut piece), st))?;
                    piece = vec![b];
                }
            }
            piece.push(pts[i]);
        }
        self.area.draw(&PathElement::new(piece, st))?;
        Ok(())
    }

    /// Dashes along a polyline of pixel points.
    fn dashes(&self, run: &[(f64, f64)], st: ShapeStyle, on: f64, off: f64) -> Result<(), PlotError> {
        let period = (on + off).max(1.0);
        let mut phase = 0.0f64; // position within the period at the start of the segment
        for w in run.windows(2) {
            let (a, b) = (w[0], w[1]);
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let mut s = 0.0;
            while s < len {
                let pos = (phase + s) % period;
                let (visible, left) = if pos < on {
                    (true, on - pos)
                } else {
                    (false, period - pos)
                };
                let e = (s + left).min(len);
                if visible && e > s {
                    let p = |t: f64| {
                        (
                            (a.0 + (b.0 - a.0) * t / len).round() as i32,
                            (a.1 + (b.1 - a.1) * t / len).round() as i32,
                        )
                    };
                    self.area.draw(&PathElement::new(vec![p(s), p(e)], st))?;
                }
                s = e.max(s + 1e-9);
            }
            phase = (phase + len) % period;
        }
        Ok(())
    }

    /// A filled polygon of data points, clipped to the area (Sutherland-Hodgman).
    fn polygon(&self, poly: &[(f64, f64)], style: ShapeStyle) -> Result<(), PlotError> {
        let mut pts: Vec<(f64, f64)> = Vec::with_capacity(poly.len());
        for &p in poly {
            match self.px(p) {
                Some(q) => pts.push(q),
                None => return Ok(()),
            }
        }
        let (w, h) = (self.w, self.h);
        type Edge = (fn((f64, f64), f64) -> f64, f64);
        // inside when f(p, bound) >= 0
        let edges: [Edge; 4] = [
            (|p, _| p.0, 0.0),
            (|p, b| b - p.0, w),
            (|p, _| p.1, 0.0),
            (|p, b| b - p.1, h),
        ];
        for (f, bound) in edges {
            if pts.is_empty() {
                return Ok(());
            }
            let mut out = Vec::with_capacity(pts.len() + 4);
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                let (fa, fb) = (f(a, bound), f(b, bound));
                if fa >= 0.0 {
                    out.push(a);
                }
                if (fa >= 0.0) != (fb >= 0.0) {
                    let t = fa / (fa - fb);
                    out.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                }
            }
            pts = out;
        }
        if pts.len() >= 3 {
            let pts: Vec<(i32, i32)> = pts.iter().map(|p| (p.0.round() as i32, p.1.round() as i32)).collect();
            self.area.draw(&Polygon::new(pts, style))?;
        }
        Ok(())
    }

    /// A marker drawn by `draw` at a data point, if the point is inside the area.
    pub(super) fn at(&self, p: (f64, f64)) -> Option<(i32, i32)> {
        self.px(p)
            .filter(|&c| self.inside(c))
            .map(|c| (c.0.round() as i32, c.1.round() as i32))
    }
}

/// A line through `pts` on the chart, clipped to its data area (dashed if asked).
pub(super) fn draw_path<DB: DrawingBackend>(
    chart: &mut Chart<DB>,
    pts: &[(f64, f64)],
    st: ShapeStyle,
    dashed: bool,
    buckets: usize,
    th: Theme,
) -> Result<(), PlotError> {
    let dash = dashed.then(|| (th.px(9.0), th.px(6.0)));
    DataArea::of(chart).line(pts, st, dash, buckets, th)
}

/// A quantile band (x, q10, median, q90): the shaded 10-90% band and the median line.
pub(super) fn draw_quantiles<DB: DrawingBackend>(
    chart: &mut Chart<DB>,
    quantiles: &[(f64, f64, f64, f64)],
    lw: u32,
    buckets: usize,
    th: Theme,
) -> Result<(), PlotError> {
    let band: Vec<(f64, f64, f64)> = quantiles.iter().map(|b| (b.0, b.1, b.3)).collect();
    draw_band(chart, &band, BAND, buckets)?;
    let median: Vec<(f64, f64)> = quantiles.iter().map(|b| (b.0, b.2)).collect();
    draw_path(chart, &median, MUTED.stroke_width(lw), false, buckets, th)
}

/// Shaded band between `lo` and `hi` (points share x), split at non-finite values, clipped to
/// the chart's data area.
pub(super) fn draw_band<DB: DrawingBackend>(
    chart: &mut Chart<DB>,
    band: &[(f64, f64, f64)],
    color: RGBColor,
    buckets: usize,
) -> Result<(), PlotError> {
    let canvas = DataArea::of(chart);
    let mut start = 0;
    while start < band.len() {
        while start < band.len() && !(band[start].1.is_finite() && band[start].2.is_finite()) {
            start += 1;
        }
        let mut end = start;
        while end < band.len() && band[end].1.is_finite() && band[end].2.is_finite() {
            end += 1;
        }
        if end > start {
            let lo: Vec<(f64, f64)> = band[start..end].iter().map(|p| (p.0, p.1)).collect();
            let hi: Vec<(f64, f64)> = band[start..end].iter().map(|p| (p.0, p.2)).collect();
            let (lo, hi) = (decimate(&lo, buckets), decimate(&hi, buckets));
            let mut poly = hi;
            poly.extend(lo.into_iter().rev());
            if poly.len() >= 3 {
                canvas.polygon(&poly, color.mix(0.28).filled())?;
            }
        }
        start = end.max(start + 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::canvas::{ensure_font, C_BLUE, C_ORANGE, C_VERMILLION};
    use crate::plot::panel::data_rect;

    /// Every series stays inside its data area: prices at 0 on a log axis, values far out
    /// of range, NaN, and zigzags whose wide-line corners used to reach across the panel
    /// above.
    #[test]
    fn series_are_clipped_to_their_data_area() {
        ensure_font().unwrap();
        let (w, h) = (400u32, 300u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        let rect;
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            let mut chart = ChartBuilder::on(&root)
                .margin(60)
                .build_cartesian_2d(Axis::linear(0.0, 100.0), Axis::log(1e-3, 10.0))
                .unwrap();
            // zigzag between 0 (far below on a log axis) and 1e6 (far above), and NaN
            let zig: Vec<(f64, f64)> = (0..=100)
                .map(|i| {
                    let y = match i % 5 {
                        0 => 0.0,
                        1 => 1e6,
                        2 => 0.5,
                        3 => f64::NAN,
                        _ => 1e-30,
                    };
                    (i as f64, y)
                })
                .collect();
            let th = Theme { s: 1.0 };
            for width in [1, 2, 3, 6] {
                draw_path(&mut chart, &zig, C_BLUE.stroke_width(width), false, 1000, th).unwrap();
                draw_path(&mut chart, &zig, C_ORANGE.stroke_width(width), true, 1000, th).unwrap();
            }
            // a sharp U-turn at the bottom edge (one positive price between zeros)
            let spike = [(10.0, 0.0), (11.0, 5.0), (12.0, 0.0)];
            draw_path(&mut chart, &spike, C_VERMILLION.stroke_width(3), false, 1000, th).unwrap();
            let band: Vec<(f64, f64, f64)> = (0..=100).map(|i| (i as f64, 1e-9, 1e9)).collect();
            draw_band(&mut chart, &band, BAND, 1000).unwrap();
            rect = data_rect(&chart);
            root.present().unwrap();
        }
        // half the widest line beyond the edge at most
        let margin = 4;
        let mut outside = 0;
        for y in 0..h as i32 {
            for x in 0..w as i32 {
                let i = ((y as u32 * w + x as u32) * 3) as usize;
                let white = buf[i] == 255 && buf[i + 1] == 255 && buf[i + 2] == 255;
                let near = x >= rect.0 - margin && x < rect.2 + margin && y >= rect.1 - margin && y < rect.3 + margin;
                if !white && !near {
                    outside += 1;
                }
            }
        }
        assert_eq!(outside, 0, "pixels drawn outside the data area {rect:?}");
    }
}
