//! Where a place inside a production expression is in the file: a TOML string's escapes,
//! line-ending backslashes and multi-line forms make the parsed expression and the text in
//! the file differ, so [`StringMap`] maps each byte back: an expression error, and the other
//! places it mentions ([`crate::production::Expr::parse_placed`]), are shown where they are in
//! the file.

use std::ops::Range;

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
    fn places_an_expression_error_mentions_are_file_positions() {
        // the expression is "\t((x)": its first '(' (column 2 of the expression) is never closed
        let source = "a = 1\nproduction = \"\\t((x)\"\n";
        let start = source.find('"').unwrap();
        let raw = &source[start..source.len() - 1];
        let m = StringMap::new(raw, "\t((x)", start);
        let place = |offset: usize| {
            let (line, column) = crate::scenario::error::line_col(source, m.span(offset, 1).start);
            format!("line {line}, column {column}")
        };
        let e = crate::production::Expr::parse_placed("\t((x)", &place).unwrap_err();
        assert!(e.message.contains("the '(' at line 2, column 17"), "{}", e.message);
        let plain = crate::production::Expr::parse("\t((x)").unwrap_err();
        assert!(plain.message.contains("the '(' at column 2"), "{}", plain.message);
    }
}
