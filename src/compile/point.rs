//! The point: a positive value for every input of the expression (from `--at`), the
//! expression's value and gradient there, and a check that the point is inside the domain
//! (every value finite, no `min` at a kink).

use std::collections::HashMap;

use super::error::{fail, CompileError};
use super::graph::{operands, Graph};
use super::text::{number, one_line};
use crate::production::expr::{Expr, Node};

/// The expression at the point.
pub(super) struct Point {
    /// The inputs, in the order of the expression's variables.
    pub(super) vars: Vec<String>,
    /// The value of each input.
    pub(super) x: Vec<f64>,
    /// The expression's value.
    pub(super) value: f64,
    /// df/dinput for each input, by automatic differentiation.
    pub(super) grad: Vec<f64>,
}

impl Point {
    /// The point `at` for the expression `expr` parsed from `src`: one positive value for
    /// each of its inputs.
    pub(super) fn new(src: &str, expr: &Expr, at: &[(String, f64)]) -> Result<Point, CompileError> {
        let vars = expr.variables().to_vec();
        if vars.is_empty() {
            return Err(fail(
                format!("the expression {:?} has no inputs: it is a constant", one_line(src)),
                "write a function of named inputs and give each a value, e.g. compile \"sqrt(x)\" --at x=4",
            ));
        }
        let mut point: HashMap<&str, f64> = HashMap::new();
        for (name, v) in at {
            if point.insert(name.as_str(), *v).is_some() {
                return Err(fail(format!("--at {name} is given twice"), "give each input one value"));
            }
            if !vars.contains(name) {
                return Err(fail(
                    format!("--at {name}={v}: the expression has no input named {name}"),
                    format!("its inputs are: {}", vars.join(", ")),
                ));
            }
            if !(v.is_finite() && *v > 0.0) {
                return Err(fail(
                    format!("--at {name}={v}: an input is an endowment, a positive quantity of a good"),
                    format!("give {name} a positive value, e.g. --at {name}=4"),
                ));
            }
        }
        let missing: Vec<&str> = vars
            .iter()
            .filter(|v| !point.contains_key(v.as_str()))
            .map(|s| s.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(fail(
                format!("no value for {} (give every input a value)", missing.join(", ")),
                format!(
                    "add {}",
                    missing
                        .iter()
                        .map(|v| format!("--at {v}=VALUE"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ));
        }
        let x: Vec<f64> = vars.iter().map(|v| point[v.as_str()]).collect();
        let mut grad = vec![0.0; vars.len()];
        let value = expr.gradient(&x, &mut grad);
        Ok(Point { vars, x, value, grad })
    }
}

/// Every value the result depends on must be a finite number at the point, and no `min` may
/// sit at a kink (equal arguments).
pub(super) fn check_domain(g: &Graph) -> Result<(), CompileError> {
    for k in 0..g.nodes.len() {
        if !g.reachable[k] {
            continue;
        }
        if let Node::Const(c) = g.nodes[k] {
            if !c.is_finite() {
                return Err(fail(
                    format!(
                        "the expression contains a constant that is not a finite number ({})",
                        number(c)
                    ),
                    "check constant parts such as 1/0",
                ));
            }
        }
        if !g.val[k].is_finite() {
            let at = operands(&g.nodes[k])
                .filter(|&a| !g.is_const(a))
                .map(|a| format!("{} = {}", g.text(a), number(g.val[a])))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(fail(
                format!(
                    "{} is {} at the point{}: not a finite number",
                    g.text(k),
                    number(g.val[k]),
                    if at.is_empty() {
                        String::new()
                    } else {
                        format!(" (where {at})")
                    }
                ),
                "choose a point inside the expression's domain",
            ));
        }
        if let Node::Min(a, b) = g.nodes[k] {
            if g.val[a] == g.val[b] {
                return Err(fail(
                    format!(
                        "{}: its arguments are equal at the point (both {}), a kink where the derivative is not unique",
                        g.text(k),
                        number(g.val[a])
                    ),
                    "move the point off the kink, e.g. change one input slightly",
                ));
            }
        }
    }
    Ok(())
}
