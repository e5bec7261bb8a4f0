//! Reading one table file in Parquet: its columns (by name, as a CSV file's header) checked
//! against the ones the table may have and against their types (numbers Float64 or Int64, texts
//! Utf8; a number column may also hold texts, read as a CSV cell is), then its rows one at a
//! time out of Arrow column batches, each cell read in place (no text is copied).
//!
//! A row is counted from 1 (the first data row); problems with the file's columns are at
//! row 0 ([`crate::scenario::error::Location::Table`]).

use super::columns::Column;
use super::place::{Places, Table, MAX_COLUMNS};
use crate::scenario::error::{did_you_mean, Location, Problem};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, Float64Array, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::borrow::Cow;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Rows decoded at a time.
const BATCH_ROWS: usize = 8192;

/// A Parquet table file being read.
pub struct ParquetTable {
    pub table: Table,
    pub path: PathBuf,
    reader: ParquetRecordBatchReader,
    /// For each of the table's known columns, its index in the file, if the file has it.
    index: Vec<Option<usize>>,
    /// The current batch's columns, per known column.
    columns: Vec<Cells>,
    /// The next row of the batch, and the batch's rows.
    at: usize,
    len: usize,
    /// Rows read before the current batch.
    before: u64,
}

/// One column of a batch, typed.
enum Cells {
    Absent,
    Null,
    Text(StringArray),
    LargeText(LargeStringArray),
    ViewText(StringViewArray),
    Number(Float64Array),
    Whole(Int64Array),
}

/// One row: its number (from 1) and a view of its cells.
pub struct Row<'a> {
    pub line: u64,
    at: usize,
    columns: &'a [Cells],
    index: &'a [Option<usize>],
    table: Table,
}

/// A cell, read as it is stored.
enum Cell<'a> {
    Text(&'a str),
    Number(f64),
    Whole(i64),
}

impl Row<'_> {
    fn cell(&self, c: usize) -> Option<Cell<'_>> {
        let i = self.at;
        match &self.columns[c] {
            Cells::Absent | Cells::Null => None,
            Cells::Text(a) => (!a.is_null(i)).then(|| Cell::Text(a.value(i))),
            Cells::LargeText(a) => (!a.is_null(i)).then(|| Cell::Text(a.value(i))),
            Cells::ViewText(a) => (!a.is_null(i)).then(|| Cell::Text(a.value(i))),
            Cells::Number(a) => (!a.is_null(i)).then(|| Cell::Number(a.value(i))),
            Cells::Whole(a) => (!a.is_null(i)).then(|| Cell::Whole(a.value(i))),
        }
        .and_then(|cell| match cell {
            Cell::Text(t) => Some(t.trim()).filter(|t| !t.is_empty()).map(Cell::Text),
            other => Some(other),
        })
    }

    /// The text of known column `c`, None when the file has no such column or the cell is
    /// null or empty. (Text columns are checked to hold texts when the file is opened.)
    pub fn get(&self, c: usize) -> Option<&str> {
        match self.cell(c)? {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The number in known column `c`, or the text that is not one.
    pub fn number(&self, c: usize) -> Option<Result<f64, Cow<'_, str>>> {
        Some(match self.cell(c)? {
            Cell::Number(v) => Ok(v),
            Cell::Whole(v) => Ok(v as f64),
            Cell::Text(t) => t.parse::<f64>().map_err(|_| t.into()),
        })
    }

    /// The whole number in known column `c`, or the text of a value that is not one.
    pub fn whole(&self, c: usize) -> Option<Result<i64, Cow<'_, str>>> {
        Some(match self.cell(c)? {
            Cell::Whole(v) => Ok(v),
            // a float that is whole and in range (i64::MAX as f64 rounds up, hence `<`)
            Cell::Number(v) if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 => Ok(v as i64),
            Cell::Number(v) => Err(v.to_string().into()),
            Cell::Text(t) => t.parse::<i64>().map_err(|_| t.into()),
        })
    }

    /// The span of the cell of known column `c` ([`Places::span`]).
    pub fn span(&self, places: &Places, c: usize) -> Range<usize> {
        places.span(self.table, self.line, self.index[c].unwrap_or(0))
    }
}

/// What a column holds, by the table's text columns.
fn accepts(text: bool, t: &DataType) -> bool {
    match t {
        DataType::Null | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Float64 | DataType::Int64 => !text,
        _ => false,
    }
}

