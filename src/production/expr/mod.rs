//! Production-function expressions with exact first and second derivatives.
//!
//! A production function is written as an expression over the names of goods, e.g.
//! `sqrt(labor) * capital^0.3` or `min(2*wood, nails/4)`. [`Expr::parse`] compiles it to a
//! flat tape of operations in evaluation order (variables are referred to by index), and
//! [`Expr::eval`], [`Expr::gradient`] and [`Expr::hessian`] evaluate it. Derivatives are computed
//! by automatic differentiation, so they are exact up to floating-point rounding:
//!
//! * the gradient by reverse mode (one forward and one backward sweep over the tape);
//! * the Hessian by forward-over-reverse mode (one tangent sweep and one backward sweep per
//!   variable), symmetrised at the end.
//!
//! # Grammar
//!
//! ```text
//! expr     := sum
//! sum      := product (('+' | '-') product)*
//! product  := unary (('*' | '/') unary)*
//! unary    := ('-' | '+') unary | power
//! power    := primary ('^' unary)?            -- right-associative, binds tighter than unary minus
//! primary  := number | name | function '(' expr (',' expr)* ')' | '(' expr ')'
//! number   := digits ['.' digits] [('e'|'E') ['+'|'-'] digits]   (also ".5", "1.")
//! name     := [A-Za-z_][A-Za-z0-9_]*
//! function := sqrt | ln | log | exp | pow | min | max     (log is the natural logarithm)
//! ```
//!
//! So `-x^2` is `-(x^2)`, `2^3^2` is `2^9`, and `2^-x` is `2^(-x)`. Function names are reserved
//! and cannot be used as names of goods. Whitespace (including Unicode whitespace) may appear
//! between any two tokens.
//!
//! # Conventions at awkward points
//!
//! * `min`/`max` pick the first argument achieving the extreme; the derivative flows only to it
//!   (a one-sided derivative / subgradient at ties). If an argument is NaN the result is NaN.
//! * `x^n` with a constant integer `n` works for negative `x`. `a^b` with a non-constant `b` is
//!   `exp(b ln a)` as far as the derivative with respect to `b` is concerned.
//! * `sqrt(0)` has derivative `+inf`; `ln` of a non-positive number gives NaN or `-inf` as `f64`
//!   does. Nothing panics; the caller is expected to stay inside the domain.
//! * A derivative that does not flow through a branch never picks up that branch's infinities:
//!   `max(1, sqrt(x))` at `x = 0` has derivative exactly 0, not NaN.
//!
//! # Robustness
//!
//! The parser is iterative (shunting-yard with explicit stacks), so arbitrarily deep nesting
//! cannot overflow the call stack. Expressions that would need more than [`MAX_NODES`] tape
//! nodes are rejected. Parsing never panics on any `&str`. Constant sub-expressions are folded
//! at parse time (`2^0.5 * x` stores a single constant).

//!
//! # Files
//!
//! `lexer.rs` reads tokens; `parser.rs` turns them into the tape, with the words of its errors
//! in `diagnose.rs`; `tape.rs` holds the operations and their local derivatives; `sweeps.rs`
//! evaluates value, gradient and Hessian; `functions.rs` lists the functions an expression may
//! call; `error.rs` is a parse error as data ([`ExprError`]).

mod diagnose;
mod error;
mod functions;
mod lexer;
mod parser;
mod sweeps;
mod tape;

use std::collections::HashMap;
use std::fmt;

pub use error::{Excerpt, ExprError, Position};
pub use functions::FUNCTION_NAMES;
pub use tape::Node;

use parser::Parser;
use tape::Op;

/// Largest number of tape nodes an expression may compile to.
pub const MAX_NODES: usize = 100_000;

/// A compiled production function.
#[derive(Debug, Clone)]
pub struct Expr {
    src: String,
    tape: Vec<Op>,
    root: usize,
    vars: Vec<String>,
    /// Tape node of each variable (`None` if the variable does not occur in the expression).
    var_nodes: Vec<Option<u32>>,
    /// Source span of the first occurrence of each variable (`(0, 0)` if it does not occur).
    var_spans: Vec<(usize, usize)>,
    smooth: bool,
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

impl Expr {
    /// Parse and compile an expression.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        Self::parse_placed(src, &|offset| Position::of(src, offset).to_string())
    }

    /// [`Expr::parse`], with `place` naming the byte offsets of `src` that an error mentions
    /// besides its own ("the '(' at column 3"): the scenario loader names them by their line
    /// and column in the file, where the expression is one string among others.
    pub fn parse_placed(src: &str, place: &dyn Fn(usize) -> String) -> Result<Expr, ExprError> {
        Parser::new(src, place).run()
    }

    /// Distinct variable names in order of first appearance. `x` slices passed to `eval` etc.
    /// are indexed in this order.
    pub fn variables(&self) -> &[String] {
        &self.vars
    }

    /// Index of the variable called `name`, if any.
    pub fn variable_index(&self, name: &str) -> Option<usize> {
        self.vars.iter().position(|v| v == name)
    }

    /// Byte span `(offset, len)` of the first occurrence of variable `i` in the source, for
    /// error messages. `(0, 0)` if the variable does not occur in the source (it was added by
    /// [`Expr::with_variable_order`]) or `i` is out of range.
    pub fn variable_span(&self, i: usize) -> (usize, usize) {
        self.var_spans.get(i).copied().unwrap_or((0, 0))
    }

