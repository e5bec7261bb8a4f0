//! Charts of pricegrad runs and sweeps, rendered to PNG bytes.
//!
//! * [`read_run`] + [`render_convergence`]: one PNG with three stacked panels
//!   (prices vs reference, relative errors, dual-potential gap and cosine).
//! * [`read_sweep`] + [`render_sweep`]: ticks-to-converge vs one parameter,
//!   or a heatmap over two parameters.
//!
//! Rendering uses plotters' bitmap backend with DejaVu Sans embedded in the
//! binary (no system fonts, no C libraries) and a fixed PNG encoder setup, so
//! the same input always gives the same PNG bytes.

use crate::output::files;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, KeyPointWeight, Ranged};
use plotters::coord::Shift;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle, FontTransform};
use serde::{Deserialize, Serialize};

/// DejaVu Sans, embedded so rendering never depends on the fonts of the host.
static FONT_BYTES: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/DejaVuSans.ttf"));
/// Family name under which the embedded font is registered (plotters' default family).
const FONT: &str = "sans-serif";
/// Smallest value drawn on the error / gap log axes; zeros are drawn here.
const LOG_FLOOR: f64 = 1e-17;
/// Goods charted individually when there are many goods.
const WORST_SHOWN: usize = 8;
/// Above this many goods, only the worst [`WORST_SHOWN`] are drawn plus a quantile band.
const MANY_GOODS: usize = 12;

// Okabe–Ito colours first (colour-blind safe), then Paul Tol's muted colours.
const PALETTE: [RGBColor; 12] = [
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
const INK: RGBColor = RGBColor(20, 20, 20);
const MUTED: RGBColor = RGBColor(90, 90, 90);
const GRID_BOLD: RGBColor = RGBColor(205, 205, 205);
const GRID_LIGHT: RGBColor = RGBColor(236, 236, 236);
const SHOCK: RGBColor = RGBColor(110, 110, 110);
const BAND: RGBColor = RGBColor(120, 120, 120);
const C_BLUE: RGBColor = RGBColor(0, 114, 178);
const C_VERMILLION: RGBColor = RGBColor(213, 94, 0);
const C_ORANGE: RGBColor = RGBColor(230, 159, 0);
const C_INDIGO: RGBColor = RGBColor(51, 34, 136);
const NO_CONVERGENCE: RGBColor = RGBColor(190, 190, 190);

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// Pixel size of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartSize {
    pub width: u32,
    pub height: u32,
}

impl Default for ChartSize {
    fn default() -> Self {
        ChartSize {
            width: 1600,
            height: 1200,
        }
    }
}

impl ChartSize {
    /// Smallest accepted width and height.
    pub const MIN: u32 = 400;
    /// Largest accepted width and height.
    pub const MAX: u32 = 8000;
}

/// Everything that can go wrong reading or charting run output.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A file could not be opened or read.
    #[error("cannot read {}: {source} ({hint})", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        hint: String,
    },
    /// A line of a CSV file is malformed. `line` is 1-based; the header is line 1.
    #[error("{} line {line}: {message}", path.display())]
    Parse { path: PathBuf, line: u64, message: String },
    /// A file is well formed but unusable as a whole (e.g. no data rows).
    #[error("{}: {message}", path.display())]
    Data { path: PathBuf, message: String },
    /// The requested chart size is outside [`ChartSize::MIN`]..=[`ChartSize::MAX`].
    #[error(
        "chart size {width}x{height} is not supported (use a width and height between {} and {} pixels, e.g. the default 1600x1200)",
        ChartSize::MIN,
        ChartSize::MAX
    )]
    InvalidSize { width: u32, height: u32 },
    /// The in-memory data has nothing to chart.
    #[error("nothing to chart: {0}")]
    NoData(String),
    /// The drawing backend, the embedded font or the PNG encoder failed.
    #[error(
        "rendering failed: {0} (this is a bug in the chart code; please report it together with the input CSV files)"
    )]
    Render(String),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError::Render(e.to_string())
    }
}

/// One row of `trajectory.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryRow {
    pub tick: u64,
    pub good: String,
    pub price: f64,
    pub supply: f64,
    pub demand: f64,
    pub excess: f64,
    pub adjoint: f64,
    pub reference: Option<f64>,
    /// (D* - S*) / max(S, D) at the tick's prices (absent in files of earlier versions).
    pub mispricing: Option<f64>,
    /// (z - z*) / max(S, D) (absent in files of earlier versions).
    pub firm_lag: Option<f64>,
}

/// One row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub tick: u64,
    pub max_rel_excess: f64,
    pub max_rel_price_change: f64,
    pub max_rel_adjoint_error: f64,
    pub max_rel_reference_error: Option<f64>,
    pub phi: Option<f64>,
    pub phi_gap: Option<f64>,
    pub cosine: Option<f64>,
    /// The columns below are absent in files of earlier versions (read as None).
    pub cosine_mirror: Option<f64>,
    pub lyapunov: Option<f64>,
    pub mispricing: Option<f64>,
    pub firm_lag: Option<f64>,
    pub spread: f64,
    pub shock: Option<String>,
}

/// One row of `propagation.csv`: when a shock reached a good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropagationRow {
    /// Present when the run had shocks at several ticks.
    pub shock_tick: Option<u64>,
    pub good: String,
    pub depth: u64,
    pub arrival_tick: Option<u64>,
    pub final_change: f64,
}

/// The logged output of one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunData {
    /// Scenario name. [`read_run`] sets it to the directory name; callers may overwrite it.
    pub title: String,
    pub trajectory: Vec<TrajectoryRow>,
    pub metrics: Vec<MetricsRow>,
    /// `propagation.csv`, for a run with a shock (empty otherwise).
    pub propagation: Vec<PropagationRow>,
}

/// How a sweep replicate ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Converged,
    Diverged,
    MaxTicks,
}

/// One row of `sweep.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    pub point: u64,
    pub replicate: u64,
    /// Parameter values as written in the file, in the order of [`SweepData::param_names`].
    pub params: Vec<String>,
    pub seed: u64,
    pub outcome: Outcome,
    pub ticks: u64,
    pub max_rel_error: Option<f64>,
    pub max_rel_excess: Option<f64>,
    pub mean_cosine: Option<f64>,
    pub wall_seconds: Option<f64>,
}

/// The contents of `sweep.csv`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SweepData {
    /// Sweep name. [`read_sweep`] sets it to the file stem's parent directory name; callers may overwrite it.
    pub title: String,
    /// Dotted paths of the swept parameters (the columns between `replicate` and `seed`).
    pub param_names: Vec<String>,
    pub rows: Vec<SweepRow>,
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

const TRAJECTORY_COLUMNS: [&str; 8] = [
    "tick",
    "good",
    "price",
    "supply",
    "demand",
    "excess",
    "adjoint",
    "reference",
];
const METRICS_COLUMNS: [&str; 10] = [
    "tick",
    "max_rel_excess",
    "max_rel_price_change",
    "max_rel_adjoint_error",
    "max_rel_reference_error",
    "phi",
    "phi_gap",
    "cosine",
    "spread",
    "shock",
];
/// Columns of the files above that files of earlier versions do not have.
const TRAJECTORY_OPTIONAL: [&str; 2] = ["mispricing", "firm_lag"];
const METRICS_OPTIONAL: [&str; 4] = ["cosine_mirror", "lyapunov", "mispricing", "firm_lag"];
const PROPAGATION_COLUMNS: [&str; 4] = ["good", "depth", "arrival_tick", "final_change"];
const RERUN: &str = "re-run the scenario to rewrite it";

struct CsvFile {
    path: PathBuf,
    reader: csv::Reader<File>,
    header: Vec<String>,
}

impl CsvFile {
    fn open(path: &Path, expected_header: &str) -> Result<CsvFile, PlotError> {
        let file = File::open(path).map_err(|source| PlotError::Io {
            path: path.to_path_buf(),
            source,
            hint: format!(
                "expected a CSV file whose header is `{expected_header}`; check the path, or re-run to produce it"
            ),
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(file);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(path, e))?
            .iter()
            .map(str::to_string)
            .collect();
        if header.iter().all(|h| h.is_empty()) {
            return Err(PlotError::Data {
                path: path.to_path_buf(),
                message: format!(
                    "the file is empty (expected the header `{expected_header}`; the run may have stopped before writing it; {RERUN})"
                ),
            });
        }
        Ok(CsvFile {
            path: path.to_path_buf(),
            reader,
            header,
        })
    }

    /// Index of a required column, or an error naming the header line.
    fn column(&self, name: &str, expected_header: &str) -> Result<usize, PlotError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| PlotError::Parse {
                path: self.path.clone(),
                line: 1,
                message: format!(
                    "missing column `{name}` (header is `{}`, expected `{expected_header}`; the file was probably written by another version of pricegrad; {RERUN})",
                    self.header.join(",")
                ),
            })
    }

    /// Index of a column that files of earlier versions lack.
    fn optional(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Reads the next record; `Ok(None)` at the end of the file. Checks the column count.
    fn next(&mut self, rec: &mut csv::StringRecord) -> Result<Option<u64>, PlotError> {
        loop {
            match self.reader.read_record(rec) {
                Ok(false) => return Ok(None),
                Ok(true) => {}
                Err(e) => return Err(csv_error(&self.path, e)),
            }
            let line = rec.position().map_or(0, |p| p.line());
            if rec.len() == 1 && rec[0].is_empty() {
                continue; // blank line
            }
            if rec.len() != self.header.len() {
                let why = if rec.len() < self.header.len() {
                    format!("the file looks truncated; {RERUN}")
                } else {
                    format!("a field may contain an unquoted comma; {RERUN}")
                };
                return Err(PlotError::Parse {
                    path: self.path.clone(),
                    line,
                    message: format!("expected {} columns, found {} ({why})", self.header.len(), rec.len()),
                });
            }
            return Ok(Some(line));
        }
    }
}

fn csv_error(path: &Path, e: csv::Error) -> PlotError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => PlotError::Io {
            path: path.to_path_buf(),
            source,
            hint: "the file could not be read to the end".to_string(),
        },
        csv::ErrorKind::Utf8 { err, .. } => PlotError::Parse {
            path: path.to_path_buf(),
            line,
            message: format!("the line is not valid UTF-8 ({err}; the file is corrupted; {RERUN})"),
        },
        other => PlotError::Parse {
            path: path.to_path_buf(),
            line,
            message: format!("malformed CSV ({other:?}; {RERUN})"),
        },
    }
}

/// A record plus what is needed to report errors about it.
struct Fields<'a> {
    path: &'a Path,
    line: u64,
    header: &'a [String],
    rec: &'a csv::StringRecord,
}

impl Fields<'_> {
    fn err(&self, message: String) -> PlotError {
        PlotError::Parse {
            path: self.path.to_path_buf(),
            line: self.line,
            message,
        }
    }

    fn text(&self, i: usize) -> &str {
        &self.rec[i]
    }

    fn opt_f64(&self, i: usize) -> Result<Option<f64>, PlotError> {
        let s = &self.rec[i];
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<f64>().map(Some).map_err(|_| {
            self.err(format!(
                "column `{}`: cannot read \"{s}\" as a number (expected e.g. 1.25, 3e-7, inf or NaN; the file may be corrupted; {RERUN})",
                self.header[i]
            ))
        })
    }

    /// A number in an optional column (None when the file has no such column).
    fn maybe_f64(&self, i: Option<usize>) -> Result<Option<f64>, PlotError> {
        i.map_or(Ok(None), |i| self.opt_f64(i))
    }

    fn f64(&self, i: usize) -> Result<f64, PlotError> {
        self.opt_f64(i)?.ok_or_else(|| {
            self.err(format!(
                "column `{}` is empty but must hold a number (the file may be truncated; {RERUN})",
                self.header[i]
            ))
        })
    }

    fn u64(&self, i: usize) -> Result<u64, PlotError> {
        let s = &self.rec[i];
        s.parse::<u64>().map_err(|_| {
            self.err(format!(
                "column `{}`: cannot read \"{s}\" as a non-negative integer (the file may be corrupted; {RERUN})",
                self.header[i]
            ))
        })
    }

    fn opt_text(&self, i: usize) -> Option<String> {
        let s = &self.rec[i];
        (!s.is_empty()).then(|| s.to_string())
    }
}

fn read_trajectory(path: &Path) -> Result<Vec<TrajectoryRow>, PlotError> {
    let expected = TRAJECTORY_COLUMNS.join(",");
    let mut f = CsvFile::open(path, &expected)?;
    let idx: Vec<usize> = TRAJECTORY_COLUMNS
        .iter()
        .map(|c| f.column(c, &expected))
        .collect::<Result<_, _>>()?;
    let extra: Vec<Option<usize>> = TRAJECTORY_OPTIONAL.iter().map(|c| f.optional(c)).collect();
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    while let Some(line) = f.next(&mut rec)? {
        let x = Fields {
            path: &f.path,
            line,
            header: &f.header,
            rec: &rec,
        };
        let good = x.text(idx[1]);
        if good.is_empty() {
            return Err(x.err(format!("column `good` is empty (every row needs a good name; {RERUN})")));
        }
        rows.push(TrajectoryRow {
            tick: x.u64(idx[0])?,
            good: good.to_string(),
            price: x.f64(idx[2])?,
            supply: x.f64(idx[3])?,
            demand: x.f64(idx[4])?,
            excess: x.f64(idx[5])?,
            adjoint: x.f64(idx[6])?,
            reference: x.opt_f64(idx[7])?,
            mispricing: x.maybe_f64(extra[0])?,
            firm_lag: x.maybe_f64(extra[1])?,
        });
    }
    if rows.is_empty() {
        return Err(PlotError::Data {
            path: path.to_path_buf(),
            message: format!("no data rows after the header (the run logged no ticks; {RERUN} with logging enabled)"),
        });
    }
    Ok(rows)
}

