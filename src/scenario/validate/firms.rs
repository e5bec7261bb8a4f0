//! One `[[firms]]` entry: its name, outputs, production (through [`super::technology`]) and
//! the shape of its production function, count, productivity and agent settings, checked
//! into a [`Batch`]. Entries are independent, so the chunked loader checks them in parallel.

use super::batch::Batch;
use super::firm_entry::FirmEntry;
use super::goods::lookup_good;
use super::limits::{memory_needed, MAX_FIRMS};
use super::names::NameIndex;
use super::problems::{span_of, Check};
use super::settings;
use super::technology::technology;
use crate::economy::agent_settings::{self, AgentSettings};
use crate::economy::Names;
use crate::production::{check_shape, Expr, Returns, ShapeProblem, Technology};
use crate::scenario::error::{Location, Problem};
use crate::scenario::format::*;
use std::collections::HashMap;

/// What validating one firm needs: the goods, the agent defaults and the source text.
pub(crate) struct FirmCtx<'a> {
    pub(super) names: &'a Names,
    pub(crate) index: &'a NameIndex,
    pub(super) defaults: &'a AgentSettings,
    pub(super) agents_rate: Option<&'a Num>,
    pub(super) agents_rule: Option<&'a Text>,
    pub(super) source: &'a str,
}

/// Shape checks of expressions, one per distinct text.
pub(crate) type ShapeCache = HashMap<Vec<u64>, Result<(), ShapeProblem>>;

/// The problems of a production that `--set firms.NAME.production=...` gave are reported at
/// that argument: the production is not in the file.
fn at_the_set(problems: &mut [Problem], f: &impl FirmEntry) {
    if let Some(arg) = f.production_set() {
        for p in problems {
            if matches!(p.location, Location::Span(_)) {
                p.location = Location::Set(arg.to_string());
            }
        }
    }
}

