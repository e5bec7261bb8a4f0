//! Legends: rows of a swatch and a text, drawn top-down in a box.

use super::canvas::{
    fit_text, put_cross, put_dashed_vline, put_line, put_ring, put_text, put_triangle, Area, Theme, INK, MUTED,
};
use super::PlotError;
use plotters::prelude::*;
use plotters::style::text_anchor::HPos;

/// What a legend row shows left of its text.
pub(super) enum Swatch {
    Line(RGBColor),
    Dashed(RGBColor),
    /// Short vertical dashed line (shock marker).
    VDashed(RGBColor),
    Band(RGBColor),
    Cross(RGBColor),
    Triangle(RGBColor),
    Dot(RGBColor),
    Ring,
    WhiteCross,
    Square(RGBColor),
    /// Heading: bold-ish text, no swatch.
    Heading,
    /// Plain note text, no swatch.
    Note,
}

pub(super) struct Entry {
    pub(super) swatch: Swatch,
    pub(super) text: String,
}

pub(super) fn entry(swatch: Swatch, text: impl Into<String>) -> Entry {
    Entry {
        swatch,
        text: text.into(),
    }
}

/// Draws legend rows top-down in the box (x, y, w, h); shrinks the font, then drops
/// rows (saying how many) when they do not fit.
pub(super) fn draw_legend<DB: DrawingBackend>(
    root: &Area<DB>,
    (x, y, w, h): (i32, i32, i32, i32),
    entries: &[Entry],
    th: Theme,
) -> Result<(), PlotError> {
    if entries.is_empty() || h <= 0 {
        return Ok(());
    }
    let mut size = th.legend();
    let min_size = th.font(13.0);
    let row = |s: f64| (s * 1.5).ceil() as i32;
    while entries.len() as i32 * row(size) > h && size > min_size {
        size = (size - 1.0).max(min_size);
    }
    let rows_fit = (h / row(size)).max(1) as usize;
    let (shown, dropped) = if entries.len() > rows_fit {
        (rows_fit.saturating_sub(1), entries.len() - rows_fit.saturating_sub(1))
    } else {
        (entries.len(), 0)
    };
    let sw = (size * 2.0) as i32;
    let gap = (size * 0.5) as i32;
    let lw = th.line();
    for (i, e) in entries.iter().take(shown).enumerate() {
        let cy = y + i as i32 * row(size) + row(size) / 2;
        let (x0, x1) = (x, x + sw);
        match e.swatch {
            Swatch::Line(c) => put_line(root, (x0, cy), (x1, cy), c.stroke_width(lw + 1))?,
            Swatch::Dashed(c) => {
                let d = sw / 4;
                put_line(root, (x0, cy), (x0 + d, cy), c.stroke_width(lw))?;
                put_line(
                    root,
                    (x0 + 2 * d - d / 2, cy),
                    (x0 + 3 * d - d / 2, cy),
                    c.stroke_width(lw),
                )?;
                put_line(root, (x1 - d, cy), (x1, cy), c.stroke_width(lw))?;
            }
            Swatch::VDashed(c) => {
                let hh = (size * 0.6) as i32;
                put_dashed_vline(root, x0 + sw / 2, cy - hh, cy + hh, c.stroke_width(lw), th)?;
            }
            Swatch::Band(c) => {
                let hh = (size * 0.4) as i32;
                root.draw(&Rectangle::new([(x0, cy - hh), (x1, cy + hh)], c.mix(0.3).filled()))?;
            }
            Swatch::Square(c) => {
                let hh = (size * 0.45) as i32;
                root.draw(&Rectangle::new(
                    [(x0 + sw / 2 - hh, cy - hh), (x0 + sw / 2 + hh, cy + hh)],
                    c.filled(),
                ))?;
                root.draw(&Rectangle::new(
                    [(x0 + sw / 2 - hh, cy - hh), (x0 + sw / 2 + hh, cy + hh)],
                    MUTED.stroke_width(1),
                ))?;
            }
            Swatch::Cross(c) => put_cross(root, (x0 + sw / 2, cy), (size * 0.35) as i32, c, None, lw + 1)?,
            Swatch::Triangle(c) => put_triangle(root, (x0 + sw / 2, cy), (size * 0.4) as i32, c)?,
            Swatch::Dot(c) => {
                root.draw(&Circle::new((x0 + sw / 2, cy), (size * 0.3) as i32, c.filled()))?;
            }
            Swatch::Ring => put_ring(root, (x0 + sw / 2, cy), (size * 0.38) as i32, WHITE, Some(BLACK), lw)?,
            Swatch::WhiteCross => put_cross(root, (x0 + sw / 2, cy), (size * 0.35) as i32, WHITE, Some(BLACK), lw)?,
            Swatch::Heading | Swatch::Note => {}
        }
        let (tx, color) = match e.swatch {
            Swatch::Heading => (x0, INK),
            Swatch::Note => (x0, MUTED),
            _ => (x1 + gap, INK),
        };
        let text = fit_text(root, &e.text, size, x + w - tx);
        put_text(root, &text, (tx, cy), size, color, HPos::Left)?;
    }
    if dropped > 0 {
        let cy = y + shown as i32 * row(size) + row(size) / 2;
        put_text(
            root,
            &format!("… {dropped} more entries not shown"),
            (x, cy),
            size,
            MUTED,
            HPos::Left,
        )?;
    }
    Ok(())
}