fn read_metrics(path: &Path) -> Result<Vec<MetricsRow>, PlotError> {
    let expected = METRICS_COLUMNS.join(",");
    let mut f = CsvFile::open(path, &expected)?;
    let idx: Vec<usize> = METRICS_COLUMNS
        .iter()
        .map(|c| f.column(c, &expected))
        .collect::<Result<_, _>>()?;
    let extra: Vec<Option<usize>> = METRICS_OPTIONAL.iter().map(|c| f.optional(c)).collect();
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    while let Some(line) = f.next(&mut rec)? {
        let x = Fields {
            path: &f.path,
            line,
            header: &f.header,
            rec: &rec,
        };
        rows.push(MetricsRow {
            tick: x.u64(idx[0])?,
            max_rel_excess: x.f64(idx[1])?,
            max_rel_price_change: x.f64(idx[2])?,
            max_rel_adjoint_error: x.f64(idx[3])?,
            max_rel_reference_error: x.opt_f64(idx[4])?,
            phi: x.opt_f64(idx[5])?,
            phi_gap: x.opt_f64(idx[6])?,
            cosine: x.opt_f64(idx[7])?,
            cosine_mirror: x.maybe_f64(extra[0])?,
            lyapunov: x.maybe_f64(extra[1])?,
            mispricing: x.maybe_f64(extra[2])?,
            firm_lag: x.maybe_f64(extra[3])?,
            spread: x.f64(idx[8])?,
            shock: x.opt_text(idx[9]),
        });
    }
    Ok(rows)
}

/// Reads `trajectory.csv` and `metrics.csv` from a run directory.
///
/// `title` is set to the directory's name. `trajectory.csv` must have at least
/// one data row; `metrics.csv` may have none.
pub fn read_run(dir: &Path) -> Result<RunData, PlotError> {
    let title = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut data = read_run_files(&dir.join(files::TRAJECTORY), &dir.join(files::METRICS), title)?;
    let wave = dir.join(files::PROPAGATION);
    if wave.exists() {
        data.propagation = read_propagation(&wave)?;
    }
    Ok(data)
}

/// Reads `propagation.csv` (`[shock_tick,]good,depth,arrival_tick,final_change`).
pub fn read_propagation(path: &Path) -> Result<Vec<PropagationRow>, PlotError> {
    let expected = PROPAGATION_COLUMNS.join(",");
    let mut f = CsvFile::open(path, &expected)?;
    let idx: Vec<usize> = PROPAGATION_COLUMNS
        .iter()
        .map(|c| f.column(c, &expected))
        .collect::<Result<_, _>>()?;
    let shock = f.optional("shock_tick");
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    while let Some(line) = f.next(&mut rec)? {
        let x = Fields {
            path: &f.path,
            line,
            header: &f.header,
            rec: &rec,
        };
        let arrival = x.text(idx[2]);
        rows.push(PropagationRow {
            shock_tick: shock.map(|i| x.u64(i)).transpose()?,
            good: x.text(idx[0]).to_string(),
            depth: x.u64(idx[1])?,
            arrival_tick: if arrival.is_empty() { None } else { Some(x.u64(idx[2])?) },
            final_change: x.f64(idx[3])?,
        });
    }
    Ok(rows)
}

/// Read a run's trajectory and metrics from the given files (e.g. the temporary files of a
/// run that is still being written).
pub fn read_run_files(trajectory: &Path, metrics: &Path, title: String) -> Result<RunData, PlotError> {
    Ok(RunData {
        title,
        trajectory: read_trajectory(trajectory)?,
        metrics: read_metrics(metrics)?,
        propagation: Vec::new(),
    })
}

/// Reads `sweep.csv`.
///
/// `title` is set to the name of the directory holding the file.
pub fn read_sweep(path: &Path) -> Result<SweepData, PlotError> {
    let expected =
        "point,replicate,<parameters...>,seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine[,wall_seconds]";
    let mut f = CsvFile::open(path, expected)?;
    let header_err = |message: String| PlotError::Parse {
        path: path.to_path_buf(),
        line: 1,
        message,
    };
    if f.header.len() < 2 || f.header[0] != "point" || f.header[1] != "replicate" {
        return Err(header_err(format!(
            "the header must start with `point,replicate` but is `{}` (expected `{expected}`; is this a sweep.csv?)",
            f.header.join(",")
        )));
    }
    let seed = f.column("seed", expected)?;
    if seed < 3 {
        return Err(header_err(format!(
            "no parameter columns between `replicate` and `seed` (header `{}`; a sweep needs at least one swept parameter)",
            f.header.join(",")
        )));
    }
    let param_names: Vec<String> = f.header[2..seed].to_vec();
    let outcome = f.column("outcome", expected)?;
    let ticks = f.column("ticks", expected)?;
    let max_rel_error = f.column("max_rel_error", expected)?;
    let max_rel_excess = f.column("max_rel_excess", expected)?;
    let mean_cosine = f.column("mean_cosine", expected)?;
    let wall = f.header.iter().position(|h| h == "wall_seconds");
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    while let Some(line) = f.next(&mut rec)? {
        let x = Fields {
            path: &f.path,
            line,
            header: &f.header,
            rec: &rec,
        };
        let outcome = match x.text(outcome) {
            "converged" => Outcome::Converged,
            "diverged" => Outcome::Diverged,
            "max_ticks" => Outcome::MaxTicks,
            other => {
                return Err(x.err(format!(
                    "column `outcome`: unknown outcome \"{other}\" (expected converged, diverged or max_ticks; {RERUN})"
                )))
            }
        };
        let params: Vec<String> = (2..seed).map(|i| x.text(i).to_string()).collect();
        if let Some(i) = params.iter().position(String::is_empty) {
            return Err(x.err(format!(
                "parameter column `{}` is empty (every row needs its parameter values; {RERUN})",
                param_names[i]
            )));
        }
        rows.push(SweepRow {
            point: x.u64(0)?,
            replicate: x.u64(1)?,
            params,
            seed: x.u64(seed)?,
            outcome,
            ticks: x.u64(ticks)?,
            max_rel_error: x.opt_f64(max_rel_error)?,
            max_rel_excess: x.opt_f64(max_rel_excess)?,
            mean_cosine: x.opt_f64(mean_cosine)?,
            wall_seconds: wall.map(|w| x.opt_f64(w)).transpose()?.flatten(),
        });
    }
    if rows.is_empty() {
        return Err(PlotError::Data {
            path: path.to_path_buf(),
            message: "no data rows after the header (the sweep ran no point; re-run the sweep)".to_string(),
        });
    }
    let title = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(SweepData {
        title,
        param_names,
        rows,
    })
}

// ---------------------------------------------------------------------------
// Rendering infrastructure
// ---------------------------------------------------------------------------

type Area<'b> = DrawingArea<BitMapBackend<'b>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Axis, Axis>>;

