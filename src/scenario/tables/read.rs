//! Reading one table file (CSV with a header row): its columns checked against the ones the
//! table may have, then its rows one at a time, each cell by column.

use super::columns::Column;
use super::place::{Places, Table, MAX_COLUMNS};
use crate::scenario::error::{did_you_mean, Location, Problem};
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A table file being read.
pub struct TableReader {
    pub table: Table,
    pub path: PathBuf,
    reader: csv::Reader<File>,
    /// For each of the table's known columns (in the order of its `Column` list), its index in
    /// the file, if the file has it.
    index: Vec<Option<usize>>,
    record: csv::StringRecord,
}

/// One row: its line in the file and its cells.
pub struct Row<'a> {
    pub line: u64,
    record: &'a csv::StringRecord,
    index: &'a [Option<usize>],
    table: Table,
}

impl Row<'_> {
    /// The cell of known column `c` (its position in the table's column list), None when the
    /// file has no such column or the cell is empty.
    pub fn get(&self, c: usize) -> Option<&str> {
        let i = self.index[c]?;
        self.record.get(i).map(str::trim).filter(|s| !s.is_empty())
    }

    /// The span of the cell of known column `c` ([`Places::span`]).
    pub fn span(&self, places: &Places, c: usize) -> Range<usize> {
        places.span(self.table, self.line, self.index[c].unwrap_or(0))
    }
}

impl TableReader {
    /// For each of the table's known columns, its index in the file, if the file has it.
    pub fn columns(&self) -> &[Option<usize>] {
        &self.index
    }

    /// Open `file` (relative to `dir`) and read its header. `at`: the span of the path in the
    /// scenario file, where a problem with the file as a whole is reported.
    pub fn open(
        dir: &Path,
        file: &str,
        at: Range<usize>,
        table: Table,
        columns: &[Column],
        places: &mut Places,
    ) -> Result<TableReader, Vec<Problem>> {
        let path = dir.join(file);
        let what = match table {
            Table::Goods => "goods",
            Table::Firms => "firms",
            Table::Inputs => "inputs",
        };
        let names = || columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
        let handle = File::open(&path).map_err(|e| {
            vec![Problem::at(
                at.clone(),
                format!("cannot read the {what} table {}: {e}", path.display()),
                "table paths are relative to the scenario file's folder",
            )]
        })?;
        let mut reader = csv::ReaderBuilder::new().from_reader(handle);
        let header = reader
            .headers()
            .map_err(|e| {
                vec![Problem::at(
                    at.clone(),
                    format!("cannot read the header of {}: {e}", path.display()),
                    "the first row of a table names its columns",
                )]
            })?
            .clone();
        let mut problems = Vec::new();
        let mut index = vec![None; columns.len()];
        let place = |col: usize| Location::Table {
            file: file.to_string(),
            line: 1,
            column: header.get(col).unwrap_or("").to_string(),
        };
        if header.len() > MAX_COLUMNS {
            problems.push(Problem::new(
                Location::Table {
                    file: file.to_string(),
                    line: 1,
                    column: String::new(),
                },
                format!("the {what} table has {} columns, more than {MAX_COLUMNS}", header.len()),
                format!("its columns are {}", names()),
            ));
        }
        for (i, h) in header.iter().map(str::trim).enumerate().take(MAX_COLUMNS) {
            match columns.iter().position(|c| c.name == h) {
                Some(c) if index[c].is_some() => problems.push(Problem::new(
                    place(i),
                    format!("the {what} table has two columns named '{h}'"),
                    "name each column once",
                )),
                Some(c) => index[c] = Some(i),
                None => problems.push(Problem::new(
                    place(i),
                    format!("the {what} table has no column '{h}'"),
                    format!(
                        "{}its columns are {} (README.md, Tables)",
                        did_you_mean(h, columns.iter().map(|c| c.name)),
                        names()
                    ),
                )),
            }
        }
        for (c, col) in columns.iter().enumerate() {
            if col.required && index[c].is_none() {
                problems.push(Problem::new(
                    place(0),
                    format!("the {what} table has no column '{}'", col.name),
                    format!("add it to the header; the columns are {}", names()),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        places.set_columns(table, header.iter().map(|h| h.trim().to_string()).collect());
        Ok(TableReader {
            table,
            path,
            reader,
            index,
            record: csv::StringRecord::new(),
        })
    }

    /// The next row, None at the end. A row the CSV reader cannot read (a quote left open, a
    /// row of the wrong length) is a problem at its line.
    pub fn next_row(&mut self, file: &str) -> Result<Option<Row<'_>>, Problem> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => Ok(Some(Row {
                line: self.record.position().map_or(0, |p| p.line()),
                record: &self.record,
                index: &self.index,
                table: self.table,
            })),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                Err(Problem::new(
                    Location::Table {
                        file: file.to_string(),
                        line,
                        column: String::new(),
                    },
                    format!("cannot read this row of {}: {e}", self.path.display()),
                    "every row has a cell for each column of the header (empty for none), separated by commas",
                ))
            }
        }
    }
}
