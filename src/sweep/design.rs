//! A design table (`--design FILE.csv`): a CSV file whose header names `--set` paths and
//! whose every further line is one point of the sweep, so that Latin-hypercube or Sobol
//! designs written by SALib or EMA Workbench plug in. This file reads the table, checks its
//! shape (a header, no empty or repeated column names, every row as wide as the header, no
//! empty cell, at least one row), and keeps where each cell is, so that an error can name the
//! file, line and column.

use super::Error;
use crate::scenario::error::line_col;
use crate::scenario::{sha256_hex, InputError, Location, Problem};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::Path;

/// What a row of a design is (for help lines).
const SHAPE: &str = "the first line names --set paths, e.g. market.step,agents.rate, and each further line is \
                     one point, e.g. 0.2,0.1 (pandas: DataFrame(X, columns=names).to_csv(FILE, index=False))";

/// A design: the points of a sweep, one per row. Recorded in `sweep.json`, where resume and
/// merge compare it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Design {
    /// The file as it was given.
    pub file: String,
    /// SHA-256 of the file's bytes (as `sha256sum` prints it).
    pub sha256: String,
    /// The `--set` paths, in the order of the file's columns.
    pub columns: Vec<String>,
    /// The values of each point (row), as written in the file (trimmed).
    pub rows: Vec<Vec<String>>,
}

impl Design {
    /// Number of points (rows).
    pub fn points(&self) -> u64 {
        self.rows.len() as u64
    }

    /// The values at `point` (its row).
    pub fn values(&self, point: u64) -> Vec<&str> {
        self.rows[point as usize].iter().map(String::as_str).collect()
    }
}

/// A design as read from its file, with the text and where each cell is (for messages).
#[derive(Debug, Clone)]
pub(super) struct DesignFile {
    pub(super) design: Design,
    text: String,
    /// Byte range of each header cell.
    header: Vec<Range<usize>>,
    /// Byte range of each cell of each row.
    cells: Vec<Vec<Range<usize>>>,
}

impl DesignFile {
    /// An error at `span` of the file.
    fn error(&self, span: Range<usize>, message: String, help: &str) -> Error {
        error_at(&self.design.file, &self.text, span, message, help)
    }

    /// An error about the header cell of `column`.
    pub(super) fn header_error(&self, column: usize, message: String, help: &str) -> Error {
        self.error(self.header[column].clone(), message, help)
    }

    /// An error about the cell (`row`, `column`); rows from 0.
    pub(super) fn cell_error(&self, row: usize, column: usize, message: String, help: &str) -> Error {
        self.error(self.cells[row][column].clone(), message, help)
    }

    /// `design.csv:4:7` for the cell (`row`, `column`), or `design.csv:4` for the row (column None).
    pub(super) fn place(&self, row: usize, column: Option<usize>) -> String {
        let start = self.cells[row][column.unwrap_or(0)].start;
        let (line, col) = line_col(&self.text, start);
        match column {
            Some(_) => format!("{}:{line}:{col}", self.design.file),
            None => format!("{} line {line}", self.design.file),
        }
    }
}

fn error_at(file: &str, text: &str, span: Range<usize>, message: String, help: &str) -> Error {
    Error::Design(InputError::new(file, text, vec![Problem::at(span, message, help)]))
}

fn whole_file(file: &str, message: String, help: &str) -> Error {
    Error::Design(InputError::new(
        file,
        "",
        vec![Problem::new(Location::File, message, help)],
    ))
}

/// Read and check the design table at `path`.
pub(super) fn read_design(path: &Path) -> Result<DesignFile, Error> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        whole_file(
            &file,
            format!("cannot read the design table {file}: {e}"),
            "give the path of a CSV file: --design design.csv",
        )
    })?;
    parse_design(&file, &bytes)
}

