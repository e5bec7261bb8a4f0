//! The parser: tokens into the tape, by shunting-yard with explicit stacks (no recursion, so
//! any depth of nesting is safe), folding constant sub-expressions as it goes and refusing
//! expressions over [`MAX_NODES`] nodes. The words of its error messages are in diagnose.rs.

use std::collections::HashMap;

use super::error::{quote, ExprError};
use super::functions::{lookup_function, Func};
use super::lexer::{Lexer, Tok, Token};
use super::tape::{max_picks_second, min_picks_second, Op};
use super::{Expr, MAX_NODES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    fn prec(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul | BinOp::Div => 2,
            BinOp::Pow => 4,
        }
    }
}

/// Precedence of unary minus: between `* /` and `^`.
const NEG_PREC: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnOp {
    Neg,
    Sqrt,
    Ln,
    Exp,
}

/// An operand: a constant (not yet on the tape) or a tape node.
#[derive(Debug, Clone, Copy)]
enum Val {
    C(f64),
    N(u32),
}

/// An operator or an open parenthesis waiting on the operator stack.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pending {
    Bin(BinOp),
    Neg,
    /// A plain '(' at byte `at`.
    Paren {
        at: usize,
    },
    /// A function call `name(` whose name spans `name_start..name_end`, with `args` commas so far.
    Call {
        func: Func,
        name_start: usize,
        name_end: usize,
        args: usize,
    },
}

/// The state of one parse: the tape so far, the operand and operator stacks, the variables.
pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    /// Names a byte offset of `src` in messages ([`Expr::parse_placed`](super::Expr::parse_placed)).
    pub(super) place: &'a dyn Fn(usize) -> String,
    lex: Lexer<'a>,
    tape: Vec<Op>,
    vals: Vec<Val>,
    pub(super) ops: Vec<Pending>,
    vars: Vec<String>,
    var_nodes: Vec<u32>,
    var_spans: Vec<(usize, usize)>,
    var_index: HashMap<&'a str, usize>,
    smooth: bool,
    /// The token before the current one.
    pub(super) prev: Option<Token>,
    /// The current token (location for size-limit errors).
    cur: Token,
}

