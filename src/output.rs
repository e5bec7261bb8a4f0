//! Run outputs (DESIGN.md section 7): `summary.json`, `trajectory.csv` (tidy, one row per
//! logged tick and good), `metrics.csv` (one row per logged tick). Every file is written to a
//! temporary name in the output directory and renamed into place when complete, so a crash
//! never leaves a half-written file under the final name.

use crate::diagnostics::{GoodRow, MetricsRow};
use crate::run::{Report, Sink};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Header of `trajectory.csv`.
pub const TRAJECTORY_HEADER: &str = "tick,good,price,supply,demand,excess,adjoint,reference";
/// Header of `metrics.csv`.
pub const METRICS_HEADER: &str = "tick,max_rel_excess,max_rel_price_change,max_rel_adjoint_error,max_rel_reference_error,phi,phi_gap,cosine,spread,shock";

/// Write `bytes` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_name(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// A CSV file being written under a temporary name.
struct TempCsv {
    tmp: PathBuf,
    dest: PathBuf,
    out: BufWriter<File>,
}

impl TempCsv {
    fn create(dest: PathBuf, header: &str) -> io::Result<TempCsv> {
        let tmp = temp_name(&dest);
        let mut out = BufWriter::with_capacity(1 << 16, File::create(&tmp)?);
        writeln!(out, "{header}")?;
        Ok(TempCsv { tmp, dest, out })
    }

    fn commit(self) -> io::Result<()> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&self.tmp, &self.dest)
    }
}

/// Format an optional number: empty when absent or not finite (no NaN/inf is ever written).
/// Shortest representation that reads back to the same f64; exponent form for very small
/// or large magnitudes.
pub fn opt(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => {
            let a = v.abs();
            if a == 0.0 || (1e-4..1e15).contains(&a) {
                format!("{v}")
            } else {
                format!("{v:e}")
            }
        }
        _ => String::new(),
    }
}

fn num(v: f64) -> String {
    opt(Some(v))
}

/// Writes a run's CSV files as rows arrive, and its summary at the end.
pub struct RunWriter {
    dir: PathBuf,
    goods: Vec<String>,
    trajectory: Option<TempCsv>,
    metrics: Option<TempCsv>,
}

impl RunWriter {
    /// Create the output directory and the temporary CSV files.
    pub fn create(dir: &Path, good_names: &[String]) -> io::Result<RunWriter> {
        fs::create_dir_all(dir)?;
        Ok(RunWriter {
            dir: dir.to_path_buf(),
            goods: good_names.to_vec(),
            trajectory: Some(TempCsv::create(dir.join("trajectory.csv"), TRAJECTORY_HEADER)?),
            metrics: Some(TempCsv::create(dir.join("metrics.csv"), METRICS_HEADER)?),
        })
    }

    /// Move the CSV files into place and write `summary.json`. With `timing` false the
    /// wall-clock times are left out, so the file is bit-identical across runs.
    pub fn finish(mut self, report: &Report, timing: bool) -> io::Result<()> {
        if let Some(t) = self.trajectory.take() {
            t.commit()?;
        }
        if let Some(m) = self.metrics.take() {
            m.commit()?;
        }
        let mut value = serde_json::to_value(report).map_err(io::Error::other)?;
        if !timing {
            if let Some(obj) = value.as_object_mut() {
                obj.remove("timings");
            }
        }
        let mut text = serde_json::to_string_pretty(&value).map_err(io::Error::other)?;
        text.push('\n');
        write_atomic(&self.dir.join("summary.json"), text.as_bytes())
    }
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        // An unfinished writer (error, panic) removes its temporary files.
        for t in [self.trajectory.take(), self.metrics.take()].into_iter().flatten() {
            drop(t.out);
            let _ = fs::remove_file(&t.tmp);
        }
    }
}

impl Sink for RunWriter {
    fn record(&mut self, m: &MetricsRow, goods: &[GoodRow]) -> io::Result<()> {
        if let Some(t) = self.trajectory.as_mut() {
            for r in goods {
                writeln!(
                    t.out,
                    "{},{},{},{},{},{},{},{}",
                    r.tick,
                    self.goods[r.good],
                    num(r.price),
                    num(r.supply),
                    num(r.demand),
                    num(r.excess),
                    num(r.adjoint),
                    opt(r.reference)
                )?;
            }
        }
        if let Some(t) = self.metrics.as_mut() {
            writeln!(
                t.out,
                "{},{},{},{},{},{},{},{},{},{}",
                m.tick,
                num(m.max_rel_excess),
                num(m.max_rel_price_change),
                num(m.max_rel_adjoint_error),
                opt(m.max_rel_reference_error),
                opt(m.phi),
                opt(m.phi_gap),
                opt(m.cosine),
                num(m.spread),
                m.shock
            )?;
        }
        Ok(())
    }
}
