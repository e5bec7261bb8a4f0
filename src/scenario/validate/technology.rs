//! A firm's `production`: an expression (parsed, its variables looked up among the goods,
//! its errors placed in the file through [`super::expr_place`]) or a family table (its
//! parameters in range), checked into a [`Technology`] with its input goods and per-input
//! parameters.

use super::expr_place::StringMap;
use super::firm_entry::{Family, Params, Production};
use super::names::NameIndex;
use super::problems::{list, Check};
use crate::economy::Names;
use crate::production::{Expr, Technology};
use crate::scenario::format::*;
use std::ops::Range;

/// Longest production expression, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 1 << 20;
/// Most input goods one production expression may use (as many as `pricegrad generate` gives
/// a firm). Sampling the shape of an expression costs about n^3 per point at hundreds of
/// points, so a few hundred inputs took minutes; families have no such limit.
pub const MAX_EXPRESSION_INPUTS: usize = 64;

/// Parse a production (at `span`) into a technology, its input goods and per-input parameters.
#[allow(clippy::too_many_arguments)]
pub(super) fn technology(
    c: &mut Check,
    (production, span): (Production, Range<usize>),
    from_set: bool,
    fname: &str,
    source: &str,
    names: &Names,
    index: &NameIndex,
) -> Option<(Technology, Vec<usize>, Vec<f64>)> {
    let before = c.problems.len();
    let goods_of = |c: &mut Check,
                    table: &Params,
                    what: &str,
                    lo: f64,
                    lo_open: bool,
                    hi: f64,
                    help: &str|
     -> (Vec<usize>, Vec<f64>) {
        let mut gs = Vec::new();
        let mut ps = Vec::new();
        if table.is_empty() {
            c.at(
                table.span.clone(),
                format!("firm '{fname}': `{what}` lists no inputs"),
                format!("name at least one input good, e.g. {what} = {{ labor = 0.5 }}"),
            );
        }
        table.each(|g, n| {
            let v = c.num_with(
                n,
                || format!("firms.{fname}.production.{what}.{g}"),
                lo,
                lo_open,
                hi,
                help,
            );
            let s = match &n.origin {
                Origin::File(r) => r.clone(),
                _ => table.span.clone(),
            };
            match index.get(g) {
                Some(gi) => {
                    gs.push(gi);
                    ps.push(v);
                }
                None => c.at(
                    s,
                    format!("unknown good '{g}' in the production of firm '{fname}'"),
                    format!("{}known goods: {}", c.suggest_good(g, names), list(names)),
                ),
            }
        });
        (gs, ps)
    };
    let scale_of = |c: &mut Check, s: Option<&Num>| {
        s.map_or(1.0, |n| {
            c.num_with(
                n,
                || format!("firms.{fname}.production.scale"),
                0.0,
                true,
                1e300,
                "scale is positive, e.g. scale = 1.0",
            )
        })
    };
    let result = match production {
        Production::Expression(src) => {
            if src.len() > MAX_EXPRESSION_BYTES {
                c.at(span.clone(), format!("the production expression of firm '{fname}' is {} bytes long, more than the {MAX_EXPRESSION_BYTES} allowed", src.len()), "write large technologies with a family (cobb_douglas, ces, ...) or split the firm");
                return None;
            }
            // Where each byte of the expression is in the file (escapes and line-ending
            // backslashes make the two differ).
            // (built only when there is something to report)
            let map = std::cell::OnceCell::new();
            // (an expression given by --set is not in the file: its problems point at the
            // whole production, which the caller moves to the argument)
            let text = if from_set {
                ""
            } else {
                source.get(span.clone()).unwrap_or("")
            };
            let at = || map.get_or_init(|| StringMap::new(text, src, span.start));
            // other places an error mentions ("the '(' at ..."), by their line and column in
            // the file (by column in the expression, for one given by --set)
            let place = |offset: usize| {
                if from_set {
                    return format!("column {} of the expression", offset + 1);
                }
                let (line, column) = crate::scenario::error::line_col(source, at().span(offset, 1).start);
                format!("line {line}, column {column}")
            };
            match Expr::parse_placed(src, &place) {
                Err(e) => {
                    c.at(
                        at().span(e.offset, e.len.max(1)),
                        format!("in the production of firm '{fname}': {}", e.message),
                        e.help.clone(),
                    );
                    None
                }
                Ok(expr) => {
                    let mut inputs = Vec::new();
                    for (i, v) in expr.variables().iter().enumerate() {
                        let (off, len) = expr.variable_span(i);
                        match index.get(v) {
                            Some(g) => inputs.push(g),
                            None => c.at(at().span(off, len), format!("'{v}' in the production of firm '{fname}' is not a good"), format!("{}the production expression may name only declared goods (its inputs); known goods: {}", c.suggest_good(v, names), list(names))),
                        }
                    }
                    let n_vars = expr.variables().len();
                    if n_vars > MAX_EXPRESSION_INPUTS {
                        let (off, len) = expr.variable_span(MAX_EXPRESSION_INPUTS);
                        c.at(
                            at().span(off, len),
                            format!("the production expression of firm '{fname}' uses {n_vars} input goods, more than the {MAX_EXPRESSION_INPUTS} an expression may have (input {} is here)", MAX_EXPRESSION_INPUTS + 1),
                            "write a technology with many inputs as a family (cobb_douglas, ces, linear or leontief have no limit), or split the firm into stages that each combine a few inputs",
                        );
                    }
                    if expr.variables().is_empty() {
                        c.at(
                            span.clone(),
                            format!("the production of firm '{fname}' uses no input good"),
                            "a production function is a formula in its input goods, e.g. production = \"sqrt(natgas)\"",
                        );
                    }
                    let n = inputs.len();
                    Some((Technology::Expression(expr), inputs, vec![1.0; n]))
                }
            }
        }
        Production::Family(fam) => match fam {
            Family::CobbDouglas { scale, exponents } => {
                let scale = scale_of(c, scale);
                let (gs, ps) = goods_of(c, &exponents, "exponents", 0.0, true, 1.0, "Cobb-Douglas exponents are in (0, 1] and sum to at most 1, e.g. exponents = { labor = 0.3, capital = 0.6 }");
                let sum: f64 = ps.iter().sum();
                if sum > 1.0 + 1e-12 {
                    c.at(exponents.span.clone(), format!("firm '{fname}': Cobb-Douglas exponents sum to {sum}, more than 1 (increasing returns, not concave)"), "make the exponents sum to at most 1 (less than 1 for decreasing returns, which converge fastest)");
                }
                Some((Technology::CobbDouglas { scale }, gs, ps))
            }
            Family::Ces {
                scale,
                rho,
                returns,
                weights,
            } => {
                let scale = scale_of(c, scale);
                let r = c.num_with(
                    rho,
                    || format!("firms.{fname}.production.rho"),
                    f64::NEG_INFINITY,
                    false,
                    1.0,
                    "rho <= 1 and rho != 0 (elasticity of substitution 1/(1-rho)), e.g. rho = -1.0",
                );
                if r == 0.0 {
                    c.push(
                        (&rho.origin).into(),
                        "CES rho = 0 is Cobb-Douglas",
                        "use the cobb_douglas family for rho = 0, or choose a rho != 0",
                    );
                }
                let nu = returns.map_or(1.0, |n| {
                    c.num_with(
                        n,
                        || format!("firms.{fname}.production.returns"),
                        0.0,
                        true,
                        1.0,
                        "returns to scale in (0, 1], e.g. returns = 0.9",
                    )
                });
                let (gs, ps) = goods_of(
                    c,
                    &weights,
                    "weights",
                    0.0,
                    true,
                    1e300,
                    "CES weights are positive, e.g. weights = { labor = 0.5, capital = 0.5 }",
                );
                Some((
                    Technology::Ces {
                        scale,
                        rho: r,
                        returns: nu,
                    },
                    gs,
                    ps,
                ))
            }
            Family::Power {
                scale,
                exponent,
                input: (input, input_span),
            } => {
                let scale = scale_of(c, scale);
                let e = c.num_with(
                    exponent,
                    || format!("firms.{fname}.production.exponent"),
                    0.0,
                    true,
                    1.0,
                    "a power exponent in (0, 1] keeps F concave, e.g. exponent = 0.5",
                );
                match index.get(input) {
                    Some(g) => Some((Technology::Power { scale, exponent: e }, vec![g], vec![1.0])),
                    None => {
                        c.at(
                            input_span,
                            format!("unknown good '{input}' in the production of firm '{fname}'"),
                            format!("{}known goods: {}", c.suggest_good(input, names), list(names)),
                        );
                        None
                    }
                }
            }
            Family::Linear { coefficients } => {
                let (gs, ps) = goods_of(
                    c,
                    &coefficients,
                    "coefficients",
                    0.0,
                    true,
                    1e300,
                    "linear coefficients are positive, e.g. coefficients = { a = 1.0 }",
                );
                Some((Technology::Linear, gs, ps))
            }
            Family::Leontief { scale, requirements } => {
                let scale = scale_of(c, scale);
                let (gs, ps) = goods_of(c, &requirements, "requirements", 0.0, true, 1e300, "Leontief requirements (input per unit of output) are positive, e.g. requirements = { a = 1.0, b = 2.0 }");
                Some((Technology::Leontief { scale }, gs, ps))
            }
        },
    };
    // duplicate inputs in a family table are impossible (TOML keys are unique); expression
    // variables are distinct by construction.
    if c.problems.len() > before {
        return None;
    }
    result
}
