//! The convergence chart of a run (`convergence.png`): the panels over its ticks stacked
//! under a title, a legend right of each, and the shocks marked across them.

mod panels;
mod prep;
mod window;
mod window_prep;

pub use window_prep::{StationaryGood, StationaryView};

use super::canvas::{fit_text, put_dashed_vline, render, text_width, Area, Drawing, Format, Theme, SHOCK};
use super::panel::{draw_title, Columns, TickPanels};
use super::{ChartSize, PlotError, RunData};
use panels::Layout;
use panels::WINDOW;
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::DrawingBackend;
use plotters::style::Color;
use prep::ConvPrep;

/// Goods charted individually when there are many goods.
const WORST_SHOWN: usize = 8;
/// Above this many goods, only the worst [`WORST_SHOWN`] are drawn plus a quantile band.
const MANY_GOODS: usize = 12;

/// Renders the convergence chart of a run as PNG bytes: prices, relative errors, the
/// distance to equilibrium, the split of excess demand with the cosine, and for a run with a
/// shock (and its `propagation.csv`) the shock wave.
///
/// `title` is drawn at the top; when empty, `data.title` is used.
pub fn render_convergence(data: &RunData, title: &str, size: ChartSize) -> Result<Vec<u8>, PlotError> {
    render_convergence_as(data, title, size, Format::Png)
}

/// [`render_convergence`] as PNG or SVG bytes. Of a part of a run ([`RunData::selected`]), the
/// subtitle says which goods and ticks were selected.
pub fn render_convergence_as(
    data: &RunData,
    title: &str,
    size: ChartSize,
    format: Format,
) -> Result<Vec<u8>, PlotError> {
    let prep = ConvPrep::new(data)?;
    let title = if title.is_empty() { data.title.as_str() } else { title };
    render(format, size, &Convergence { p: &prep, title })
}

struct Convergence<'a> {
    p: &'a ConvPrep,
    title: &'a str,
}

impl Drawing for Convergence<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, th: Theme) -> Result<(), PlotError> {
        draw_convergence(root, self.p, self.title, th)
    }
}

/// The first part of the subtitle: the goods and ticks drawn, how many ticks were logged (and
/// drawn); of a part of the run, what was selected.
fn drawn(p: &ConvPrep) -> String {
    let n_goods = p.goods.len();
    let logged = match p.logged_in_files {
        Some(all) => format!("{all} logged, {} drawn", p.logged),
        None => format!("{} logged", p.logged),
    };
    let Some(sel) = &p.selected else {
        return format!(
            "{n_goods} good{}, ticks {}–{} ({logged})",
            if n_goods == 1 { "" } else { "s" },
            p.first_tick,
            p.last_tick,
        );
    };
    let mut parts = Vec::new();
    if sel.ticks.is_some() {
        let (a, b) = sel.run_ticks;
        parts.push(format!("ticks {}–{} of {a}–{b} ({logged})", p.first_tick, p.last_tick));
    }
    if sel.goods {
        let mut names: Vec<&str> = p.goods.iter().take(6).map(|g| g.name.as_str()).collect();
        if n_goods > 6 {
            names.push("…");
        }
        parts.push(format!(
            "good{} {} ({n_goods} of {})",
            if n_goods == 1 { "" } else { "s" },
            names.join(", "),
            sel.run_goods.len()
        ));
    }
    if sel.ticks.is_none() {
        parts.push(format!("ticks {}–{} ({logged})", p.first_tick, p.last_tick));
    }
    format!("selected {}", parts.join(", "))
}

