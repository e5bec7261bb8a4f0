//! `pricegrad plot DIR`: re-draw the charts of an earlier run from its CSV files.

use crate::output::write_atomic;
use crate::plot::{self, ChartSize};
use std::path::Path;

/// Parse `WIDTHxHEIGHT`, e.g. `1600x1200`.
pub fn parse_size(s: &str) -> Result<ChartSize, String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT, e.g. 1600x1200"))?;
    let w: u32 = w.trim().parse().map_err(|_| format!("'{w}' is not a width in pixels"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("'{h}' is not a height in pixels"))?;
    if !(200..=10_000).contains(&w) || !(200..=10_000).contains(&h) {
        return Err(format!("{w}x{h}: width and height must be between 200 and 10000 pixels"));
    }
    Ok(ChartSize { width: w, height: h })
}

/// Read a run directory's CSV files and write its `convergence.png`.
pub fn render_run(dir: &Path, title: &str, size: ChartSize) -> Result<(), String> {
    let data = plot::read_run(dir).map_err(|e| e.to_string())?;
    let png = plot::render_convergence(&data, title, size).map_err(|e| e.to_string())?;
    write_atomic(&dir.join("convergence.png"), &png).map_err(|e| format!("{}: {e}", dir.join("convergence.png").display()))
}
