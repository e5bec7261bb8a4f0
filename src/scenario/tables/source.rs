//! A table file in either format, chosen by its extension (`.csv` or `.parquet`), and its rows
//! behind one interface: a text cell, a number cell, a whole-number cell, the cell's span.

use super::columns::Column;
use super::parquet::{self, ParquetTable};
use super::place::{Places, Table};
use super::read::{self, TableReader};
use crate::scenario::error::Problem;
use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

/// Whether `file` is a Parquet table (else CSV).
pub fn is_parquet(file: &str) -> bool {
    file.ends_with(".parquet")
}

/// The line of a problem with a table file as a whole: a CSV file's header line (1), a
/// Parquet file's row 0 (no row).
pub fn head_line(file: &str) -> u64 {
    if is_parquet(file) {
        0
    } else {
        1
    }
}

/// "line" or "row": how a place in `file` is counted.
pub fn line_word(file: &str) -> &'static str {
    if is_parquet(file) {
        "row"
    } else {
        "line"
    }
}

/// A table file being read.
pub enum Source {
    Csv(TableReader),
    Parquet(ParquetTable),
}

/// One row of either kind.
pub enum Row<'a> {
    Csv(read::Row<'a>),
    Parquet(parquet::Row<'a>),
}

impl Source {
    /// Open `file` (relative to `dir`), a `.csv` or `.parquet` file; `text`: the positions in
    /// `columns` of the columns holding texts. `at`: the span of the path in the scenario.
    pub fn open(
        dir: &Path,
        file: &str,
        at: Range<usize>,
        table: Table,
        columns: &[Column],
        text: &[usize],
        places: &mut Places,
    ) -> Result<Source, Vec<Problem>> {
        if is_parquet(file) {
            ParquetTable::open(dir, file, at, table, columns, text, places).map(Source::Parquet)
        } else if file.ends_with(".csv") {
            TableReader::open(dir, file, at, table, columns, places).map(Source::Csv)
        } else {
            Err(vec![Problem::at(
                at,
                format!(
                    "the {} table '{file}' is neither a .csv nor a .parquet file",
                    table.name()
                ),
                "tables are CSV files with a header row or Parquet files (README.md, Tables)",
            )])
        }
    }

    /// For each of the table's known columns, its index in the file, if the file has it.
    pub fn columns(&self) -> &[Option<usize>] {
        match self {
            Source::Csv(r) => r.columns(),
            Source::Parquet(r) => r.columns(),
        }
    }

    /// The next row, None at the end.
    pub fn next_row(&mut self, file: &str) -> Result<Option<Row<'_>>, Problem> {
        Ok(match self {
            Source::Csv(r) => r.next_row(file)?.map(Row::Csv),
            Source::Parquet(r) => r.next_row(file)?.map(Row::Parquet),
        })
    }
}

impl Row<'_> {
    /// The row's line (CSV, the header being line 1) or number (Parquet, from 1).
    pub fn line(&self) -> u64 {
        match self {
            Row::Csv(r) => r.line,
            Row::Parquet(r) => r.line,
        }
    }

    /// The text of known column `c` (its position in the table's column list), None when the
    /// file has no such column or the cell is empty.
    pub fn get(&self, c: usize) -> Option<&str> {
        match self {
            Row::Csv(r) => r.get(c),
            Row::Parquet(r) => r.get(c),
        }
    }

    /// The number in known column `c`, or the text that is not one.
    pub fn number(&self, c: usize) -> Option<Result<f64, Cow<'_, str>>> {
        match self {
            Row::Csv(r) => r.get(c).map(|v| v.parse::<f64>().map_err(|_| v.into())),
            Row::Parquet(r) => r.number(c),
        }
    }

    /// The whole number in known column `c`, or the text of a value that is not one.
    pub fn whole(&self, c: usize) -> Option<Result<i64, Cow<'_, str>>> {
        match self {
            Row::Csv(r) => r.get(c).map(|v| v.parse::<i64>().map_err(|_| v.into())),
            Row::Parquet(r) => r.whole(c),
        }
    }

    /// The span of the cell of known column `c` ([`Places::span`]).
    pub fn span(&self, places: &Places, c: usize) -> Range<usize> {
        match self {
            Row::Csv(r) => r.span(places, c),
            Row::Parquet(r) => r.span(places, c),
        }
    }
}