/// Validate one firm entry (a `[[firms]]` table or a firms-table row) into `batch` (in file
/// order). The duplicate-name check is left to [`finish`](super::finish), which sees all
/// firms.
pub(crate) fn validate_firm(ctx: &FirmCtx, f: &impl FirmEntry, shape_cache: &mut ShapeCache, batch: &mut Batch) {
    let mut c = Check {
        problems: Vec::new(),
        defer: true,
    };
    if let Some(n) = f.count() {
        batch.note_count(n);
    }
    let firm = batch.len() as u32;
    let names = ctx.names;
    let source = ctx.source;
    let agent_defaults = ctx.defaults;
    let goods_name = ctx.names;
    let (fname, name_span) = f.name();
    if fname.is_empty() || fname.len() > 128 || fname.chars().any(|ch| ch.is_control() || ch == '.' || ch == '#') {
        c.at(name_span.clone(), format!("firm name {fname:?} is not usable"), "use 1 to 128 characters without '.', '#' or control characters (names appear in --set paths like firms.NAME.rate)");
    }
    let split = c.problems.len();

    // outputs
    let mut outputs: Vec<(usize, f64)> = Vec::new();
    match (f.output(), f.outputs()) {
        (Some((o, o_span)), None) => {
            if let Some(g) = lookup_good(&mut c, names, ctx.index, o, o_span, || {
                format!("as the output of firm '{fname}'")
            }) {
                outputs.push((g, 1.0));
            }
        }
        (None, Some(os)) => {
            if os.get_ref().is_empty() {
                c.at(
                    span_of(os),
                    format!("firm '{fname}' has an empty `outputs` table"),
                    "list the joint outputs with their proportions, e.g. outputs = { x1 = 1.0, x2 = 1.0 }",
                );
            }
            for (gname, w) in os.get_ref() {
                let wv = c.num_with(
                    w,
                    || format!("firms.{fname}.outputs.{gname}"),
                    0.0,
                    true,
                    1e300,
                    "an output proportion is positive, e.g. outputs = { x1 = 1.0, x2 = 0.5 }",
                );
                let span = match &w.origin {
                    Origin::File(r) => r.clone(),
                    _ => span_of(os),
                };
                if let Some(g) = lookup_good(&mut c, names, ctx.index, gname, span, || {
                    format!("in the outputs of firm '{fname}'")
                }) {
                    outputs.push((g, wv));
                }
            }
        }
        (Some((_, o_span)), Some(_)) => c.at(
            o_span,
            format!("firm '{fname}' has both `output` and `outputs`"),
            "use `output = \"good\"` for one output or `outputs = { a = 1.0, b = 2.0 }` for joint production, not both",
        ),
        (None, None) => c.at(
            name_span.clone(),
            format!("firm '{fname}' has no output"),
            "add `output = \"GOOD\"` (or `outputs = { a = 1.0, b = 1.0 }` for joint production)",
        ),
    }

    // production
    let before_production = c.problems.len();
    let from_set = f.production_set().is_some();
    let (production, prod_span) = f.production();
    let (tech, inputs, params) = match technology(
        &mut c,
        (production, prod_span.clone()),
        from_set,
        fname,
        source,
        names,
        ctx.index,
    ) {
        Some(t) => t,
        None => {
            at_the_set(&mut c.problems[before_production..], f);
            batch.push_firm(
                fname,
                name_span,
                (1, 1.0),
                agent_defaults.clone(),
                Technology::Linear,
                &[],
                &[],
                &outputs,
                0.0,
            );
            batch.record(firm, split, c.problems);
            return;
        }
    };
    for (&g, _) in inputs.iter().zip(&params) {
        if outputs.iter().any(|&(o, _)| o == g) {
            c.at(prod_span.clone(), format!("firm '{fname}' uses its own output '{}' as an input", &goods_name[g]), "a firm cannot feed itself: the goods graph must be acyclic; remove the good from the production function");
        }
    }
    // Shape: concave and non-decreasing, where sampling can tell. The families' parameter
    // ranges (checked above) already guarantee it; an expression is sampled once per
    // distinct tape (the same formula over other goods has the same shape), however many
    // firms use it.
    let shape = match &tech {
        Technology::Expression(e) => shape_cache
            .entry(shape_key(e))
            .or_insert_with(|| check_shape(&tech, &params, inputs.len()))
            .clone(),
        _ => Ok(()),
    };
    if let Err(p) = shape {
        let at = |x: &[f64]| {
            inputs
                .iter()
                .zip(x)
                .map(|(&g, v)| format!("{} = {v}", &goods_name[g]))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (msg, help) = match p {
            ShapeProblem::Undefined { at: x } => (
                format!("the production function of firm '{fname}' is not defined for all positive inputs (at {} it is not a finite number)", at(&x)),
                "firms may choose any positive input quantity; write F to be finite for every input > 0, e.g. ln(1 + x) instead of ln(x - 1)".to_string(),
            ),
            ShapeProblem::Decreasing { at: x, input, slope } => (
                format!("the production function of firm '{fname}' decreases in '{}' (slope {slope:.3e} at {})", &goods_name[inputs[input]], at(&x)),
                "production must be non-decreasing in every input (free disposal): more input never gives less output".to_string(),
            ),
            ShapeProblem::NotConcave { at: x, curvature } => (
                format!("the production function of firm '{fname}' is not concave (curvature {curvature:.3e} > 0 at {})", at(&x)),
                "prices equal derivatives only for concave production (diminishing or constant returns); e.g. use x^0.5 rather than x^2, or Cobb-Douglas exponents summing to at most 1".to_string(),
            ),
        };
        c.at(prod_span.clone(), msg, help);
    }
    at_the_set(&mut c.problems[before_production..], f);

    // counts and productivity
    let count = match f.count() {
        None => 1,
        Some(n) if n.value > MAX_FIRMS as i64 => {
            // refused before anything is allocated, with what it would take
            let edges = inputs.len() as u64;
            c.push(
                (&n.origin).into(),
                format!(
                    "firms.{fname}.count = {} is too large: {} firms would need {}",
                    n.value,
                    n.value,
                    memory_needed(n.value as u64, edges.saturating_mul(n.value as u64))
                ),
                format!("pricegrad holds at most {MAX_FIRMS} firms in all; lower `count` (a few thousand replicas already make a competitive industry, e.g. count = 1000)"),
            );
            1
        }
        Some(n) => c.int_with(
            n,
            || format!("firms.{fname}.count"),
            1,
            MAX_FIRMS as i64,
            &format!("a number of identical firms from 1 to {MAX_FIRMS}"),
        ) as u64,
    };
    batch.total += count;
    let productivity = f.productivity().map_or(1.0, |n| {
        c.num_with(
            n,
            || format!("firms.{fname}.productivity"),
            0.0,
            true,
            1e300,
            "a productivity multiplier on F, e.g. productivity = 1.0",
        )
    });
    let spread = f.productivity_spread().map_or(0.0, |n| {
        c.num_with(
            n,
            || format!("firms.{fname}.productivity_spread"),
            0.0,
            false,
            5.0,
            "the standard deviation of log productivity across replicas, e.g. productivity_spread = 0.1",
        )
    });
    if spread > 0.0 && count == 1 {
        if let Some(n) = f.productivity_spread() {
            c.push((&n.origin).into(), format!("firm '{fname}' has productivity_spread but count = 1"), "productivity_spread varies productivity across the replicas of `count = N` firms; add count or remove the spread");
        }
    }
    let agent = settings::agent_settings(
        &mut c,
        f.rule(),
        f.rate(),
        f.form(),
        f.noise(),
        f.activation(),
        Some(agent_defaults),
        ("firms.", fname),
    );
    if agent.rule == agent_settings::Rule::BestResponse && agent.rate > 1.0 {
        let loc = f
            .rate()
            .or(ctx.agents_rate)
            .map_or(Location::File, |n| (&n.origin).into());
        c.push(loc, format!("firm '{fname}' uses best_response with rate {} > 1", agent.rate), "for best_response, rate is the fraction of the way to the best plan moved each tick (beta), in (0, 1], e.g. rate = 0.5");
    }
    if agent.rule == agent_settings::Rule::BestResponse && tech.returns(&params) == Returns::Constant {
        let loc = f
            .rule()
            .or(ctx.agents_rule)
            .map_or(Location::Span(prod_span.clone()), |t| (&t.origin).into());
        c.push(loc, format!("firm '{fname}' has constant returns to scale ({}), so it has no best response", tech.kind()), "with constant returns profit is 0 or unbounded and the best response does not exist; use rule = \"gradient\" or \"optimistic\" for this firm");
    }
    batch.push_firm(
        fname,
        name_span,
        (count as u32, productivity),
        agent,
        tech,
        &inputs,
        &params,
        &outputs,
        spread,
    );
    batch.record(firm, split, c.problems);
}

/// An expression's tape as numbers: equal keys, equal shapes (whatever the goods are named).
fn shape_key(e: &Expr) -> Vec<u64> {
    use crate::production::expr::Node;
    let mut k = Vec::with_capacity(3 * e.len() + 1);
    k.push(e.root() as u64);
    for n in e.nodes() {
        let (tag, a, b) = match n {
            Node::Var(i) => (0, i as u64, 0),
            Node::Const(c) => (1, c.to_bits(), 0),
            Node::Add(x, y) => (2, x as u64, y as u64),
            Node::Sub(x, y) => (3, x as u64, y as u64),
            Node::Mul(x, y) => (4, x as u64, y as u64),
            Node::Div(x, y) => (5, x as u64, y as u64),
            Node::Neg(x) => (6, x as u64, 0),
            Node::PowC(x, c) => (7, x as u64, c.to_bits()),
            Node::CPow(c, x) => (8, c.to_bits(), x as u64),
            Node::Pow(x, y) => (9, x as u64, y as u64),
            Node::Sqrt(x) => (10, x as u64, 0),
            Node::Ln(x) => (11, x as u64, 0),
            Node::Exp(x) => (12, x as u64, 0),
            Node::Min(x, y) => (13, x as u64, y as u64),
            Node::Max(x, y) => (14, x as u64, y as u64),
        };
        k.extend([tag, a, b]);
    }
    k
}