fn draw_convergence<DB: DrawingBackend>(
    root: &Area<DB>,
    p: &ConvPrep,
    title: &str,
    th: Theme,
) -> Result<(), PlotError> {
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let n_goods = p.goods.len();
    let mut subtitle = drawn(p);
    if p.refs_present == 0 {
        subtitle.push_str("; no reference equilibrium (errors against the backprop adjoint)");
    } else if p.refs_missing > 0 {
        subtitle.push_str("; p* = reference price where known (errors against the adjoint elsewhere)");
    } else {
        subtitle.push_str("; p* = reference price");
    }
    if p.diverged {
        subtitle.push_str("; prices diverged (non-finite values not drawn)");
    }
    let top = draw_title(root, title, &subtitle, th)?;
    let cols = Columns::new(w, th, 0.2, 112.0);
    let buckets = (cols.data_w().max(100) as usize) * 2;
    let avail = h - top - th.px(6.0);
    let caption_h = th.caption_h();
    let caption_w = cols.chart_w - cols.y_label;
    let lw = th.line();
    let has_wave = !p.wave_shocks.is_empty();
    let strip = ShockStrip::new(root, p, &cols, th);

    let fractions: &[f64] = match (has_wave, p.window.is_some()) {
        (true, true) => &[0.22, 0.13, 0.13, 0.16, 0.2, 0.16],
        (false, true) => &[0.25, 0.15, 0.15, 0.19, 0.26],
        (true, false) => &[0.27, 0.175, 0.175, 0.19, 0.19],
        (false, false) => &[0.31, 0.22, 0.22, 0.25],
    };
    let mut heights: Vec<i32> = fractions.iter().map(|f| (avail as f64 * f) as i32).collect();
    heights[0] += strip.height / 2;
    heights[1] -= strip.height / 2;
    let used: i32 = heights[..heights.len() - 1].iter().sum();
    *heights.last_mut().expect("panels") = avail - used;
    let xl_small = th.x_labels_h();
    let xl_big = th.x_labels_desc_h();
    let desc = th.desc();
    let x_labels = (cols.data_w() / th.px(130.0)).clamp(2, 12) as usize;
    let tick_panels = TickPanels {
        y_label: cols.y_label,
        right: cols.right,
        x_area: xl_small,
        x_labels,
        desc,
    };
    let l = Layout {
        root,
        p,
        cols,
        th,
        buckets,
        caption_h,
        caption_w,
        lw,
        tick_panels,
        xl_small,
        xl_big,
        n_goods,
        x_labels,
        desc,
    };

    let mut y0 = top;
    let mut rects = Vec::new();
    rects.push(panels::prices(&l, y0, heights[0], &strip)?);
    y0 += heights[0];
    rects.push(panels::errors(&l, y0, heights[1])?);
    y0 += heights[1];
    rects.push(panels::distance(&l, y0, heights[2])?);
    y0 += heights[2];
    rects.push(panels::split(&l, y0, heights[3])?);
    y0 += heights[3];
    let mut next = 4;
    if let Some(w) = &p.window {
        window::panel(&l, w, y0, heights[next])?;
        y0 += heights[next];
        next += 1;
    }
    if has_wave {
        panels::wave(&l, y0, heights[next])?;
    }

    // Shock lines across every panel with a tick axis.
    for &x in &strip.px {
        for r in &rects {
            put_dashed_vline(root, x, r.1, r.3, SHOCK.stroke_width(1), th)?;
        }
    }
    // The start of the stationary window, likewise.
    if let Some(x) = p
        .window
        .as_ref()
        .and_then(|w| window::start_px(p, w, (rects[0].0, rects[0].2)))
    {
        for r in &rects {
            put_dashed_vline(root, x, r.1, r.3, WINDOW.stroke_width(2), th)?;
        }
    }
    Ok(())
}

/// The labels of the shocks in a strip above the price panel, placed left to right in up to
/// three rows.
struct ShockStrip {
    /// Each label placed: (x pixel of its shock, row, text, anchored right of the line).
    placed: Vec<(i32, usize, String, bool)>,
    /// Labels that did not fit.
    omitted: usize,
    /// The x pixel of every shock.
    px: Vec<i32>,
    label_size: f64,
    row_h: i32,
    /// The strip's height (0 without labels).
    height: i32,
}

