//! A run recorded in its output directory: the directory made ready, the run, and every file
//! written and renamed into place together (what `pricegrad run` does, and the Python
//! package's `run`). The library prints nothing: what happened comes back as [`Recorded`]
//! or a [`RunDirError`].
//!
//! A directory holds one run: a new run into it replaces the files of the one before, also
//! when that was another scenario, other `--set`s or another seed. [`Recorded::replaced`]
//! says when it was, so the caller can tell the user; `summary.json` and `scenario.toml` say
//! what the files now hold.

use crate::economy::Economy;
use crate::output::directory::{self, DirError};
use crate::output::files;
use crate::output::format::Format;
use crate::output::run_writer::RunWriter;
use crate::plot::{self, ChartSize};
use crate::run::{self, Provenance, Report, Require, TableHash};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// How to record a run.
#[derive(Debug, Clone)]
pub struct RunDirSettings {
    pub dir: PathBuf,
    /// Write into a directory pricegrad did not make ([`directory::prepare_dir`]).
    pub force: bool,
    pub chart_size: ChartSize,
    /// Keep the wall-clock times (and the command line) in `summary.json`; without them the
    /// file is bit-identical from run to run.
    pub timings: bool,
    pub require: Require,
    /// What produced the run (its `command` is left out when `timings` is false).
    pub provenance: Provenance,
    /// The effective scenario ([`crate::scenario::effective`]), written as `scenario.toml`;
    /// None for a scenario file too large to be rewritten.
    pub effective: Option<Result<String, String>>,
    /// The format of the tables (trajectory, metrics, firms): CSV or Parquet.
    pub format: Format,
}

/// A recorded run.
#[derive(Debug)]
pub struct Recorded {
    /// The report, with its timings (also when `summary.json` leaves them out).
    pub report: Report,
    /// Why `convergence.png` could not be drawn (the other files are written).
    pub chart_error: Option<String>,
    /// The run diverged in its first tick: no tick was logged, there is no chart.
    pub nothing_to_draw: bool,
    /// The files written, in the order listed to the user.
    pub written: Vec<&'static str>,
    /// What the directory held before, when it was the run of another scenario file, other
    /// `--set`s or another seed (its files were replaced).
    pub replaced: Option<String>,
}

