//! What a parse error is, as data: where in the expression (byte offset and length), what is
//! wrong and how to fix it, and where that is for a reader (line, column, the source line).
//! Turning these into terminal text is the command line's job (src/cli/compile.rs); the
//! scenario loader places them in the file instead (src/scenario/validate/expr_place.rs).

use std::fmt;

/// A problem found while parsing an expression, with its location and a suggested fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// Byte offset into the expression source where the problem is.
    pub offset: usize,
    /// Length in bytes of the offending token (at least 1 unless at end of input, then 0).
    pub len: usize,
    /// What is wrong, in plain words.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl ExprError {
    pub(super) fn new(offset: usize, len: usize, message: impl Into<String>, help: impl Into<String>) -> Self {
        ExprError {
            offset,
            len,
            message: message.into(),
            help: help.into(),
        }
    }

    /// Where the problem is in `src` (the string that was parsed): its line, and which
    /// characters of that line it covers.
    pub fn excerpt<'a>(&self, src: &'a str) -> Excerpt<'a> {
        let offset = src.floor_char_boundary(self.offset);
        let end = src.floor_char_boundary(offset.saturating_add(self.len));
        let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
        Excerpt {
            position: Position::of(src, offset),
            line: &src[line_start..line_end],
            before: src[line_start..offset].chars().count(),
            width: src[offset..end.min(line_end).max(offset)].chars().count().max(1),
        }
    }
}

/// The source line an [`ExprError`] is on, and the part of it the error covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Excerpt<'a> {
    /// Where the error starts.
    pub position: Position,
    /// The whole source line, without its line break.
    pub line: &'a str,
    /// Characters of `line` before the error.
    pub before: usize,
    /// Characters of `line` the error covers (at least 1, also at the end of the line).
    pub width: usize,
}

/// A place in a source for people: 1-based line and column, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    /// Whether the source has more than one line (then the line is worth naming).
    pub multi_line: bool,
}

impl Position {
    /// The position of byte `offset` (rounded down to a character boundary) in `src`.
    pub fn of(src: &str, offset: usize) -> Position {
        let offset = src.floor_char_boundary(offset);
        let before = &src[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            multi_line: src.contains('\n'),
        }
    }
}

/// "column C", or "line L, column C" for multi-line sources.
impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.multi_line {
            write!(f, "line {}, column {}", self.line, self.column)
        } else {
            write!(f, "column {}", self.column)
        }
    }
}

/// A piece of source for a message, shortened if very long.
pub(super) fn clip(s: &str) -> String {
    const MAX: usize = 30;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// A piece of source in quotes for a message, shortened if very long.
pub(super) fn quote(s: &str) -> String {
    format!("'{}'", clip(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_name_the_line_when_there_are_several() {
        assert_eq!(Position::of("x + y", 4).to_string(), "column 5");
        assert_eq!(Position::of("caf\u{e9} + y", 7).to_string(), "column 7");
        // inside a character: rounded down to its start
        assert_eq!(Position::of("\u{e9}", 1).to_string(), "column 1");
        assert_eq!(Position::of("x\n+ (y", 4).to_string(), "line 2, column 3");
        assert_eq!(Position::of("x", 99).to_string(), "column 2");
    }

    #[test]
    fn excerpt_is_the_line_and_the_characters_marked() {
        let e = ExprError::new(6, 0, "m", "h");
        let x = e.excerpt("x +\n  (y");
        assert_eq!((x.line, x.before, x.width), ("  (y", 2, 1));
        assert_eq!(x.position.to_string(), "line 2, column 3");
        let e = ExprError::new(4, 2, "m", "h");
        let x = e.excerpt("x + caf\u{e9}");
        assert_eq!((x.line, x.before, x.width), ("x + caf\u{e9}", 4, 2));
    }

    #[test]
    fn clip_shortens_long_pieces() {
        assert_eq!(quote("abc"), "'abc'");
        let long = "a".repeat(31);
        assert_eq!(clip(&long), format!("{}...", "a".repeat(30)));
    }
}
