//! `pricegrad plot DIR`: re-draw the charts of an earlier run from its CSV files.

use super::{PlotArgs, EXIT_BAD_INPUT, EXIT_PASS};
use crate::output::atomic::write_atomic;
use crate::output::files;
use crate::plot::{self, ChartSize};
use std::path::Path;

/// Parse `WIDTHxHEIGHT`, e.g. `1600x1200`.
pub fn parse_size(s: &str) -> Result<ChartSize, String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT, e.g. 1600x1200"))?;
    let w: u32 = w
        .trim()
        .parse()
        .map_err(|_| format!("'{w}' is not a width in pixels"))?;
    let h: u32 = h
        .trim()
        .parse()
        .map_err(|_| format!("'{h}' is not a height in pixels"))?;
    if !(400..=8_000).contains(&w) || !(400..=8_000).contains(&h) {
        return Err(format!("{w}x{h}: width and height must be between 400 and 8000 pixels"));
    }
    Ok(ChartSize { width: w, height: h })
}

/// Read a run directory's CSV files and write its `convergence.png`.
pub fn render_run(dir: &Path, title: &str, size: ChartSize) -> Result<(), String> {
    let data = plot::read_run(dir).map_err(|e| e.to_string())?;
    let png = plot::render_convergence(&data, title, size).map_err(|e| e.to_string())?;
    write_atomic(&dir.join(files::CONVERGENCE_PNG), &png)
        .map_err(|e| format!("{}: {e}", dir.join(files::CONVERGENCE_PNG).display()))
}

/// `pricegrad plot DIR`.
pub fn run(args: &PlotArgs) -> u8 {
    let dir = &args.dir;
    if !dir.is_dir() {
        eprintln!("error: {} is not a directory", dir.display());
        eprintln!("  = help: give the output directory of a run, e.g. output/tupperware");
        return EXIT_BAD_INPUT;
    }
    // The title a run used: the scenario name in its summary.
    let title = args.title.clone().unwrap_or_else(|| {
        [files::SUMMARY, files::SWEEP_MANIFEST]
            .iter()
            .filter_map(|f| std::fs::read(dir.join(f)).ok())
            .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .find_map(|v| v["scenario"].as_str().map(str::to_string))
            .unwrap_or_default()
    });
    // A sweep directory has sweep.csv instead of a trajectory.
    if !dir.join(files::TRAJECTORY).exists() && dir.join(files::SWEEP_CSV).exists() {
        let png =
            plot::read_sweep(&dir.join(files::SWEEP_CSV)).and_then(|d| plot::render_sweep(&d, &title, args.chart_size));
        let written = png.map_err(|e| e.to_string()).and_then(|png| {
            write_atomic(&dir.join(files::SWEEP_PNG), &png)
                .map_err(|e| format!("{}: {e}", dir.join(files::SWEEP_PNG).display()))
        });
        return match written {
            Ok(()) => {
                println!("wrote {}", dir.join(files::SWEEP_PNG).display());
                EXIT_PASS
            }
            Err(e) => {
                eprintln!("error: {e}");
                eprintln!("  = help: plot reads sweep.csv as `pricegrad sweep` writes it");
                EXIT_BAD_INPUT
            }
        };
    }
    match render_run(dir, &title, args.chart_size) {
        Ok(()) => {
            println!("wrote {}", dir.join(files::CONVERGENCE_PNG).display());
            EXIT_PASS
        }
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("  = help: plot reads trajectory.csv and metrics.csv as `pricegrad run` writes them");
            EXIT_BAD_INPUT
        }
    }
}
