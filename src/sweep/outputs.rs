//! The finished sweep's files: `sweep.csv`, `sweep.parquet` (`--format parquet`), `sweep.png`
//! (unsharded) and the completed `sweep.json`, each written under a temporary name and renamed
//! into place together.

use super::{Error, Manifest, Row};
use crate::output::atomic::{self, Staged};
use crate::output::files;
use crate::output::format::Format;
use crate::output::rows::sweep as sweep_rows;
use crate::plot::{self, ChartSize};
use std::path::Path;

/// under a temporary name, renamed into place together once all are written (so a failure
/// leaves the directory as it was, and no temporary file).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_outputs(
    dir: &Path,
    name: &str,
    manifest: &Manifest,
    paths: &[String],
    rows: &[Row],
    timing: bool,
    size: ChartSize,
    chart: bool,
    format: Format,
) -> Result<Vec<&'static str>, Error> {
    let mut stage = Staged::default();
    let csv_path = dir.join(files::SWEEP_CSV);
    stage
        .write_with(&csv_path, |out| sweep_rows::write(out, paths, rows, timing))
        .map_err(|e| Error::io("write", &csv_path, e))?;
    let mut files = vec![files::SWEEP_CSV, files::SWEEP_MANIFEST];
    let parquet = dir.join(files::SWEEP_PARQUET);
    if format == Format::Parquet {
        // beside sweep.csv, which resume, merge and plot read
        stage
            .write_with(&parquet, |out| sweep_rows::write_parquet(out, paths, rows, timing))
            .map_err(|e| Error::io("write", &parquet, e))?;
        files.insert(1, files::SWEEP_PARQUET);
    }
    if chart && !rows.is_empty() {
        let csv_tmp = atomic::temp_name(&csv_path);
        let data = plot::read_sweep(&csv_tmp).map_err(|e| {
            Error::failed(
                format!("cannot read back {}: {e}", csv_path.display()),
                "re-run the sweep",
            )
        })?;
        let png = plot::render_sweep(&data, name, size).map_err(|e| {
            Error::failed(
                format!("cannot draw the sweep chart: {e}"),
                "try `--chart-size 1600x1200`; nothing was written (a sweep keeps its finished runs: `--resume` \
                 writes the files without running them again)",
            )
        })?;
        let png_path = dir.join(files::SWEEP_PNG);
        stage
            .write(&png_path, &png)
            .map_err(|e| Error::io("write", &png_path, e))?;
        files.push(files::SWEEP_PNG);
    }
    // the manifest last: `complete` says the other files are in place
    let mut m = manifest.clone();
    m.complete = true;
    let manifest_path = dir.join(files::SWEEP_MANIFEST);
    stage
        .write(&manifest_path, m.to_json().as_bytes())
        .map_err(|e| Error::io("write", &manifest_path, e))?;
    stage
        .commit()
        .map_err(|e| Error::io("move the results into place in", dir, e))?;
    if format == Format::Csv {
        // an earlier sweep's
        let _ = std::fs::remove_file(&parquet);
    }
    Ok(files)
}
