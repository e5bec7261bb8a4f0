//! Input errors: what is wrong, where (file, line, column, or the `--set` argument), and how
//! to fix it. Rendered like a compiler diagnostic, with the offending line underlined.

use super::format::Origin;
use std::fmt;
use std::ops::Range;

/// Most problems an error shows; the rest are counted.
pub const MAX_SHOWN: usize = 20;

/// Where an input error is.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// A byte range in the scenario source.
    Span(Range<usize>),
    /// A `--set PATH=VALUE` argument.
    Set(String),
    /// The file as a whole (e.g. "no firms").
    File,
    /// A cell of a table file (`[tables]`): its path, line (CSV, the header being line 1; for
    /// a Parquet file its data row, from 1, or 0 for the file's columns) and column name.
    Table { file: String, line: u64, column: String },
}

impl From<&Origin> for Location {
    fn from(o: &Origin) -> Self {
        match o {
            Origin::File(r) => Location::Span(r.clone()),
            Origin::Set(a) => Location::Set(a.clone()),
            Origin::Default => Location::File,
        }
    }
}

/// One problem with a scenario, before it is rendered against its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub location: Location,
    pub message: String,
    pub help: String,
}

impl Problem {
    pub fn new(location: Location, message: impl Into<String>, help: impl Into<String>) -> Self {
        Problem {
            location,
            message: message.into(),
            help: help.into(),
        }
    }
    pub fn at(span: Range<usize>, message: impl Into<String>, help: impl Into<String>) -> Self {
        Self::new(Location::Span(span), message, help)
    }
}

/// All problems found in one scenario, with the file name and the source lines they point
/// at. Only those lines are kept, not the source: an error in a 200 MB file costs a few
/// lines, not a copy of the file.
#[derive(Debug, Clone)]
pub struct InputError {
    pub file: String,
    /// The lines that hold the start of a problem's span, by their start offset.
    lines: Vec<SourceLine>,
    pub problems: Vec<Problem>,
}

/// One line of a scenario's source.
#[derive(Debug, Clone)]
struct SourceLine {
    /// Byte offset of the line's first byte in the source, and its 1-based number.
    start: usize,
    number: usize,
    /// The line, without its `\n`.
    text: String,
}

impl InputError {
    pub fn new(file: &str, source_text: &str, problems: Vec<Problem>) -> Self {
        let mut starts: Vec<usize> = problems
            .iter()
            .filter_map(|p| match &p.location {
                Location::Span(r) => Some(floor_char_boundary(source_text, r.start.min(source_text.len()))),
                _ => None,
            })
            .collect();
        starts.sort_unstable();
        starts.dedup();
        // one pass over the source, counting line ends up to each start
        let bytes = source_text.as_bytes();
        let mut lines: Vec<SourceLine> = Vec::with_capacity(starts.len());
        let (mut pos, mut number, mut line_start) = (0, 1, 0);
        for off in starts {
            if let Some(last) = lines.last() {
                if off <= last.start + last.text.len() {
                    continue; // on a line already kept
                }
            }
            let gap = &bytes[pos..off];
            if let Some(i) = memchr::memrchr(b'\n', gap) {
                number += memchr::memchr_iter(b'\n', gap).count();
                line_start = pos + i + 1;
            }
            pos = off;
            let end = memchr::memchr(b'\n', &bytes[off..]).map_or(bytes.len(), |i| off + i);
            lines.push(SourceLine {
                start: line_start,
                number,
                text: source_text[line_start..end].to_string(),
            });
        }
        InputError {
            file: file.to_string(),
            lines,
            problems,
        }
    }

    /// An error that is not about a position in a file (an unreadable file, a bad argument).
    pub fn plain(file: &str, message: impl Into<String>, help: impl Into<String>) -> Self {
        Self::new(file, "", vec![Problem::new(Location::File, message, help)])
    }

    /// The kept line that holds byte `offset` (the last one starting at or before it).
    fn line_of(&self, offset: usize) -> Option<&SourceLine> {
        let i = self.lines.partition_point(|l| l.start <= offset);
        self.lines.get(i.checked_sub(1)?)
    }

