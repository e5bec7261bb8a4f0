//! Where a place inside a production expression is in the file: a TOML string's escapes,
//! line-ending backslashes and multi-line forms make the parsed expression and the text in
//! the file differ, so [`StringMap`] maps each byte back, and [`relocate`] rewrites an
//! expression error's "column C" into the file's "line L, column C".

use std::ops::Range;

/// Expression messages count from the expression's start ("the '(' at column 2"); say where
/// that is in the file instead ("the '(' at line 26, column 16").
pub(super) fn relocate(msg: &str, expr: &str, at: &StringMap, source: &str) -> String {
    let number = |s: &str| -> Option<(usize, usize)> {
        let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        s[..digits].parse().ok().map(|n| (n, digits))
    };
    let mut out = String::new();
    let mut rest = msg;
    while let Some(i) = rest.find("column ") {
        // "line L, column C" (multi-line expressions) or "column C"
        let (start, line) = match rest[..i].strip_suffix(", ").and_then(|b| {
            let j = b.rfind("line ")?;
            number(&b[j + 5..])
                .filter(|&(_, d)| j + 5 + d == b.len())
                .map(|(l, _)| (j, l))
        }) {
            Some((j, l)) => (j, l),
            None => (i, 1),
        };
        let Some((col, digits)) = number(&rest[i + 7..]) else {
            out.push_str(&rest[..i + 7]);
            rest = &rest[i + 7..];
            continue;
        };
        // byte offset of (line, col) in the expression
        let line_start = if line == 1 {
            Some(0)
        } else {
            expr.match_indices('\n').nth(line - 2).map(|(k, _)| k + 1)
        };
        let offset = line_start.map(|ls| {
            expr[ls..]
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(expr.len(), |(k, _)| ls + k)
        });
        out.push_str(&rest[..start]);
        match offset {
            Some(o) => {
                let (fl, fc) = crate::scenario::error::line_col(source, at.span(o, 1).start);
                out.push_str(&format!("line {fl}, column {fc}"));
            }
            None => out.push_str(&rest[start..i + 7 + digits]),
        }
        rest = &rest[i + 7 + digits..];
    }
    out.push_str(rest);
    out
}

/// Byte offsets in the file of the bytes of a TOML string value, so that a position inside
/// the parsed string (an expression error) can be shown at its place in the file.
pub(super) struct StringMap {
    /// File offset of each byte of the parsed string, and of its end.
    offsets: Option<Vec<usize>>,
    /// Fallback: the file offset of the first byte after the opening quote(s).
    base: usize,
}

impl StringMap {
    /// `raw` is the value as written (quotes included), starting at file offset `start`;
    /// `parsed` the string TOML made of it.
    pub(super) fn new(raw: &str, parsed: &str, start: usize) -> StringMap {
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        let base = start + quote.min(raw.len());
        let offsets = Self::decode(raw, quote)
            .filter(|(text, _)| text == parsed)
            .map(|(_, offs)| offs.into_iter().map(|o| start + o).collect());
        StringMap { offsets, base }
    }

    /// The file range of bytes `off..off + len` of the parsed string.
    pub(super) fn span(&self, off: usize, len: usize) -> Range<usize> {
        match &self.offsets {
            Some(o) => {
                let a = o[off.min(o.len() - 1)];
                let b = o[(off + len).min(o.len() - 1)];
                a..b.max(a + 1)
            }
            None => self.base + off..self.base + off + len,
        }
    }

