//! A Parquet file of rows, written as the rows come: they are gathered [`BATCH_ROWS`] at a time
//! into Arrow columns and handed to the Parquet writer, which writes a row group every
//! [`ROW_GROUP_ROWS`] rows. Memory stays bounded for a file of any length (one batch and one
//! row group being encoded), as for the CSV writers.
//!
//! Settings: Snappy compression (pure Rust; what pyarrow and pandas write by default);
//! dictionary encoding for integers and texts (ticks and good names repeat), none for
//! numbers; the Arrow schema is stored in the file, so Arrow readers get the types back
//! exactly (UInt64 stays UInt64). The same rows always give the same bytes.

use super::encode::Encoder;
use super::layout::{Kind, Layout};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde::Serialize;
use std::io::{self, Write};

/// Rows gathered before they are handed to the Parquet writer.
pub const BATCH_ROWS: usize = 8192;
/// Rows of a row group (the unit a reader reads; the writer holds one in memory, encoded).
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// A Parquet file being written into `W`.
pub struct TableWriter<W: Write + Send> {
    encoder: Encoder,
    writer: ArrowWriter<W>,
}

impl<W: Write + Send> TableWriter<W> {
    /// Start a file of the columns of `layout` in `out`.
    pub fn new(out: W, layout: Layout) -> io::Result<TableWriter<W>> {
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
        for c in layout.columns.iter().filter(|c| c.kind == Kind::Float64) {
            props = props.set_column_dictionary_enabled(ColumnPath::from(c.name.as_str()), false);
        }
        let encoder = Encoder::new(layout, BATCH_ROWS);
        let writer = ArrowWriter::try_new(out, encoder.schema().clone(), Some(props.build())).map_err(to_io)?;
        Ok(TableWriter { encoder, writer })
    }

    /// Append a row.
    pub fn write<R: Serialize>(&mut self, row: &R) -> io::Result<()> {
        self.encoder.push(row).map_err(io::Error::other)?;
        if self.encoder.rows() >= BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        if self.encoder.rows() == 0 {
            return Ok(());
        }
        let batch = self.encoder.batch().map_err(io::Error::other)?;
        self.writer.write(&batch).map_err(to_io)
    }

    /// Write the last rows and the file's footer; the output, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_batch()?;
        let mut out = self.writer.into_inner().map_err(to_io)?;
        out.flush()?;
        Ok(out)
    }
}

/// A Parquet error as an I/O error, keeping the kind of an I/O failure (a full disk stays a
/// full disk, for [`crate::output::atomic::io_help`]).
fn to_io(e: parquet::errors::ParquetError) -> io::Error {
    use std::error::Error as _;
    let kind = e
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    match kind {
        Some(kind) => io::Error::new(kind, e.to_string()),
        None => io::Error::other(e),
    }
}

/// Write `rows` as a whole Parquet file into `out`.
pub fn write_rows<'r, R: Serialize + 'r>(
    out: impl Write + Send,
    layout: Layout,
    rows: impl IntoIterator<Item = &'r R>,
) -> io::Result<()> {
    let mut w = TableWriter::new(out, layout)?;
    for r in rows {
        w.write(r)?;
    }
    w.finish().map(drop)
}