    /// (line, column), both 1-based, of the start of a problem's span (column counts
    /// characters); (1, 1) for an offset on no kept line.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        match self.line_of(offset) {
            Some(l) => {
                let within = floor_char_boundary(&l.text, (offset - l.start).min(l.text.len()));
                (l.number, l.text[..within].chars().count() + 1)
            }
            None => (1, 1),
        }
    }

    /// Whether `offset` lies on the kept line of `start` (its line end included).
    fn same_line(&self, start: usize, offset: usize) -> bool {
        self.line_of(start).is_some_and(|l| offset <= l.start + l.text.len())
    }

    /// The text of the line holding `offset`, without its line ending.
    fn line_text(&self, offset: usize) -> &str {
        let text = self.line_of(offset).map_or("", |l| l.text.as_str());
        text.strip_suffix('\r').unwrap_or(text)
    }
}

pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().take(MAX_SHOWN).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "error: {}", p.message)?;
            match &p.location {
                Location::Span(r) => {
                    let (line, col) = self.line_col(r.start);
                    writeln!(f, "  --> {}:{}:{}", self.file, line, col)?;
                    let text = self.line_text(r.start);
                    let line_chars = text.chars().count();
                    let end_in_line = {
                        let end = r.end.max(r.start + 1);
                        if self.same_line(r.start, end) {
                            self.line_col(end).1
                        } else {
                            line_chars + 1
                        }
                    };
                    // Keep very long lines (generated files) readable: show at most SHOWN
                    // characters, a window that holds the start of the problem.
                    const SHOWN: usize = 200;
                    let first = if col <= SHOWN - 40 { 1 } else { col - 40 };
                    let mut shown: String = text
                        .chars()
                        .skip(first - 1)
                        .take(SHOWN)
                        .map(|ch| if ch.is_control() { ' ' } else { ch })
                        .collect();
                    let mut pad = col - first;
                    if first > 1 {
                        shown.insert_str(0, "...");
                        pad += 3;
                    }
                    let last_shown = first + SHOWN - 1;
                    if line_chars > last_shown {
                        shown.push_str("...");
                    }
                    let width = end_in_line.min(last_shown + 1).saturating_sub(col).max(1);
                    let gutter = line.to_string().len();
                    writeln!(f, "{:gutter$} |", "")?;
                    writeln!(f, "{line} | {shown}")?;
                    writeln!(f, "{:gutter$} | {}{}", "", " ".repeat(pad), "^".repeat(width))?;
                }
                Location::Set(arg) => writeln!(f, "  --> {} (from --set {arg})", self.file)?,
                Location::File => writeln!(f, "  --> {}", self.file)?,
                // a Parquet table counts data rows from 1, its columns as a whole at row 0
                Location::Table { file, line, column } if file.ends_with(".parquet") => {
                    let row = if *line == 0 {
                        String::new()
                    } else {
                        format!(", row {line}")
                    };
                    writeln!(f, "  --> {file}{row}, column `{column}` (a table of {})", self.file)?
                }
                Location::Table { file, line, column } => {
                    writeln!(f, "  --> {file}:{line}, column `{column}` (a table of {})", self.file)?
                }
            }
            if !p.help.is_empty() {
                writeln!(f, "  = help: {}", p.help)?;
            }
        }
        if self.problems.len() > MAX_SHOWN {
            writeln!(f, "\n... and {} more problems", self.problems.len() - MAX_SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

/// The closest candidate within a sensible distance (Levenshtein distance in characters,
/// ignoring case; the first of equally close ones), for "did you mean ...?".
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// " Did you mean 'x'?" or "".
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match closest(name, candidates) {
        Some(c) => format!("did you mean '{c}'? "),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_the_closest_name_within_reach() {
        let goods = ["natgas", "ethylene", "tupperware", "labor", "labour"];
        assert_eq!(did_you_mean("natgs", goods), "did you mean 'natgas'? ");
        assert_eq!(did_you_mean("Ethylen", goods), "did you mean 'ethylene'? ");
        // equally close: the first candidate wins
        assert_eq!(closest("labo", goods), Some("labor"));
        assert_eq!(closest("capital", goods), None);
        // distances count characters, not bytes
        assert_eq!(closest("w\u{e4}hrung", ["waehrung", "wahrung"]), Some("wahrung"));
    }
}
