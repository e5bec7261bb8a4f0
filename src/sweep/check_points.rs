//! Every point of a sweep validated before anything runs, and each point's base seed (its
//! `run.seed`, or `--seed`). A grid: each value of each parameter on its own first (the
//! clearest message), then every point. A design table: its columns' paths, then every row;
//! the error names the design file, line and column (for a row that fails, the cell that fails
//! on its own, when one does).

use super::design::DesignFile;
use super::{Error, Grid, Points};
use crate::scenario::{self, InputError, ScenarioFile};
use rayon::prelude::*;

/// The scenario every point starts from: the parsed file with the `--set`s applied.
pub(super) struct Base<'a> {
    pub(super) label: &'a str,
    pub(super) text: &'a str,
    pub(super) file: &'a ScenarioFile,
    pub(super) seed: Option<u64>,
}

impl Base<'_> {
    /// The base with `sets` applied, validated: its `run.seed`.
    fn validate(&self, sets: &[String]) -> Result<u64, InputError> {
        let mut file = self.file.clone();
        scenario::apply_overrides(&mut file, self.label, self.text, sets)?;
        scenario::validate(&file, self.text, self.seed)
            .map(|e| e.run.seed)
            .map_err(|p| InputError::new(self.label, self.text, p))
    }

    /// Whether `--set path=value` applies (parses) to the base, without validating; the
    /// message when it does not.
    fn applies(&self, path: &str, value: &str) -> Result<(), String> {
        scenario::overrides::apply(&mut self.file.clone(), &format!("{path}={value}"))
    }
}

/// A grid: every value on its own, then every point; the base seed of each point.
pub(super) fn check_grid(base: &Base, grid: &Grid) -> Result<Vec<u64>, Error> {
    check_values(base, grid)?;
    let points = Points::Grid(grid.clone());
    let n = points.count();
    let checked: Vec<Result<u64, Error>> = (0..n)
        .into_par_iter()
        .map(|point| {
            base.validate(&points.assignments(point)).map_err(|error| Error::Value {
                error,
                note: format!("at grid point {point} of {n}: {}", points.describe(point)),
            })
        })
        .collect();
    // the first error in point order
    checked.into_iter().collect()
}

/// Every value of every grid parameter on its own.
fn check_values(base: &Base, grid: &Grid) -> Result<(), Error> {
    for p in &grid.params {
        for v in &p.values {
            let set = format!("{}={v}", p.path);
            base.validate(std::slice::from_ref(&set))
                .map_err(|error| Error::Value {
                    error,
                    note: format!("the sweep sets {set} (parameter {} = {})", p.path, p.spec),
                })?;
        }
    }
    Ok(())
}

/// Why a row of a design fails.
enum RowError {
    /// The cell in this column does not parse as a value of its path.
    Cell(usize, String),
    /// The point does not validate.
    Invalid(InputError),
}

/// A design: the columns' paths, then every row; the base seed of each point.
pub(super) fn check_design(base: &Base, d: &DesignFile) -> Result<Vec<u64>, Error> {
    let design = &d.design;
    let columns = &design.columns;
    // a path is known when some value applies to it: the first row's, a number, or any other
    // row's; when none does, the column's name is what is wrong
    for (c, path) in columns.iter().enumerate() {
        let Err(message) = base.applies(path, &design.rows[0][c]) else {
            continue;
        };
        let known = base.applies(path, "1").is_ok() || design.rows.iter().any(|r| base.applies(path, &r[c]).is_ok());
        if !known {
            return Err(d.header_error(
                c,
                format!("column {} of {}: {}", c + 1, design.file, message.trim_end()),
                "the header names the --set path of each column (`pricegrad run --help` lists them)",
            ));
        }
    }
    let checked: Vec<Result<u64, RowError>> = design
        .rows
        .par_iter()
        .map(|row| {
            let mut file = base.file.clone();
            for (c, (path, value)) in columns.iter().zip(row).enumerate() {
                scenario::overrides::apply(&mut file, &format!("{path}={value}")).map_err(|m| RowError::Cell(c, m))?;
            }
            scenario::validate(&file, base.text, base.seed)
                .map(|e| e.run.seed)
                .map_err(|p| RowError::Invalid(InputError::new(base.label, base.text, p)))
        })
        .collect();
    let mut seeds = Vec::with_capacity(checked.len());
    for (r, result) in checked.into_iter().enumerate() {
        match result {
            Ok(seed) => seeds.push(seed),
            Err(RowError::Cell(c, message)) => {
                return Err(d.cell_error(
                    r,
                    c,
                    format!("row {} (point {r}), column {}: {message}", r + 1, columns[c]),
                    "each cell is a value for the --set path of its column (`pricegrad run --help` lists them)",
                ))
            }
            Err(RowError::Invalid(error)) => return Err(row_error(base, d, r, error)),
        }
    }
    Ok(seeds)
}

/// The error of design row `r`, which does not validate: the first cell that fails on its
/// own, else the row.
fn row_error(base: &Base, d: &DesignFile, r: usize, whole: InputError) -> Error {
    let design = &d.design;
    for (c, (path, value)) in design.columns.iter().zip(&design.rows[r]).enumerate() {
        let set = format!("{path}={value}");
        if let Err(error) = base.validate(std::slice::from_ref(&set)) {
            return Error::Value {
                error,
                note: format!("{}: row {} (point {r}) sets {set}", d.place(r, Some(c)), r + 1),
            };
        }
    }
    Error::Value {
        error: whole,
        note: format!(
            "{}: row {} (point {r}) sets {}",
            d.place(r, None),
            r + 1,
            design
                .columns
                .iter()
                .zip(&design.rows[r])
                .map(|(p, v)| format!("{p}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