fn bin_value(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Pow => a.powf(b),
    }
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str, place: &'a dyn Fn(usize) -> String) -> Self {
        Parser {
            src,
            place,
            lex: Lexer::new(src),
            tape: Vec::new(),
            vals: Vec::new(),
            ops: Vec::new(),
            vars: Vec::new(),
            var_nodes: Vec::new(),
            var_spans: Vec::new(),
            var_index: HashMap::new(),
            smooth: true,
            prev: None,
            cur: Token {
                tok: Tok::End,
                start: 0,
                end: 0,
            },
        }
    }

    pub(super) fn text(&self, t: &Token) -> &'a str {
        &self.src[t.start..t.end]
    }

    pub(super) fn describe(&self, t: &Token) -> String {
        match t.tok {
            Tok::End => "end of expression".to_string(),
            _ => quote(self.text(t)),
        }
    }

    fn internal(&self) -> ExprError {
        ExprError::new(
            self.cur.start,
            self.cur.end - self.cur.start,
            "internal error in the expression parser",
            "please report this expression to the developers",
        )
    }

    pub(super) fn run(mut self) -> Result<Expr, ExprError> {
        if self.src.trim().is_empty() {
            return Err(ExprError::new(
                self.src.len(),
                0,
                "empty expression",
                "write a production function of the goods, e.g. 'sqrt(labor) * capital^0.3'",
            ));
        }
        let mut expect_operand = true;
        loop {
            let tok = self.lex.next()?;
            self.cur = tok;
            if expect_operand {
                match tok.tok {
                    Tok::Num(c) => {
                        self.vals.push(Val::C(c));
                        expect_operand = false;
                    }
                    Tok::Ident => {
                        let name = self.text(&tok);
                        if self.lex.next_is_lparen() {
                            let func = lookup_function(name).ok_or_else(|| self.unknown_function(&tok))?;
                            let lparen = self.lex.next()?;
                            self.ops.push(Pending::Call {
                                func,
                                name_start: tok.start,
                                name_end: tok.end,
                                args: 0,
                            });
                            self.prev = Some(lparen);
                            continue;
                        }
                        if lookup_function(name).is_some() {
                            return Err(ExprError::new(
                                tok.start,
                                tok.end - tok.start,
                                format!("'{name}' is a function and cannot be used as the name of a good"),
                                format!("call it with parentheses, e.g. '{name}(x)', or rename the good"),
                            ));
                        }
                        let node = self.variable(&tok)?;
                        self.vals.push(Val::N(node));
                        expect_operand = false;
                    }
                    Tok::LParen => self.ops.push(Pending::Paren { at: tok.start }),
                    Tok::Minus => self.ops.push(Pending::Neg),
                    Tok::Plus => {}
                    _ => return Err(self.expected_operand(&tok)),
                }
            } else {
                match tok.tok {
                    Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash | Tok::Caret => {
                        let op = match tok.tok {
                            Tok::Plus => BinOp::Add,
                            Tok::Minus => BinOp::Sub,
                            Tok::Star => BinOp::Mul,
                            Tok::Slash => BinOp::Div,
                            _ => BinOp::Pow,
                        };
                        let right_assoc = op == BinOp::Pow;
                        while let Some(&top) = self.ops.last() {
                            let p = match top {
                                Pending::Bin(b) => b.prec(),
                                Pending::Neg => NEG_PREC,
                                _ => break,
                            };
                            if p > op.prec() || (p == op.prec() && !right_assoc) {
                                self.ops.pop();
                                self.apply(top)?;
                            } else {
                                break;
                            }
                        }
                        self.ops.push(Pending::Bin(op));
                        expect_operand = true;
                    }
                    Tok::RParen => {
                        self.reduce_operators()?;
                        match self.ops.pop() {
                            Some(Pending::Paren { .. }) => {}
                            Some(Pending::Call {
                                func,
                                name_start,
                                name_end,
                                args,
                            }) => self.finish_call(func, name_start, name_end, tok.end, args + 1)?,
                            _ => {
                                return Err(ExprError::new(
                                    tok.start,
                                    1,
                                    "unmatched ')': there is no '(' before it for it to close",
                                    "remove this ')' or add the matching '(' earlier",
                                ));
                            }
                        }
                    }
                    Tok::Comma => {
                        self.reduce_operators()?;
                        match self.ops.last_mut() {
                            Some(Pending::Call { args, .. }) => {
                                *args += 1;
                                expect_operand = true;
                            }
                            Some(Pending::Paren { at }) => {
                                let at = *at;
                                return Err(ExprError::new(
                                    tok.start,
                                    1,
                                    "',' can only separate the arguments of a function call \
                                     like min(a, b)",
                                    format!(
                                        "this ',' is inside the plain parentheses opened at {}; \
                                         put a function name before that '(' (e.g. 'min(' or \
                                         'pow('), or write decimals with '.', e.g. 0.5",
                                        (self.place)(at)
                                    ),
                                ));
                            }
                            _ => {
                                return Err(ExprError::new(
                                    tok.start,
                                    1,
                                    "',' can only separate the arguments of a function call \
                                     like min(a, b)",
                                    "remove the ','; decimals are written with '.', e.g. 0.5",
                                ));
                            }
                        }
                    }
                    Tok::End => {
                        self.reduce_operators()?;
                        if let Some(&open) = self.ops.last() {
                            return Err(self.unclosed(open));
                        }
                        break;
                    }
                    Tok::Num(_) | Tok::Ident | Tok::LParen => {
                        return Err(self.expected_operator(&tok));
                    }
                }
            }
            self.prev = Some(tok);
        }
        let result = match self.vals.pop() {
            Some(v) if self.vals.is_empty() => v,
            _ => return Err(self.internal()),
        };
        let root = self.node(result)? as usize;
        Ok(Expr {
            src: self.src.to_string(),
            tape: self.tape,
            root,
            vars: self.vars,
            var_nodes: self.var_nodes.into_iter().map(Some).collect(),
            var_spans: self.var_spans,
            smooth: self.smooth,
        })
    }

    fn variable(&mut self, tok: &Token) -> Result<u32, ExprError> {
        let name = self.text(tok);
        if let Some(&i) = self.var_index.get(name) {
            return Ok(self.var_nodes[i]);
        }
        let i = self.vars.len();
        let node = self.push(Op::Var(i as u32))?;
        self.var_index.insert(name, i);
        self.vars.push(name.to_string());
        self.var_nodes.push(node);
        self.var_spans.push((tok.start, tok.end - tok.start));
        Ok(node)
    }

    // ----- tape building -----

    fn push(&mut self, op: Op) -> Result<u32, ExprError> {
        if self.tape.len() >= MAX_NODES {
            return Err(ExprError::new(
                self.cur.start,
                self.cur.end - self.cur.start,
                format!(
                    "the expression is too large: it needs more than {MAX_NODES} operations \
                     (the limit is reached here)"
                ),
                "simplify the production function; for example many identical terms can be \
                 written as one product, like '1000 * x' instead of 'x + x + ... + x'",
            ));
        }
        self.tape.push(op);
        Ok((self.tape.len() - 1) as u32)
    }

    fn node(&mut self, v: Val) -> Result<u32, ExprError> {
        match v {
            Val::N(i) => Ok(i),
            Val::C(c) => self.push(Op::Const(c)),
        }
    }

    fn pop_val(&mut self) -> Result<Val, ExprError> {
        self.vals.pop().ok_or_else(|| self.internal())
    }

    fn binary(&mut self, op: BinOp, a: Val, b: Val) -> Result<Val, ExprError> {
        if let (Val::C(x), Val::C(y)) = (a, b) {
            return Ok(Val::C(bin_value(op, x, y)));
        }
        let op = match op {
            BinOp::Pow => match (a, b) {
                (Val::N(ia), Val::C(y)) => {
                    if y.fract() == 0.0 && y.abs() <= f64::from(1 << 30) {
                        Op::PowI(ia, y as i32)
                    } else {
                        Op::PowC(ia, y)
                    }
                }
                (Val::C(x), Val::N(ib)) => Op::CPow(x, ib),
                _ => Op::Pow(self.node(a)?, self.node(b)?),
            },
            _ => {
                let (ia, ib) = (self.node(a)?, self.node(b)?);
                match op {
                    BinOp::Add => Op::Add(ia, ib),
                    BinOp::Sub => Op::Sub(ia, ib),
                    BinOp::Mul => Op::Mul(ia, ib),
                    _ => Op::Div(ia, ib),
                }
            }
        };
        Ok(Val::N(self.push(op)?))
    }

    fn unary(&mut self, op: UnOp, a: Val) -> Result<Val, ExprError> {
        match a {
            Val::C(x) => Ok(Val::C(match op {
                UnOp::Neg => -x,
                UnOp::Sqrt => x.sqrt(),
                UnOp::Ln => x.ln(),
                UnOp::Exp => x.exp(),
            })),
            Val::N(i) => {
                let op = match op {
                    UnOp::Neg => Op::Neg(i),
                    UnOp::Sqrt => Op::Sqrt(i),
                    UnOp::Ln => Op::Ln(i),
                    UnOp::Exp => Op::Exp(i),
                };
                Ok(Val::N(self.push(op)?))
            }
        }
    }

    fn extreme(&mut self, is_min: bool, a: Val, b: Val) -> Result<Val, ExprError> {
        if let (Val::C(x), Val::C(y)) = (a, b) {
            let second = if is_min {
                min_picks_second(x, y)
            } else {
                max_picks_second(x, y)
            };
            return Ok(Val::C(if second { y } else { x }));
        }
        self.smooth = false;
        let (ia, ib) = (self.node(a)?, self.node(b)?);
        let op = if is_min { Op::Min(ia, ib) } else { Op::Max(ia, ib) };
        Ok(Val::N(self.push(op)?))
    }

    fn apply(&mut self, p: Pending) -> Result<(), ExprError> {
        let r = match p {
            Pending::Bin(op) => {
                let b = self.pop_val()?;
                let a = self.pop_val()?;
                self.binary(op, a, b)?
            }
            Pending::Neg => {
                let a = self.pop_val()?;
                self.unary(UnOp::Neg, a)?
            }
            _ => return Err(self.internal()),
        };
        self.vals.push(r);
        Ok(())
    }

    /// Apply pending operators down to the nearest '(' or function call.
    fn reduce_operators(&mut self) -> Result<(), ExprError> {
        while let Some(&top) = self.ops.last() {
            if !matches!(top, Pending::Bin(_) | Pending::Neg) {
                break;
            }
            self.ops.pop();
            self.apply(top)?;
        }
        Ok(())
    }

    fn finish_call(
        &mut self,
        func: Func,
        name_start: usize,
        name_end: usize,
        call_end: usize,
        got: usize,
    ) -> Result<(), ExprError> {
        if !func.takes(got) {
            return Err(self.arity_error(func, name_start, name_end, call_end, got));
        }
        if self.vals.len() < got {
            return Err(self.internal());
        }
        let args = self.vals.split_off(self.vals.len() - got);
        let r = match func {
            Func::Sqrt => self.unary(UnOp::Sqrt, args[0])?,
            Func::Ln => self.unary(UnOp::Ln, args[0])?,
            Func::Exp => self.unary(UnOp::Exp, args[0])?,
            Func::Pow => self.binary(BinOp::Pow, args[0], args[1])?,
            Func::Min | Func::Max => {
                let mut acc = args[0];
                for &a in &args[1..] {
                    acc = self.extreme(func == Func::Min, acc, a)?;
                }
                acc
            }
        };
        self.vals.push(r);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_error_invariants, close, never_panics};
    use super::*;
    use proptest::prelude::*;
    use std::time::Instant;

    /// Evaluate `src` with named values.
    fn ev(src: &str, point: &[(&str, f64)]) -> f64 {
        let e = Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
        let x: Vec<f64> = e
            .variables()
            .iter()
            .map(|n| {
                point
                    .iter()
                    .find(|(k, _)| k == n)
                    .unwrap_or_else(|| panic!("no value for {n}"))
                    .1
            })
            .collect();
        e.eval(&x)
    }

    #[test]
    fn precedence_table() {
        let p = [("x", 2.0), ("y", 3.0), ("good_1", 5.0), ("Good2", 7.0)];
        let (x, y) = (2.0f64, 3.0f64);
        #[rustfmt::skip]
        let cases: &[(&str, f64)] = &[
            ("1+2*3", 7.0),
            ("(1+2)*3", 9.0),
            ("2^3^2", 512.0),
            ("(2^3)^2", 64.0),
            ("-x^2", -4.0),
            ("(-x)^2", 4.0),
            ("-2^2", -4.0),
            ("2^-1", 0.5),
            ("2^-x^2", 1.0 / 16.0),
            ("2^-x*3", 0.75),
            ("x-y-1", -2.0),
            ("x/y/2", x / y / 2.0),
            ("8/2*4", 16.0),
            ("2*x^2", 8.0),
            ("2*3^2", 18.0),
            ("2^3*2", 16.0),
            ("--x", 2.0),
            ("+x", 2.0),
            ("-+-x", 2.0),
            ("x - -y", 5.0),
            ("2*-x", -4.0),
            ("-x*y", -6.0),
            ("-(x+y)*2", -10.0),
            ("x^-2", 0.25),
            ("x^y", 8.0),
            ("-x^y", -8.0),
            ("x^2^0.5", x.powf(2f64.sqrt())),
            ("1/2/2", 0.25),
            (".5 + 1e-3", 0.501),
            ("1.5E2 + 2e+1 + 3.", 173.0),
            ("log(exp(2))", 2.0),
            ("ln(x)", x.ln()),
            ("sqrt(16)", 4.0),
            ("sqrt(x*8)", 4.0),
            ("pow(2, 10)", 1024.0),
            ("pow(x, y)", 8.0),
            ("min(3, x, 1)", 1.0),
            ("min(x, y)", 2.0),
            ("max(x, y, 0)", 3.0),
            ("max(-x, -y)", -2.0),
            ("x*y+x/y", 6.0 + x / y),
            ("  x\t*\n y ", 6.0),
            ("x\u{a0}*\u{2009}y", 6.0),
            ("good_1 + Good2", 12.0),
            ("((((x))))", 2.0),
            ("exp(-x) * exp(x)", 1.0),
            ("x^3 - 3*x^2*y + y/x", 8.0 - 36.0 + 1.5),
            ("sqrt(x)^2", x.sqrt().powi(2)),
            ("2^x", 4.0),
            ("min(x, 1) + max(y, 10)", 11.0),
        ];
        for &(src, want) in cases {
            let got = ev(src, &p);
            assert!(close(got, want, 1e-15), "{src}: got {got}, want {want}");
        }
    }

    #[test]
    fn constant_folding() {
        let e = Expr::parse("2^0.5 * 3 + 1").unwrap();
        assert_eq!(e.len(), 1);
        assert!(e.variables().is_empty());
        assert!(close(e.eval(&[]), 2f64.sqrt() * 3.0 + 1.0, 1e-15));
        let e = Expr::parse("x * (1 + 2) ^ 2").unwrap();
        assert_eq!(e.len(), 3); // x, 9, mul
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let n = 100_000;
        let src = format!("{}x{}", "(".repeat(n), ")".repeat(n));
        let e = Expr::parse(&src).unwrap();
        assert_eq!(e.eval(&[2.5]), 2.5);

        let src = format!("{}x", "(".repeat(n));
        let err = Expr::parse(&src).unwrap_err();
        assert!(err.help.contains("add 100000 ')'"), "{err:?}");
        check_error_invariants(&src, &err);

        let src = format!("{}x", "-".repeat(n));
        let err = Expr::parse(&src).unwrap_err();
        assert!(err.message.contains("too large"), "{err:?}");

        let src = format!("{}x", "-".repeat(1001));
        assert_eq!(Expr::parse(&src).unwrap().eval(&[2.0]), -2.0);

        let src = format!("{}1", "-".repeat(n));
        assert_eq!(Expr::parse(&src).unwrap().eval(&[]), 1.0);

        // x^x^...^x with 99,999 '^': exactly MAX_NODES nodes; derivative at 1 is 1.
        let src = format!("{}x", "x^".repeat(MAX_NODES - 1));
        let e = Expr::parse(&src).unwrap();
        assert_eq!(e.len(), MAX_NODES);
        let mut g = [0.0];
        assert_eq!(e.gradient(&[1.0], &mut g), 1.0);
        assert!(close(g[0], 1.0, 1e-12), "{}", g[0]);

        let src = format!("{}x{}", "sqrt(".repeat(n), ")".repeat(n));
        assert!(Expr::parse(&src).unwrap_err().message.contains("too large"));
        let src = format!("{}x{}", "exp(ln(".repeat(n / 4), "))".repeat(n / 4));
        let e = Expr::parse(&src).unwrap();
        assert!(close(e.eval(&[1.5]), 1.5, 1e-10));

        let src = format!("{}x{}", "min(1, ".repeat(n / 4), ")".repeat(n / 4));
        assert_eq!(Expr::parse(&src).unwrap().eval(&[0.5]), 0.5);
    }

    #[test]
    fn huge_flat_inputs_are_fast() {
        let terms = 1_000_000;
        let t0 = Instant::now();
        let src = vec!["x"; terms].join("+");
        let err = Expr::parse(&src).unwrap_err();
        assert!(err.message.contains("too large"), "{err:?}");
        check_error_invariants(&src, &err);
        let src = vec!["1"; terms].join(" + ");
        assert_eq!(Expr::parse(&src).unwrap().eval(&[]), terms as f64);
        let src = (0..40_000).map(|i| format!("g{i}")).collect::<Vec<_>>().join("+");
        let e = Expr::parse(&src).unwrap();
        assert_eq!(e.variables().len(), 40_000);
        let mut g = vec![0.0; 40_000];
        assert_eq!(e.gradient(&vec![1.0; 40_000], &mut g), 40_000.0);
        assert!(g.iter().all(|&d| d == 1.0));
        let src = format!("min({})", vec!["x"; 60_000].join(","));
        assert_eq!(Expr::parse(&src).unwrap().eval(&[3.0]), 3.0);
        let elapsed = t0.elapsed();
        // generous bound for unoptimised builds on a busy machine
        assert!(elapsed.as_secs_f64() < 5.0, "took {elapsed:?}");
    }

    const TOKENS: &[&str] = &[
        "x", "y", "k_2", "2", ".5", "1e3", "1e400", "1.", "+", "-", "*", "/", "^", "(", ")", ",", "sqrt", "ln", "log",
        "exp", "pow", "min", "max", "sqr", " ", "\u{e9}", "**", "..", "e", "1e", "\u{2212}", "\n", "0", "(", ")", "x",
    ];

    proptest! {
        #[test]
        fn random_token_strings_never_panic(
            toks in proptest::collection::vec(0..TOKENS.len(), 0..40)
        ) {
            let src: String = toks.iter().map(|&i| TOKENS[i]).collect();
            never_panics(&src);
        }

        #[test]
        fn random_strings_never_panic(src in "\\PC{0,40}") {
            never_panics(&src);
        }

        #[test]
        fn random_ascii_never_panics(src in "[ -~\t\n]{0,60}") {
            never_panics(&src);
        }
    }
}
