//! `run` and `check`: one simulation with its checks. `run` records it in a directory through
//! [`pricegrad::run_dir::record`], the function `pricegrad run` uses, so the files are the
//! command line's files; `check` keeps nothing and returns the summary.

use crate::errors;
use crate::input::Input;
use crate::interrupt;
use pricegrad::output::format::Format;
use pricegrad::output::run_writer::write_summary;
use pricegrad::run::{self as engine, Discard, Provenance, Require};
use pricegrad::run_dir::{self, RunDirSettings};
use pricegrad::scenario;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// The rayon pool of `threads` workers (None: one per core, as `--threads` left out).
pub fn pool(py: Python<'_>, threads: Option<usize>, what: &str) -> PyResult<rayon::ThreadPool> {
    if threads == Some(0) {
        return Err(errors::usage(
            py,
            &format!("{what}=0: the engine needs at least one thread"),
            &format!("leave {what} out (None) to use every core, or give a number >= 1"),
        ));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| {
            errors::failed(
                py,
                &format!("cannot start {} threads: {e}", threads.unwrap_or(0)),
                "use fewer threads",
            )
        })
}

fn require(py: Python<'_>, text: &str) -> PyResult<Require> {
    text.parse()
        .map_err(|e: String| errors::usage(py, &e, "require is 'all' (the default) or 'adjoint'"))
}

/// Simulate, check and write the files into `out` (what `pricegrad run FILE --out OUT` does);
/// returns what the caller needs besides the files: the directory, the outcome, whether it
/// passed, the files written, why the chart is missing, and what run it replaced.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (kind, scenario, sets, seed, threads, out, timings, force, require_checks, format=None))]
pub fn run(
    py: Python<'_>,
    kind: &str,
    scenario: String,
    sets: Vec<String>,
    seed: Option<u64>,
    threads: Option<usize>,
    out: PathBuf,
    timings: bool,
    force: bool,
    require_checks: &str,
    format: Option<&str>,
) -> PyResult<Py<PyDict>> {
    let input = Input::new(kind, scenario);
    let require = require(py, require_checks)?;
    let format = table_format(format)?;
    let pool = pool(py, threads, "threads")?;
    let loaded = input.load(&sets, seed).map_err(|e| errors::input(py, &e))?;
    // as --format: the argument, else the scenario's [log] format, else CSV
    let format = format
        .or(loaded.economy.log.format.map(Format::from))
        .unwrap_or_default();
    let settings = RunDirSettings {
        format,
        dir: out.clone(),
        force,
        chart_size: Default::default(),
        timings,
        require,
        provenance: Provenance {
            command: None,
            effective_scenario: String::new(),
            scenario_file: loaded.label.clone(),
            scenario_sha256: input.sha256(),
            sets: sets.clone(),
            tables: run_dir::table_hashes(&loaded.label, &loaded.source),
        },
        effective: scenario::effective::of_text(&loaded.label, &loaded.source, &sets, &loaded.economy),
    };
    let economy = loaded.economy;
    drop(loaded.source);
    let (recorded, signal) = interrupt::run(py, |stop| {
        pool.install(|| run_dir::record(economy, settings, &mut |_| {}, stop))
    });
    let r = recorded.map_err(|e| errors::run_dir(py, &e))?;
    if let Some(e) = signal {
        return Err(e);
    }
    let d = PyDict::new(py);
    d.set_item("dir", &out)?;
    d.set_item("outcome", r.report.outcome)?;
    d.set_item("passed", r.report.pass && r.chart_error.is_none())?;
    d.set_item("written", r.written.clone())?;
    d.set_item("chart_error", r.chart_error.clone())?;
    d.set_item("replaced", r.replaced.clone())?;
    d.set_item("format", format.to_string())?;
    Ok(d.unbind())
}

/// `format=` of `run` and `sweep`: "csv", "parquet" or None (the scenario's `[log] format`).
pub fn table_format(format: Option<&str>) -> PyResult<Option<Format>> {
    format
        .map(|f| f.parse::<Format>())
        .transpose()
        .map_err(pyo3::exceptions::PyValueError::new_err)
}

/// Simulate and check, write nothing (what `pricegrad check` does); `summary.json` as it
/// would be written (without provenance), as JSON text.
#[pyfunction]
#[pyo3(signature = (kind, scenario, sets, seed, threads, timings, require_checks))]
#[allow(clippy::too_many_arguments)]
pub fn check(
    py: Python<'_>,
    kind: &str,
    scenario: String,
    sets: Vec<String>,
    seed: Option<u64>,
    threads: Option<usize>,
    timings: bool,
    require_checks: &str,
) -> PyResult<String> {
    let input = Input::new(kind, scenario);
    let require = require(py, require_checks)?;
    let pool = pool(py, threads, "threads")?;
    let loaded = input.load(&sets, seed).map_err(|e| errors::input(py, &e))?;
    let economy = loaded.economy;
    drop(loaded.source);
    let (result, signal) = interrupt::run(py, |stop| {
        pool.install(|| engine::execute(economy, &mut Discard, &mut |_| {}, stop))
    });
    let mut report = result.map_err(|e| errors::failed(py, &e.to_string(), "this is a bug: check writes nothing"))?;
    if let Some(e) = signal {
        return Err(e);
    }
    report.set_require(require);
    if !timings {
        report.timings = None;
    }
    let mut json = Vec::new();
    write_summary(&mut json, &report).map_err(|e| errors::failed(py, &e.to_string(), "this is a bug"))?;
    Ok(String::from_utf8_lossy(&json).into_owned())
}
