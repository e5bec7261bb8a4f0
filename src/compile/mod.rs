//! `pricegrad compile`: turn an expression into a market whose prices are its gradient.
//!
//! The expression is parsed into its tape of operations (constants already folded). Each
//! operation becomes a firm whose production is that operation written over its operand
//! goods (`sqrt(x)`, `v1 + v2`, `ln(v3)`; constants stay inside the operation that uses them).
//! Each input of the expression is an endowment good (endowment = its value at the point);
//! the result is a fixed-price good `f` with price 1. An input read by several operations goes
//! through a copier firm (joint production, one output per use, linear F = input), so its
//! price is the sum of its uses' prices: reverse-mode AD's fan-out rule. At the market
//! equilibrium the price of each input is df/dinput.
//!
//! Grouping operations into firms:
//! - a linear operation (a sum, `v + 1`, `2*v`) joins the operation that uses it when the
//!   joint firm is well-behaved (`ln(1 + x)` is one firm, a long sum is one firm of up to 16
//!   operations): linear firms have constant returns, and chains of them converge slowly;
//! - an operation that is not well-behaved alone joins its only user when the joint firm is
//!   (`1/v` is decreasing but `1 - 1/(v + 1)` is not: the essay's firm B), or absorbs the
//!   single-use firms that feed it (`sqrt(x) * sqrt(y)`, a product of two goods, becomes one
//!   Cobb-Douglas-like firm).
//!
//! Well-behaved means: production concave and non-decreasing in its inputs (checked like a
//! scenario's firms, by sampling the positive orthant, and also at the forward values), and an
//! intermediate good a positive quantity at the point. What cannot be made well-behaved this
//! way is rejected with a message naming the operation and why. So is a point where some good
//! would have a zero price (the inactive side of a `min`), or a kink of `min`.
//!
//! The steps, one file each: `point.rs` checks the point and differentiates the expression
//! there; `graph.rs` holds its operations with their values; `grouping.rs` decides which
//! operations are firms, `firm.rs` whether a candidate firm is well-behaved; `plan.rs` names
//! the goods, adds copiers and works out the prices; `scenario_file.rs` writes the TOML.
//! `error.rs` is [`CompileError`]; `text.rs` writes numbers and expressions for people.

mod error;
mod firm;
mod graph;
mod grouping;
mod plan;
mod point;
mod scenario_file;
mod text;

pub use error::CompileError;

use crate::production::expr::Expr;
use crate::scenario;
use error::fail;
use graph::Graph;
use grouping::Compiler;
use plan::Plan;
use point::Point;

/// A compiled scenario.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The scenario file (TOML), valid for `pricegrad run`.
    pub toml: String,
    /// f at the point.
    pub value: f64,
    /// (input, df/dinput at the point), by automatic differentiation of the expression: the
    /// prices the market should find.
    pub gradient: Vec<(String, f64)>,
    /// Firms computing operations (not counting copiers).
    pub operations: usize,
    /// Copier firms (values used more than once).
    pub copiers: usize,
}

/// Options of [`compile`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenario name (output folder of `pricegrad run`).
    pub name: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: "compiled".to_string(),
        }
    }
}
/// Compile `src` at the point `at` (one value per input of the expression) into a scenario.
pub fn compile(src: &str, at: &[(String, f64)], options: &Options) -> Result<Compiled, CompileError> {
    if !scenario::valid_scenario_name(&options.name) {
        return Err(fail(
            format!("scenario name {:?} cannot name an output folder", options.name),
            "use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-', e.g. --name my_gradient",
        ));
    }
    let expr = Expr::parse(src).map_err(CompileError::Expression)?;
    let point = Point::new(src, &expr, at)?;
    let g = Graph::new(&expr, &point.x);
    point::check_domain(&g)?;
    let c = Compiler::grouped(g)?;
    let plan = Plan::new(&c, &point.vars)?;
    let toml = scenario_file::scenario_text(src, &options.name, &point, &c.g, &plan);
    // the file must be a valid scenario
    if let Err(e) = scenario::load_str("<compiled>", &toml, &[], None) {
        return Err(CompileError::Internal(e));
    }
    Ok(Compiled {
        toml,
        value: point.value,
        gradient: point.vars.iter().cloned().zip(point.grad).collect(),
        operations: plan.firms.len(),
        copiers: plan.copiers.len(),
    })
}
