//! The canvas a chart is drawn on: the embedded font, the colours, the sizes scaled to the
//! chart's size ([`Theme`]), the PNG encoding ([`render_png`]), and the primitives drawn in
//! pixels (text, lines, markers).

use super::axis::Axis;
use super::{ChartSize, PlotError};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};
use std::sync::OnceLock;

/// DejaVu Sans, embedded so rendering never depends on the fonts of the host.
static FONT_BYTES: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/DejaVuSans.ttf"));
/// Family name under which the embedded font is registered (plotters' default family).
pub(super) const FONT: &str = "sans-serif";

// Okabe–Ito colours first (colour-blind safe), then Paul Tol's muted colours.
pub(super) const PALETTE: [RGBColor; 12] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(136, 34, 85),
    RGBColor(153, 153, 51),
    RGBColor(51, 34, 136),
    RGBColor(68, 170, 153),
    RGBColor(170, 68, 153),
    RGBColor(102, 17, 0),
];
pub(super) const INK: RGBColor = RGBColor(20, 20, 20);
pub(super) const MUTED: RGBColor = RGBColor(90, 90, 90);
pub(super) const GRID_BOLD: RGBColor = RGBColor(205, 205, 205);
pub(super) const GRID_LIGHT: RGBColor = RGBColor(236, 236, 236);
pub(super) const SHOCK: RGBColor = RGBColor(110, 110, 110);
pub(super) const BAND: RGBColor = RGBColor(120, 120, 120);
pub(super) const C_BLUE: RGBColor = RGBColor(0, 114, 178);
pub(super) const C_VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(super) const C_ORANGE: RGBColor = RGBColor(230, 159, 0);
pub(super) const C_INDIGO: RGBColor = RGBColor(51, 34, 136);
pub(super) const NO_CONVERGENCE: RGBColor = RGBColor(190, 190, 190);

/// A part of the PNG, in pixels.
pub(super) type Area<'b> = DrawingArea<BitMapBackend<'b>, Shift>;
/// A chart on the PNG: a data area with its two axes.
pub(super) type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Axis, Axis>>;

/// Register the embedded font with plotters (once).
pub(super) fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(PlotError::Render(
            "the embedded DejaVu Sans font could not be parsed".to_string(),
        ))
    }
}

/// Draws into an RGB buffer and encodes it as PNG with fixed settings.
pub(super) fn render_png(
    size: ChartSize,
    draw: impl FnOnce(&Area, Theme) -> Result<(), PlotError>,
) -> Result<Vec<u8>, PlotError> {
    let ChartSize { width, height } = size;
    if !(ChartSize::MIN..=ChartSize::MAX).contains(&width) || !(ChartSize::MIN..=ChartSize::MAX).contains(&height) {
        return Err(PlotError::InvalidSize { width, height });
    }
    ensure_font()?;
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root, Theme::new(size))?;
        root.present()?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        enc.set_filter(png::FilterType::Sub);
        enc.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
        let mut writer = enc
            .write_header()
            .map_err(|e| PlotError::Render(format!("PNG encoder: {e}")))?;
        writer
            .write_image_data(&buf)
            .map_err(|e| PlotError::Render(format!("PNG encoder: {e}")))?;
        writer
            .finish()
            .map_err(|e| PlotError::Render(format!("PNG encoder: {e}")))?;
    }
    Ok(out)
}

/// Sizes scaled to the chart size (reference: 1600x1200).
#[derive(Clone, Copy)]
pub(super) struct Theme {
    pub(super) s: f64,
}

impl Theme {
    pub(super) fn new(size: ChartSize) -> Theme {
        let s = (size.width as f64 / 1600.0)
            .min(size.height as f64 / 1200.0)
            .clamp(0.45, 4.0);
        Theme { s }
    }
    pub(super) fn px(self, v: f64) -> i32 {
        (v * self.s).round().max(1.0) as i32
    }
    pub(super) fn font(self, v: f64) -> f64 {
        (v * self.s).max(11.0)
    }
    pub(super) fn title(self) -> f64 {
        self.font(32.0)
    }
    pub(super) fn subtitle(self) -> f64 {
        self.font(19.0)
    }
    pub(super) fn caption(self) -> f64 {
        self.font(21.0)
    }
    pub(super) fn desc(self) -> f64 {
        self.font(21.0)
    }
    pub(super) fn tick(self) -> f64 {
        self.font(18.0)
    }
    pub(super) fn legend(self) -> f64 {
        self.font(18.0)
    }
    /// Height reserved for a panel caption.
    pub(super) fn caption_h(self) -> i32 {
        self.px(32.0).max((self.caption() * 1.6) as i32)
    }
    /// Height of an x label area with tick labels only.
    pub(super) fn x_labels_h(self) -> i32 {
        self.px(40.0).max((self.tick() * 2.3) as i32)
    }
    /// Height of an x label area with tick labels and an axis title.
    pub(super) fn x_labels_desc_h(self) -> i32 {
        self.px(68.0).max((self.tick() * 2.3 + self.desc() * 1.5) as i32)
    }
    /// Width of a y label area with tick labels and a rotated axis title.
    pub(super) fn y_labels_w(self) -> i32 {
        self.px(118.0).max((self.tick() * 4.2 + self.desc() * 1.8) as i32)
    }
    pub(super) fn line(self) -> u32 {
        (2.0 * self.s).round().max(2.0) as u32
    }
}

