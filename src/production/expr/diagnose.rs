//! The words of the parser's errors: what is wrong at a token (a missing operand or operator,
//! a wrong number of arguments, an unknown function, an unclosed parenthesis) and how to fix
//! it, with the location of the token.

use super::error::{clip, quote, ExprError};
use super::functions::{function_list, lookup_function, nearest_function, Func};
use super::lexer::{Tok, Token};
use super::parser::{Parser, Pending};

impl Parser<'_> {
    pub(super) fn arity_error(
        &self,
        func: Func,
        name_start: usize,
        name_end: usize,
        call_end: usize,
        got: usize,
    ) -> ExprError {
        let name = &self.src[name_start..name_end];
        let (expected, help) = match func {
            Func::Pow => (
                "2 arguments".to_string(),
                "write pow(base, exponent), e.g. pow(x, 0.5), or equivalently x^0.5".to_string(),
            ),
            Func::Min | Func::Max => (
                "2 or more arguments".to_string(),
                format!(
                    "{name} compares several values, e.g. {name}(x, y) or {name}(2*x, y, 10); \
                     with a single value, drop the {name}"
                ),
            ),
            _ => (
                "1 argument".to_string(),
                format!("write {name}(x) with exactly one argument"),
            ),
        };
        ExprError::new(
            name_start,
            call_end - name_start,
            format!("{name} takes {expected}, got {got}"),
            help,
        )
    }

    pub(super) fn unknown_function(&self, tok: &Token) -> ExprError {
        let name = self.text(tok);
        let lower = name.to_ascii_lowercase();
        let functions = function_list();
        let help = if lower.starts_with("log") && lower.len() > 3 {
            let base = &name[3..];
            format!(
                "only the natural logarithm is available (ln, or its synonym log); \
                 write ln(x)/ln({base}) for {name}(x)"
            )
        } else {
            match nearest_function(&lower, name.len()) {
                Some((0, f)) => {
                    format!("did you mean '{f}'? Function names are lowercase")
                }
                Some((_, f)) => format!("did you mean '{f}'? The functions are {functions}"),
                None => format!(
                    "the functions are {functions}; if '{}' is a good, put an operator \
                     between it and '(', e.g. '{} * (...)'",
                    clip(name),
                    clip(name)
                ),
            }
        };
        ExprError::new(
            tok.start,
            tok.end - tok.start,
            format!("unknown function {}", quote(name)),
            help,
        )
    }

    pub(super) fn expected_operand(&self, tok: &Token) -> ExprError {
        let found = self.describe(tok);
        let after = match &self.prev {
            None => "at the start of the expression".to_string(),
            Some(p) => format!("after {}", self.describe(p)),
        };
        let message = format!("expected a number, a good's name, a function call or '(' {after}, found {found}");
        let prev_tok = self.prev.map(|p| p.tok);
        let help = match (prev_tok, tok.tok) {
            (Some(Tok::LParen), Tok::RParen) => {
                if let Some(Pending::Call {
                    name_start, name_end, ..
                }) = self.ops.last()
                {
                    let func = lookup_function(&self.src[*name_start..*name_end]);
                    if let Some(func) = func {
                        return self.arity_error(func, *name_start, *name_end, tok.end, 0);
                    }
                }
                "empty parentheses: put an expression inside, e.g. '(x + 1)', or remove them".to_string()
            }
            (Some(Tok::Comma), Tok::RParen | Tok::Comma | Tok::End) => {
                "a function argument is missing after the ','; add it or remove the ','".to_string()
            }
            (Some(Tok::LParen), Tok::Comma) => "a function argument is missing before the ','; add it".to_string(),
            (Some(Tok::LParen), Tok::End) => "write an expression after the '(' and close it with ')'".to_string(),
            (Some(p), Tok::End) if is_operator(p) => format!(
                "the {} at {} has nothing on its right; complete the expression or remove it",
                self.describe(&self.prev.unwrap_or(*tok)),
                (self.place)(self.prev.map_or(tok.start, |p| p.start))
            ),
            (Some(p), Tok::RParen | Tok::Comma) if is_operator(p) => format!(
                "the {} has nothing on its right before the {found}; complete it or remove it",
                self.describe(&self.prev.unwrap_or(*tok))
            ),
            (Some(p), t) if is_operator(p) && is_operator(t) => format!(
                "two operators in a row; remove one of them, or put a value between them{}",
                if p == Tok::Star && t == Tok::Star {
                    " (powers are written with '^')"
                } else {
                    ""
                }
            ),
            (_, Tok::Star | Tok::Slash | Tok::Caret) => {
                format!("{found} needs a value on its left, e.g. 'x {} y'", self.text(tok))
            }
            (_, Tok::RParen) => "remove this ')' or add what should come before it".to_string(),
            (_, Tok::Comma) => "',' only separates function arguments, e.g. min(x, y); remove it".to_string(),
            _ => "complete the expression".to_string(),
        };
        ExprError::new(tok.start, tok.end - tok.start, message, help)
    }

    pub(super) fn expected_operator(&self, tok: &Token) -> ExprError {
        let prev = self.prev.unwrap_or(*tok);
        let a = self.describe(&prev);
        let b = self.describe(tok);
        let (ta, tb) = (clip(self.text(&prev)), clip(self.text(tok)));
        let help = if tok.tok == Tok::LParen {
            format!("to multiply, write '{ta} * (...)'; the other operators are + - / ^")
        } else {
            format!("to multiply, write '{ta} * {tb}'; the other operators are + - / ^")
        };
        ExprError::new(
            tok.start,
            tok.end - tok.start,
            format!("expected an operator between {a} and {b}"),
            help,
        )
    }

    pub(super) fn unclosed(&self, innermost: Pending) -> ExprError {
        let open = self
            .ops
            .iter()
            .filter(|p| matches!(p, Pending::Paren { .. } | Pending::Call { .. }))
            .count();
        let what = match innermost {
            Pending::Call {
                name_start, name_end, ..
            } => format!(
                "the call '{}(' at {}",
                &self.src[name_start..name_end],
                (self.place)(name_start)
            ),
            Pending::Paren { at } => format!("the '(' at {}", (self.place)(at)),
            _ => "an open '('".to_string(),
        };
        let help = if open == 1 {
            "add ')' at the end".to_string()
        } else {
            format!("add {open} ')' at the end ({open} parentheses are still open)")
        };
        ExprError::new(
            self.src.len(),
            0,
            format!("expected ')' to close {what}, found end of expression"),
            help,
        )
    }
}

