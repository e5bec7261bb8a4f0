//! `pricegrad._native`: the Rust side of the Python package. Each function takes the scenario
//! as the Python side normalised it (a path, or TOML text with a label) and calls the same
//! library functions as the command line; the Python side (`python/pricegrad/`) turns the
//! results into DataFrames and objects.
//!
//! The files: `input.rs` (the scenario argument, loaded), `dict_toml.rs` (a dict as TOML
//! text), `errors.rs` (errors as the exceptions of `pricegrad.errors`), `interrupt.rs` (the
//! GIL released, Ctrl-C), and one file per function group (`run.rs`, `gradient.rs`,
//! `sweep.rs`).

mod dict_toml;
mod errors;
mod gradient;
mod input;
mod interrupt;
mod run;
mod sweep;

use pyo3::prelude::*;

/// A scenario dict as TOML text (the text `run` and the others load for a dict).
#[pyfunction]
fn to_toml(scenario: &Bound<'_, PyAny>) -> PyResult<String> {
    dict_toml::to_toml(scenario)
}

/// One value as inline TOML (how a dict given as a `set` value is written).
#[pyfunction]
fn inline_toml(value: &Bound<'_, PyAny>) -> PyResult<String> {
    dict_toml::inline(value)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(run::run, m)?)?;
    m.add_function(wrap_pyfunction!(run::check, m)?)?;
    m.add_function(wrap_pyfunction!(gradient::gradient, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep, m)?)?;
    m.add_function(wrap_pyfunction!(to_toml, m)?)?;
    m.add_function(wrap_pyfunction!(inline_toml, m)?)?;
    Ok(())
}