pub(super) fn style(size: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, size).into_font(),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

pub(super) fn text_width(root: &Area, text: &str, size: f64) -> i32 {
    root.estimate_text_size(text, &style(size, INK, HPos::Left, VPos::Top))
        .map_or(0, |(w, _)| w as i32)
}

/// Cuts `text` (adding "…") so that it fits in `max_w` pixels.
pub(super) fn fit_text(root: &Area, text: &str, size: f64, max_w: i32) -> String {
    if text_width(root, text, size) <= max_w {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut n = chars.len();
    while n > 0 {
        n -= 1;
        let s: String = chars[..n].iter().collect::<String>() + "…";
        if text_width(root, &s, size) <= max_w {
            return s;
        }
    }
    String::new()
}

/// Largest font size ≤ `size` at which `text` fits in `max_w` pixels.
pub(super) fn fit_font(root: &Area, text: &str, size: f64, max_w: i32) -> f64 {
    let w = text_width(root, text, size);
    if w <= max_w || w == 0 {
        size
    } else {
        (size * max_w as f64 / w as f64).max(9.0)
    }
}

pub(super) fn put_text(
    root: &Area,
    text: &str,
    (x, y): (i32, i32),
    size: f64,
    color: RGBColor,
    h: HPos,
) -> Result<(), PlotError> {
    root.draw(&Text::new(
        text.to_string(),
        (x, y),
        style(size, color, h, VPos::Center),
    ))?;
    Ok(())
}

pub(super) fn put_line(root: &Area, a: (i32, i32), b: (i32, i32), st: ShapeStyle) -> Result<(), PlotError> {
    root.draw(&PathElement::new(vec![a, b], st))?;
    Ok(())
}

pub(super) fn put_dashed_vline(
    root: &Area,
    x: i32,
    y0: i32,
    y1: i32,
    st: ShapeStyle,
    th: Theme,
) -> Result<(), PlotError> {
    let (dash, gap) = (th.px(7.0), th.px(5.0));
    let mut y = y0.min(y1);
    let end = y0.max(y1);
    while y < end {
        put_line(root, (x, y), (x, (y + dash).min(end)), st)?;
        y += dash + gap;
    }
    Ok(())
}

/// A diagonal cross with a contrasting outline, centred at `c`.
pub(super) fn put_cross(
    root: &Area,
    c: (i32, i32),
    r: i32,
    color: RGBColor,
    outline: Option<RGBColor>,
    w: u32,
) -> Result<(), PlotError> {
    let segs = [
        ((c.0 - r, c.1 - r), (c.0 + r, c.1 + r)),
        ((c.0 - r, c.1 + r), (c.0 + r, c.1 - r)),
    ];
    if let Some(o) = outline {
        for (a, b) in segs {
            put_line(root, a, b, o.stroke_width(w + 3))?;
        }
    }
    for (a, b) in segs {
        put_line(root, a, b, color.stroke_width(w))?;
    }
    Ok(())
}

pub(super) fn put_triangle(root: &Area, c: (i32, i32), r: i32, color: RGBColor) -> Result<(), PlotError> {
    let pts = vec![(c.0, c.1 - r), (c.0 + r, c.1 + r * 3 / 4), (c.0 - r, c.1 + r * 3 / 4)];
    root.draw(&Polygon::new(pts, color.filled()))?;
    Ok(())
}

pub(super) fn put_ring(
    root: &Area,
    c: (i32, i32),
    r: i32,
    color: RGBColor,
    outline: Option<RGBColor>,
    w: u32,
) -> Result<(), PlotError> {
    if let Some(o) = outline {
        root.draw(&Circle::new(c, r, o.stroke_width(w + 3)))?;
    }
    root.draw(&Circle::new(c, r, color.stroke_width(w)))?;
    Ok(())
}
