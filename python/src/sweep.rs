//! `sweep`: a parameter sweep through the library's sweep ([`pricegrad::sweep`], what
//! `pricegrad sweep` runs), into a directory; the caller reads its `sweep.csv`.

use crate::errors;
use crate::interrupt;
use crate::run::pool;
use pricegrad::sweep::{self as library, Options, Progress, Request, Row};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// No progress display.
struct Quiet;
impl Progress for Quiet {
    fn start(&self, _: u64, _: &[Row]) {}
    fn done(&self, _: &Row) {}
}

/// `pricegrad sweep FILE --param P ... --out OUT`; the directory and the run counts.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (file, params, sets, replicates, jobs, seed, log_every, out, timings, force, format=None))]
pub fn sweep(
    py: Python<'_>,
    file: PathBuf,
    params: Vec<String>,
    sets: Vec<String>,
    replicates: Option<u64>,
    jobs: Option<usize>,
    seed: Option<u64>,
    log_every: Option<u64>,
    out: PathBuf,
    timings: bool,
    force: bool,
    format: Option<&str>,
) -> PyResult<Py<PyDict>> {
    let format = crate::run::table_format(format)?;
    let pool = pool(py, jobs, "jobs")?;
    let request = Request {
        file,
        params,
        sets,
        replicates,
        seed,
        log_every,
        ..Default::default()
    };
    let plan = py
        .detach(|| pool.install(|| library::prepare(&request)))
        .map_err(|e| errors::sweep(py, &e))?;
    let format = format
        .or(plan.base.log.format.map(pricegrad::output::format::Format::from))
        .unwrap_or_default();
    let opts = Options {
        format,
        out: Some(out),
        resume: false,
        timing: timings,
        chart_size: Default::default(),
        force,
    };
    let (result, signal) = interrupt::run(py, |stop| pool.install(|| library::execute(&plan, &opts, &Quiet, stop)));
    let s = result.map_err(|e| errors::sweep(py, &e))?;
    if let Some(e) = signal {
        return Err(e);
    }
    let d = PyDict::new(py);
    d.set_item("dir", &s.dir)?;
    d.set_item("runs", s.total)?;
    d.set_item("converged", s.converged)?;
    d.set_item("diverged", s.diverged)?;
    d.set_item("max_ticks", s.max_ticks)?;
    d.set_item("interrupted", s.interrupted)?;
    d.set_item("seconds", s.seconds)?;
    d.set_item("format", format.to_string())?;
    Ok(d.unbind())
}