impl ParquetTable {
    /// Open `file` (relative to `dir`) and check its columns; `text`: the positions in
    /// `columns` of the columns that hold texts. `at`: the span of the path in the scenario
    /// file, where a problem with the file as a whole is reported.
    pub fn open(
        dir: &Path,
        file: &str,
        at: Range<usize>,
        table: Table,
        columns: &[Column],
        text: &[usize],
        places: &mut Places,
    ) -> Result<ParquetTable, Vec<Problem>> {
        let path = dir.join(file);
        let what = table.name();
        let names = || columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
        let handle = File::open(&path).map_err(|e| {
            vec![Problem::at(
                at.clone(),
                format!("cannot read the {what} table {}: {e}", path.display()),
                "table paths are relative to the scenario file's folder",
            )]
        })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(handle).map_err(|e| {
            vec![Problem::at(
                at.clone(),
                format!("cannot read the {what} table {} as Parquet: {e}", path.display()),
                "a .parquet table is a Parquet file (pandas: DataFrame.to_parquet; pyarrow: pyarrow.parquet.write_table)",
            )]
        })?;
        let schema = builder.schema().clone();
        let fields = schema.fields();
        let mut problems = Vec::new();
        let mut index = vec![None; columns.len()];
        let place = |column: &str| Location::Table {
            file: file.to_string(),
            line: 0,
            column: column.to_string(),
        };
        if fields.len() > MAX_COLUMNS {
            problems.push(Problem::new(
                place(""),
                format!("the {what} table has {} columns, more than {MAX_COLUMNS}", fields.len()),
                format!("its columns are {}", names()),
            ));
        }
        for (i, field) in fields.iter().enumerate().take(MAX_COLUMNS) {
            let h = field.name().trim();
            match columns.iter().position(|c| c.name == h) {
                Some(c) if index[c].is_some() => problems.push(Problem::new(
                    place(h),
                    format!("the {what} table has two columns named '{h}'"),
                    "name each column once",
                )),
                Some(c) if !accepts(text.contains(&c), field.data_type()) => {
                    let (holds, help) = if text.contains(&c) {
                        ("texts", "write it as strings (Utf8; pyarrow: pa.string(), pandas: str)")
                    } else {
                        (
                            "numbers",
                            "write it as 64-bit floats or integers (Float64 or Int64; pandas: float64 or int64)",
                        )
                    };
                    problems.push(Problem::new(
                        place(h),
                        format!(
                            "column '{h}' of the {what} table holds {holds}, but this file stores it as {}",
                            field.data_type()
                        ),
                        help,
                    ))
                }
                Some(c) => index[c] = Some(i),
                None => problems.push(Problem::new(
                    place(h),
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
            if col.required && index[c].is_none() && !fields.iter().any(|f| f.name().trim() == col.name) {
                problems.push(Problem::new(
                    place(""),
                    format!("the {what} table has no column '{}'", col.name),
                    format!("add it to the file; the columns are {}", names()),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        places.set_columns(table, fields.iter().map(|f| f.name().trim().to_string()).collect());
        let reader = builder.with_batch_size(BATCH_ROWS).build().map_err(|e| {
            vec![Problem::at(
                at.clone(),
                format!("cannot read the {what} table {} as Parquet: {e}", path.display()),
                "a .parquet table is a Parquet file (pandas: DataFrame.to_parquet; pyarrow: pyarrow.parquet.write_table)",
            )]
        })?;
        Ok(ParquetTable {
            table,
            path,
            reader,
            columns: index.iter().map(|_| Cells::Absent).collect(),
            index,
            at: 0,
            len: 0,
            before: 0,
        })
    }

    /// For each of the table's known columns, its index in the file, if the file has it.
    pub fn columns(&self) -> &[Option<usize>] {
        &self.index
    }

    /// The next row, None at the end. A batch that cannot be decoded is a problem at the
    /// row it starts at.
    pub fn next_row(&mut self, file: &str) -> Result<Option<Row<'_>>, Problem> {
        while self.at >= self.len {
            self.before += self.len as u64;
            match self.reader.next() {
                None => {
                    (self.at, self.len) = (0, 0);
                    return Ok(None);
                }
                Some(Ok(batch)) => self.take(&batch),
                Some(Err(e)) => {
                    return Err(Problem::new(
                        Location::Table {
                            file: file.to_string(),
                            line: self.before + 1,
                            column: String::new(),
                        },
                        format!("cannot read the rows of {} from here on: {e}", self.path.display()),
                        "the file is damaged or not written in full; write it again",
                    ))
                }
            }
        }
        let at = self.at;
        self.at += 1;
        Ok(Some(Row {
            line: self.before + at as u64 + 1,
            at,
            columns: &self.columns,
            index: &self.index,
            table: self.table,
        }))
    }

    /// Make `batch` the current one.
    fn take(&mut self, batch: &RecordBatch) {
        for (cells, index) in self.columns.iter_mut().zip(&self.index) {
            *cells = match index.map(|i| batch.column(i)) {
                None => Cells::Absent,
                Some(a) => match a.data_type() {
                    DataType::Utf8 => Cells::Text(a.as_string::<i32>().clone()),
                    DataType::LargeUtf8 => Cells::LargeText(a.as_string::<i64>().clone()),
                    DataType::Utf8View => Cells::ViewText(a.as_string_view().clone()),
                    DataType::Float64 => Cells::Number(a.as_primitive::<Float64Type>().clone()),
                    DataType::Int64 => Cells::Whole(a.as_primitive::<Int64Type>().clone()),
                    // Null, and (checked at open) nothing else
                    _ => Cells::Null,
                },
            };
        }
        (self.at, self.len) = (0, batch.num_rows());
    }
}