    /// A copy whose variable `j` is named `order[j]`. `order` may contain names that do not
    /// occur in the expression (their derivatives are 0). Every name in
    /// [`Expr::variables`] must appear in `order`, else `Err(missing name)`; a name appearing
    /// twice in `order` is also rejected with `Err(that name)`.
    pub fn with_variable_order(&self, order: &[String]) -> Result<Expr, String> {
        let mut pos: HashMap<&str, usize> = HashMap::with_capacity(order.len());
        for (j, name) in order.iter().enumerate() {
            if pos.insert(name.as_str(), j).is_some() {
                return Err(name.clone());
            }
        }
        let mut remap = Vec::with_capacity(self.vars.len());
        for name in &self.vars {
            match pos.get(name.as_str()) {
                Some(&j) => remap.push(j),
                None => return Err(name.clone()),
            }
        }
        let mut out = self.clone();
        out.vars = order.to_vec();
        out.var_nodes = vec![None; order.len()];
        out.var_spans = vec![(0, 0); order.len()];
        for (old, &new) in remap.iter().enumerate() {
            out.var_nodes[new] = self.var_nodes[old];
            out.var_spans[new] = self.var_spans[old];
        }
        for op in &mut out.tape {
            if let Op::Var(i) = op {
                *i = remap[*i as usize] as u32;
            }
        }
        Ok(out)
    }

    /// Number of tape nodes.
    pub fn len(&self) -> usize {
        self.tape.len()
    }

    /// Always false: a parsed expression has at least one node.
    pub fn is_empty(&self) -> bool {
        self.tape.is_empty()
    }

    /// The source string the expression was parsed from.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// False if the expression applies `min` or `max` to a non-constant argument (it is then
    /// non-smooth: derivatives at ties are one-sided). `min`/`max` of constants only is folded
    /// away at parse time and does not count.
    pub fn is_smooth(&self) -> bool {
        self.smooth
    }

    /// The tape as read-only [`Node`]s in evaluation order (arguments are indices of earlier
    /// nodes; constant sub-expressions are already folded), for tools that walk an
    /// expression, such as `pricegrad compile`.
    pub fn nodes(&self) -> Vec<Node> {
        self.tape.iter().map(Node::from).collect()
    }

    /// Index in [`Expr::nodes`] of the node holding the expression's value.
    pub fn root(&self) -> usize {
        self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    pub(super) fn close(a: f64, b: f64, tol: f64) -> bool {
        a == b || (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    pub(super) fn check_error_invariants(src: &str, err: &ExprError) {
        assert!(err.offset <= src.len(), "{src:?}: {err:?}");
        assert!(err.offset + err.len <= src.len(), "{src:?}: {err:?}");
        assert!(src.is_char_boundary(err.offset), "{src:?}: {err:?}");
        assert!(src.is_char_boundary(err.offset + err.len), "{src:?}: {err:?}");
        assert!(err.len > 0 || err.offset == src.len(), "{src:?}: {err:?}");
        assert!(!err.message.is_empty() && !err.help.is_empty(), "{src:?}: {err:?}");
        assert_eq!(err.to_string(), err.message);
        let _ = err.excerpt(src);
    }

    pub(super) fn never_panics(src: &str) {
        match Expr::parse(src) {
            Ok(e) => {
                let n = e.variables().len();
                assert!(e.len() <= MAX_NODES && !e.is_empty());
                for v in [1.5, -1.0, 0.0] {
                    let x = vec![v; n];
                    let mut g = vec![0.0; n];
                    let mut h = vec![0.0; n * n];
                    let _ = e.eval(&x);
                    let _ = e.gradient(&x, &mut g);
                    let _ = e.hessian(&x, &mut g, &mut h);
                }
            }
            Err(err) => check_error_invariants(src, &err),
        }
    }

    #[test]
    fn variables_in_order_of_first_appearance_with_spans() {
        let e = Expr::parse("b + a*b + sqrt(c_1)").unwrap();
        assert_eq!(e.variables(), &names(&["b", "a", "c_1"])[..]);
        assert_eq!(e.variable_span(0), (0, 1));
        assert_eq!(e.variable_span(1), (4, 1));
        assert_eq!(e.variable_span(2), (15, 3));
        assert_eq!(e.variable_index("a"), Some(1));
        assert_eq!(e.source(), "b + a*b + sqrt(c_1)");
        assert_eq!(e.to_string(), "b + a*b + sqrt(c_1)");
        assert!(e.is_smooth());
        assert!(!Expr::parse("min(a, b)").unwrap().is_smooth());
        // min of constants is folded and stays smooth
        assert!(Expr::parse("min(1, 2) * a").unwrap().is_smooth());
        assert!(!e.is_empty());
    }

    #[test]
    fn with_variable_order_errors() {
        let e = Expr::parse("x + y").unwrap();
        assert_eq!(e.with_variable_order(&names(&["x"])).unwrap_err(), "y");
        assert_eq!(e.with_variable_order(&names(&["x", "y", "x"])).unwrap_err(), "x");
        assert_eq!(
            e.with_variable_order(&names(&["y", "x"])).unwrap().eval(&[1.0, 10.0]),
            11.0
        );
    }
}