impl ShockStrip {
    fn new<DB: DrawingBackend>(root: &Area<DB>, p: &ConvPrep, cols: &Columns, th: Theme) -> ShockStrip {
        // Shock label rows (assigned left to right, up to 3 rows).
        let label_size = th.font(16.0);
        let row_h = (label_size * 1.45) as i32;
        let data_x0 = cols.chart_x + cols.y_label;
        let data_x1 = data_x0 + cols.data_w();
        let mut rows_end: Vec<i32> = Vec::new();
        let mut placed: Vec<(i32, usize, String, bool)> = Vec::new(); // (x px, row, text, anchor right)
        let mut omitted = 0usize;
        let mut shock_px = Vec::new();
        for (t, label) in &p.shocks {
            let x = p.x.map(t, (data_x0, data_x1));
            shock_px.push(x);
            let text = fit_text(root, label, label_size, cols.data_w() / 2);
            let tw = text_width(root, &text, label_size);
            let gap = th.px(4.0);
            let right = x + gap + tw > data_x1;
            let (l, r) = if right { (x - gap - tw, x) } else { (x, x + gap + tw) };
            match rows_end.iter().position(|&end| end + th.px(10.0) < l) {
                Some(row) => {
                    rows_end[row] = r;
                    placed.push((x, row, text, right));
                }
                None if rows_end.len() < 3 => {
                    rows_end.push(r);
                    placed.push((x, rows_end.len() - 1, text, right));
                }
                None => omitted += 1,
            }
        }
        let strip_h = if rows_end.is_empty() {
            0
        } else {
            rows_end.len() as i32 * row_h + th.px(6.0)
        };
        ShockStrip {
            placed,
            omitted,
            px: shock_px,
            label_size,
            row_h,
            height: strip_h,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::fixtures::*;
    use crate::plot::{read_run, read_run_selected, Selection};

    #[test]
    fn converged_run_renders_deterministically() {
        let (_d, data) = Synth::converged().data();
        assert_eq!(data.trajectory.len(), 401 * 4);
        assert_eq!(data.metrics.len(), 401);
        check_run(&data, ChartSize::default());
    }

    #[test]
    fn diverged_run_renders() {
        let (_d, data) = Synth {
            diverge: true,
            phi: false,
            refs: false,
            ..Synth::converged()
        }
        .data();
        assert!(data.trajectory.iter().any(|r| r.price >= 1e299));
        check_run(&data, SMALL);
    }

    #[test]
    fn diverged_run_with_infinities_renders() {
        let (d, _) = Synth {
            diverge: true,
            ticks: 50,
            ..Synth::converged()
        }
        .data();
        let mut text = std::fs::read_to_string(d.path().join("trajectory.csv")).unwrap();
        text.push_str("51,tupperware,inf,NaN,NaN,NaN,-inf,\n51,steel,NaN,1,1,0,1,1\n");
        std::fs::write(d.path().join("trajectory.csv"), text).unwrap();
        let data = read_run(d.path()).unwrap();
        assert!(data.trajectory.last().unwrap().price.is_nan());
        check_run(&data, SMALL);
    }

    #[test]
    fn shocked_run_renders() {
        let (_d, data) = Synth {
            goods: 5,
            ticks: 600,
            shocks: vec![
                (200, "tupperware.price=2"),
                (205, "steel.endowment=0.5"),
                (450, "grain.tax=0.1"),
            ],
            ..Synth::converged()
        }
        .data();
        assert_eq!(data.metrics.iter().filter(|m| m.shock.is_some()).count(), 3);
        check_run(&data, SMALL);
    }

    #[test]
    fn many_goods_render() {
        let (_d, data) = Synth {
            goods: 200,
            ticks: 150,
            ..Synth::converged()
        }
        .data();
        check_run(&data, SMALL);
    }

    #[test]
    fn thousand_goods_render() {
        let (_d, data) = Synth {
            goods: 1000,
            ticks: 30,
            ..Synth::converged()
        }
        .data();
        check_run(&data, SMALL);
    }

    #[test]
    fn single_tick_single_good_renders() {
        let (_d, data) = Synth {
            goods: 1,
            ticks: 0,
            ..Synth::converged()
        }
        .data();
        assert_eq!(data.trajectory.len(), 1);
        check_run(&data, SMALL);
    }

    #[test]
    fn long_run_is_decimated_and_renders() {
        let (_d, data) = Synth {
            goods: 2,
            ticks: 100_000,
            ..Synth::converged()
        }
        .data();
        // read every 6th logged tick (and the last): bounded memory for any run length
        assert_eq!(data.logged_ticks, 100_001);
        assert_eq!(data.metrics.len(), 16_668);
        assert!(data.metrics.len() <= crate::plot::run_data::MAX_CHART_TICKS);
        assert_eq!(data.trajectory.len(), 2 * data.metrics.len());
        assert_eq!(data.metrics.last().unwrap().tick, 100_000);
        check_run(&data, SMALL);
    }

    /// The SVG of a run is a document with the chart's text; the PNG through the same path is
    /// the PNG of `render_convergence`.
    #[test]
    fn svg_is_a_document_with_the_charts_text() {
        let (d, _) = Synth {
            goods: 5,
            ticks: 300,
            shocks: vec![(100, "tupperware.price=2"), (200, "steel.endowment=0.5")],
            ..Synth::converged()
        }
        .data();
        std::fs::write(
            d.path().join("propagation.csv"),
            "shock_tick,good,depth,arrival_tick,final_change\n100,steel,1,102,1.5\n200,grain,2,204,0.2\n",
        )
        .unwrap();
        let data = read_run(d.path()).unwrap();
        let svg = render_convergence_as(&data, "a & b <run>", SMALL, Format::Svg).unwrap();
        let text = assert_svg(&svg, SMALL);
        assert_eq!(
            svg,
            render_convergence_as(&data, "a & b <run>", SMALL, Format::Svg).unwrap()
        );
        for s in [
            "a &amp; b &lt;run&gt;",
            "5 goods, ticks 0–300 (301 logged)",
            "tupperware",
            "energy",
            "Shock wave",
            "tupperware.price=2",
        ] {
            assert!(text.contains(s), "{s}");
        }
        let png = render_convergence_as(&data, "t", SMALL, Format::Png).unwrap();
        assert_eq!(png, render_convergence(&data, "t", SMALL).unwrap());
        // many goods: bands (polygons) and the worst goods
        let (_d, data) = Synth {
            goods: 40,
            ticks: 50,
            ..Synth::converged()
        }
        .data();
        let text = assert_svg(&render_convergence_as(&data, "", SMALL, Format::Svg).unwrap(), SMALL);
        assert!(text.contains("<polygon") && text.contains("8 worst of 40 goods"));
    }

    /// A part of a run: its subtitle says what was selected, its series are the selected goods',
    /// each in the colour it has in the chart of the whole run.
    #[test]
    fn a_selection_is_drawn_and_said() {
        let (d, full) = Synth {
            goods: 4,
            ticks: 400,
            ..Synth::converged()
        }
        .data();
        let sel = Selection {
            goods: vec!["labour".to_string(), "steel".to_string()],
            ticks: "100:250".parse().unwrap(),
        };
        let data = read_run_selected(d.path(), &sel).unwrap();
        let text = assert_svg(&render_convergence_as(&data, "t", SMALL, Format::Svg).unwrap(), SMALL);
        assert!(
            text.contains("selected ticks 100–250 of 0–400 (151 logged), goods steel, labour (2 of 4)"),
            "{}",
            text.lines().find(|l| l.contains("selected")).unwrap_or("no subtitle")
        );
        assert!(!text.contains("tupperware") && !text.contains("grain"));
        let prep = ConvPrep::new(&data).unwrap();
        // steel and labour are the 2nd and 4th goods of the run
        assert_eq!(prep.palette, vec![1, 3]);
        assert_eq!((prep.first_tick, prep.last_tick), (100, 250));
        let whole = check_run(&full, SMALL);
        let part = render_convergence(&data, "test run", SMALL).unwrap();
        assert_ne!(whole, part);
        // only ticks: every good, in its own colour
        let data = read_run_selected(
            d.path(),
            &Selection {
                goods: vec![],
                ticks: ":10".parse().unwrap(),
            },
        )
        .unwrap();
        let text = assert_svg(&render_convergence_as(&data, "t", SMALL, Format::Svg).unwrap(), SMALL);
        assert!(text.contains("selected ticks 0–10 of 0–400 (11 logged);"));
        assert_eq!(ConvPrep::new(&data).unwrap().palette, vec![0, 1, 2, 3]);
    }

    #[test]
    fn bad_size_is_rejected() {
        let (_d, data) = Synth {
            goods: 1,
            ticks: 3,
            ..Synth::converged()
        }
        .data();
        let e = render_convergence(&data, "x", ChartSize { width: 10, height: 10 }).unwrap_err();
        assert!(matches!(e, PlotError::InvalidSize { .. }));
    }
}
