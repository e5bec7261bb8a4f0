//! Reading a Parquet file of rows back into the row type, a batch at a time (bounded memory
//! for a file of any length), with every problem said with the file, the row and the column.

use super::decode::Plan;
use super::layout::Layout;
use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// Rows read per batch.
const BATCH_ROWS: usize = 8192;

/// Why a Parquet file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Not a Parquet file, or a damaged one, or one that lacks a column.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// A row that does not read as the row type (`row` counts from 1).
    #[error("{} row {row}: {message}", path.display())]
    Row { path: PathBuf, row: u64, message: String },
}

/// The rows of a Parquet file, read in order.
pub struct Rows<R> {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    plan: Plan,
    batch: Option<RecordBatch>,
    /// The next row in `batch`.
    at: usize,
    /// Rows read so far.
    read: u64,
    total: u64,
    row: PhantomData<fn() -> R>,
}

/// Whether the file at `path` is a Parquet file (it starts with the magic bytes `PAR1`).
pub fn is_parquet(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"PAR1"
}

impl<R: DeserializeOwned> Rows<R> {
    /// Open a file of rows `R`. It must have a column for every field of `R` but those in
    /// `optional`.
    pub fn open(path: &Path, optional: &[&str]) -> Result<Rows<R>, ReadError> {
        let file = File::open(path).map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file_error = |message: String| ReadError::File {
            path: path.to_path_buf(),
            message,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| file_error(format!("not a readable Parquet file ({e})")))?;
        let schema = builder.schema().clone();
        let has: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let layout = Layout::of::<R>();
        let missing: Vec<&str> = crate::output::rows::columns::<R>()
            .iter()
            .copied()
            .filter(|c| !optional.contains(c) && !layout.is_list(c) && !has.contains(c))
            .collect();
        if !missing.is_empty() {
            return Err(file_error(format!(
                "missing column{} {} (the file has {}; expected {})",
                if missing.len() > 1 { "s" } else { "" },
                missing.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
                has.join(","),
                crate::output::rows::columns::<R>()
                    .iter()
                    .map(|&c| if layout.is_list(c) {
                        format!("<{c}...>")
                    } else {
                        c.to_string()
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            )));
        }
        let total = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let plan = Plan::new::<R>(&schema);
        let reader = builder
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| file_error(format!("not a readable Parquet file ({e})")))?;
        Ok(Rows {
            path: path.to_path_buf(),
            reader,
            plan,
            batch: None,
            at: 0,
            read: 0,
            total,
            row: PhantomData,
        })
    }

    /// The rows of the file (from its footer; nothing is read).
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The number (from 1) of the row read last.
    pub fn row_number(&self) -> u64 {
        self.read
    }

    /// An error about the row read last.
    pub fn error(&self, message: String) -> ReadError {
        ReadError::Row {
            path: self.path.clone(),
            row: self.read,
            message,
        }
    }
}

impl<R: DeserializeOwned> Iterator for Rows<R> {
    type Item = Result<R, ReadError>;

    fn next(&mut self) -> Option<Result<R, ReadError>> {
        loop {
            if let Some(batch) = &self.batch {
                if self.at < batch.num_rows() {
                    let row = self.plan.row::<R>(batch.columns(), self.at);
                    self.at += 1;
                    self.read += 1;
                    return Some(row.map_err(|e| self.error(e.to_string())));
                }
            }
            match self.reader.next()? {
                Ok(batch) => {
                    self.batch = Some(batch);
                    self.at = 0;
                }
                Err(e) => {
                    return Some(Err(ReadError::File {
                        path: self.path.clone(),
                        message: format!(
                            "cannot read the rows after row {} ({e}; the file is damaged)",
                            self.read
                        ),
                    }))
                }
            }
        }
    }
}
