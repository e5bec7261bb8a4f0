//! A chunk of the firms table read ahead of validation ([`FirmRows`]): each firm row with its
//! rows of the inputs table, their texts in one buffer and their numbers as read, so that a
//! million firms cost no string or map each. Validation reads a row in place through
//! [`TableFirm`], a [`FirmEntry`] like a `[[firms]]` entry, with each value spanned at its
//! cell.

use super::columns::{F, I_GOOD, I_PARAM};
use super::place::{Places, Table};
use crate::scenario::format::*;
use crate::scenario::validate::{Family, FirmEntry, ParamList, Params, Production};
use indexmap::IndexMap;
use std::ops::Range;
use toml::Spanned;

/// A text cell: its place in [`FirmRows::text`].
#[derive(Clone, Copy)]
pub struct Cell {
    start: u32,
    len: u32,
}

/// The production family a row names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CobbDouglas,
    Ces,
    Power,
    Linear,
    Leontief,
}

impl Kind {
    pub const NAMES: [&'static str; 5] = ["cobb_douglas", "ces", "power", "linear", "leontief"];

    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "cobb_douglas" => Kind::CobbDouglas,
            "ces" => Kind::Ces,
            "power" => Kind::Power,
            "linear" => Kind::Linear,
            "leontief" => Kind::Leontief,
            _ => return None,
        })
    }
}

/// How the row gives its production.
#[derive(Clone, Copy)]
pub enum Made {
    /// `production`: an expression.
    Expression(Cell),
    /// `family`, with the firm's rows of the inputs table.
    Family(Kind),
}

/// One row of the firms table. The numbers are those of the columns of [`super::columns::FIRMS`]
/// (None for an empty cell, or one that is not a number: that problem is already recorded).
pub struct FirmRow {
    pub line: u64,
    pub name: Cell,
    pub output: Option<Cell>,
    pub made: Made,
    pub numbers: [Option<f64>; NUMBERS],
    pub count: Option<i64>,
    pub rule: Option<Cell>,
    pub form: Option<Cell>,
    /// Its rows in [`FirmRows::inputs`].
    pub inputs: Range<u32>,
    /// The firm as a spec, when a `--set firms.NAME...` changed it.
    pub set: Option<Box<FirmSpec>>,
}

/// The number columns of a firm row, by their position in [`FirmRow::numbers`].
pub const NUMBERS: usize = 9;
pub const SCALE: usize = 0;
pub const RHO: usize = 1;
pub const RETURNS: usize = 2;
pub const EXPONENT: usize = 3;
pub const PRODUCTIVITY: usize = 4;
pub const SPREAD: usize = 5;
pub const RATE: usize = 6;
pub const NOISE: usize = 7;
pub const ACTIVATION: usize = 8;
/// The firms-table column of each number.
pub const NUMBER_COLUMN: [usize; NUMBERS] = [
    F::SCALE,
    F::RHO,
    F::RETURNS,
    F::EXPONENT,
    F::PRODUCTIVITY,
    F::SPREAD,
    F::RATE,
    F::NOISE,
    F::ACTIVATION,
];

/// A row of the inputs table that belongs to a firm of the chunk. (A family that needs the
/// parameter and finds none is a problem recorded when the row is read.)
pub struct InputRow {
    pub line: u64,
    pub good: Cell,
    pub param: Option<f64>,
}

/// Firm rows read and waiting for validation.
#[derive(Default)]
pub struct FirmRows {
    text: String,
    pub firms: Vec<FirmRow>,
    pub inputs: Vec<InputRow>,
}

impl FirmRows {
    pub fn clear(&mut self) {
        self.text.clear();
        self.firms.clear();
        self.inputs.clear();
    }

    pub fn len(&self) -> usize {
        self.firms.len()
    }

    /// Keep `s` in the chunk's text.
    pub fn keep(&mut self, s: &str) -> Cell {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        Cell {
            start,
            len: s.len() as u32,
        }
    }

    pub fn get(&self, c: Cell) -> &str {
        &self.text[c.start as usize..(c.start + c.len) as usize]
    }

    /// The goods firm `i` names (its output, its inputs), for [`crate::scenario::validate`]'s
    /// lookups to be fetched ahead.
    pub fn goods_of(&self, i: usize, mut f: impl FnMut(&str)) {
        let row = &self.firms[i];
        if let Some(o) = row.output {
            f(self.get(o));
        }
        for input in &self.inputs[row.inputs.start as usize..row.inputs.end as usize] {
            f(self.get(input.good));
        }
    }
}

/// Where the cells of the firms and inputs tables are: for each known column, its index in
/// the file (as the tables' readers found it).
#[derive(Clone)]
pub struct Columns<'a> {
    pub places: &'a Places,
    pub firms: Vec<Option<usize>>,
    pub inputs: Vec<Option<usize>>,
}

impl Columns<'_> {
    pub fn firm_cell(&self, line: u64, c: usize) -> Range<usize> {
        self.places.span(Table::Firms, line, self.firms[c].unwrap_or(0))
    }
    pub fn input_cell(&self, line: u64, c: usize) -> Range<usize> {
        self.places.span(Table::Inputs, line, self.inputs[c].unwrap_or(0))
    }
}

