//! The `[goods]` table: each good's name, fixed price or initial price, and endowment,
//! checked in file order into a [`GoodsPart`] (the chunked loader checks parts in parallel);
//! and looking a good up by name where a firm, the log or a shock names one.

use super::names::NameIndex;
use super::problems::{list, span_of, Check};
use crate::economy::{Goods, Names};
use crate::scenario::error::Problem;
use crate::scenario::format::GoodSpec;
use std::ops::Range;
use toml::Spanned;

/// Names of the functions of production expressions, which goods may not take.
const FUNCTION_NAMES: [&str; 7] = ["sqrt", "ln", "log", "exp", "pow", "min", "max"];

/// Whether `name` can be used as a good name in expressions.
fn valid_good_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !FUNCTION_NAMES.contains(&name)
}

/// Goods validated in file order, with their problems.
#[derive(Default)]
pub(crate) struct GoodsPart {
    pub(crate) goods: Goods,
    pub(super) spans: Vec<Range<usize>>,
    pub(super) problems: Vec<Problem>,
}

/// Validate one good of `[goods]` into `part`.
pub(crate) fn validate_good(part: &mut GoodsPart, gname: &str, spec: &Spanned<GoodSpec>, market_initial: f64) {
    let mut c = Check {
        problems: std::mem::take(&mut part.problems),
        defer: false,
    };
    let span = span_of(spec);
    if !valid_good_name(gname) {
        let why = if FUNCTION_NAMES.contains(&gname) {
            format!("'{gname}' is the name of a function in production expressions")
        } else {
            "good names are used in production expressions".to_string()
        };
        c.at(
            span.clone(),
            format!("good name '{gname}' is not allowed: {why}"),
            "use letters, digits and '_', starting with a letter or '_', e.g. [goods.natural_gas]",
        );
    }
    let spec = spec.get_ref();
    let (fixed, price) = match &spec.price {
        Some(p) => {
            let v = c.num_with(
                p,
                || format!("goods.{gname}.price"),
                0.0,
                true,
                1e300,
                "a fixed price is positive, e.g. price = 1.0",
            );
            if let Some(e) = &spec.endowment {
                c.push((&e.origin).into(), format!("good '{gname}' has a fixed price, so it cannot also have an endowment"), "fixed-price goods are bought and sold at any quantity; remove `endowment`, or remove `price` to make the good endogenous");
            }
            if let Some(e) = &spec.initial_price {
                c.push(
                    (&e.origin).into(),
                    format!("good '{gname}' has a fixed price, so `initial_price` means nothing"),
                    "remove `initial_price` (or remove `price` to let its market set the price)",
                );
            }
            (true, v)
        }
        None => {
            let ip = spec.initial_price.as_ref().map_or(market_initial, |n| {
                c.num_with(
                    n,
                    || format!("goods.{gname}.initial_price"),
                    0.0,
                    true,
                    1e300,
                    "prices start positive, e.g. initial_price = 1.0",
                )
            });
            (false, ip)
        }
    };
    let endowment = spec.endowment.as_ref().map_or(0.0, |n| {
        c.num_with(
            n,
            || format!("goods.{gname}.endowment"),
            0.0,
            false,
            1e300,
            "an endowment is a supply per tick, 0 or more, e.g. endowment = 4.0",
        )
    });
    part.spans.push(span);
    part.goods.name.push(gname);
    part.goods.fixed.push(fixed);
    part.goods.price.push(price);
    part.goods.endowment.push(if fixed { 0.0 } else { endowment });
    part.problems = c.problems;
}

/// The position of good `name`, or a problem at `span` ("unknown good 'x' {role}").
/// Inlined into the per-firm checks of firms.rs (see `Check` in problems.rs).
#[inline]
pub(super) fn lookup_good(
    c: &mut Check,
    names: &Names,
    index: &NameIndex,
    name: &str,
    span: Range<usize>,
    role: impl FnOnce() -> String,
) -> Option<usize> {
    match index.get(name) {
        Some(g) => Some(g),
        None => {
            let role = role();
            c.at(
                span,
                format!("unknown good '{name}' {role}"),
                format!(
                    "{}goods are declared as [goods.NAME] tables; known goods: {}",
                    c.suggest_good(name, names),
                    list(names)
                ),
            );
            None
        }
    }
}
