//! The rows of the three tables read: a goods row into the same
//! `GoodSpec` a `[goods]` line gives, a firm row (with its rows of the inputs table) into a
//! [`FirmRow`] of a chunk that validation reads as it reads a `[[firms]]` entry. Each value
//! is spanned at its cell, so that validation places its problems there.

use super::columns::*;
use super::firm_rows::*;
use super::place::Places;
use super::source::Row;
use crate::scenario::error::Problem;
use crate::scenario::format::*;
use toml::Spanned;

/// Reads typed cells of rows, collecting the problems of cells that do not parse.
pub struct Cells<'p> {
    pub places: &'p Places,
    pub problems: Vec<Problem>,
    /// The inputs table's columns in its file (empty until it is open), and how its places
    /// are counted ("line" or "row").
    pub input_columns: Vec<Option<usize>>,
    pub line_word: &'static str,
}

impl Cells<'_> {
    /// The span of column `c` of the inputs table's row at `line`.
    pub fn input_cell(&self, line: u64, c: usize) -> std::ops::Range<usize> {
        let column = self.input_columns.get(c).copied().flatten().unwrap_or(0);
        self.places.span(super::place::Table::Inputs, line, column)
    }

    /// The number in column `c`, None when empty or not a number (a problem recorded).
    fn number(&mut self, row: &Row, c: usize) -> Option<f64> {
        match row.number(c)? {
            Ok(value) => Some(value),
            Err(v) => {
                self.problems.push(Problem::at(
                    row.span(self.places, c),
                    format!("'{v}' is not a number"),
                    "write a number such as 0.5 or 1e-3, or leave the cell empty",
                ));
                None
            }
        }
    }
    fn num(&mut self, row: &Row, c: usize) -> Option<Num> {
        self.number(row, c).map(|value| Num {
            value,
            origin: Origin::File(row.span(self.places, c)),
        })
    }
    fn whole(&mut self, row: &Row, c: usize) -> Option<i64> {
        match row.whole(c)? {
            Ok(value) => Some(value),
            Err(v) => {
                self.problems.push(Problem::at(
                    row.span(self.places, c),
                    format!("'{v}' is not a whole number"),
                    "write a whole number such as 100, or leave the cell empty",
                ));
                None
            }
        }
    }

    /// The `param` of a row of `inputs.csv` (None when empty, or not a number: a problem).
    pub fn input_param(&mut self, row: &Row) -> Option<f64> {
        self.number(row, I_PARAM)
    }

    /// A row of `goods.csv` as its name and spec.
    pub fn good<'r>(&mut self, row: &'r Row) -> Option<(&'r str, Spanned<GoodSpec>)> {
        let name = row.get(G_NAME)?;
        let spec = GoodSpec {
            price: self.num(row, 1),
            endowment: self.num(row, 2),
            initial_price: self.num(row, 3),
        };
        Some((name, Spanned::new(row.span(self.places, G_NAME), spec)))
    }

    /// A row of `firms.csv` (with a name) into `rows`, its rows of the inputs table being
    /// `rows.inputs[first..]`. False, with the problem recorded, when the row cannot be a
    /// firm (then its input rows are left for the caller to drop).
    pub fn firm(&mut self, row: &Row, rows: &mut FirmRows, first: usize) -> bool {
        let Some(name) = row.get(F::NAME) else {
            return false;
        };
        let mut numbers = [None; NUMBERS];
        let made = match (row.get(F::PRODUCTION), row.get(F::FAMILY)) {
            (Some(e), None) => Made::Expression(rows.keep(e)),
            (e, Some(family)) => {
                if e.is_some() {
                    self.problems.push(Problem::at(
                        row.span(self.places, F::PRODUCTION),
                        format!("firm '{name}' has both a production expression and a family"),
                        "fill in `production` (an expression) or `family` (with its inputs in the inputs table), not both",
                    ));
                }
                match self.family(row, name, family, rows, first, &mut numbers) {
                    Some((kind, repeated)) => {
                        // a repeated input row is said once and left out (the firm goes on
                        // to validation with the first, not missing from the economy)
                        for k in repeated {
                            rows.inputs[first + k].param = None;
                        }
                        Made::Family(kind)
                    }
                    None => return false,
                }
            }
            (None, None) => {
                self.problems.push(Problem::at(
                    row.span(self.places, F::NAME),
                    format!("firm '{name}' has no production"),
                    "fill in `production` (an expression such as sqrt(natgas)) or `family` (cobb_douglas, ces, \
                     power, linear or leontief, with the firm's inputs in the inputs table)",
                ));
                return false;
            }
        };
        let count = self.whole(row, F::COUNT);
        numbers[PRODUCTIVITY] = self.number(row, F::PRODUCTIVITY);
        numbers[SPREAD] = self.number(row, F::SPREAD);
        let rule = row.get(F::RULE).map(|r| rows.keep(r));
        numbers[RATE] = self.number(row, F::RATE);
        let form = row.get(F::FORM).map(|f| rows.keep(f));
        numbers[NOISE] = self.number(row, F::NOISE);
        numbers[ACTIVATION] = self.number(row, F::ACTIVATION);
        let name = rows.keep(name);
        let output = row.get(F::OUTPUT).map(|o| rows.keep(o));
        rows.firms.push(FirmRow {
            line: row.line(),
            name,
            output,
            made,
            numbers,
            count,
            rule,
            form,
            inputs: first as u32..rows.inputs.len() as u32,
            set: None,
        });
        true
    }

    /// The family named in a firm row, its numbers read into `numbers` and its inputs
    /// (`rows.inputs[first..]`) checked, with the positions among them of inputs repeated.
    fn family(
        &mut self,
        row: &Row,
        name: &str,
        family: &str,
        rows: &FirmRows,
        first: usize,
        numbers: &mut [Option<f64>; NUMBERS],
    ) -> Option<(Kind, Vec<usize>)> {
        let span = row.span(self.places, F::FAMILY);
        let inputs = &rows.inputs[first..];
        // each input of a family with per-input parameters needs its parameter, once
        let params = |what: &str, cells: &mut Self| -> Vec<usize> {
            let mut repeated = Vec::new();
            for (k, input) in inputs.iter().enumerate() {
                let good = rows.get(input.good);
                let good_span = cells.input_cell(input.line, I_GOOD);
                if input.param.is_none() {
                    cells.problems.push(Problem::at(
                        good_span.clone(),
                        format!("the input '{good}' has no `param` (its {what})"),
                        format!("give each input of a {family} firm its {what} in the `param` column"),
                    ));
                }
                if let Some(before) = inputs[..k].iter().find(|b| rows.get(b.good) == good) {
                    cells.problems.push(Problem::at(
                        good_span,
                        format!(
                            "firm '{name}' lists the input '{good}' twice (also on {} {})",
                            cells.line_word, before.line
                        ),
                        "give each input of a firm one row in the inputs table",
                    ));
                    repeated.push(k);
                }
            }
            repeated
        };
        numbers[SCALE] = self.number(row, F::SCALE);
        let Some(kind) = Kind::parse(family) else {
            self.problems.push(Problem::at(
                span,
                format!("'{family}' is not a production family"),
                format!(
                    "{}use cobb_douglas, ces, power, linear or leontief (or an expression in `production`)",
                    crate::scenario::error::did_you_mean(family, Kind::NAMES)
                ),
            ));
            return None;
        };
        let repeated = match kind {
            Kind::CobbDouglas => params("exponent", self),
            Kind::Ces => {
                numbers[RHO] = self.number(row, F::RHO);
                numbers[RETURNS] = self.number(row, F::RETURNS);
                let repeated = params("weight", self);
                if numbers[RHO].is_none() {
                    self.problems.push(Problem::at(
                        span,
                        "a ces firm needs `rho`",
                        "fill in the `rho` column, e.g. 0.5",
                    ));
                    return None;
                }
                repeated
            }
            Kind::Power => {
                numbers[EXPONENT] = self.number(row, F::EXPONENT);
                if numbers[EXPONENT].is_none() {
                    self.problems.push(Problem::at(
                        span,
                        "a power firm needs `exponent`",
                        "fill in the `exponent` column, e.g. 0.5",
                    ));
                    return None;
                }
                if inputs.len() != 1 {
                    self.problems.push(Problem::at(
                        span,
                        format!("a power firm has one input; this one has {}", inputs.len()),
                        "give it exactly one row in the inputs table",
                    ));
                    return None;
                }
                Vec::new()
            }
            Kind::Linear => params("coefficient", self),
            Kind::Leontief => params("requirement", self),
        };
        Some((kind, repeated))
    }
}
