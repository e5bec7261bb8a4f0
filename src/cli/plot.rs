//! `pricegrad plot DIR`: re-draw the charts of an earlier run from its CSV (or Parquet)
//! files, or a part of a run (`--goods`, `--ticks`), as PNG or SVG (`--format`, `--out`).

use super::{render, PlotArgs, EXIT_BAD_INPUT, EXIT_PASS};
use crate::output::atomic::write_atomic;
use crate::output::files;
use crate::plot::{self, ChartSize, Format, PlotError, Selection};
use std::path::{Path, PathBuf};

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

/// Examples and notes under `pricegrad plot --help`.
pub const AFTER_HELP: &str = "\
Examples:
  pricegrad plot output/tupperware            re-draw convergence.png from the CSV files
  pricegrad plot output/tupperware --goods natgas,ethylene --ticks 20:80 --out closer.png
  pricegrad plot output/tupperware --ticks :40 --format svg   (output/tupperware/convergence.svg)
  pricegrad plot output/sweep_stability       re-draw a sweep's sweep.png

--goods and --ticks select a part of a run (not of a sweep); the subtitle says what was
selected. Without --out the chart replaces DIR/convergence.png (or writes
DIR/convergence.svg); `pricegrad plot DIR` draws the whole run again. Without --format,
an --out FILE ending in .png or .svg gives the format. An SVG's text asks for the font
DejaVu Sans (else any sans-serif), which laid it out.

Exit codes: 0 written; 2 bad input (a directory without a run or sweep, an unknown good, a
tick range without logged ticks, an --out FILE without .png or .svg and no --format, a
FILE that cannot be written): nothing is written then.";

/// The format and the file of the chart: `--format` and `--out`, else DIR/`default_name`
/// with the format's extension.
fn destination(args: &PlotArgs, default_name: &str) -> Result<(Format, PathBuf), String> {
    let default = |f: Format| args.dir.join(Path::new(default_name).with_extension(f.extension()));
    match (args.format, &args.out) {
        (None, None) => Ok((Format::Png, default(Format::Png))),
        (Some(f), None) => Ok((f, default(f))),
        (None, Some(out)) => match Format::of_path(out) {
            Some(f) => Ok((f, out.clone())),
            None => Err(render(
                format!("cannot tell the chart format of --out {}", out.display()),
                "give --format png or --format svg, or a FILE ending in .png or .svg",
            )),
        },
        (Some(f), Some(out)) => match Format::of_path(out) {
            Some(g) if g != f => Err(render(
                format!(
                    "--out {} ends in .{} but --format is {}",
                    out.display(),
                    g.extension(),
                    f.extension()
                ),
                format!(
                    "make them agree, e.g. --format {f} --out {}",
                    out.with_extension(f.extension()).display(),
                    f = f.extension()
                ),
            )),
            _ => Ok((f, out.clone())),
        },
    }
}

/// Write a chart's bytes to `path` (atomically: a failed write leaves what was there).
fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomic(path, bytes).map_err(|e| {
        render(
            format!("cannot write {}: {e}", path.display()),
            "check that the file's directory exists and is writable and that the disk has space, or give another --out FILE",
        )
    })
}

/// `pricegrad plot DIR`.
pub fn run(args: &PlotArgs) -> u8 {
    let dir = &args.dir;
    if !dir.is_dir() {
        eprint!(
            "{}",
            render(
                format!("{} is not a directory", dir.display()),
                "give the output directory of a run, e.g. output/tupperware"
            )
        );
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
    let selection = Selection {
        goods: args.goods.clone(),
        ticks: args.ticks.unwrap_or_default(),
    };
    // A sweep directory has sweep.csv instead of a trajectory.
    let sweep = !dir.join(files::TRAJECTORY).exists() && dir.join(files::SWEEP_CSV).exists();
    if sweep && !selection.is_all() {
        eprint!(
            "{}",
            render(
                format!(
                    "{} is a sweep: --goods and --ticks select a part of a run",
                    dir.display()
                ),
                "give the output directory of a run, or leave --goods and --ticks out to re-draw the sweep's chart"
            )
        );
        return EXIT_BAD_INPUT;
    }
    let default_name = if sweep {
        files::SWEEP_PNG
    } else {
        files::CONVERGENCE_PNG
    };
    let (format, out) = match destination(args, default_name) {
        Ok(d) => d,
        Err(e) => {
            eprint!("{e}");
            return EXIT_BAD_INPUT;
        }
    };
    let chart = if sweep {
        plot::read_sweep(&dir.join(files::SWEEP_CSV))
            .and_then(|d| plot::render_sweep_as(&d, &title, args.chart_size, format))
            .map_err(|e| render(e, "plot reads sweep.csv as `pricegrad sweep` writes it"))
    } else {
        plot::read_run_selected(dir, &selection)
            .and_then(|d| plot::render_convergence_as(&d, &title, args.chart_size, format))
            .map_err(|e| match e {
                PlotError::Selection { message, help } => render(message, help),
                e => render(
                    e,
                    "plot reads trajectory.csv and metrics.csv as `pricegrad run` writes them",
                ),
            })
    };
    match chart.and_then(|bytes| write(&out, &bytes)) {
        Ok(()) => {
            println!("wrote {}", out.display());
            EXIT_PASS
        }
        Err(e) => {
            eprint!("{e}");
            EXIT_BAD_INPUT
        }
    }
}