    /// Decode a TOML string token: the text and, per byte, its offset in `raw` (plus the end).
    /// None for anything unexpected (then the caller falls back to plain offsets).
    fn decode(raw: &str, quote: usize) -> Option<(String, Vec<usize>)> {
        if raw.len() < 2 * quote {
            return None;
        }
        let literal = raw.starts_with('\'');
        let multi = quote == 3;
        let body_end = raw.len() - quote;
        let mut text = String::new();
        let mut offs = Vec::new();
        let mut i = quote;
        let bytes = raw.as_bytes();
        // a newline right after the opening delimiter is not part of a multi-line string
        if multi {
            if raw[i..].starts_with("\r\n") {
                i += 2;
            } else if raw[i..].starts_with('\n') {
                i += 1;
            }
        }
        let mut push = |text: &mut String, ch: char, at: usize| {
            for _ in 0..ch.len_utf8() {
                offs.push(at);
            }
            text.push(ch);
        };
        while i < body_end {
            let ch = raw[i..].chars().next()?;
            if ch == '\r' && raw[i..].starts_with("\r\n") {
                push(&mut text, '\n', i);
                i += 2;
            } else if ch != '\\' || literal {
                push(&mut text, ch, i);
                i += ch.len_utf8();
            } else {
                let esc = *bytes.get(i + 1)? as char;
                let simple = match esc {
                    'b' => Some('\u{8}'),
                    't' => Some('\t'),
                    'n' => Some('\n'),
                    'f' => Some('\u{c}'),
                    'r' => Some('\r'),
                    'e' => Some('\u{1b}'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    _ => None,
                };
                if let Some(d) = simple {
                    push(&mut text, d, i);
                    i += 2;
                } else if esc == 'u' || esc == 'U' || esc == 'x' {
                    let n = match esc {
                        'u' => 4,
                        'U' => 8,
                        _ => 2,
                    };
                    let hex = raw.get(i + 2..i + 2 + n)?;
                    let d = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                    push(&mut text, d, i);
                    i += 2 + n;
                } else if multi {
                    // line-ending backslash: skip whitespace and newlines up to the next text
                    let rest = &raw[i + 1..body_end];
                    let skipped = rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
                    if !rest[..skipped].contains('\n') {
                        return None;
                    }
                    i += 1 + skipped;
                } else {
                    return None;
                }
            }
        }
        offs.push(body_end);
        Some((text, offs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where byte `i` of the parsed string `parsed` is in `raw`, per StringMap.
    fn at(raw: &str, parsed: &str, needle: &str) -> usize {
        let m = StringMap::new(raw, parsed, 0);
        assert!(m.offsets.is_some(), "{raw:?} did not decode to {parsed:?}");
        m.span(parsed.find(needle).unwrap(), needle.len()).start
    }

    #[test]
    fn string_positions_survive_escapes_and_multiline_forms() {
        let raw = r#""\tsqrt(x)""#;
        assert_eq!(at(raw, "\tsqrt(x)", "x"), raw.find("x)").unwrap());
        let raw = r#""\u0073qrt(\U00000078)""#;
        assert_eq!(at(raw, "sqrt(x)", "x"), raw.find("\\U").unwrap());
        let raw = "\"\"\"\r\nsqrt(\r\n  x)\"\"\"";
        assert_eq!(at(raw, "sqrt(\n  x)", "x"), raw.find("x)").unwrap());
        let raw = "\"\"\"sqrt( \\\n     x)\"\"\"";
        assert_eq!(at(raw, "sqrt( x)", "x"), raw.find("x)").unwrap());
        let raw = "'''\nln(a\\b)'''";
        assert_eq!(at(raw, "ln(a\\b)", "b"), raw.find("b)").unwrap());
        // not what TOML made of it: fall back to plain offsets after the quote
        let m = StringMap::new("\"abc\"", "xyz", 10);
        assert!(m.offsets.is_none());
        assert_eq!(m.span(1, 1), 12..13);
    }

    #[test]
    fn expression_columns_become_file_positions() {
        let source = "a = 1\nproduction = \"\\t((x)\"\n";
        let start = source.find('"').unwrap();
        let raw = &source[start..source.len() - 1];
        let m = StringMap::new(raw, "\t((x)", start);
        assert_eq!(
            relocate("the '(' at column 3, and column 99", "\t((x)", &m, source),
            "the '(' at line 2, column 18, and line 2, column 21"
        );
        assert_eq!(relocate("no place", "x", &m, source), "no place");
    }
}