/// Parse and check a design table (`file` names it in messages).
pub(super) fn parse_design(file: &str, bytes: &[u8]) -> Result<DesignFile, Error> {
    let sha256 = sha256_hex(bytes);
    let text = match String::from_utf8(bytes.to_vec()) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(whole_file(
                file,
                format!("{file} line {line} is not UTF-8 text"),
                "save the design table as UTF-8 CSV",
            ));
        }
    };
    // a byte-order mark (spreadsheets write one) is not part of the first column's name
    let skip = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(&text.as_bytes()[skip..]);
    // every record with the byte range of each of its cells
    let mut records: Vec<(csv::StringRecord, Vec<Range<usize>>)> = Vec::new();
    for result in reader.records() {
        let record = result.map_err(|e| {
            let at = e.position().map_or(0, |p| p.byte() as usize + skip);
            error_at(file, &text, at..at, format!("{file} is not valid CSV: {e}"), SHAPE)
        })?;
        let start = record.position().map_or(0, |p| p.byte() as usize) + skip;
        let spans = cell_spans(&text, start, &record);
        records.push((record, spans));
    }
    let mut records = records.into_iter();
    let Some((head, header)) = records.next() else {
        return Err(whole_file(file, format!("the design table {file} is empty"), SHAPE));
    };
    let columns: Vec<String> = head.iter().map(str::to_string).collect();
    for (c, name) in columns.iter().enumerate() {
        if name.is_empty() {
            return Err(error_at(
                file,
                &text,
                header[c].clone(),
                format!("column {} of {file} has no name", c + 1),
                "every column is named by the --set path it sets, e.g. market.step; an unnamed first column is \
                 usually a DataFrame index: write the file with to_csv(FILE, index=False)",
            ));
        }
        if let Some(first) = columns[..c].iter().position(|n| n == name) {
            return Err(error_at(
                file,
                &text,
                header[c].clone(),
                format!("column {} of {file} repeats '{name}' (column {})", c + 1, first + 1),
                "give each --set path one column",
            ));
        }
    }
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    for (record, spans) in records {
        let row = rows.len() + 1;
        // (found only for a message: it scans the text before the row)
        let line = || spans.first().map_or(0, |s| line_col(&text, s.start).0);
        if record.len() != columns.len() {
            let (span, which) = if record.len() < columns.len() {
                let end = spans.last().map_or(0, |s| s.end);
                let missing = &columns[record.len()..];
                (end..end, format!("no cell for {}", missing.join(", ")))
            } else {
                (
                    spans[columns.len()].clone(),
                    format!("cell {} has no column", columns.len() + 1),
                )
            };
            return Err(error_at(
                file,
                &text,
                span,
                format!(
                    "line {} of {file} (row {row}) has {} cell{}, the header has {} columns: {which}",
                    line(),
                    record.len(),
                    if record.len() == 1 { "" } else { "s" },
                    columns.len()
                ),
                "give every row one value per column of the header",
            ));
        }
        if let Some(c) = record.iter().position(str::is_empty) {
            return Err(error_at(
                file,
                &text,
                spans[c].clone(),
                format!(
                    "line {} of {file} (row {row}): the cell of column {} is empty",
                    line(),
                    columns[c]
                ),
                "give every cell a value; a design table has no default values",
            ));
        }
        rows.push(record.iter().map(str::to_string).collect());
        cells.push(spans);
    }
    if rows.is_empty() {
        return Err(error_at(
            file,
            &text,
            header[0].clone(),
            format!("the design table {file} has a header but no rows"),
            SHAPE,
        ));
    }
    Ok(DesignFile {
        design: Design {
            file: file.to_string(),
            sha256,
            columns,
            rows,
        },
        text,
        header,
        cells,
    })
}