/// Why a run could not be recorded. Nothing of the run is in the directory.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// The directory cannot be used (nothing ran).
    #[error(transparent)]
    Dir(#[from] DirError),
    /// Writing failed (before or after the run): the directory keeps its earlier files and
    /// no temporary file.
    #[error(transparent)]
    Write(#[from] io::Error),
}

/// Make `settings.dir` ready, run `economy` (calling `progress` now and then; `stop` ends
/// the run at the end of a tick, as an outcome), and write its files.
pub fn record(
    economy: Economy,
    settings: RunDirSettings,
    progress: &mut dyn FnMut(run::Progress),
    stop: &AtomicBool,
) -> Result<Recorded, RunDirError> {
    let dir = settings.dir.as_path();
    let before = earlier_run(dir);
    directory::prepare_dir(dir, settings.force, "run")?;
    let mut writer = RunWriter::create(dir, settings.format)?;
    // on an error the writer's drop removes the temporary files
    let mut report = run::execute(economy, &mut writer, progress, stop)?;
    report.set_require(settings.require);
    // a run that diverged in its first tick logged nothing: there is no chart to draw
    let nothing_to_draw = report.outcome == "diverged" && report.ticks <= 1;
    let mut provenance = settings.provenance;
    if !settings.timings {
        provenance.command = None;
    }
    let effective = match settings.effective {
        Some(Ok(text)) => {
            provenance.effective_scenario = files::SCENARIO.to_string();
            Some(header(&provenance, &report) + &text)
        }
        Some(Err(e)) => {
            provenance.effective_scenario = format!("not written: {e}");
            None
        }
        None => {
            provenance.effective_scenario = format!(
                "not written: the scenario file is {} bytes or more (it is never parsed whole); scenario_file, \
                 scenario_sha256 and sets identify the run",
                crate::scenario::chunked::CHUNKED_FROM
            );
            None
        }
    };
    let replaced = before.and_then(|b| differs(&b, &provenance, report.seed));
    report.provenance = Some(provenance);
    let timings = report.timings.clone();
    if !settings.timings {
        report.timings = None;
    }
    let chart = |trajectory: &Path, metrics: &Path, wave: Option<&Path>| {
        if nothing_to_draw {
            return Err(String::new());
        }
        let mut data = plot::read_run_files(trajectory, metrics, report.scenario.clone()).map_err(|e| e.to_string())?;
        if let Some(wave) = wave {
            data.propagation = plot::read_propagation(wave).map_err(|e| e.to_string())?;
        }
        data.stationary = plot::StationaryView::of_report(&report);
        plot::render_convergence(&data, &report.scenario, settings.chart_size).map_err(|e| e.to_string())
    };
    let chart_error = writer.finish(&report, effective.as_deref(), chart)?;
    report.timings = timings;
    let chart_error = chart_error.filter(|_| !nothing_to_draw);
    let table = |name| settings.format.name(name);
    let mut written = vec![
        files::SUMMARY,
        table(files::TRAJECTORY),
        table(files::METRICS),
        table(files::FIRMS),
    ];
    if dir.join(files::PROPAGATION).exists() {
        written.push(files::PROPAGATION);
    }
    if effective.is_some() {
        written.push(files::SCENARIO);
    }
    if chart_error.is_none() && !nothing_to_draw {
        written.push(files::CONVERGENCE_PNG);
    }
    Ok(Recorded {
        report,
        chart_error,
        nothing_to_draw,
        written,
        replaced,
    })
}

/// The first lines of `scenario.toml`: what it is and how to run it again.
fn header(p: &Provenance, report: &Report) -> String {
    let sets = if p.sets.is_empty() {
        String::new()
    } else {
        format!("\n# with --set {}", p.sets.join(" --set "))
    };
    format!(
        "# The effective scenario of the run in this directory (pricegrad {}): {}\n\
         # (SHA-256 {}){sets},\n\
         # with every [market], [agents] and [run] setting written out; run.seed = {} is the run's seed.\n\
         # `pricegrad run THIS_FILE --out DIR` runs it again and writes the same files (less the\n\
         # wall-clock times in summary.json).\n\n",
        report.version, p.scenario_file, p.scenario_sha256, report.seed
    )
}

/// The tables a scenario `text` (labelled `label`) names, with their SHA-256 (none for a
/// scenario without `[tables]`). Each file is read streamed.
pub fn table_hashes(label: &str, text: &str) -> Vec<TableHash> {
    crate::scenario::table_files(label, text)
        .unwrap_or_default()
        .into_iter()
        .map(|(table, file, path)| TableHash {
            sha256: crate::scenario::sha256_file(&path).unwrap_or_else(|e| format!("unreadable: {e}")),
            file,
            table: table.to_string(),
        })
        .collect()
}

/// The provenance and seed of the run a directory holds (None when it holds none, or its
/// summary cannot be read).
fn earlier_run(dir: &Path) -> Option<(Provenance, u64)> {
    let bytes = std::fs::read(dir.join(files::SUMMARY)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let p = &v["provenance"];
    let text = |k: &str| p[k].as_str().map(str::to_string);
    Some((
        Provenance {
            command: None,
            effective_scenario: String::new(),
            scenario_file: text("scenario_file")?,
            scenario_sha256: text("scenario_sha256")?,
            sets: p["sets"]
                .as_array()?
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            tables: p["tables"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| TableHash {
                    file: t["file"].as_str().unwrap_or_default().to_string(),
                    sha256: t["sha256"].as_str().unwrap_or_default().to_string(),
                    table: t["table"].as_str().unwrap_or_default().to_string(),
                })
                .collect(),
        },
        v["seed"].as_u64()?,
    ))
}

/// How the earlier run differs from this one, if it does.
fn differs((old, old_seed): &(Provenance, u64), new: &Provenance, seed: u64) -> Option<String> {
    let mut what = Vec::new();
    if old.scenario_sha256 != new.scenario_sha256 {
        what.push(format!(
            "scenario {} (SHA-256 {:.12})",
            old.scenario_file, old.scenario_sha256
        ));
    }
    if old.tables != new.tables {
        what.push("other tables".to_string());
    }
    if old.sets != new.sets {
        what.push(if old.sets.is_empty() {
            "no --set".to_string()
        } else {
            format!("--set {}", old.sets.join(" --set "))
        });
    }
    if *old_seed != seed {
        what.push(format!("seed {old_seed}"));
    }
    (!what.is_empty()).then(|| what.join(", "))
}
