//! Reading the firms table with the inputs table beside it, a chunk of firm rows at a time
//! ([`FirmRows`]): each firm takes the inputs rows that name it and follow the rows of the
//! firm before, and a `--set firms.NAME...` is applied to its firm. What cannot be read is
//! recorded as a problem at its cell; what is left over at the end (inputs rows out of place,
//! no firms, a `--set` naming no firm) is said by [`FirmReader::finish`].

use super::columns::{self, F};
use super::firm_rows::{Columns, FirmRows, InputRow, TableFirm};
use super::source::{self, Source};
use super::specs::Cells;
use crate::scenario::error::{Location, Problem};
use crate::scenario::overrides;
use crate::scenario::validate::{self, Batch};

/// Firms read (and validated) at a time.
pub const CHUNK_FIRMS: usize = 8192;

/// The firms and inputs tables being read.
pub struct FirmReader<'a> {
    firms: Source,
    firms_file: String,
    inputs: Option<Source>,
    inputs_file: String,
    /// The problems of the rows read (at their cells).
    pub cells: Cells<'a>,
    at: Columns<'a>,
    /// The input row read ahead of the firm it belongs to, if there is one.
    ahead: Ahead,
    pending: bool,
    firm_count: u64,
    /// The `--set firms.NAME...` arguments: (NAME, argument, whether a firm had the name).
    sets: Vec<(&'a str, &'a str, bool)>,
    /// The problems of applying them.
    pub set_problems: Vec<Problem>,
}

/// The input row read ahead: its line, firm, good and parameter (one set of buffers, not a
/// string per row).
#[derive(Default)]
struct Ahead {
    line: u64,
    firm: String,
    good: String,
    param: Option<f64>,
}

impl Ahead {
    fn set(&mut self, line: u64, firm: &str, good: &str, param: Option<f64>) {
        self.line = line;
        self.firm.clear();
        self.firm.push_str(firm);
        self.good.clear();
        self.good.push_str(good);
        self.param = param;
    }
}

