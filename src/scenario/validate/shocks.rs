//! The `[[shocks]]` entries: at a tick, a fixed-price good's new price, an endogenous
//! good's new endowment, or a firm's new productivity; checked against the goods and firms,
//! and sorted by tick.

use super::goods::lookup_good;
use super::names::NameIndex;
use super::problems::{list, span_of, Check};
use crate::economy::{Goods, Names, Shock, ShockKind};
use crate::scenario::format::ShockSpec;
use std::ops::Range;
use toml::Spanned;

/// The shocks, by tick (the firms named are looked up among the groups' names).
pub(super) fn shocks(
    c: &mut Check,
    specs: &[Spanned<ShockSpec>],
    goods: &Goods,
    index: &NameIndex,
    group_names: &Names,
) -> Vec<Shock> {
    let lookup_good = |c: &mut Check, name: &str, span: Range<usize>, role: &str| {
        lookup_good(c, &goods.name, index, name, span, || role.to_string())
    };
    let mut shocks = Vec::new();
    for s in specs {
        let span = span_of(s);
        let s = s.get_ref();
        let tick = c.int(
            &s.tick,
            "shocks.tick",
            0,
            i64::MAX,
            "the tick at which the shock applies, e.g. tick = 5000",
        ) as u64;
        let kind = match (&s.good, &s.firm, &s.price, &s.endowment, &s.productivity) {
            (Some(g), None, Some(p), None, None) => {
                lookup_good(c, g.get_ref(), span_of(g), "in a shock").and_then(|gi| {
                    let v = c.num(
                        p,
                        "shocks.price",
                        0.0,
                        true,
                        1e300,
                        "a new fixed price, e.g. price = 2.0",
                    );
                    if !goods.fixed[gi] {
                        c.at(
                            span_of(g),
                            format!(
                                "a price shock needs a fixed-price good, but '{}' is endogenous",
                                g.get_ref()
                            ),
                            "shock an endogenous good's `endowment` instead, or give the good a fixed price",
                        );
                        None
                    } else {
                        Some((
                            ShockKind::Price { good: gi, price: v },
                            format!("{}.price={v}", g.get_ref()),
                        ))
                    }
                })
            }
            (Some(g), None, None, Some(e), None) => {
                lookup_good(c, g.get_ref(), span_of(g), "in a shock").and_then(|gi| {
                    let v = c.num(e, "shocks.endowment", 0.0, false, 1e300, "a new endowment, 0 or more");
                    if goods.fixed[gi] {
                        c.at(
                            span_of(g),
                            format!(
                                "an endowment shock needs an endogenous good, but '{}' has a fixed price",
                                g.get_ref()
                            ),
                            "shock its `price` instead",
                        );
                        None
                    } else {
                        Some((
                            ShockKind::Endowment { good: gi, endowment: v },
                            format!("{}.endowment={v}", g.get_ref()),
                        ))
                    }
                })
            }
            (None, Some(fname), None, None, Some(p)) => {
                let v = c.num(
                    p,
                    "shocks.productivity",
                    0.0,
                    true,
                    1e300,
                    "a new productivity multiplier, e.g. productivity = 1.1",
                );
                match group_names.position(fname.get_ref()) {
                    Some(gi) => Some((
                        ShockKind::Productivity {
                            group: gi,
                            productivity: v,
                        },
                        format!("{}.productivity={v}", fname.get_ref()),
                    )),
                    None => {
                        c.at(
                            span_of(fname),
                            format!("unknown firm '{}' in a shock", fname.get_ref()),
                            format!(
                                "{}known firms: {}",
                                c.suggest(fname.get_ref(), group_names),
                                list(group_names)
                            ),
                        );
                        None
                    }
                }
            }
            _ => {
                c.at(span, "a shock must change exactly one thing", "write one of: good = \"G\" with price = P (fixed-price good), good = \"G\" with endowment = E (endogenous good), or firm = \"F\" with productivity = A");
                None
            }
        };
        if let Some((kind, label)) = kind {
            shocks.push(Shock { tick, kind, label });
        }
    }
    shocks.sort_by_key(|s| s.tick);
    shocks
}