/// Where each cell of `record` (which starts at byte `start` of `text`) is: its trimmed text,
/// found in order; a quoted cell spans its quotes.
fn cell_spans(text: &str, start: usize, record: &csv::StringRecord) -> Vec<Range<usize>> {
    let blank = |s: &str| s.len() - s.trim_start_matches([' ', '\t']).len();
    // a record's position can be that of blank lines before it
    let mut at = start + (text[start..].len() - text[start..].trim_start_matches(['\r', '\n']).len());
    let mut spans = Vec::with_capacity(record.len());
    for (i, cell) in record.iter().enumerate() {
        if i > 0 {
            // past the comma that ends the previous cell
            at += blank(&text[at..]);
            at += usize::from(text[at..].starts_with(','));
        }
        let pos = at + blank(&text[at..]);
        let rest = &text[pos..];
        let end = if rest.starts_with(cell) && !rest.starts_with('"') {
            pos + cell.len()
        } else if rest.starts_with('"') {
            // to the closing quote ("" inside is an escaped quote)
            let mut j = 1;
            let b = rest.as_bytes();
            while j < b.len() {
                if b[j] == b'"' {
                    if b.get(j + 1) == Some(&b'"') {
                        j += 2;
                        continue;
                    }
                    j += 1;
                    break;
                }
                j += 1;
            }
            pos + j
        } else {
            pos + rest.find([',', '\r', '\n']).unwrap_or(rest.len())
        };
        spans.push(pos..end);
        at = end;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<DesignFile, String> {
        parse_design("d.csv", text.as_bytes()).map_err(|e| match e {
            Error::Design(e) => e.to_string(),
            e => panic!("{e}"),
        })
    }

    #[test]
    fn a_table_reads_with_cells_located() {
        let d = read("\u{feff}market.step, agents.rate\n0.2,0.1\n\n\"0.5\", 0.3\r\n").unwrap();
        assert_eq!(d.design.columns, ["market.step", "agents.rate"]);
        assert_eq!(d.design.rows, [["0.2", "0.1"], ["0.5", "0.3"]]);
        assert_eq!(d.design.points(), 2);
        assert_eq!(d.design.values(1), ["0.5", "0.3"]);
        assert_eq!(d.place(0, Some(1)), "d.csv:2:5");
        assert_eq!(d.place(1, None), "d.csv line 4");
        assert_eq!(d.place(1, Some(1)), "d.csv:4:8");
        assert_eq!(&d.text[d.header[1].clone()], "agents.rate");
        assert_eq!(d.design.sha256.len(), 64);
    }

    #[test]
    fn bad_tables_name_line_and_column() {
        let cases = [
            ("", "is empty", None),
            ("a,b\n", "has a header but no rows", Some("d.csv:1:1")),
            ("a,,c\n1,2,3\n", "column 2 of d.csv has no name", Some("d.csv:1:3")),
            (
                "a,b,a\n1,2,3\n",
                "column 3 of d.csv repeats 'a' (column 1)",
                Some("d.csv:1:5"),
            ),
            (
                "a,b\n1,2\n3\n",
                "line 3 of d.csv (row 2) has 1 cell, the header has 2 columns: no cell for b",
                Some("d.csv:3:2"),
            ),
            (
                "a,b\n1,2\n\n3\n",
                "line 4 of d.csv (row 2) has 1 cell,",
                Some("d.csv:4:2"),
            ),
            (
                "a,b\n1,2,3\n",
                "(row 1) has 3 cells, the header has 2 columns: cell 3 has no column",
                Some("d.csv:2:5"),
            ),
            (
                "a,b\n1,2\n4, \n",
                "line 3 of d.csv (row 2): the cell of column b is empty",
                Some("d.csv:3:4"),
            ),
        ];
        for (text, message, place) in cases {
            let e = read(text).err().unwrap_or_else(|| panic!("{text:?} was accepted"));
            assert!(e.contains(message), "{text:?}: {e}");
            match place {
                Some(p) => assert!(e.contains(&format!("--> {p}\n")), "{text:?}: {e}"),
                None => assert!(e.contains("--> d.csv\n"), "{text:?}: {e}"),
            }
        }
        let e = parse_design("d.csv", b"a\n\xff\n").err().unwrap().to_string();
        assert!(e.contains("line 2 is not UTF-8"), "{e}");
    }

    /// Any text (quotes, blank lines, CR, non-ASCII blanks, a byte-order mark) reads or is
    /// refused, never panics; what reads has every row as wide as the header.
    #[test]
    fn odd_text_never_panics() {
        let pieces = [
            "a", "1", ",", "\"", "\n", "\r\n", " ", "\t", "\u{a0}", "\u{e9}", "\u{feff}", "\"\"",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..5_000 {
            let mut text = String::new();
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            for _ in 0..(x >> 60) + 2 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                text.push_str(pieces[(x >> 33) as usize % pieces.len()]);
            }
            match parse_design("d.csv", text.as_bytes()) {
                Ok(d) => {
                    assert!(
                        d.design.rows.iter().all(|r| r.len() == d.design.columns.len()),
                        "{text:?}"
                    );
                    for (r, row) in d.cells.iter().enumerate() {
                        assert_eq!(row.len(), d.design.columns.len());
                        let _ = d.place(r, Some(row.len() - 1));
                    }
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
}
