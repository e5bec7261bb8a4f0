//! Where a value read from a table is: the validators place problems by byte spans in the
//! scenario text, so each cell of a table gets a span of its own past the end of that text,
//! which [`Places::locate`] turns back into the table's file, line and column.

use crate::scenario::error::Location;
use std::ops::Range;

/// The tables, in the order their spans interleave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Goods = 0,
    Firms = 1,
    Inputs = 2,
}

impl Table {
    /// The table's name in messages: `goods`, `firms`, `inputs`.
    pub fn name(self) -> &'static str {
        match self {
            Table::Goods => "goods",
            Table::Firms => "firms",
            Table::Inputs => "inputs",
        }
    }
}

const TABLES: usize = 3;
/// Columns a table may have (more are refused when the header is read).
pub const MAX_COLUMNS: usize = 64;

/// The spans of the cells of the tables of one scenario.
pub struct Places {
    /// The first span past the scenario text.
    base: usize,
    /// Per table: its path as written and its columns' names.
    files: [String; TABLES],
    columns: [Vec<String>; TABLES],
}

impl Places {
    pub fn new(text_len: usize, files: [String; TABLES]) -> Places {
        Places {
            base: text_len + 1,
            files,
            columns: Default::default(),
        }
    }

    /// Record the columns of `table` (from its header).
    pub fn set_columns(&mut self, table: Table, columns: Vec<String>) {
        self.columns[table as usize] = columns;
    }

    /// The span of the cell at `line` (1-based, as the reader counts it) and column `col`.
    pub fn span(&self, table: Table, line: u64, col: usize) -> Range<usize> {
        let at = self.base + TABLES * (line as usize * MAX_COLUMNS + col) + table as usize;
        at..at + 1
    }

    /// The place of a problem: a table cell for a span of [`Places::span`], else unchanged.
    pub fn locate(&self, location: Location) -> Location {
        match location {
            Location::Span(r) if r.start >= self.base => {
                let off = r.start - self.base;
                let table = off % TABLES;
                let cell = off / TABLES;
                let (line, col) = (cell / MAX_COLUMNS, cell % MAX_COLUMNS);
                Location::Table {
                    file: self.files[table].clone(),
                    line: line as u64,
                    column: self.columns[table].get(col).cloned().unwrap_or_default(),
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cells_span_locates_the_cell() {
        let mut p = Places::new(100, ["g.csv".into(), "f.csv".into(), "i.csv".into()]);
        p.set_columns(Table::Firms, vec!["name".into(), "output".into()]);
        p.set_columns(Table::Inputs, vec!["firm".into(), "good".into(), "param".into()]);
        let at = |t, line, col| p.locate(Location::Span(p.span(t, line, col)));
        assert_eq!(
            at(Table::Firms, 7, 1),
            Location::Table {
                file: "f.csv".into(),
                line: 7,
                column: "output".into()
            }
        );
        assert_eq!(
            at(Table::Inputs, 123_456, 2),
            Location::Table {
                file: "i.csv".into(),
                line: 123_456,
                column: "param".into()
            }
        );
        // a span in the scenario text stays
        assert_eq!(p.locate(Location::Span(3..5)), Location::Span(3..5));
    }
}
