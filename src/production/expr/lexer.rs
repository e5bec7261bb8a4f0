//! The lexer: expression text into tokens (numbers, names, operators, parentheses, commas),
//! skipping whitespace, with a located error for anything that is not a token.

use super::error::{clip, quote, ExprError};

/// A kind of token (a number carries its value; a name is looked up by its span).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Tok {
    Num(f64),
    Ident,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LParen,
    RParen,
    Comma,
    End,
}

/// A token and its byte span `start..end` in the source.
#[derive(Debug, Clone, Copy)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// Reads tokens one at a time from `src`, starting at byte `pos`.
pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn skip_whitespace(&mut self) {
        while let Some(c) = self.src[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    /// Whether the next token is '(' (skips whitespace).
    pub(super) fn next_is_lparen(&mut self) -> bool {
        self.skip_whitespace();
        self.src.as_bytes().get(self.pos) == Some(&b'(')
    }

    pub(super) fn next(&mut self) -> Result<Token, ExprError> {
        self.skip_whitespace();
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let Some(&c) = bytes.get(start) else {
            return Ok(Token {
                tok: Tok::End,
                start,
                end: start,
            });
        };
        let tok = match c {
            b'+' => Tok::Plus,
            b'-' => Tok::Minus,
            b'/' => Tok::Slash,
            b'^' => Tok::Caret,
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b',' => Tok::Comma,
            b'*' => {
                if bytes.get(start + 1) == Some(&b'*') {
                    return Err(ExprError::new(
                        start,
                        2,
                        "'**' is not an operator",
                        "write powers with '^', e.g. 'x^2'",
                    ));
                }
                Tok::Star
            }
            b'0'..=b'9' | b'.' => return self.number(),
            c if is_ident_start(c) => {
                let mut end = start + 1;
                while bytes.get(end).is_some_and(|&c| is_ident_continue(c)) {
                    end += 1;
                }
                self.pos = end;
                return Ok(Token {
                    tok: Tok::Ident,
                    start,
                    end,
                });
            }
            _ => return Err(self.unexpected_char(start)),
        };
        self.pos = start + 1;
        Ok(Token {
            tok,
            start,
            end: start + 1,
        })
    }

    fn unexpected_char(&self, start: usize) -> ExprError {
        let ch = self.src[start..].chars().next().unwrap_or('?');
        let len = ch.len_utf8();
        let message = format!("unexpected character '{ch}'");
        let help = match ch {
            '\u{2212}' | '\u{2013}' | '\u{2014}' => {
                "this is a typographic dash; type the ASCII minus '-' instead".to_string()
            }
            '\u{00d7}' | '\u{00b7}' | '\u{2219}' | '\u{22c5}' => {
                "write multiplication with '*', e.g. 'x * y'".to_string()
            }
            '\u{00f7}' => "write division with '/', e.g. 'x / y'".to_string(),
            '\u{00b2}' | '\u{00b3}' => "write powers with '^', e.g. 'x^2'".to_string(),
            '[' | ']' | '{' | '}' => "use '(' and ')' for grouping".to_string(),
            c if c.is_alphabetic() => "names of goods may only contain ASCII letters, digits and '_' (and must not \
                 start with a digit); rename the good"
                .to_string(),
            _ => "an expression may only contain numbers, names of goods (letters, digits, '_'), \
                  the operators + - * / ^, parentheses, and ',' between function arguments; \
                  remove this character"
                .to_string(),
        };
        ExprError::new(start, len, message, help)
    }

    fn number(&mut self) -> Result<Token, ExprError> {
        let bytes = self.src.as_bytes();
        let digit = |p: usize| bytes.get(p).is_some_and(u8::is_ascii_digit);
        let start = self.pos;
        let mut p = start;
        while digit(p) {
            p += 1;
        }
        let mut ndigits = p - start;
        if bytes.get(p) == Some(&b'.') {
            p += 1;
            let s = p;
            while digit(p) {
                p += 1;
            }
            ndigits += p - s;
        }
        if ndigits == 0 {
            return Err(ExprError::new(
                start,
                1,
                "'.' on its own is not a number",
                "write decimals with a digit after the point, e.g. 0.5 or .5",
            ));
        }
        if matches!(bytes.get(p), Some(b'e' | b'E')) {
            let mut q = p + 1;
            if matches!(bytes.get(q), Some(b'+' | b'-')) {
                q += 1;
            }
            if digit(q) {
                while digit(q) {
                    q += 1;
                }
                p = q;
            } else if !bytes.get(p + 1).is_some_and(|&c| is_ident_continue(c)) {
                let text = &self.src[start..q];
                return Err(ExprError::new(
                    start,
                    q - start,
                    format!("the number {} has no digits after the exponent 'e'", quote(text)),
                    "write the exponent's digits, e.g. 1e3 for 1000 or 2.5e-2 for 0.025",
                ));
            }
        }
        if bytes.get(p) == Some(&b'.') {
            let mut q = p;
            while bytes.get(q).is_some_and(|&c| is_ident_continue(c) || c == b'.') {
                q += 1;
            }
            let text = &self.src[start..q];
            return Err(ExprError::new(
                start,
                q - start,
                format!("{} is not a valid number", quote(text)),
                "a number has at most one decimal point, and an exponent comes last, \
                 e.g. 1.25 or 2.5e-3",
            ));
        }
        let text = &self.src[start..p];
        let value: f64 = text.parse().map_err(|_| {
            ExprError::new(
                start,
                p - start,
                format!("{} is not a valid number", quote(text)),
                "write numbers like 2, 0.5, .5 or 1e-3",
            )
        })?;
        if !value.is_finite() {
            return Err(ExprError::new(
                start,
                p - start,
                format!("number {} is not finite", clip(text)),
                "numbers must be below about 1.8e308; rescale the quantities",
            ));
        }
        self.pos = p;
        Ok(Token {
            tok: Tok::Num(value),
            start,
            end: p,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Result<Vec<(Tok, &str)>, ExprError> {
        let mut lex = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lex.next()?;
            out.push((t.tok, &src[t.start..t.end]));
            if t.tok == Tok::End {
                return Ok(out);
            }
        }
    }

    #[test]
    fn tokens_and_their_spans() {
        assert_eq!(
            tokens(" x_1*2.5e3 ,(\u{a0}.5)^-y").unwrap(),
            [
                (Tok::Ident, "x_1"),
                (Tok::Star, "*"),
                (Tok::Num(2500.0), "2.5e3"),
                (Tok::Comma, ","),
                (Tok::LParen, "("),
                (Tok::Num(0.5), ".5"),
                (Tok::RParen, ")"),
                (Tok::Caret, "^"),
                (Tok::Minus, "-"),
                (Tok::Ident, "y"),
                (Tok::End, ""),
            ]
        );
        // a name right after a number is a token of its own (the parser then asks for an operator)
        assert_eq!(tokens("2x").unwrap()[..2], [(Tok::Num(2.0), "2"), (Tok::Ident, "x")]);
        assert_eq!(tokens("2ex").unwrap()[..2], [(Tok::Num(2.0), "2"), (Tok::Ident, "ex")]);
    }

    #[test]
    fn what_is_not_a_token() {
        let at = |src: &str| tokens(src).map(|_| ()).unwrap_err();
        let e = at("x ** 2");
        assert_eq!((e.offset, e.len), (2, 2));
        let e = at("1.2.3");
        assert_eq!(
            (e.offset, e.len, e.message.as_str()),
            (0, 5, "'1.2.3' is not a valid number")
        );
        let e = at("2e+ x");
        assert_eq!((e.offset, e.len), (0, 3));
        let e = at("x \u{2212} y");
        assert_eq!((e.offset, e.len), (2, 3));
        assert!(e.help.contains("typographic dash"), "{e:?}");
        let e = at("1e999");
        assert_eq!(e.message, "number 1e999 is not finite");
    }
}