fn ensure_font() -> Result<(), PlotError> {
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
fn render_png(size: ChartSize, draw: impl FnOnce(&Area, Theme) -> Result<(), PlotError>) -> Result<Vec<u8>, PlotError> {
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
struct Theme {
    s: f64,
}

impl Theme {
    fn new(size: ChartSize) -> Theme {
        let s = (size.width as f64 / 1600.0)
            .min(size.height as f64 / 1200.0)
            .clamp(0.45, 4.0);
        Theme { s }
    }
    fn px(self, v: f64) -> i32 {
        (v * self.s).round().max(1.0) as i32
    }
    fn font(self, v: f64) -> f64 {
        (v * self.s).max(11.0)
    }
    fn title(self) -> f64 {
        self.font(32.0)
    }
    fn subtitle(self) -> f64 {
        self.font(19.0)
    }
    fn caption(self) -> f64 {
        self.font(21.0)
    }
    fn desc(self) -> f64 {
        self.font(21.0)
    }
    fn tick(self) -> f64 {
        self.font(18.0)
    }
    fn legend(self) -> f64 {
        self.font(18.0)
    }
    /// Height reserved for a panel caption.
    fn caption_h(self) -> i32 {
        self.px(32.0).max((self.caption() * 1.6) as i32)
    }
    /// Height of an x label area with tick labels only.
    fn x_labels_h(self) -> i32 {
        self.px(40.0).max((self.tick() * 2.3) as i32)
    }
    /// Height of an x label area with tick labels and an axis title.
    fn x_labels_desc_h(self) -> i32 {
        self.px(68.0).max((self.tick() * 2.3 + self.desc() * 1.5) as i32)
    }
    /// Width of a y label area with tick labels and a rotated axis title.
    fn y_labels_w(self) -> i32 {
        self.px(118.0).max((self.tick() * 4.2 + self.desc() * 1.8) as i32)
    }
    fn line(self) -> u32 {
        (2.0 * self.s).round().max(2.0) as u32
    }
}

fn style(size: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, size).into_font(),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

fn text_width(root: &Area, text: &str, size: f64) -> i32 {
    root.estimate_text_size(text, &style(size, INK, HPos::Left, VPos::Top))
        .map_or(0, |(w, _)| w as i32)
}

/// Cuts `text` (adding "…") so that it fits in `max_w` pixels.
fn fit_text(root: &Area, text: &str, size: f64, max_w: i32) -> String {
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
fn fit_font(root: &Area, text: &str, size: f64, max_w: i32) -> f64 {
    let w = text_width(root, text, size);
    if w <= max_w || w == 0 {
        size
    } else {
        (size * max_w as f64 / w as f64).max(9.0)
    }
}

fn put_text(root: &Area, text: &str, (x, y): (i32, i32), size: f64, color: RGBColor, h: HPos) -> Result<(), PlotError> {
    root.draw(&Text::new(
        text.to_string(),
        (x, y),
        style(size, color, h, VPos::Center),
    ))?;
    Ok(())
}

fn put_line(root: &Area, a: (i32, i32), b: (i32, i32), st: ShapeStyle) -> Result<(), PlotError> {
    root.draw(&PathElement::new(vec![a, b], st))?;
    Ok(())
}

fn put_dashed_vline(root: &Area, x: i32, y0: i32, y1: i32, st: ShapeStyle, th: Theme) -> Result<(), PlotError> {
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
fn put_cross(
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

fn put_triangle(root: &Area, c: (i32, i32), r: i32, color: RGBColor) -> Result<(), PlotError> {
    let pts = vec![(c.0, c.1 - r), (c.0 + r, c.1 + r * 3 / 4), (c.0 - r, c.1 + r * 3 / 4)];
    root.draw(&Polygon::new(pts, color.filled()))?;
    Ok(())
}

fn put_ring(
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

/// What a legend row shows left of its text.
enum Swatch {
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

struct Entry {
    swatch: Swatch,
    text: String,
}

fn entry(swatch: Swatch, text: impl Into<String>) -> Entry {
    Entry {
        swatch,
        text: text.into(),
    }
}

/// Draws legend rows top-down in the box (x, y, w, h); shrinks the font, then drops
/// rows (saying how many) when they do not fit.
fn draw_legend(root: &Area, (x, y, w, h): (i32, i32, i32, i32), entries: &[Entry], th: Theme) -> Result<(), PlotError> {
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

// ---------------------------------------------------------------------------
// Axes
// ---------------------------------------------------------------------------

/// A 1-D axis: linear, base-10 logarithmic or categorical, with tick placement
/// and labels chosen here (plotters' own log ticks vanish on short ranges).
#[derive(Clone, Debug)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    /// Linear ticks at integers only (tick counts).
    integer: bool,
    /// Non-empty: categorical axis with these labels at 0, 1, ...
    cats: Vec<String>,
    /// Non-empty: use exactly these major ticks.
    fixed: Vec<f64>,
    /// No ticks or labels (the axis has no data to show).
    hidden: bool,
}

impl Axis {
    fn linear(lo: f64, hi: f64) -> Axis {
        let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 1.0, lo + 1.0) };
        Axis {
            lo,
            hi,
            log: false,
            integer: false,
            cats: Vec::new(),
            fixed: Vec::new(),
            hidden: false,
        }
    }

    /// Log axis over positive `lo..hi` (in data units).
    fn log(lo: f64, hi: f64) -> Axis {
        Axis {
            log: true,
            ..Axis::linear(lo, hi)
        }
    }

    fn categorical(cats: Vec<String>) -> Axis {
        Axis {
            cats: cats.clone(),
            ..Axis::linear(-0.5, cats.len() as f64 - 0.5)
        }
    }

    /// Log axis covering `min..max` with `pad` (fraction of the span) on each side.
    fn log_padded(min: f64, max: f64, pad_lo: f64, pad_hi: f64) -> Axis {
        let (mut a, mut b) = (min.log10(), max.log10());
        if (b - a).is_nan() || b - a <= 1e-9 {
            a -= 0.3;
            b += 0.3;
        } else {
            let span = b - a;
            a -= span * pad_lo;
            b += span * pad_hi;
        }
        Axis::log(pow10f(a.max(-307.0)), pow10f(b.min(307.9)))
    }

    /// Position of `v` in 0..=1 along the axis (not clamped; NaN for unmappable values).
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            let (a, b) = (self.lo.log10(), self.hi.log10());
            if v <= 0.0 {
                return f64::NEG_INFINITY;
            }
            (v.log10() - a) / (b - a)
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    fn major(&self, n: usize) -> Vec<f64> {
        let n = n.max(2);
        if self.hidden {
            return Vec::new();
        }
        if !self.fixed.is_empty() {
            return self.fixed.clone();
        }
        if !self.cats.is_empty() {
            let k = self.cats.len().div_ceil(n).max(1);
            return (0..self.cats.len()).step_by(k).map(|i| i as f64).collect();
        }
        if self.log {
            log_major(self.lo, self.hi, n)
        } else {
            linear_ticks(self.lo, self.hi, n, self.integer).0
        }
    }

    fn minor(&self, n: usize) -> Vec<f64> {
        if self.hidden || !self.fixed.is_empty() || !self.cats.is_empty() {
            return Vec::new();
        }
        if self.log {
            log_minor(self.lo, self.hi, n.max(2))
        } else {
            let (_, step) = linear_ticks(self.lo, self.hi, n.max(2), self.integer);
            let sub = if self.integer && step < 2.0 {
                return Vec::new();
            } else {
                step / 2.0
            };
            linear_ticks_step(self.lo, self.hi, sub)
        }
    }

    fn label(&self, v: f64) -> String {
        if !self.cats.is_empty() {
            let i = v.round();
            return if i >= 0.0 && (i as usize) < self.cats.len() {
                self.cats[i as usize].clone()
            } else {
                String::new()
            };
        }
        // Wide log axes label every power of ten as 10ⁿ (except 1 and 10) for consistency.
        if self.log && (self.lo < 0.9e-4 || self.hi > 1.1e5) && v > 0.0 {
            let l = v.log10();
            if (l - l.round()).abs() < 1e-9 {
                return match l.round() as i32 {
                    0 => "1".to_string(),
                    1 => "10".to_string(),
                    e => format!("10{}", superscript(e)),
                };
            }
        }
        fmt_num(v)
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = self.frac(*v);
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let len = (limit.1 - limit.0) as f64;
        limit.0 + (len * t + 1e-3).floor() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        match hint.weight() {
            KeyPointWeight::Bold => self.major(hint.max_num_points()),
            KeyPointWeight::Any => {
                let mut v = self.major(hint.bold_points());
                v.extend(self.minor(hint.bold_points()));
                v.sort_by(f64::total_cmp);
                v
            }
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// 10^x for integer-valued or fractional exponents, exact for integers.
fn pow10(e: i32) -> f64 {
    format!("1e{e}").parse().unwrap_or_else(|_| 10f64.powi(e))
}

fn pow10f(x: f64) -> f64 {
    if (x - x.round()).abs() < 1e-12 {
        pow10(x.round() as i32)
    } else {
        10f64.powf(x)
    }
}

/// "Nice" linear ticks (1-2-5 steps) and the step used.
fn linear_ticks(lo: f64, hi: f64, n: usize, integer: bool) -> (Vec<f64>, f64) {
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return (vec![lo], 1.0);
    }
    let raw = span / n.max(1) as f64;
    let mag = pow10(raw.log10().floor() as i32);
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= n as f64)
        .unwrap_or(10.0 * mag);
    if integer {
        step = step.max(1.0).round();
    }
    (linear_ticks_step(lo, hi, step), step)
}

fn linear_ticks_step(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let mut v = Vec::new();
    if step.is_nan() || step <= 0.0 {
        return v;
    }
    let mut k = (lo / step - 1e-9).ceil();
    let end = (hi / step + 1e-9).floor();
    while k <= end && v.len() < 1000 {
        let x = k * step;
        v.push(if x == 0.0 { 0.0 } else { x });
        k += 1.0;
    }
    v
}

fn log_major(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (a, b) = (lo.log10(), hi.log10());
    let e0 = (a - 1e-9).ceil() as i32;
    let e1 = (b + 1e-9).floor() as i32;
    let count = e1 - e0 + 1;
    if count >= 3 {
        let k = [1, 2, 3, 5, 10, 20, 25, 50, 100, 200]
            .into_iter()
            .find(|k| (count + k - 1) / k <= n as i32)
            .unwrap_or(200);
        return (e0..=e1).filter(|e| e.rem_euclid(k) == 0).map(pow10).collect();
    }
    let mut v = Vec::new();
    for e in (a.floor() as i32 - 1)..=(b.ceil() as i32) {
        for m in [1.0, 2.0, 5.0] {
            let x = m * pow10(e);
            if x >= lo * (1.0 - 1e-9) && x <= hi * (1.0 + 1e-9) {
                v.push(x);
            }
        }
    }
    if v.len() >= 3 && v.len() <= n {
        return v;
    }
    if count == 2 {
        return vec![pow10(e0), pow10(e1)];
    }
    let (mut lin, _) = linear_ticks(lo, hi, n.min(6), false);
    lin.retain(|x| *x > 0.0);
    lin
}

fn log_minor(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (a, b) = (lo.log10(), hi.log10());
    let e0 = (a - 1e-9).ceil() as i32;
    let e1 = (b + 1e-9).floor() as i32;
    let count = e1 - e0 + 1;
    let mut v = Vec::new();
    let majors = log_major(lo, hi, n);
    let powers = majors.iter().all(|m| {
        let l = m.log10();
        (l - l.round()).abs() < 1e-9
    });
    if count < 2 || !powers {
        return v;
    }
    if majors.len() as i32 == count {
        if count <= 10 {
            for e in (a.floor() as i32)..=e1 {
                for m in 2..=9 {
                    let x = m as f64 * pow10(e);
                    if x >= lo && x <= hi {
                        v.push(x);
                    }
                }
            }
        }
    } else if count <= 80 {
        v.extend((e0..=e1).map(pow10).filter(|x| !majors.contains(x)));
    }
    v
}

fn superscript(e: i32) -> String {
    e.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            '9' => '⁹',
            c => c,
        })
        .collect()
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Compact tick label: plain decimals for moderate values, `a×10ⁿ` otherwise.
fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let av = v.abs();
    let l = av.log10();
    if (l - l.round()).abs() < 1e-9 {
        let p = l.round() as i32;
        if !(-3..=5).contains(&p) {
            return format!("{sign}10{}", superscript(p));
        }
    }
    let e = l.floor() as i32;
    if (-3..6).contains(&e) {
        let dec = (5 - e).clamp(0, 8) as usize;
        let s = trim_zeros(format!("{av:.dec$}"));
        return format!("{sign}{s}");
    }
    let mut e = e;
    let mut m = av / pow10(e);
    if m >= 9.995 {
        m /= 10.0;
        e += 1;
    }
    format!("{sign}{}×10{}", trim_zeros(format!("{m:.2}")), superscript(e))
}

/// Min and max of the finite, positive values.
fn positive_extent(vals: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let mut r: Option<(f64, f64)> = None;
    for v in vals {
        if v.is_finite() && v > 0.0 {
            r = Some(match r {
                None => (v, v),
                Some((a, b)) => (a.min(v), b.max(v)),
            });
        }
    }
    r
}

// ---------------------------------------------------------------------------
// Series helpers
// ---------------------------------------------------------------------------

/// Splits a path at points with non-finite y.
fn segments(pts: &[(f64, f64)]) -> Vec<&[(f64, f64)]> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, p) in pts.iter().enumerate() {
        let ok = p.0.is_finite() && p.1.is_finite();
        match (ok, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(&pts[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&pts[s..]);
    }
    out
}

/// Keeps first, min, max and last point of each of `buckets` x-buckets
/// (deterministic; preserves extremes). Input must be sorted by x.
fn decimate(pts: &[(f64, f64)], buckets: usize) -> Vec<(f64, f64)> {
    let buckets = buckets.max(1);
    if pts.len() <= buckets * 4 {
        return pts.to_vec();
    }
    let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0);
    if x1.is_nan() || x0.is_nan() || x1 <= x0 {
        return pts.to_vec();
    }
    let bucket = |x: f64| (((x - x0) / (x1 - x0) * buckets as f64).floor() as usize).min(buckets - 1);
    let mut out = Vec::with_capacity(buckets * 4);
    let mut i = 0;
    while i < pts.len() {
        let b = bucket(pts[i].0);
        let start = i;
        let (mut lo, mut hi) = (i, i);
        while i < pts.len() && bucket(pts[i].0) == b {
            if pts[i].1 < pts[lo].1 {
                lo = i;
            }
            if pts[i].1 > pts[hi].1 {
                hi = i;
            }
            i += 1;
        }
        let mut idx = [start, lo, hi, i - 1];
        idx.sort_unstable();
        let mut last = usize::MAX;
        for j in idx {
            if j != last {
                out.push(pts[j]);
                last = j;
            }
        }
    }
    out
}

/// The data area of a chart in its own pixel coordinates, for drawing that never leaves it:
/// every line, band and marker is clipped to the area here (plotters does not clip, and its
/// wide lines grow spikes at sharp turns, which reached across the panel above).
struct Canvas<'b> {
    area: Area<'b>,
    x: Axis,
    y: Axis,
    /// Largest pixel coordinates inside the area.
    w: f64,
    h: f64,
}

/// How far outside the area a point may be mapped (further is pulled in to this distance,
/// along the same direction from the area, before clipping).
const OUTSIDE: f64 = 1e5;

impl<'b> Canvas<'b> {
    /// The chart's data area with its axes.
    fn of(chart: &Chart<'_, 'b>) -> Canvas<'b> {
        let spec = chart.as_coord_spec();
        Canvas::with_y(chart, spec.y_spec().clone())
    }

    /// The chart's data area with another vertical axis (a secondary axis).
    fn with_y(chart: &Chart<'_, 'b>, y: Axis) -> Canvas<'b> {
        let area = chart.plotting_area().strip_coord_spec();
        let (w, h) = area.dim_in_pixel();
        Canvas {
            area,
            x: chart.as_coord_spec().x_spec().clone(),
            y,
            w: (w.max(1) - 1) as f64,
            h: (h.max(1) - 1) as f64,
        }
    }

    /// Pixel position of a data point (not clamped); None where it has none (NaN). On a log
    /// axis, values <= 0 lie far below the area (a line down to 0 leaves at the bottom).
    fn px(&self, (xv, yv): (f64, f64)) -> Option<(f64, f64)> {
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
    fn line(
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
    fn at(&self, p: (f64, f64)) -> Option<(i32, i32)> {
        self.px(p)
            .filter(|&c| self.inside(c))
            .map(|c| (c.0.round() as i32, c.1.round() as i32))
    }
}

/// A line through `pts` on the chart, clipped to its data area (dashed if asked).
fn draw_path(
    chart: &mut Chart,
    pts: &[(f64, f64)],
    st: ShapeStyle,
    dashed: bool,
    buckets: usize,
    th: Theme,
) -> Result<(), PlotError> {
    let dash = dashed.then(|| (th.px(9.0), th.px(6.0)));
    Canvas::of(chart).line(pts, st, dash, buckets, th)
}

/// A quantile band (x, q10, median, q90): the shaded 10-90% band and the median line.
fn draw_quantiles(
    chart: &mut Chart,
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
fn draw_band(chart: &mut Chart, band: &[(f64, f64, f64)], color: RGBColor, buckets: usize) -> Result<(), PlotError> {
    let canvas = Canvas::of(chart);
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

/// Linear-interpolated quantile of sorted data.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let f = pos - i as f64;
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - f) + sorted[i + 1] * f
    } else {
        sorted[i]
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(quantile(v, 0.5))
}

/// Frame and labels of one chart panel.
struct Mesh<'t> {
    x_desc: Option<&'t str>,
    y_desc: &'t str,
    x_labels: usize,
    y_labels: usize,
    desc_size: f64,
}

fn draw_mesh(chart: &mut Chart, x: &Axis, y: &Axis, m: &Mesh, th: Theme) -> Result<(), PlotError> {
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
struct TickPanels {
    /// Widths of the value-axis label area and of the margin right of the data area.
    y_label: i32,
    right: i32,
    /// Height of the tick labels under a panel (no axis title).
    x_area: i32,
    x_labels: usize,
    desc: f64,
}

impl TickPanels {
    /// A panel over ticks (`x`) with value axis `y`: the chart on `panel` below `top` pixels
    /// of caption, its grid and labels drawn, the value axis titled `y_desc` (sized to fit
    /// `data_h`, the height of the data area).
    #[allow(clippy::too_many_arguments)]
    fn chart<'a, 'b>(
        &self,
        panel: &'a Area<'b>,
        root: &Area,
        (x, y): (&Axis, &Axis),
        top: i32,
        data_h: i32,
        y_desc: &str,
        th: Theme,
    ) -> Result<Chart<'a, 'b>, PlotError> {
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
fn data_rect(chart: &Chart) -> (i32, i32, i32, i32) {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    (xr.start, yr.start, xr.end, yr.end)
}

// ---------------------------------------------------------------------------
// Convergence chart
// ---------------------------------------------------------------------------

struct GoodSeries {
    name: String,
    /// (tick, price)
    price: Vec<(f64, f64)>,
    /// (tick, p*) with p* the reference price; NaN where the row has none (no dashed line
    /// is drawn there: the adjoint is not a reference)
    pstar: Vec<(f64, f64)>,
    /// (tick, |p - q| / |q|), q the reference price, else the adjoint; NaN where undefined
    rel: Vec<(f64, f64)>,
}

/// One good of `propagation.csv` that the shock reached: when, against its depth.
struct WavePoint {
    /// Index into [`ConvPrep::wave_shocks`].
    shock: usize,
    depth: f64,
    /// Ticks from the shock to the arrival.
    after: f64,
    good: String,
}

/// What the distance panel shows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DistanceView {
    /// W and/or Φ − Φ* on a log axis.
    Gap,
    /// Φ itself on a linear axis: no reference, so Φ* is unknown.
    Phi,
    /// Nothing to draw.
    Empty,
}

/// Price steps smaller than this (relative) are rounding: the cosine is not drawn there.
const COSINE_NOISE: f64 = 1e-12;

struct ConvPrep {
    goods: Vec<GoodSeries>,
    /// Goods drawn individually, in legend order.
    shown: Vec<usize>,
    many: bool,
    /// (tick, q10, q50, q90) of price over all goods (many-goods mode).
    price_band: Vec<(f64, f64, f64, f64)>,
    /// Same for relative error (floored).
    rel_band: Vec<(f64, f64, f64, f64)>,
    excess: Vec<(f64, f64)>,
    /// The Lyapunov function W and Φ − Φ* per logged tick (NaN where not logged).
    lyapunov: Vec<(f64, f64)>,
    phi_gap: Vec<(f64, f64)>,
    /// Φ itself (drawn when there is no reference: Φ* unknown).
    phi: Vec<(f64, f64)>,
    distance: DistanceView,
    /// Logged steps in which W rose, and steps with W on both ends.
    lyapunov_rises: (usize, usize),
    mispricing: Vec<(f64, f64)>,
    firm_lag: Vec<(f64, f64)>,
    /// The cosine (in the rules' geometry where logged, else Euclidean), NaN where the price
    /// step is rounding; its moving average; whether it is the mirror cosine.
    cosine: Vec<(f64, f64)>,
    cosine_smooth: Vec<(f64, f64)>,
    cosine_mirror: bool,
    cosine_dropped: usize,
    cosine_window: usize,
    shocks: Vec<(f64, String)>,
    /// The shock wave: points, the shocks (tick, label), and goods that did not arrive.
    wave: Vec<WavePoint>,
    wave_shocks: Vec<(u64, String)>,
    wave_missing: usize,
    x: Axis,
    /// Rows without (with) a reference price.
    refs_missing: usize,
    refs_present: usize,
    first_tick: u64,
    last_tick: u64,
    logged: usize,
    diverged: bool,
}

fn quantile_band(samples: &BTreeMap<u64, Vec<f64>>) -> Vec<(f64, f64, f64, f64)> {
    samples
        .iter()
        .map(|(t, v)| {
            let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            v.sort_by(f64::total_cmp);
            (*t as f64, quantile(&v, 0.1), quantile(&v, 0.5), quantile(&v, 0.9))
        })
        .collect()
}

/// Centred moving average over `2 k + 1` points, of the finite values in each window (NaN
/// where the window has none or the point itself is NaN).
fn moving_average(pts: &[(f64, f64)], k: usize) -> Vec<(f64, f64)> {
    let n = pts.len();
    // prefix sums of the finite values and of their count
    let mut sum = vec![0.0; n + 1];
    let mut count = vec![0usize; n + 1];
    for (i, p) in pts.iter().enumerate() {
        let ok = p.1.is_finite();
        sum[i + 1] = sum[i] + if ok { p.1 } else { 0.0 };
        count[i + 1] = count[i] + ok as usize;
    }
    (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(k), (i + k + 1).min(n));
            let c = count[b] - count[a];
            let v = if c > 0 && pts[i].1.is_finite() {
                (sum[b] - sum[a]) / c as f64
            } else {
                f64::NAN
            };
            (pts[i].0, v)
        })
        .collect()
}

impl ConvPrep {
    fn new(data: &RunData) -> Result<ConvPrep, PlotError> {
        if data.trajectory.is_empty() {
            return Err(PlotError::NoData(
                "the run has no trajectory rows (trajectory.csv is empty)".to_string(),
            ));
        }
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut goods: Vec<GoodSeries> = Vec::new();
        let mut rows: Vec<&TrajectoryRow> = data.trajectory.iter().collect();
        rows.sort_by_key(|r| r.tick); // stable: keeps file order within a tick
        let (mut refs_missing, mut refs_present) = (0usize, 0usize);
        let mut diverged = false;
        for r in &rows {
            let gi = *index.entry(r.good.as_str()).or_insert_with(|| {
                goods.push(GoodSeries {
                    name: r.good.clone(),
                    price: Vec::new(),
                    pstar: Vec::new(),
                    rel: Vec::new(),
                });
                goods.len() - 1
            });
            let t = r.tick as f64;
            let (pstar, q) = match r.reference {
                Some(v) => {
                    refs_present += 1;
                    (v, v)
                }
                None => {
                    refs_missing += 1;
                    (f64::NAN, r.adjoint)
                }
            };
            let rel = if q.is_finite() && q != 0.0 && r.price.is_finite() {
                (r.price - q).abs() / q.abs()
            } else {
                f64::NAN
            };
            if !r.price.is_finite() || r.price.abs() > 1e100 {
                diverged = true;
            }
            let g = &mut goods[gi];
            g.price.push((t, r.price));
            g.pstar.push((t, pstar));
            g.rel.push((t, rel));
        }
        let many = goods.len() > MANY_GOODS;
        let shown: Vec<usize> = if many {
            let mut order: Vec<(f64, usize)> = goods
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    let last = g.rel.last().map_or(f64::NAN, |p| p.1);
                    (if last.is_nan() { f64::INFINITY } else { last }, i)
                })
                .collect();
            order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            order.into_iter().take(WORST_SHOWN).map(|p| p.1).collect()
        } else {
            (0..goods.len()).collect()
        };
        let (mut price_band, mut rel_band) = (Vec::new(), Vec::new());
        if many {
            let mut ps: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            let mut rs: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for r in &rows {
                ps.entry(r.tick).or_default().push(r.price);
            }
            for g in &goods {
                for &(t, v) in &g.rel {
                    rs.entry(t as u64)
                        .or_default()
                        .push(if v.is_finite() { v.max(LOG_FLOOR) } else { v });
                }
            }
            price_band = quantile_band(&ps);
            rel_band = quantile_band(&rs);
        }
        let mut metrics: Vec<&MetricsRow> = data.metrics.iter().collect();
        metrics.sort_by_key(|m| m.tick);
        let series = |f: &dyn Fn(&MetricsRow) -> Option<f64>| -> Vec<(f64, f64)> {
            metrics
                .iter()
                .map(|m| (m.tick as f64, f(m).unwrap_or(f64::NAN)))
                .collect()
        };
        let excess = series(&|m| Some(m.max_rel_excess));
        let lyapunov = series(&|m| m.lyapunov);
        let phi_gap = series(&|m| m.phi_gap);
        let phi = series(&|m| m.phi);
        let finite = |v: &[(f64, f64)]| v.iter().any(|q| q.1.is_finite());
        let distance = if finite(&lyapunov) || finite(&phi_gap) {
            DistanceView::Gap
        } else if finite(&phi) {
            DistanceView::Phi
        } else {
            DistanceView::Empty
        };
        // rises of W between consecutive logged ticks above rounding (not across a shock, which
        // moves the equilibrium W measures from)
        let lyapunov_rises = crate::check::lyapunov::rises(metrics.iter().map(|m| (m.lyapunov, m.shock.is_some())));
        let mispricing = series(&|m| m.mispricing);
        let firm_lag = series(&|m| m.firm_lag);
        let cosine_mirror = metrics.iter().any(|m| m.cosine_mirror.is_some());
        let mut cosine_dropped = 0;
        let cosine: Vec<(f64, f64)> = metrics
            .iter()
            .map(|m| {
                let c = if cosine_mirror { m.cosine_mirror } else { m.cosine };
                let c = c.unwrap_or(f64::NAN);
                if c.is_finite() && m.max_rel_price_change < COSINE_NOISE {
                    cosine_dropped += 1;
                    (m.tick as f64, f64::NAN)
                } else {
                    (m.tick as f64, c)
                }
            })
            .collect();
        let cosine_window = (cosine.len() / 80).clamp(2, 50);
        let cosine_smooth = moving_average(&cosine, cosine_window);
        let shocks: Vec<(f64, String)> = metrics
            .iter()
            .filter_map(|m| m.shock.as_ref().map(|s| (m.tick as f64, s.clone())))
            .collect();
        // the shock wave: with one shock tick, propagation.csv has no shock_tick column
        let mut wave_shocks: Vec<(u64, String)> = Vec::new();
        let (mut wave, mut wave_missing) = (Vec::new(), 0usize);
        for r in &data.propagation {
            let tick = match r.shock_tick {
                Some(t) => t,
                None => match metrics.iter().find(|m| m.shock.is_some()) {
                    Some(m) => m.tick,
                    None => continue,
                },
            };
            let shock = match wave_shocks.iter().position(|s| s.0 == tick) {
                Some(i) => i,
                None => {
                    let label = metrics
                        .iter()
                        .find(|m| m.tick == tick)
                        .and_then(|m| m.shock.clone())
                        .unwrap_or_default();
                    wave_shocks.push((tick, label));
                    wave_shocks.len() - 1
                }
            };
            match r.arrival_tick {
                Some(a) => wave.push(WavePoint {
                    shock,
                    depth: r.depth as f64,
                    after: a.saturating_sub(tick) as f64,
                    good: r.good.clone(),
                }),
                None => wave_missing += 1,
            }
        }
        let first = rows[0].tick.min(metrics.first().map_or(u64::MAX, |m| m.tick));
        let last = rows[rows.len() - 1].tick.max(metrics.last().map_or(0, |m| m.tick));
        let mut x = if last > first {
            Axis::linear(first as f64, last as f64)
        } else {
            let mut a = Axis::linear(first as f64 - 0.5, first as f64 + 0.5);
            a.fixed = vec![first as f64];
            a
        };
        x.integer = true;
        let logged = {
            let mut t: Vec<u64> = rows.iter().map(|r| r.tick).collect();
            t.dedup();
            t.len()
        };
        Ok(ConvPrep {
            goods,
            shown,
            many,
            price_band,
            rel_band,
            excess,
            lyapunov,
            phi_gap,
            phi,
            distance,
            lyapunov_rises,
            mispricing,
            firm_lag,
            cosine,
            cosine_smooth,
            cosine_mirror,
            cosine_dropped,
            cosine_window,
            shocks,
            wave,
            wave_shocks,
            wave_missing,
            x,
            refs_missing,
            refs_present,
            first_tick: first,
            last_tick: last,
            logged,
            diverged,
        })
    }

    fn color(&self, rank: usize) -> RGBColor {
        PALETTE[rank % PALETTE.len()]
    }
}