/// Firm row `i` of `rows`, as validation reads it. `params`: a buffer for its inputs (reused
/// from firm to firm).
pub struct TableFirm<'a> {
    name: (&'a str, Range<usize>),
    output: Option<(&'a str, Range<usize>)>,
    made: Made,
    made_span: Range<usize>,
    expression: &'a str,
    numbers: [Option<Num>; NUMBERS],
    count: Option<Int>,
    rule: Option<Text>,
    form: Option<Text>,
    params: &'a [(&'a str, Num)],
    /// The one input of a power firm, with the span of its good.
    first_input: Option<(&'a str, Range<usize>)>,
}

impl<'b> TableFirm<'b> {
    pub fn new<'a: 'b>(
        rows: &'a FirmRows,
        i: usize,
        at: &Columns,
        params: &'b mut Vec<(&'a str, Num)>,
    ) -> TableFirm<'b> {
        let row = &rows.firms[i];
        let line = row.line;
        let cell = |c| at.firm_cell(line, c);
        let inputs = &rows.inputs[row.inputs.start as usize..row.inputs.end as usize];
        params.clear();
        params.extend(inputs.iter().filter_map(|r| {
            let num = Num {
                value: r.param?,
                origin: Origin::File(at.input_cell(r.line, I_PARAM)),
            };
            Some((rows.get(r.good), num))
        }));
        let word = |c: Option<Cell>, col| {
            c.map(|c| Text {
                value: rows.get(c).to_string(),
                origin: Origin::File(cell(col)),
            })
        };
        let (made_span, expression) = match row.made {
            Made::Expression(e) => (cell(F::PRODUCTION), rows.get(e)),
            Made::Family(_) => (cell(F::FAMILY), ""),
        };
        TableFirm {
            name: (rows.get(row.name), cell(F::NAME)),
            output: row.output.map(|o| (rows.get(o), cell(F::OUTPUT))),
            made: row.made,
            made_span,
            expression,
            numbers: std::array::from_fn(|k| {
                row.numbers[k].map(|value| Num {
                    value,
                    origin: Origin::File(cell(NUMBER_COLUMN[k])),
                })
            }),
            count: row.count.map(|value| Int {
                value,
                origin: Origin::File(cell(F::COUNT)),
            }),
            rule: word(row.rule, F::RULE),
            form: word(row.form, F::FORM),
            params,
            first_input: inputs
                .first()
                .map(|r| (rows.get(r.good), at.input_cell(r.line, I_GOOD))),
        }
    }

    fn number(&self, k: usize) -> Option<&Num> {
        self.numbers[k].as_ref()
    }
}

impl FirmEntry for TableFirm<'_> {
    fn name(&self) -> (&str, Range<usize>) {
        self.name.clone()
    }
    fn output(&self) -> Option<(&str, Range<usize>)> {
        self.output.clone()
    }
    fn outputs(&self) -> Option<&Spanned<IndexMap<String, Num>>> {
        None
    }
    fn production(&self) -> (Production<'_>, Range<usize>) {
        let params = || Params {
            span: self.made_span.clone(),
            list: ParamList::Rows(self.params),
        };
        let scale = self.number(SCALE);
        let production = match self.made {
            Made::Expression(_) => Production::Expression(self.expression),
            Made::Family(kind) => Production::Family(match kind {
                Kind::CobbDouglas => Family::CobbDouglas {
                    scale,
                    exponents: params(),
                },
                Kind::Ces => Family::Ces {
                    scale,
                    rho: self.number(RHO).expect("a ces row without rho is refused when read"),
                    returns: self.number(RETURNS),
                    weights: params(),
                },
                Kind::Power => Family::Power {
                    scale,
                    exponent: self
                        .number(EXPONENT)
                        .expect("a power row without exponent is refused when read"),
                    input: self
                        .first_input
                        .clone()
                        .expect("a power row without its input is refused when read"),
                },
                Kind::Linear => Family::Linear { coefficients: params() },
                Kind::Leontief => Family::Leontief {
                    scale,
                    requirements: params(),
                },
            }),
        };
        (production, self.made_span.clone())
    }
    fn production_set(&self) -> Option<&str> {
        None
    }
    fn count(&self) -> Option<&Int> {
        self.count.as_ref()
    }
    fn productivity(&self) -> Option<&Num> {
        self.number(PRODUCTIVITY)
    }
    fn productivity_spread(&self) -> Option<&Num> {
        self.number(SPREAD)
    }
    fn rule(&self) -> Option<&Text> {
        self.rule.as_ref()
    }
    fn rate(&self) -> Option<&Num> {
        self.number(RATE)
    }
    fn form(&self) -> Option<&Text> {
        self.form.as_ref()
    }
    fn noise(&self) -> Option<&Num> {
        self.number(NOISE)
    }
    fn activation(&self) -> Option<&Num> {
        self.number(ACTIVATION)
    }
}
