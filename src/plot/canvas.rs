//! The canvas a chart is drawn on: the embedded font, the colours, the sizes scaled to the
//! chart's size ([`Theme`]), the rendering to PNG or SVG bytes ([`render`]), and the primitives
//! drawn in pixels (text, lines, markers), on any plotters backend.

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

/// A part of the image, in pixels, on a drawing backend (the PNG's bitmap or an SVG document).
pub(super) type Area<DB> = DrawingArea<DB, Shift>;
/// A chart on the image: a data area with its two axes.
pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

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

/// The file format of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A PNG drawn with the embedded font (the same bytes for the same input).
    #[default]
    Png,
    /// An SVG document: text as `<text>` elements in the font family [`SVG_FONT_FAMILY`].
    Svg,
}

impl Format {
    /// The file extension (and the name used on the command line).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }

    /// The format a file name's extension names (`.png`, `.svg`, in any case), if any.
    pub fn of_path(path: &std::path::Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        ext.parse().ok()
    }
}

/// `png` or `svg` (any case).
impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "png" => Ok(Format::Png),
            "svg" => Ok(Format::Svg),
            _ => Err(format!("'{s}' is not a chart format: use png or svg")),
        }
    }
}

/// The font family an SVG chart's text asks for: the embedded font's own name, whose metrics
/// laid the text out, then any sans-serif font of the viewer.
pub const SVG_FONT_FAMILY: &str = "DejaVu Sans, sans-serif";

/// A chart that can be drawn on any backend.
pub(super) trait Drawing {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, th: Theme) -> Result<(), PlotError>;
}

/// Draws a chart in the given format: PNG or SVG bytes.
pub(super) fn render(format: Format, size: ChartSize, chart: &impl Drawing) -> Result<Vec<u8>, PlotError> {
    let ChartSize { width, height } = size;
    if !(ChartSize::MIN..=ChartSize::MAX).contains(&width) || !(ChartSize::MIN..=ChartSize::MAX).contains(&height) {
        return Err(PlotError::InvalidSize { width, height });
    }
    // text is measured with the embedded font in both formats
    ensure_font()?;
    match format {
        Format::Png => render_png(size, chart),
        Format::Svg => render_svg(size, chart),
    }
}

/// Draws into an RGB buffer and encodes it as PNG with fixed settings.
fn render_png(size: ChartSize, chart: &impl Drawing) -> Result<Vec<u8>, PlotError> {
    let ChartSize { width, height } = size;
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        chart.draw(&root, Theme::new(size))?;
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

/// Draws into an SVG document. plotters names the family the text was measured with
/// ([`FONT`]); the document asks for [`SVG_FONT_FAMILY`] instead, so that a viewer with DejaVu
/// Sans draws the text at the widths it was laid out for.
fn render_svg(size: ChartSize, chart: &impl Drawing) -> Result<Vec<u8>, PlotError> {
    let mut doc = String::new();
    {
        let root = SVGBackend::with_string(&mut doc, (size.width, size.height)).into_drawing_area();
        root.fill(&WHITE)?;
        chart.draw(&root, Theme::new(size))?;
        root.present()?;
    }
    let asked = format!("font-family=\"{FONT}\"");
    let family = format!("font-family=\"{SVG_FONT_FAMILY}\"");
    Ok(doc.replace(&asked, &family).into_bytes())
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

pub(super) fn text_width<DB: DrawingBackend>(root: &Area<DB>, text: &str, size: f64) -> i32 {
    root.estimate_text_size(text, &style(size, INK, HPos::Left, VPos::Top))
        .map_or(0, |(w, _)| w as i32)
}

/// Cuts `text` (adding "…") so that it fits in `max_w` pixels.
pub(super) fn fit_text<DB: DrawingBackend>(root: &Area<DB>, text: &str, size: f64, max_w: i32) -> String {
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
pub(super) fn fit_font<DB: DrawingBackend>(root: &Area<DB>, text: &str, size: f64, max_w: i32) -> f64 {
    let w = text_width(root, text, size);
    if w <= max_w || w == 0 {
        size
    } else {
        (size * max_w as f64 / w as f64).max(9.0)
    }
}

pub(super) fn put_text<DB: DrawingBackend>(
    root: &Area<DB>,
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

pub(super) fn put_line<DB: DrawingBackend>(
    root: &Area<DB>,
    a: (i32, i32),
    b: (i32, i32),
    st: ShapeStyle,
) -> Result<(), PlotError> {
    root.draw(&PathElement::new(vec![a, b], st))?;
    Ok(())
}

pub(super) fn put_dashed_vline<DB: DrawingBackend>(
    root: &Area<DB>,
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
pub(super) fn put_cross<DB: DrawingBackend>(
    root: &Area<DB>,
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

pub(super) fn put_triangle<DB: DrawingBackend>(
    root: &Area<DB>,
    c: (i32, i32),
    r: i32,
    color: RGBColor,
) -> Result<(), PlotError> {
    let pts = vec![(c.0, c.1 - r), (c.0 + r, c.1 + r * 3 / 4), (c.0 - r, c.1 + r * 3 / 4)];
    root.draw(&Polygon::new(pts, color.filled()))?;
    Ok(())
}

pub(super) fn put_ring<DB: DrawingBackend>(
    root: &Area<DB>,
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