/// Renders the convergence chart of a run as PNG bytes: prices, relative errors, the
/// distance to equilibrium, the split of excess demand with the cosine, and for a run with a
/// shock (and its `propagation.csv`) the shock wave.
///
/// `title` is drawn at the top; when empty, `data.title` is used.
pub fn render_convergence(data: &RunData, title: &str, size: ChartSize) -> Result<Vec<u8>, PlotError> {
    let prep = ConvPrep::new(data)?;
    let title = if title.is_empty() { data.title.as_str() } else { title };
    render_png(size, |root, th| draw_convergence(root, &prep, title, th))
}

/// Common horizontal layout of stacked panels with a legend column on the right.
struct Columns {
    /// Left edge and width of the chart column (including axis label areas).
    chart_x: i32,
    chart_w: i32,
    y_label: i32,
    right: i32,
    legend_x: i32,
    legend_w: i32,
}

impl Columns {
    fn new(w: i32, th: Theme, legend_frac: f64, right: f64) -> Columns {
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
    fn data_w(&self) -> i32 {
        self.chart_w - self.y_label - self.right
    }
}

fn draw_title(root: &Area, title: &str, subtitle: &str, th: Theme) -> Result<i32, PlotError> {
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
fn put_caption(
    root: &Area,
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
fn put_panel_note(root: &Area, r: (i32, i32, i32, i32), lines: &[&str], th: Theme) -> Result<(), PlotError> {
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

/// The positive values (others NaN, not drawn on a log axis), and whether any was not.
fn positive_only(pts: &[(f64, f64)]) -> (Vec<(f64, f64)>, bool) {
    let mut any = false;
    let v = pts
        .iter()
        .map(|q| {
            if q.1.is_finite() && q.1 <= 0.0 {
                any = true;
                (q.0, f64::NAN)
            } else {
                *q
            }
        })
        .collect();
    (v, any)
}

/// Values floored at [`LOG_FLOOR`] for a log axis (NaN stays NaN), and whether any was.
fn floored(pts: &[(f64, f64)]) -> (Vec<(f64, f64)>, bool) {
    let mut any = false;
    let v = pts
        .iter()
        .map(|q| {
            if q.1.is_finite() && q.1 < LOG_FLOOR {
                any = true;
                (q.0, LOG_FLOOR)
            } else {
                *q
            }
        })
        .collect();
    (v, any)
}

fn draw_convergence(root: &Area, p: &ConvPrep, title: &str, th: Theme) -> Result<(), PlotError> {
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let n_goods = p.goods.len();
    let mut subtitle = format!(
        "{n_goods} good{}, ticks {}–{} ({} logged)",
        if n_goods == 1 { "" } else { "s" },
        p.first_tick,
        p.last_tick,
        p.logged
    );
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

    let fractions: &[f64] = if has_wave {
        &[0.27, 0.175, 0.175, 0.19, 0.19]
    } else {
        &[0.31, 0.22, 0.22, 0.25]
    };
    let mut heights: Vec<i32> = fractions.iter().map(|f| (avail as f64 * f) as i32).collect();
    heights[0] += strip_h / 2;
    heights[1] -= strip_h / 2;
    let used: i32 = heights[..heights.len() - 1].iter().sum();
    *heights.last_mut().expect("panels") = avail - used;
    let xl_small = th.x_labels_h();
    let xl_big = th.x_labels_desc_h();
    let mut y0 = top;
    let mut rects = Vec::new();
    let desc = th.desc();
    let x_labels = (cols.data_w() / th.px(130.0)).clamp(2, 12) as usize;
    let y_labels = |data_h: i32| (data_h / th.px(42.0)).clamp(2, 10) as usize;
    let tick_panels = TickPanels {
        y_label: cols.y_label,
        right: cols.right,
        x_area: xl_small,
        x_labels,
        desc,
    };

    // ---------------- Panel 1: prices ----------------
    {
        let panel = root.clone().shrink((cols.chart_x, y0), (cols.chart_w, heights[0]));
        let mut vals: Vec<f64> = Vec::new();
        for &gi in &p.shown {
            vals.extend(p.goods[gi].price.iter().map(|q| q.1));
            vals.extend(p.goods[gi].pstar.iter().map(|q| q.1));
        }
        vals.extend(p.price_band.iter().flat_map(|b| [b.1, b.3]));
        let (lo, hi) = positive_extent(vals).unwrap_or((0.1, 10.0));
        let y = Axis::log_padded(lo, hi, 0.05, 0.05);
        let data_h = heights[0] - caption_h - strip_h - xl_small;
        let y_desc = "price (units of the numeraire)";
        let mut chart = tick_panels.chart(&panel, root, (&p.x, &y), caption_h + strip_h, data_h, y_desc, th)?;
        if p.many {
            draw_quantiles(&mut chart, &p.price_band, lw, buckets, th)?;
        }
        for (rank, &gi) in p.shown.iter().enumerate() {
            let c = p.color(rank);
            draw_path(&mut chart, &p.goods[gi].pstar, c.stroke_width(lw), true, buckets, th)?;
            draw_path(&mut chart, &p.goods[gi].price, c.stroke_width(lw), false, buckets, th)?;
        }
        let r = data_rect(&chart);
        rects.push(r);
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
            e.push(entry(Swatch::Line(p.color(rank)), p.goods[gi].name.clone()));
        }
        if p.many {
            e.push(entry(Swatch::Band(BAND), format!("10–90% of all {n_goods}")));
            e.push(entry(Swatch::Line(MUTED), format!("median of all {n_goods}")));
        }
        if p.refs_present > 0 {
            e.push(entry(Swatch::Dashed(MUTED), "p* (same colour)"));
        }
        if !p.shocks.is_empty() {
            let s = if omitted > 0 {
                format!("shock ({omitted} labels not shown)")
            } else {
                "scheduled shock".to_string()
            };
            e.push(entry(Swatch::VDashed(SHOCK), s));
        }
        draw_legend(
            root,
            (cols.legend_x, y0 + caption_h, cols.legend_w, heights[0] - caption_h),
            &e,
            th,
        )?;
        // Shock labels in the strip above the data area.
        for (x, row, text, right) in &placed {
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
        y0 += heights[0];
    }

    // ---------------- Panel 2: relative error ----------------
    {
        let panel = root.clone().shrink((cols.chart_x, y0), (cols.chart_w, heights[1]));
        let rel: Vec<(Vec<(f64, f64)>, bool)> = p.shown.iter().map(|&gi| floored(&p.goods[gi].rel)).collect();
        let (excess, ex_floored) = floored(&p.excess);
        let floored_any = ex_floored || rel.iter().any(|r| r.1);
        let mut vals: Vec<f64> = rel.iter().flat_map(|r| r.0.iter().map(|q| q.1)).collect();
        vals.extend(excess.iter().map(|q| q.1));
        vals.extend(p.rel_band.iter().flat_map(|b| [b.1, b.3]));
        let (lo, hi) = positive_extent(vals).unwrap_or((1e-6, 1.0));
        let y = Axis::log_padded(lo, hi, 0.05, 0.05);
        let data_h = heights[1] - caption_h - xl_small;
        let y_desc = "relative error";
        let mut chart = tick_panels.chart(&panel, root, (&p.x, &y), caption_h, data_h, y_desc, th)?;
        if p.many {
            draw_quantiles(&mut chart, &p.rel_band, lw, buckets, th)?;
        }
        for (rank, series) in rel.iter().enumerate() {
            draw_path(
                &mut chart,
                &series.0,
                p.color(rank).stroke_width(lw),
                false,
                buckets,
                th,
            )?;
        }
        draw_path(&mut chart, &excess, BLACK.stroke_width(lw + 1), false, buckets, th)?;
        let r = data_rect(&chart);
        rects.push(r);
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
        draw_legend(
            root,
            (cols.legend_x, y0 + caption_h, cols.legend_w, heights[1] - caption_h),
            &e,
            th,
        )?;
        y0 += heights[1];
    }

    // ---------------- Panel 3: distance to equilibrium ----------------
    {
        let panel = root.clone().shrink((cols.chart_x, y0), (cols.chart_w, heights[2]));
        let data_h = heights[2] - caption_h - xl_small;
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
        rects.push(r);
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
        draw_legend(
            root,
            (cols.legend_x, y0 + caption_h, cols.legend_w, heights[2] - caption_h),
            &e,
            th,
        )?;
        y0 += heights[2];
    }

    // ---------------- Panel 4: excess demand split and cosine ----------------
    {
        let panel = root.clone().shrink((cols.chart_x, y0), (cols.chart_w, heights[3]));
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
        let data_h = heights[3] - caption_h - xl_big;
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
                y_labels: y_labels(data_h),
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
        let primary: &mut Chart = &mut chart;
        let cos_canvas = Canvas::with_y(primary, cos_axis.clone());
        if has_cos {
            // the raw values faint, their moving average bold
            cos_canvas.line(&p.cosine, C_VERMILLION.mix(0.3).stroke_width(1), None, buckets, th)?;
            cos_canvas.line(&p.cosine_smooth, C_VERMILLION.stroke_width(lw), None, buckets, th)?;
        }
        draw_path(primary, &lag, C_BLUE.stroke_width(lw), false, buckets, th)?;
        draw_path(primary, &mis, BLACK.stroke_width(lw + 1), false, buckets, th)?;
        let r = data_rect(primary);
        rects.push(r);
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
        draw_legend(
            root,
            (cols.legend_x, y0 + caption_h, cols.legend_w, heights[3] - caption_h),
            &e,
            th,
        )?;
        y0 += heights[3];
    }

    // ---------------- Panel 5: the shock wave ----------------
    if has_wave {
        let panel = root.clone().shrink((cols.chart_x, y0), (cols.chart_w, heights[4]));
        let max_depth = p.wave.iter().map(|q| q.depth).fold(0.0, f64::max);
        let max_after = p.wave.iter().map(|q| q.after).fold(0.0, f64::max);
        let mut x = Axis::linear(-0.5, max_depth + 0.5);
        x.integer = true;
        let mut y = Axis::linear(0.0, (max_after * 1.12).max(1.0));
        y.integer = true;
        let data_h = heights[4] - th.px(8.0) - caption_h - xl_big;
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
                y_labels: y_labels(data_h),
                desc_size: fit_font(root, y_desc, desc, data_h),
            },
            th,
        )?;
        let canvas = Canvas::of(&chart);
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
        draw_legend(
            root,
            (cols.legend_x, y0 + caption_h, cols.legend_w, heights[4] - caption_h),
            &e,
            th,
        )?;
    }

    // Shock lines across every panel with a tick axis.
    for &x in &shock_px {
        for r in &rects {
            put_dashed_vline(root, x, r.1, r.3, SHOCK.stroke_width(1), th)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Sweep chart
// ---------------------------------------------------------------------------

/// Replicates aggregated at one parameter value (or grid cell).
#[derive(Default)]
struct Agg {
    conv_ticks: Vec<f64>,
    /// (max_rel_error, outcome) per replicate with a value.
    errors: Vec<(f64, Outcome)>,
    n: usize,
    diverged: usize,
    max_ticks: usize,
}

impl Agg {
    fn add(&mut self, r: &SweepRow) {
        self.n += 1;
        match r.outcome {
            Outcome::Converged => self.conv_ticks.push(r.ticks.max(1) as f64),
            Outcome::Diverged => self.diverged += 1,
            Outcome::MaxTicks => self.max_ticks += 1,
        }
        if let Some(e) = r.max_rel_error {
            self.errors.push((e, r.outcome));
        }
    }
    fn median_ticks(&self) -> Option<f64> {
        median(&mut self.conv_ticks.clone())
    }
}

/// Distinct values of a parameter, sorted numerically when all are numbers,
/// otherwise in order of first appearance. Also returns the numeric values.
fn categories(values: impl Iterator<Item = String>) -> (Vec<String>, Option<Vec<f64>>) {
    let mut seen: Vec<String> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    let nums: Option<Vec<f64>> = seen
        .iter()
        .map(|s| s.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect();
    match nums {
        Some(nums) => {
            let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(seen).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (n, s): (Vec<f64>, Vec<String>) = pairs.into_iter().unzip();
            (s, Some(n))
        }
        None => (seen, None),
    }
}

/// Axis labels for parameter values: numbers in short form (`0.30000000000000004`
/// becomes `0.3`) unless that would make two values look the same.
fn display_labels(raw: &[String], nums: &Option<Vec<f64>>) -> Vec<String> {
    let Some(nums) = nums else {
        return raw.to_vec();
    };
    let distinct = |labels: &[String]| {
        let mut sorted = labels.to_vec();
        sorted.sort();
        sorted.dedup();
        sorted.len() == labels.len()
    };
    // Fewest significant digits (3 to 6) that keep the values apart.
    for digits in 3..=6 {
        let short: Vec<String> = raw
            .iter()
            .zip(nums)
            .map(|(r, &v)| {
                let rounded: f64 = format!("{:.*e}", digits - 1, v).parse().unwrap_or(v);
                let f = fmt_num(rounded);
                if f.chars().count() < r.chars().count() {
                    f
                } else {
                    r.clone()
                }
            })
            .collect();
        if distinct(&short) {
            return short;
        }
    }
    raw.to_vec()
}

/// Renders a sweep chart as PNG bytes: a line chart for one swept parameter,
/// a heatmap over the first two parameters otherwise.
///
/// `title` is drawn at the top; when empty, `data.title` is used.
pub fn render_sweep(data: &SweepData, title: &str, size: ChartSize) -> Result<Vec<u8>, PlotError> {
    if data.rows.is_empty() {
        return Err(PlotError::NoData("the sweep has no rows".to_string()));
    }
    if data.param_names.is_empty() {
        return Err(PlotError::NoData("the sweep has no parameter columns".to_string()));
    }
    if let Some(r) = data.rows.iter().find(|r| r.params.len() != data.param_names.len()) {
        return Err(PlotError::NoData(format!(
            "sweep row (point {}, replicate {}) has {} parameter values but there are {} parameter names",
            r.point,
            r.replicate,
            r.params.len(),
            data.param_names.len()
        )));
    }
    let base = if title.is_empty() { data.title.as_str() } else { title };
    let np = data.param_names.len();
    let title = if np > 2 {
        format!(
            "{base} — first 2 of {np} parameters shown ({} pooled)",
            data.param_names[2..].join(", ")
        )
    } else {
        base.to_string()
    };
    let (c, d, m) = data.rows.iter().fold((0, 0, 0), |(c, d, m), r| match r.outcome {
        Outcome::Converged => (c + 1, d, m),
        Outcome::Diverged => (c, d + 1, m),
        Outcome::MaxTicks => (c, d, m + 1),
    });
    let mut points: Vec<u64> = data.rows.iter().map(|r| r.point).collect();
    points.sort_unstable();
    points.dedup();
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let subtitle = format!(
        "{}, {}: {c} converged, {d} diverged, {m} hit max_ticks",
        plural(points.len(), "point"),
        plural(data.rows.len(), "run")
    );
    render_png(size, |root, th| {
        if np == 1 {
            draw_sweep_1d(root, data, &title, &subtitle, th)
        } else {
            draw_sweep_2d(root, data, &title, &subtitle, th)
        }
    })
}

fn draw_sweep_1d(root: &Area, data: &SweepData, title: &str, subtitle: &str, th: Theme) -> Result<(), PlotError> {
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let top = draw_title(root, title, subtitle, th)?;
    let cols = Columns::new(w, th, 0.22, 30.0);
    let name = &data.param_names[0];
    let (cats, nums) = categories(data.rows.iter().map(|r| r.params[0].clone()));
    let mut aggs: Vec<Agg> = (0..cats.len()).map(|_| Agg::default()).collect();
    for r in &data.rows {
        if let Some(i) = cats.iter().position(|c| *c == r.params[0]) {
            aggs[i].add(r);
        }
    }
    // x axis: numeric (log if positive and spanning > 30x) or categorical.
    let (x_axis, xs, x_desc): (Axis, Vec<f64>, String) = match &nums {
        Some(n) => {
            let (lo, hi) = (n[0], n[n.len() - 1]);
            if lo > 0.0 && hi / lo > 30.0 {
                (
                    Axis::log_padded(lo, hi, 0.04, 0.04),
                    n.clone(),
                    format!("{name} (log scale)"),
                )
            } else {
                let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
                let pad = span * 0.05;
                (Axis::linear(lo - pad, hi + pad), n.clone(), name.clone())
            }
        }
        None => (
            Axis::categorical(cats.clone()),
            (0..cats.len()).map(|i| i as f64).collect(),
            name.clone(),
        ),
    };
    let avail = h - top - th.px(6.0);
    let caption_h = th.caption_h();
    let marker_row = th.px(26.0).max((th.font(15.0) * 1.6) as i32);
    let any_div = aggs.iter().any(|a| a.diverged > 0);
    let any_max = aggs.iter().any(|a| a.max_ticks > 0);
    let strip_h = (any_div as i32 + any_max as i32) * marker_row + if any_div || any_max { th.px(6.0) } else { 0 };
    let h1 = (avail as f64 * 0.56) as i32;
    let h2 = avail - h1;
    let xl_small = th.x_labels_h();
    let xl_big = th.x_labels_desc_h();
    let lw = th.line();
    let n_x_labels = if x_axis.cats.is_empty() {
        (cols.data_w() / th.px(120.0)).clamp(2, 12) as usize
    } else {
        let maxw = cats.iter().map(|c| text_width(root, c, th.tick())).max().unwrap_or(10);
        (cols.data_w() / (maxw + th.px(24.0))).clamp(1, 50) as usize
    };

    // ---------------- Panel A: ticks to converge ----------------
    let mut y0 = top;
    {
        let panel = root.clone().shrink((cols.chart_x, y0), (cols.chart_w, h1));
        let vals = aggs.iter().flat_map(|a| a.conv_ticks.iter().copied());
        let extent = positive_extent(vals);
        let (lo, hi) = extent.unwrap_or((1.0, 1000.0));
        let mut y = Axis::log_padded(lo, hi, 0.06, 0.08);
        y.hidden = extent.is_none();
        let data_h = h1 - caption_h - strip_h - xl_small;
        let mut chart = ChartBuilder::on(&panel)
            .margin_top(caption_h + strip_h)
            .margin_right(cols.right)
            .x_label_area_size(xl_small)
            .y_label_area_size(cols.y_label)
            .build_cartesian_2d(x_axis.clone(), y.clone())?;
        let y_desc = "ticks to converge (ticks)";
        draw_mesh(
            &mut chart,
            &x_axis,
            &y,
            &Mesh {
                x_desc: None,
                y_desc,
                x_labels: n_x_labels,
                y_labels: (data_h / th.px(42.0)).clamp(2, 10) as usize,
                desc_size: fit_font(root, y_desc, th.desc(), data_h),
            },
            th,
        )?;
        // Min–max band and median line over runs of consecutive points that have converged replicates.
        let stats: Vec<(f64, f64, f64, f64)> = aggs
            .iter()
            .zip(&xs)
            .map(|(a, &x)| {
                let mut t = a.conv_ticks.clone();
                t.sort_by(f64::total_cmp);
                match median(&mut t) {
                    Some(m) => (x, t[0], m, t[t.len() - 1]),
                    None => (x, f64::NAN, f64::NAN, f64::NAN),
                }
            })
            .collect();
        let band: Vec<(f64, f64, f64)> = stats.iter().map(|s| (s.0, s.1, s.3)).collect();
        draw_band(&mut chart, &band, C_BLUE, 100_000)?;
        let med: Vec<(f64, f64)> = stats.iter().map(|s| (s.0, s.2)).collect();
        draw_path(&mut chart, &med, C_BLUE.stroke_width(lw + 1), false, 100_000, th)?;
        chart.draw_series(
            med.iter()
                .filter(|p| p.1.is_finite())
                .map(|&p| Circle::new(p, th.px(5.0), C_BLUE.filled())),
        )?;
        let r = data_rect(&chart);
        put_text(
            root,
            "Ticks to converge: median over converged replicates, band = min–max",
            (r.0, y0 + caption_h / 2),
            th.caption(),
            INK,
            HPos::Left,
        )?;
        if extent.is_none() {
            let msg = "no replicate converged at any parameter value";
            put_text(
                root,
                msg,
                ((r.0 + r.2) / 2, (r.1 + r.3) / 2),
                th.font(22.0),
                INK,
                HPos::Center,
            )?;
        }
        // Outcome marker rows above the data area.
        let mut row = 0;
        let label_size = th.font(15.0);
        for (flag, label) in [(any_div, "diverged"), (any_max, "max_ticks")] {
            if !flag {
                continue;
            }
            let cy = y0 + caption_h + row * marker_row + marker_row / 2;
            put_text(root, label, (r.0 - th.px(10.0), cy), label_size, MUTED, HPos::Right)?;
            put_line(root, (r.0, cy), (r.2, cy), GRID_LIGHT.stroke_width(1))?;
            for (a, &x) in aggs.iter().zip(&xs) {
                let px = x_axis.map(&x, (r.0, r.2));
                if label == "diverged" && a.diverged > 0 {
                    put_cross(root, (px, cy), th.px(8.0), C_VERMILLION, None, lw + 1)?;
                }
                if label == "max_ticks" && a.max_ticks > 0 {
                    put_triangle(root, (px, cy), th.px(8.0), C_ORANGE)?;
                }
            }
            row += 1;
        }
        let reps = aggs.iter().map(|a| a.n).max().unwrap_or(0);
        let mut e = vec![
            entry(Swatch::Line(C_BLUE), "median ticks"),
            entry(Swatch::Band(C_BLUE), "min–max"),
            entry(Swatch::Note, "(converged replicates)"),
        ];
        if any_div {
            e.push(entry(Swatch::Cross(C_VERMILLION), "≥1 replicate diverged"));
        }
        if any_max {
            e.push(entry(Swatch::Triangle(C_ORANGE), "≥1 hit max_ticks"));
        }
        e.push(entry(Swatch::Note, format!("up to {reps} replicates per point")));
        draw_legend(
            root,
            (cols.legend_x, y0 + caption_h, cols.legend_w, h1 - caption_h),
            &e,
            th,
        )?;
        y0 += h1;
    }

    // ---------------- Panel B: final max relative error ----------------
    {
        let panel = root.clone().shrink((cols.chart_x, y0), (cols.chart_w, h2));
        let floored = aggs
            .iter()
            .any(|a| a.errors.iter().any(|e| e.0.is_finite() && e.0 < LOG_FLOOR));
        let pts: Vec<(f64, f64, Outcome)> = aggs
            .iter()
            .zip(&xs)
            .flat_map(|(a, &x)| a.errors.iter().map(move |e| (x, e.0.max(LOG_FLOOR), e.1)))
            .filter(|p| p.1.is_finite())
            .collect();
        let extent = positive_extent(pts.iter().map(|p| p.1));
        let (lo, hi) = extent.unwrap_or((1e-6, 1.0));
        let mut y = Axis::log_padded(lo, hi, 0.06, 0.06);
        y.hidden = extent.is_none();
        let data_h = h2 - caption_h - xl_big;
        let mut chart = ChartBuilder::on(&panel)
            .margin_top(caption_h)
            .margin_right(cols.right)
            .x_label_area_size(xl_big)
            .y_label_area_size(cols.y_label)
            .build_cartesian_2d(x_axis.clone(), y.clone())?;
        let y_desc = "final max rel. error (dimensionless)";
        draw_mesh(
            &mut chart,
            &x_axis,
            &y,
            &Mesh {
                x_desc: Some(&x_desc),
                y_desc,
                x_labels: n_x_labels,
                y_labels: (data_h / th.px(42.0)).clamp(2, 10) as usize,
                desc_size: fit_font(root, y_desc, th.desc(), data_h),
            },
            th,
        )?;
        let med: Vec<(f64, f64)> = aggs
            .iter()
            .zip(&xs)
            .map(|(a, &x)| {
                let mut v: Vec<f64> = a
                    .errors
                    .iter()
                    .map(|e| e.0.max(LOG_FLOOR))
                    .filter(|v| v.is_finite())
                    .collect();
                (x, median(&mut v).unwrap_or(f64::NAN))
            })
            .collect();
        draw_path(&mut chart, &med, MUTED.stroke_width(lw), false, 100_000, th)?;
        let r = data_rect(&chart);
        for &(x, v, o) in &pts {
            let c = (x_axis.map(&x, (r.0, r.2)), y.map(&v, (r.3, r.1)));
            match o {
                Outcome::Converged => {
                    root.draw(&Circle::new(c, th.px(5.0), C_BLUE.filled()))?;
                }
                Outcome::MaxTicks => put_triangle(root, c, th.px(7.0), C_ORANGE)?,
                Outcome::Diverged => put_cross(root, c, th.px(6.0), C_VERMILLION, None, lw)?,
            }
        }
        put_text(
            root,
            "Final max relative error per replicate (line = median)",
            (r.0, y0 + caption_h / 2),
            th.caption(),
            INK,
            HPos::Left,
        )?;
        if extent.is_none() {
            let msg = "no replicate reported a finite error";
            put_text(
                root,
                msg,
                ((r.0 + r.2) / 2, (r.1 + r.3) / 2),
                th.font(22.0),
                INK,
                HPos::Center,
            )?;
        }
        let mut e = vec![
            entry(Swatch::Dot(C_BLUE), "converged"),
            entry(Swatch::Triangle(C_ORANGE), "max_ticks"),
            entry(Swatch::Cross(C_VERMILLION), "diverged"),
            entry(Swatch::Line(MUTED), "median"),
        ];
        if floored {
            e.push(entry(Swatch::Note, format!("zeros drawn at {}", fmt_num(LOG_FLOOR))));
        }
        draw_legend(
            root,
            (cols.legend_x, y0 + caption_h, cols.legend_w, h2 - caption_h),
            &e,
            th,
        )?;
    }
    Ok(())
}

/// Viridis colour map (colour-blind friendly, perceptually uniform), t in 0..=1.
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let pos = t * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

fn draw_sweep_2d(root: &Area, data: &SweepData, title: &str, subtitle: &str, th: Theme) -> Result<(), PlotError> {
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let top = draw_title(root, title, subtitle, th)?;
    let (xc, xn) = categories(data.rows.iter().map(|r| r.params[0].clone()));
    let (yc, yn) = categories(data.rows.iter().map(|r| r.params[1].clone()));
    let (x_labels, y_labels) = (display_labels(&xc, &xn), display_labels(&yc, &yn));
    let mut cells: Vec<Agg> = (0..xc.len() * yc.len()).map(|_| Agg::default()).collect();
    for r in &data.rows {
        let i = xc.iter().position(|c| *c == r.params[0]);
        let j = yc.iter().position(|c| *c == r.params[1]);
        if let (Some(i), Some(j)) = (i, j) {
            cells[j * xc.len() + i].add(r);
        }
    }
    let medians: Vec<Option<f64>> = cells.iter().map(Agg::median_ticks).collect();
    let extent = positive_extent(medians.iter().flatten().copied());
    let (vmin, vmax) = match extent {
        Some((a, b)) if b > a => (a, b),
        Some((a, _)) => (a / 1.5, a * 1.5),
        None => (1.0, 1000.0),
    };
    let color_of = |m: f64| viridis((m.log10() - vmin.log10()) / (vmax.log10() - vmin.log10()));

    let pad = th.px(10.0);
    let right_w = ((w as f64 * 0.25) as i32).max(th.px(260.0));
    let chart_w = w - right_w - 2 * pad;
    let caption_h = th.caption_h();
    let tick = th.tick();
    let ylab_w = y_labels.iter().map(|c| text_width(root, c, tick)).max().unwrap_or(10);
    let xlab_w = x_labels.iter().map(|c| text_width(root, c, tick)).max().unwrap_or(10);
    let y_label = ylab_w + th.px(60.0);
    let x_label = th.x_labels_desc_h() + th.px(10.0);
    let chart_h = h - top - pad;
    let panel = root.clone().shrink((pad, top), (chart_w, chart_h));
    let x_axis = Axis::categorical(x_labels.clone());
    let y_axis = Axis::categorical(y_labels.clone());
    let data_w = chart_w - y_label - th.px(10.0);
    let data_h = chart_h - caption_h - x_label;
    let mut chart = ChartBuilder::on(&panel)
        .margin_top(caption_h)
        .margin_right(th.px(10.0))
        .x_label_area_size(x_label)
        .y_label_area_size(y_label)
        .build_cartesian_2d(x_axis.clone(), y_axis.clone())?;
    {
        let xf = |v: &f64| x_axis.label(*v);
        let yf = |v: &f64| y_axis.label(*v);
        let (xd, yd) = (&data.param_names[0], &data.param_names[1]);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .x_labels((data_w / (xlab_w + th.px(24.0))).max(1) as usize)
            .y_labels((data_h / th.px(34.0)).max(1) as usize)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .label_style((FONT, tick).into_font().color(&INK))
            .axis_desc_style(
                (
                    FONT,
                    fit_font(root, xd, th.desc(), data_w).min(fit_font(root, yd, th.desc(), data_h)),
                )
                    .into_font()
                    .color(&INK),
            )
            .axis_style(MUTED.stroke_width(1))
            .x_desc(xd.as_str())
            .y_desc(yd.as_str())
            .draw()?;
    }
    let (mut any_div, mut any_max, mut any_grey, mut any_empty) = (false, false, false, false);
    for j in 0..yc.len() {
        for i in 0..xc.len() {
            let k = j * xc.len() + i;
            let (x, y) = (i as f64, j as f64);
            let fill = match (cells[k].n, medians[k]) {
                (0, _) => {
                    any_empty = true;
                    WHITE
                }
                (_, Some(m)) => color_of(m),
                (_, None) => {
                    any_grey = true;
                    NO_CONVERGENCE
                }
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                fill.filled(),
            )))?;
        }
    }
    let r = data_rect(&chart);
    let cell_w = (r.2 - r.0) / xc.len().max(1) as i32;
    let cell_h = (r.3 - r.1) / yc.len().max(1) as i32;
    // Cell borders, then outcome markers.
    if cell_w >= 6 && cell_h >= 6 {
        for i in 1..xc.len() {
            let px = x_axis.map(&(i as f64 - 0.5), (r.0, r.2));
            put_line(root, (px, r.1), (px, r.3), WHITE.stroke_width(1))?;
        }
        for j in 1..yc.len() {
            let py = y_axis.map(&(j as f64 - 0.5), (r.3, r.1));
            put_line(root, (r.0, py), (r.2, py), WHITE.stroke_width(1))?;
        }
    }
    root.draw(&Rectangle::new([(r.0, r.1), (r.2, r.3)], MUTED.stroke_width(1)))?;
    let mark = ((cell_w.min(cell_h) as f64 * 0.28) as i32).clamp(3, th.px(26.0));
    let mw = (th.line()).max(2);
    for j in 0..yc.len() {
        for i in 0..xc.len() {
            let a = &cells[j * xc.len() + i];
            let c = (x_axis.map(&(i as f64), (r.0, r.2)), y_axis.map(&(j as f64), (r.3, r.1)));
            if a.max_ticks > 0 {
                any_max = true;
                put_ring(root, c, mark + mark / 3, WHITE, Some(BLACK), mw)?;
            }
            if a.diverged > 0 {
                any_div = true;
                put_cross(root, c, mark, WHITE, Some(BLACK), mw)?;
            }
        }
    }
    put_text(
        root,
        "Median ticks to converge over converged replicates (colour, log scale)",
        (r.0, top + caption_h / 2),
        th.caption(),
        INK,
        HPos::Left,
    )?;

    // Colour bar, drawn by hand so that labels and title sit exactly beside it.
    let bar_x0 = pad + chart_w + th.px(24.0);
    let bar_w = th.px(34.0);
    let bar_x1 = bar_x0 + bar_w;
    let bar_top = r.1;
    let bar_h = ((r.3 - r.1) as f64 * 0.55) as i32;
    let bar_bot = bar_top + bar_h;
    let cb_axis = Axis::log(vmin, vmax);
    for py in bar_top..bar_bot {
        let t = (bar_bot - py) as f64 / bar_h.max(1) as f64;
        root.draw(&Rectangle::new([(bar_x0, py), (bar_x1, py + 1)], viridis(t).filled()))?;
    }
    root.draw(&Rectangle::new(
        [(bar_x0, bar_top), (bar_x1, bar_bot)],
        MUTED.stroke_width(1),
    ))?;
    let mut label_w = 0;
    for v in cb_axis.major((bar_h / th.px(40.0)).clamp(2, 8) as usize) {
        let py = cb_axis.map(&v, (bar_bot, bar_top));
        put_line(root, (bar_x1, py), (bar_x1 + th.px(6.0), py), MUTED.stroke_width(1))?;
        let text = cb_axis.label(v);
        label_w = label_w.max(text_width(root, &text, tick));
        put_text(root, &text, (bar_x1 + th.px(10.0), py), tick, INK, HPos::Left)?;
    }
    let bar_desc = "median ticks to converge";
    let ds = fit_font(root, bar_desc, th.desc(), bar_h);
    root.draw(&Text::new(
        bar_desc.to_string(),
        (
            bar_x1 + th.px(22.0) + label_w + (ds * 0.6) as i32,
            (bar_top + bar_bot) / 2,
        ),
        style(ds, INK, HPos::Center, VPos::Center).transform(FontTransform::Rotate90),
    ))?;

    // Legend under the colour bar.
    let reps = cells.iter().map(|a| a.n).max().unwrap_or(0);
    let mut e = vec![entry(Swatch::Heading, "cell markers")];
    if any_div {
        e.push(entry(Swatch::WhiteCross, "≥1 replicate diverged"));
    }
    if any_max {
        e.push(entry(Swatch::Ring, "≥1 replicate hit max_ticks"));
    }
    if any_grey {
        e.push(entry(Swatch::Square(NO_CONVERGENCE), "no replicate converged"));
    }
    if any_empty {
        e.push(entry(Swatch::Square(WHITE), "no run at this grid point"));
    }
    if !(any_div || any_max || any_grey || any_empty) {
        e.push(entry(Swatch::Note, "every replicate converged"));
    }
    e.push(entry(
        Swatch::Note,
        if reps == 1 {
            "1 replicate per cell".to_string()
        } else {
            format!("up to {reps} replicates per cell")
        },
    ));
    let ly = bar_top + bar_h + th.px(30.0);
    draw_legend(root, (bar_x0, ly, w - bar_x0 - pad, h - ly - pad), &e, th)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    const TRAJ_HEADER: &str = "tick,good,price,supply,demand,excess,adjoint,reference";
    /// The header as written now (the tests' CSV text uses it; TRAJ_HEADER is the header of
    /// earlier versions, which the reader still takes).
    const MET_HEADER: &str = "tick,max_rel_excess,max_rel_price_change,max_rel_adjoint_error,max_rel_reference_error,phi,phi_gap,cosine,cosine_mirror,lyapunov,mispricing,firm_lag,spread,shock";

    /// A small run description from which CSV text is generated.
    struct Synth {
        goods: usize,
        ticks: u64,
        every: u64,
        diverge: bool,
        shocks: Vec<(u64, &'static str)>,
        phi: bool,
        refs: bool,
    }

    impl Synth {
        fn converged() -> Synth {
            Synth {
                goods: 4,
                ticks: 400,
                every: 1,
                diverge: false,
                shocks: vec![],
                phi: true,
                refs: true,
            }
        }

        fn name(i: usize) -> String {
            const BASE: [&str; 6] = ["tupperware", "steel", "grain", "labour", "energy", "plastic"];
            if i < BASE.len() {
                BASE[i].to_string()
            } else {
                format!("good_{i:04}")
            }
        }

        fn write(&self, dir: &Path) {
            let mut traj = String::from(TRAJ_HEADER);
            traj.push('\n');
            let mut met = String::from(MET_HEADER);
            met.push('\n');
            let mut t = 0;
            while t <= self.ticks {
                let tf = t as f64;
                let mut max_ex: f64 = 0.0;
                for g in 0..self.goods {
                    let reference = 1.0 + g as f64 * 0.37 + (g % 7) as f64;
                    let shocked = self.shocks.iter().filter(|s| s.0 <= t).count() as f64;
                    let reference = reference * (1.0 + 0.2 * shocked);
                    let price = if self.diverge {
                        reference
                            * 10f64
                                .powf(300.0 * tf / self.ticks as f64 * (1.0 + g as f64 * 0.01))
                                .min(1e300)
                    } else {
                        let since = self
                            .shocks
                            .iter()
                            .filter(|s| s.0 <= t)
                            .map(|s| t - s.0)
                            .min()
                            .unwrap_or(t);
                        let rate = 0.9 + 0.09 * ((g * 7919) % 100) as f64 / 100.0;
                        reference * (1.0 + 0.5 * (1.0 + g as f64 * 0.1) * rate.powf(since as f64))
                    };
                    let excess = (price - reference) / reference;
                    max_ex = max_ex.max(excess.abs());
                    let adjoint = reference * (1.0 + 1e-9);
                    let r = if self.refs {
                        format!("{reference}")
                    } else {
                        String::new()
                    };
                    writeln!(
                        traj,
                        "{t},{},{price},{},{},{excess},{adjoint},{r}",
                        Synth::name(g),
                        10.0 + excess,
                        10.0 - excess
                    )
                    .unwrap();
                }
                let gap = if self.phi {
                    let v = 3.0 * 0.93f64.powf(tf);
                    if v < 1e-16 {
                        "0".to_string()
                    } else {
                        format!("{v}")
                    }
                } else {
                    String::new()
                };
                let phi = if self.phi {
                    format!("{}", 5.0 + 0.1 * tf)
                } else {
                    String::new()
                };
                let cos = if self.diverge {
                    format!("{}", (-0.3 + 0.001 * tf).min(1.0))
                } else {
                    format!("{}", 1.0 - 0.9 * 0.97f64.powf(tf))
                };
                let shock = self
                    .shocks
                    .iter()
                    .filter(|s| s.0 == t)
                    .map(|s| s.1)
                    .collect::<Vec<_>>()
                    .join(";");
                let lyapunov = if self.refs {
                    format!("{}", 2.0 * 0.9f64.powf(tf))
                } else {
                    String::new()
                };
                let (mis, lag) = if self.phi {
                    (format!("{}", 0.6 * max_ex), format!("{}", 0.4 * max_ex))
                } else {
                    (String::new(), String::new())
                };
                writeln!(
                    met,
                    "{t},{max_ex},{},{},{max_ex},{phi},{gap},{cos},{cos},{lyapunov},{mis},{lag},0.01,{shock}",
                    max_ex * 0.5,
                    1e-9
                )
                .unwrap();
                t += self.every;
            }
            std::fs::write(dir.join("trajectory.csv"), traj).unwrap();
            std::fs::write(dir.join("metrics.csv"), met).unwrap();
        }

        fn data(&self) -> (tempfile::TempDir, RunData) {
            let dir = tempfile::tempdir().unwrap();
            self.write(dir.path());
            let data = read_run(dir.path()).unwrap();
            (dir, data)
        }
    }

    fn sweep_csv(params: &[(&str, &[&str])], reps: u64, wall: bool) -> String {
        let mut s = String::from("point,replicate,");
        for (n, _) in params {
            s.push_str(n);
            s.push(',');
        }
        s.push_str("seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine");
        if wall {
            s.push_str(",wall_seconds");
        }
        s.push('\n');
        // Cartesian product of the parameter values.
        let mut grid: Vec<Vec<&str>> = vec![vec![]];
        for (_, vals) in params {
            grid = grid
                .into_iter()
                .flat_map(|g| {
                    vals.iter().map(move |v| {
                        let mut g = g.clone();
                        g.push(v);
                        g
                    })
                })
                .collect();
        }
        for (point, g) in grid.iter().enumerate() {
            let x: f64 = g.iter().map(|v| v.parse::<f64>().unwrap_or(1.0)).product();
            for rep in 0..reps {
                let seed = 1000 + point as u64 * 10 + rep;
                let (outcome, ticks, err) = if x > 0.5 && rep % 2 == 0 {
                    ("diverged", 40 + rep, String::new())
                } else if x > 0.3 && rep == 1 {
                    ("max_ticks", 5000, "0.02".to_string())
                } else {
                    let t = (60.0 / x.max(1e-3)).min(4000.0) * (1.0 + 0.1 * rep as f64);
                    (
                        "converged",
                        t as u64,
                        format!("{}", 1e-9 * (1.0 + rep as f64) / x.max(1e-3)),
                    )
                };
                write!(
                    s,
                    "{point},{rep},{},{seed},{outcome},{ticks},{err},1e-7,0.99",
                    g.join(",")
                )
                .unwrap();
                if wall {
                    s.push_str(",0.5");
                }
                s.push('\n');
            }
        }
        s
    }

    fn sweep_data(params: &[(&str, &[&str])], reps: u64) -> (tempfile::TempDir, SweepData) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.csv");
        std::fs::write(&path, sweep_csv(params, reps, true)).unwrap();
        let data = read_sweep(&path).unwrap();
        (dir, data)
    }

    const STEPS: &[&str] = &["0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3"];
    const RATES: &[&str] = &["0.1", "0.2", "0.4", "0.6", "0.8"];

    /// Checks the PNG signature and the IHDR width/height.
    fn assert_png(bytes: &[u8], size: ChartSize) {
        assert!(bytes.len() > 33, "PNG too short");
        assert_eq!(&bytes[..8], &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        assert_eq!(&bytes[8..12], &[0, 0, 0, 13], "IHDR length");
        assert_eq!(&bytes[12..16], b"IHDR");
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        assert_eq!((w, h), (size.width, size.height));
        assert_eq!(bytes[24], 8, "bit depth");
        assert_eq!(bytes[25], 2, "colour type RGB");
        assert_eq!(&bytes[bytes.len() - 8..bytes.len() - 4], b"IEND");
    }

    const SMALL: ChartSize = ChartSize {
        width: 800,
        height: 600,
    };

    fn check_run(data: &RunData, size: ChartSize) -> Vec<u8> {
        let a = render_convergence(data, "test run", size).unwrap();
        assert_png(&a, size);
        let b = render_convergence(data, "test run", size).unwrap();
        assert!(a == b, "rendering twice must give identical bytes");
        a
    }

    fn check_sweep(data: &SweepData, size: ChartSize) -> Vec<u8> {
        let a = render_sweep(data, "test sweep", size).unwrap();
        assert_png(&a, size);
        let b = render_sweep(data, "test sweep", size).unwrap();
        assert!(a == b, "rendering twice must give identical bytes");
        a
    }

    #[test]
    fn converged_run_renders_deterministically() {
        let (_d, data) = Synth::converged().data();
        assert_eq!(data.trajectory.len(), 401 * 4);
        assert_eq!(data.metrics.len(), 401);
        check_run(&data, ChartSize::default());
    }

    /// Without a reference Φ* (large economies) the panel draws Φ itself and says that Φ* is
    /// unknown: it does not invent a minimum (Φ minus its smallest logged value drew a dip that
    /// was not there). With a reference, Φ − Φ* as logged.
    #[test]
    fn phi_without_reference_is_drawn_itself() {
        let (_d, mut data) = Synth::converged().data();
        for m in &mut data.metrics {
            m.phi_gap = None;
            m.lyapunov = None;
            m.phi = Some(10.0 + 2.0 * 0.9f64.powf(m.tick as f64));
        }
        let prep = ConvPrep::new(&data).unwrap();
        assert_eq!(prep.distance, DistanceView::Phi);
        for (q, m) in prep.phi.iter().zip(&data.metrics) {
            assert_eq!(q.1, m.phi.unwrap());
        }
        check_run(&data, SMALL);
        // with the reference, the gap as logged
        let (_d, data) = Synth::converged().data();
        let prep = ConvPrep::new(&data).unwrap();
        assert_eq!(prep.distance, DistanceView::Gap);
        assert_eq!(prep.phi_gap[0].1, data.metrics[0].phi_gap.unwrap());
        // neither: an empty panel that says why
        let (_d, mut data) = Synth {
            phi: false,
            refs: false,
            ..Synth::converged()
        }
        .data();
        for m in &mut data.metrics {
            m.lyapunov = None;
        }
        assert_eq!(ConvPrep::new(&data).unwrap().distance, DistanceView::Empty);
        check_run(&data, SMALL);
    }

    /// The dashed p* line is the reference price only: where a row has none (the reference
    /// solver did not take the economy), nothing is drawn, not the moving adjoint.
    #[test]
    fn pstar_is_drawn_only_where_there_is_a_reference() {
        let (_d, mut data) = Synth::converged().data();
        for r in data.trajectory.iter_mut().filter(|r| r.tick >= 200) {
            r.reference = None;
        }
        let prep = ConvPrep::new(&data).unwrap();
        for g in &prep.goods {
            for (q, r) in g.pstar.iter().zip(data.trajectory.iter().filter(|r| r.good == g.name)) {
                assert_eq!(q.1.is_nan(), r.reference.is_none(), "{} at {}", g.name, r.tick);
            }
        }
        check_run(&data, SMALL);
    }

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

    /// The shock wave panel: one point per good that arrived, at its depth, from
    /// `propagation.csv` with one shock (no shock_tick column) or several.
    #[test]
    fn shock_wave_is_read_and_drawn() {
        let (d, _) = Synth {
            goods: 3,
            ticks: 300,
            shocks: vec![(100, "tupperware.price=2")],
            ..Synth::converged()
        }
        .data();
        std::fs::write(
            d.path().join("propagation.csv"),
            "good,depth,arrival_tick,final_change\nsteel,1,102,1.5\ngrain,2,104,0.2\ntupperware,3,,0\n",
        )
        .unwrap();
        let data = read_run(d.path()).unwrap();
        assert_eq!(data.propagation.len(), 3);
        let prep = ConvPrep::new(&data).unwrap();
        assert_eq!(prep.wave.len(), 2);
        assert_eq!(prep.wave_missing, 1);
        assert_eq!((prep.wave[0].depth, prep.wave[0].after), (1.0, 2.0));
        assert_eq!(prep.wave_shocks, vec![(100, "tupperware.price=2".to_string())]);
        check_run(&data, SMALL);
        check_run(&data, ChartSize::default());
        std::fs::write(
            d.path().join("propagation.csv"),
            "shock_tick,good,depth,arrival_tick,final_change\n100,steel,1,102,1.5\n200,steel,1,210,-1\n",
        )
        .unwrap();
        let data = read_run(d.path()).unwrap();
        let prep = ConvPrep::new(&data).unwrap();
        assert_eq!(prep.wave_shocks.len(), 2);
        assert_eq!(prep.wave[1].after, 10.0);
        check_run(&data, SMALL);
    }

    #[test]
    fn moving_average_skips_gaps() {
        let pts = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0), (3.0, 5.0)];
        let m = moving_average(&pts, 1);
        assert_eq!(m[0].1, 1.0);
        assert!(m[1].1.is_nan());
        assert_eq!(m[2].1, 4.0);
        assert_eq!(m[3].1, 4.0);
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
        assert_eq!(data.metrics.len(), 100_001);
        check_run(&data, SMALL);
    }

    #[test]
    fn decimation_keeps_extremes_and_ends() {
        let pts: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, ((i * 7919) % 1000) as f64)).collect();
        let d = decimate(&pts, 50);
        assert!(d.len() <= 200);
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert!(d.iter().any(|p| p.1 == 999.0));
        assert!(d.iter().any(|p| p.1 == 0.0));
        assert_eq!(d, decimate(&pts, 50));
    }

    #[test]
    fn sweep_one_param_renders() {
        let (_d, data) = sweep_data(&[("market.step", STEPS)], 3);
        assert_eq!(data.param_names, vec!["market.step"]);
        assert_eq!(data.rows.len(), STEPS.len() * 3);
        check_sweep(&data, ChartSize::default());
    }

    #[test]
    fn sweep_one_param_categorical_renders() {
        let (_d, data) = sweep_data(&[("market.rule", &["walras", "tatonnement", "double_auction"])], 2);
        check_sweep(&data, SMALL);
    }

    #[test]
    fn sweep_two_params_renders() {
        let (_d, data) = sweep_data(&[("market.step", STEPS), ("agents.rate", RATES)], 2);
        assert_eq!(data.param_names.len(), 2);
        check_sweep(&data, ChartSize::default());
    }

    #[test]
    fn sweep_three_params_renders() {
        let (_d, data) = sweep_data(
            &[
                ("market.step", STEPS),
                ("agents.rate", RATES),
                ("market.noise", &["0", "0.1"]),
            ],
            1,
        );
        check_sweep(&data, SMALL);
    }

    #[test]
    fn sweep_without_wall_seconds_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.csv");
        std::fs::write(&path, sweep_csv(&[("market.step", STEPS)], 2, false)).unwrap();
        let data = read_sweep(&path).unwrap();
        assert!(data.rows.iter().all(|r| r.wall_seconds.is_none()));
        assert!(data
            .rows
            .iter()
            .any(|r| r.outcome == Outcome::Diverged && r.max_rel_error.is_none()));
    }

