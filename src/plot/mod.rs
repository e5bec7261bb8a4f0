//! Charts of pricegrad runs and sweeps, rendered to PNG (or SVG) bytes.
//!
//! * [`read_run`] + [`render_convergence`]: one PNG with stacked panels over the ticks of a
//!   run (prices against the reference, relative errors, the distance to equilibrium, the
//!   split of excess demand with the step cosine) and, for a run with a shock, the shock wave.
//!   [`read_run_selected`] reads a part of a run (some goods, some ticks: a [`Selection`]),
//!   whose chart says in its subtitle what was selected.
//! * [`read_sweep`] + [`render_sweep`]: ticks-to-converge against one parameter, or a heatmap
//!   over two parameters.
//! * [`render_convergence_as`], [`render_sweep_as`]: the same charts in a [`Format`].
//!
//! Rendering uses plotters' bitmap backend with DejaVu Sans embedded in the binary (no system
//! fonts, no C libraries) and a fixed PNG encoder setup, so the same input always gives the
//! same PNG bytes. The drawing code is generic over plotters' backends; the SVG backend lays
//! text out with the same embedded font and writes `<text>` elements that ask for it by name
//! ([`SVG_FONT_FAMILY`]).
//!
//! The files: `read` reads the CSV files (their rows are [`crate::output::rows`]),
//! `read_parquet` a run's Parquet files (`--format parquet`); `select` is a part of a run to
//! read; `canvas` is the image with its font, colours and sizes; `axis`, `series`, `data_area`,
//! `legend` and `panel` are the drawing kit; `convergence` and `sweep` are the two charts.

mod axis;
mod canvas;
mod convergence;
mod data_area;
#[cfg(test)]
mod fixtures;
mod legend;
mod panel;
mod read;
mod read_parquet;
mod run_data;
mod select;
mod series;
mod sweep;

pub use crate::output::rows::{MetricsRow, Outcome, PropagationRow, SweepRow, TrajectoryRow};
pub use canvas::{Format, SVG_FONT_FAMILY};
pub use convergence::{render_convergence, render_convergence_as, StationaryGood, StationaryView};
pub use read::{read_propagation, read_run, read_run_files, read_run_selected, read_sweep, SweepData};
pub use run_data::RunData;
pub use select::{Selected, Selection, TickRange};
pub use sweep::{render_sweep, render_sweep_as};

use plotters::drawing::DrawingAreaErrorKind;
use std::path::PathBuf;

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
    /// A selection of goods or ticks the run cannot give (`message`), and what to do (`help`).
    #[error("{message}")]
    Selection { message: String, help: String },
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
