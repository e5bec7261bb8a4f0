//! The library's errors as Python exceptions (the classes are in `pricegrad/errors.py`):
//! each exception's `str()` is the text `pricegrad` prints for the same error, and its
//! attributes hold the parts (message, file, line, column, help).

use pricegrad::output::atomic::io_help;
use pricegrad::run_dir::RunDirError;
use pricegrad::scenario::{InputError, Location};
use pricegrad::sweep;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// An exception class of `pricegrad.errors`, called with `args`, as a PyErr.
fn raise<'py>(py: Python<'py>, class: &str, args: impl pyo3::call::PyCallArgs<'py>) -> PyErr {
    let made = py
        .import("pricegrad.errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.call1(args));
    match made {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// The command line's `error: MESSAGE` and `  = help: HELP` lines (src/cli/mod.rs, `render`).
fn render(message: &str, help: &str) -> String {
    format!("error: {message}\n  = help: {help}\n")
}

/// `ScenarioError`: `rendered` is what the command line prints for `e`.
pub fn scenario(py: Python<'_>, e: &InputError, rendered: String) -> PyErr {
    let problems: PyResult<Vec<Bound<'_, PyDict>>> = e
        .problems
        .iter()
        .map(|p| {
            let d = PyDict::new(py);
            d.set_item("message", &p.message)?;
            d.set_item("help", &p.help)?;
            let mut row = None;
            let (file, line, column, set) = match &p.location {
                Location::Span(r) => {
                    let (l, c) = e.line_col(r.start);
                    (
                        e.file.clone(),
                        Some(l as u64),
                        Some(c.into_pyobject(py)?.into_any()),
                        None,
                    )
                }
                Location::Set(arg) => (e.file.clone(), None, None, Some(arg.clone())),
                Location::File => (e.file.clone(), None, None, None),
                // a cell of a table ([tables]): the table's file, its line (a Parquet file's
                // data row, as `row`: it has no lines), the column's name
                Location::Table { file, line, column } => {
                    let (line, at_row) = match file.ends_with(".parquet") {
                        true => (None, Some(*line)),
                        false => (Some(*line), None),
                    };
                    row = at_row;
                    (
                        file.clone(),
                        line,
                        Some(column.clone().into_pyobject(py)?.into_any()),
                        None,
                    )
                }
            };
            d.set_item("file", file)?;
            d.set_item("line", line)?;
            d.set_item("row", row)?;
            d.set_item("column", column)?;
            d.set_item("set", set)?;
            Ok(d)
        })
        .collect();
    match problems {
        Ok(problems) => raise(py, "ScenarioError", (rendered, problems)),
        Err(err) => err,
    }
}

/// A scenario that cannot be read, parsed or validated.
pub fn input(py: Python<'_>, e: &InputError) -> PyErr {
    scenario(py, e, e.to_string())
}

/// A bad argument (`UsageError`).
pub fn usage(py: Python<'_>, message: &str, help: &str) -> PyErr {
    raise(py, "UsageError", (render(message, help), message, help))
}

/// A run or a computation that failed (`RunError`).
pub fn failed(py: Python<'_>, message: &str, help: &str) -> PyErr {
    raise(py, "RunError", (render(message, help), message, help))
}

/// An output directory that cannot be used, or files that could not be written (`OutputError`).
pub fn output(py: Python<'_>, message: &str, help: &str) -> PyErr {
    raise(py, "OutputError", (render(message, help), message, help))
}

/// Why a run could not be recorded.
pub fn run_dir(py: Python<'_>, e: &RunDirError) -> PyErr {
    match e {
        RunDirError::Dir(d) => output(py, &d.to_string(), d.help()),
        RunDirError::Write(w) => output(py, &w.to_string(), io_help(w)),
    }
}

/// Why a sweep stopped, worded as `pricegrad sweep` words it (src/cli/sweep.rs).
pub fn sweep(py: Python<'_>, e: &sweep::Error) -> PyErr {
    match e {
        sweep::Error::Scenario(error) => input(py, error),
        sweep::Error::Value { error, note } => scenario(
            py,
            error,
            format!("{error}  = note: {note}; sweep values are applied like --set\n"),
        ),
        sweep::Error::Dir(d) => output(py, &d.to_string(), d.help()),
        other => {
            let help = other.help().unwrap_or_default();
            match (other.kind(), other) {
                (_, sweep::Error::Io { .. }) => output(py, &other.to_string(), help),
                (sweep::Kind::Input, _) => usage(py, &other.to_string(), help),
                (sweep::Kind::Failed, _) => failed(py, &other.to_string(), help),
            }
        }
    }
}