    fn run_error(traj: &str, met: Option<&str>) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("trajectory.csv"), traj).unwrap();
        if let Some(m) = met {
            std::fs::write(dir.path().join("metrics.csv"), m).unwrap();
        }
        read_run(dir.path()).unwrap_err().to_string()
    }

    const GOOD_METRICS: &str = "tick,max_rel_excess,max_rel_price_change,max_rel_adjoint_error,max_rel_reference_error,phi,phi_gap,cosine,spread,shock\n0,0.1,0.1,0.1,,,,,0.1,\n";

    #[test]
    fn truncated_trajectory_names_file_and_line() {
        let traj = format!("{TRAJ_HEADER}\n0,a,1,1,1,0,1,1\n1,a,1,1,1,0,1,1\n2,a,1");
        let msg = run_error(&traj, Some(GOOD_METRICS));
        assert!(msg.contains("trajectory.csv line 4"), "{msg}");
        assert!(msg.contains("expected 8 columns, found 3"), "{msg}");
        assert!(msg.contains("truncated"), "{msg}");
    }

    #[test]
    fn bad_number_names_column_and_line() {
        let traj = format!("{TRAJ_HEADER}\n0,a,1,1,1,0,1,1\n1,a,abc,1,1,0,1,1\n");
        let msg = run_error(&traj, Some(GOOD_METRICS));
        assert!(msg.contains("trajectory.csv line 3"), "{msg}");
        assert!(msg.contains("`price`") && msg.contains("\"abc\""), "{msg}");
    }

    #[test]
    fn missing_column_names_header_line() {
        let traj = "tick,good,price\n0,a,1\n";
        let msg = run_error(traj, Some(GOOD_METRICS));
        assert!(msg.contains("trajectory.csv line 1"), "{msg}");
        assert!(msg.contains("missing column `supply`"), "{msg}");
    }

    #[test]
    fn malformed_metrics_names_file_and_line() {
        let traj = format!("{TRAJ_HEADER}\n0,a,1,1,1,0,1,1\n");
        let met = format!("{GOOD_METRICS}1,0.1,0.1\n");
        let msg = run_error(&traj, Some(&met));
        assert!(msg.contains("metrics.csv line 3"), "{msg}");
        assert!(msg.contains("expected 10 columns, found 3"), "{msg}");
        let met = format!("{GOOD_METRICS}1,,0.1,0.1,,,,,0.1,\n");
        let msg = run_error(&traj, Some(&met));
        assert!(
            msg.contains("metrics.csv line 3") && msg.contains("`max_rel_excess` is empty"),
            "{msg}"
        );
    }

    #[test]
    fn missing_and_empty_files_are_reported() {
        let traj = format!("{TRAJ_HEADER}\n0,a,1,1,1,0,1,1\n");
        let msg = run_error(&traj, None);
        assert!(msg.contains("metrics.csv"), "{msg}");
        let msg = run_error("", Some(GOOD_METRICS));
        assert!(msg.contains("trajectory.csv") && msg.contains("empty"), "{msg}");
        let msg = run_error(&format!("{TRAJ_HEADER}\n"), Some(GOOD_METRICS));
        assert!(msg.contains("trajectory.csv") && msg.contains("no data rows"), "{msg}");
    }

    #[test]
    fn malformed_sweep_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.csv");
        let head = "point,replicate,market.step,seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine\n";
        std::fs::write(
            &path,
            format!("{head}0,0,0.1,1,converged,10,1e-9,1e-9,1\n1,0,0.2,2,exploded,10,,,\n"),
        )
        .unwrap();
        let msg = read_sweep(&path).unwrap_err().to_string();
        assert!(msg.contains("sweep.csv line 3") && msg.contains("exploded"), "{msg}");
        std::fs::write(&path, format!("{head}0,0,0.1,1,conv")).unwrap();
        let msg = read_sweep(&path).unwrap_err().to_string();
        assert!(
            msg.contains("sweep.csv line 2") && msg.contains("expected 9 columns, found 5"),
            "{msg}"
        );
        std::fs::write(
            &path,
            "point,replicate,seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine\n",
        )
        .unwrap();
        let msg = read_sweep(&path).unwrap_err().to_string();
        assert!(
            msg.contains("sweep.csv line 1") && msg.contains("no parameter columns"),
            "{msg}"
        );
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

    #[test]
    fn parameter_labels_are_short_but_distinct() {
        let raw: Vec<String> = ["0.1", "0.30000000000000004", "0.0010"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let nums = Some(vec![0.1, 0.30000000000000004, 0.001]);
        assert_eq!(display_labels(&raw, &nums), vec!["0.1", "0.3", "0.001"]);
        let raw: Vec<String> = ["1.0000001", "1.0000002"].iter().map(|s| s.to_string()).collect();
        let nums = Some(vec![1.0000001, 1.0000002]);
        assert_eq!(display_labels(&raw, &nums), raw);
    }

    #[test]
    fn tick_labels_are_compact() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1e-17), "10⁻¹⁷");
        assert_eq!(fmt_num(0.1 + 0.2), "0.3");
        assert_eq!(fmt_num(100000.0), "100000");
        assert_eq!(fmt_num(2.5e-7), "2.5×10⁻⁷");
        assert_eq!(fmt_num(-0.5), "-0.5");
        assert_eq!(log_major(1e-17, 1e300, 8).len(), 7);
        assert!(log_major(1.6, 2.6, 8).len() >= 3);
    }

    /// Writes one PNG of every kind to `examples_out/` (or `$PLOT_EXAMPLES_OUT`) for viewing.
    #[test]
    #[ignore]
    fn write_example_pngs() {
        let out = std::env::var_os("PLOT_EXAMPLES_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("examples_out"));
        std::fs::create_dir_all(&out).unwrap();
        let big = ChartSize::default();
        let runs: Vec<(&str, Synth)> = vec![
            ("converged", Synth::converged()),
            (
                "diverged",
                Synth {
                    diverge: true,
                    phi: false,
                    refs: false,
                    ..Synth::converged()
                },
            ),
            (
                "shocked",
                Synth {
                    goods: 5,
                    ticks: 600,
                    shocks: vec![
                        (200, "tupperware.price=2"),
                        (205, "steel.endowment=0.5"),
                        (450, "grain.tax=0.1"),
                    ],
                    ..Synth::converged()
                },
            ),
            (
                "many_goods",
                Synth {
                    goods: 200,
                    ticks: 300,
                    ..Synth::converged()
                },
            ),
            (
                "single_tick",
                Synth {
                    goods: 1,
                    ticks: 0,
                    ..Synth::converged()
                },
            ),
            (
                "long",
                Synth {
                    goods: 2,
                    ticks: 100_000,
                    every: 10,
                    ..Synth::converged()
                },
            ),
        ];
        for (name, s) in runs {
            let (_d, data) = s.data();
            let png = render_convergence(&data, &format!("example scenario: {name}"), big).unwrap();
            std::fs::write(out.join(format!("convergence_{name}.png")), png).unwrap();
        }
        let (_d, data) = Synth::converged().data();
        std::fs::write(
            out.join("convergence_small.png"),
            render_convergence(&data, "example: 800x600", SMALL).unwrap(),
        )
        .unwrap();
        type Params<'a> = Vec<(&'a str, &'a [&'a str])>;
        let sweeps: Vec<(&str, Params)> = vec![
            ("sweep_1param", vec![("market.step", STEPS)]),
            (
                "sweep_1param_categorical",
                vec![("market.rule", &["walras", "tatonnement", "double_auction"])],
            ),
            ("sweep_2param", vec![("market.step", STEPS), ("agents.rate", RATES)]),
            (
                "sweep_3param",
                vec![
                    ("market.step", STEPS),
                    ("agents.rate", RATES),
                    ("market.noise", &["0", "0.1"]),
                ],
            ),
        ];
        let dense_x: &'static [&'static str] = Box::leak(
            (0..30)
                .map(|i| &*Box::leak(format!("{:.4}", 0.001 * 1.3f64.powi(i)).into_boxed_str()))
                .collect::<Vec<&'static str>>()
                .into_boxed_slice(),
        );
        let dense_y: &'static [&'static str] = Box::leak(
            (0..20)
                .map(|i| &*Box::leak(format!("{}", 0.05 * (i + 1) as f64).into_boxed_str()))
                .collect::<Vec<&'static str>>()
                .into_boxed_slice(),
        );
        let mut sweeps = sweeps;
        sweeps.push((
            "sweep_2param_dense",
            vec![("market.step", dense_x), ("agents.rate", dense_y)],
        ));
        for (name, params) in sweeps {
            let (_d, data) = sweep_data(&params, 3);
            let png = render_sweep(&data, &format!("example {name}"), big).unwrap();
            std::fs::write(out.join(format!("{name}.png")), png).unwrap();
            let png = render_sweep(&data, &format!("example {name} 800x600"), SMALL).unwrap();
            std::fs::write(out.join(format!("{name}_small.png")), png).unwrap();
        }
    }
}