impl<'a> FirmReader<'a> {
    /// A reader of the opened `firms` (`firms_file` as the scenario names it) and `inputs`
    /// tables; `at`: where their cells are; `sets`: the `--set firms.NAME...` arguments.
    pub fn new(
        (firms, firms_file): (Source, &str),
        (inputs, inputs_file): (Option<Source>, &str),
        at: Columns<'a>,
        sets: Vec<(&'a str, &'a str, bool)>,
    ) -> FirmReader<'a> {
        let cells = Cells {
            places: at.places,
            problems: Vec::new(),
            input_columns: at.inputs.clone(),
            line_word: source::line_word(inputs_file),
        };
        FirmReader {
            firms,
            firms_file: firms_file.to_string(),
            inputs,
            inputs_file: inputs_file.to_string(),
            cells,
            at,
            ahead: Ahead::default(),
            pending: false,
            firm_count: 0,
            sets,
            set_problems: Vec::new(),
        }
    }

    /// Where the cells of the two tables are.
    pub fn columns(&self) -> &Columns<'a> {
        &self.at
    }

    /// Read the first input row (before the first chunk).
    pub fn start(&mut self) -> Result<(), Problem> {
        self.pending = self.next_input()?;
        Ok(())
    }

    /// The next input row with a firm and a good into `ahead`; false at the end.
    fn next_input(&mut self) -> Result<bool, Problem> {
        match self.inputs.as_mut() {
            Some(reader) => next_input(reader, &self.inputs_file, &mut self.cells, &mut self.ahead),
            None => Ok(false),
        }
    }

    /// Read the next chunk of firms into `rows` (cleared first), each with its input rows
    /// and any `--set` applied. False when the firms table has ended.
    pub fn read_chunk(&mut self, rows: &mut FirmRows) -> Result<bool, Problem> {
        rows.clear();
        while rows.len() < CHUNK_FIRMS {
            let Some(row) = self.firms.next_row(&self.firms_file)? else {
                return Ok(false);
            };
            let Some(name) = row.get(F::NAME) else {
                self.cells.problems.push(Problem::at(
                    row.span(self.cells.places, 0),
                    "a row of the firms table has no name",
                    "every firm has a name",
                ));
                continue;
            };
            self.firm_count += 1;
            let first = rows.inputs.len();
            while self.pending && self.ahead.firm == name {
                let good = rows.keep(&self.ahead.good);
                rows.inputs.push(InputRow {
                    line: self.ahead.line,
                    good,
                    param: self.ahead.param,
                });
                // (the reader of the inputs table is another field than the firms table's)
                self.pending = match self.inputs.as_mut() {
                    Some(reader) => next_input(reader, &self.inputs_file, &mut self.cells, &mut self.ahead)?,
                    None => false,
                };
            }
            if !self.cells.firm(&row, rows, first) {
                rows.inputs.truncate(first);
                continue;
            }
            for (target, arg, hit) in self.sets.iter_mut() {
                if *target == name && !*hit {
                    *hit = true;
                    let last = rows.len() - 1;
                    let mut spec = validate::to_spec(&TableFirm::new(rows, last, &self.at, &mut Vec::new()));
                    if let Err(msg) = overrides::apply_firm(&mut spec, arg) {
                        self.set_problems.push(super::set_problem(arg, msg));
                    }
                    rows.firms[last].set = Some(Box::new(spec));
                }
            }
        }
        Ok(true)
    }

    /// The problems of the rows read and of the `--set firms...` arguments, with what is left
    /// over at the end: inputs rows out of place, an empty firms table, a `--set` naming no
    /// firm (among those of `batches`).
    pub fn finish(mut self, batches: &[Batch]) -> (Vec<Problem>, Vec<Problem>) {
        if self.pending {
            let (line, firm) = (self.ahead.line, std::mem::take(&mut self.ahead.firm));
            self.cells.problems.push(Problem::new(
                Location::Table {
                    file: self.inputs_file.clone(),
                    line,
                    column: "firm".into(),
                },
                format!("the inputs of firm '{firm}' are not beside that firm's place in the firms table"),
                "list the inputs table's rows firm by firm, in the order of the firms table \
                 (every firm in it, and each firm's rows together)",
            ));
        }
        if self.firm_count == 0 {
            self.cells.problems.push(Problem::new(
                Location::Table {
                    file: self.firms_file.clone(),
                    line: source::head_line(&self.firms_file),
                    column: String::new(),
                },
                "the firms table has no rows",
                "an economy needs at least one firm; add rows below the header",
            ));
        }
        for (target, arg, hit) in &self.sets {
            if !hit {
                let names = batches.iter().flat_map(|b| (0..b.len()).map(move |j| b.group_name(j)));
                self.set_problems
                    .push(super::set_problem(arg, overrides::no_firm(target, arg, names)));
            }
        }
        (self.cells.problems, self.set_problems)
    }
}

/// The next row of the inputs table (`reader`, named `file`) with a firm and a good into
/// `ahead`, the problems of rows without them into `cells`; false at the end. (On the
/// reader's fields apart, for use while a row of the firms table is borrowed.)
fn next_input(reader: &mut Source, file: &str, cells: &mut Cells, ahead: &mut Ahead) -> Result<bool, Problem> {
    while let Some(row) = reader.next_row(file)? {
        let param = cells.input_param(&row);
        match (row.get(columns::I_FIRM), row.get(columns::I_GOOD)) {
            (Some(firm), Some(good)) => {
                ahead.set(row.line(), firm, good, param);
                return Ok(true);
            }
            _ => cells.problems.push(Problem::at(
                row.span(cells.places, columns::I_FIRM),
                "a row of the inputs table lacks its firm or good",
                "each row names a firm (as in the firms table) and one of its input goods",
            )),
        }
    }
    Ok(false)
}