fn is_operator(t: Tok) -> bool {
    matches!(t, Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash | Tok::Caret)
}

#[cfg(test)]
mod tests {
    use super::super::tests::check_error_invariants;
    use super::super::Expr;

    #[test]
    fn error_cases() {
        #[rustfmt::skip]
        let cases: &[(&str, usize, usize, &str, &str)] = &[
            ("", 0, 0, "empty expression", "write a production function"),
            ("  \t", 3, 0, "empty expression", ""),
            ("1 +", 3, 0, "after '+', found end of expression", "nothing on its right"),
            ("x ^", 3, 0, "found end of expression", "remove it"),
            ("()", 1, 1, "found ')'", "empty parentheses"),
            ("sqrt()", 0, 6, "sqrt takes 1 argument, got 0", "exactly one argument"),
            ("sqrt(x, y)", 0, 10, "sqrt takes 1 argument, got 2", ""),
            ("min(x)", 0, 6, "min takes 2 or more arguments, got 1", "drop the min"),
            ("max()", 0, 5, "max takes 2 or more arguments, got 0", ""),
            ("pow(x)", 0, 6, "pow takes 2 arguments, got 1", "pow(base, exponent)"),
            ("2 * log( x , 1, 2 )", 4, 15, "log takes 1 argument, got 3", ""),
            ("sqr(x)", 0, 3, "unknown function 'sqr'", "did you mean 'sqrt'?"),
            ("Sqrt(x)", 0, 4, "unknown function 'Sqrt'", "lowercase"),
            ("mx(x, y)", 0, 2, "unknown function 'mx'", "did you mean 'max'?"),
            ("log10(x)", 0, 5, "unknown function 'log10'", "ln(x)/ln(10)"),
            ("labor (x + 1)", 0, 5, "unknown function 'labor'", "'labor * (...)'"),
            ("1e400", 0, 5, "number 1e400 is not finite", ""),
            ("x + 1..2", 4, 4, "'1..2' is not a valid number", "at most one decimal point"),
            ("1.2.3", 0, 5, "'1.2.3' is not a valid number", ""),
            ("2e", 0, 2, "no digits after the exponent", ""),
            ("2e+ x", 0, 3, "no digits after the exponent", ""),
            (". + x", 0, 1, "'.' on its own", ""),
            ("x y", 2, 1, "expected an operator between 'x' and 'y'", "'x * y'"),
            ("2x", 1, 1, "expected an operator between '2' and 'x'", "'2 * x'"),
            ("2 (x)", 2, 1, "expected an operator between '2' and '('", "'2 * (...)'"),
            ("(x)(y)", 3, 1, "between ')' and '('", ""),
            ("(x + 1", 6, 0, "expected ')' to close the '(' at column 1, found end of expression", "add ')' at the end"),
            ("((x + 1", 7, 0, "the '(' at column 2", "add 2 ')'"),
            ("sqrt(x", 6, 0, "the call 'sqrt(' at column 1", "add ')' at the end"),
            ("x\n+ (y", 6, 0, "line 2, column 3", ""),
            ("x)", 1, 1, "unmatched ')'", ""),
            ("x ** 2", 2, 2, "'**' is not an operator", "'^'"),
            ("x, y", 1, 1, "','", "remove the ','"),
            ("(0,5)*x", 2, 1, "','", "0.5"),
            ("min(x,)", 6, 1, "after ',', found ')'", "missing after the ','"),
            ("min(,x)", 4, 1, "after '(', found ','", "missing before"),
            ("2 * sqrt", 4, 4, "'sqrt' is a function", "rename the good"),
            ("x + caf\u{e9}", 7, 2, "unexpected character '\u{e9}'", "ASCII letters"),
            ("x \u{2212} y", 2, 3, "unexpected character", "ASCII minus"),
            ("x # y", 2, 1, "unexpected character '#'", ""),
            ("*x", 0, 1, "at the start of the expression, found '*'", "needs a value on its left"),
            ("x + * y", 4, 1, "after '+', found '*'", "two operators in a row"),
            ("(x + )", 5, 1, "found ')'", "nothing on its right"),
        ];
        for &(src, offset, len, msg, help) in cases {
            let err = Expr::parse(src).expect_err(src);
            check_error_invariants(src, &err);
            assert_eq!((err.offset, err.len), (offset, len), "{src:?}: {err:?}");
            assert!(err.message.contains(msg), "{src:?}: message {:?}", err.message);
            assert!(err.help.contains(help), "{src:?}: help {:?}", err.help);
        }
    }
}
