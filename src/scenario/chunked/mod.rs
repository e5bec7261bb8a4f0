//! Loading large scenario files in chunks, in parallel, without a whole-document tree.
//!
//! `[[firms]]` entries are independent, and so are the lines of a `[goods]` table and the
//! `[goods.NAME]` tables. The text is split at top-level lines: runs of whole `[[firms]]`
//! entries (with any `[firms.…]` sub-tables that follow them), runs of `[goods]` lines or of
//! whole `[goods.NAME]` tables, and the rest. Every chunk is parsed
//! on its own, by a fast parser for the plain subset of TOML that generated files use or, when
//! it meets anything else, by the `toml` crate, and is validated at once into the compact
//! per-firm form, so no tree of the whole file ever exists. The rest (name, `[market]`,
//! `[log]`, shocks, ...) is parsed as one small document. Spans are shifted back to byte
//! offsets in the file, so messages point at the same file:line:col.
//!
//! Whenever the split might not be what a TOML parser would see (multi-line strings, a
//! `[firms]` table, root keys named `firms` or `goods`, unbalanced brackets, `[goods.a.b]`,
//! a `[goods]` table beside `[goods.NAME]` tables, ...), and whenever
//! any chunk fails to parse, the loader falls back to the whole-document parse, so every
//! file gives the same economy or the same errors as before. Files longer than
//! [`WHOLE_PARSE_LIMIT`] (which the whole-document parse could not hold in memory) report the
//! first failing chunk's error instead.
//!
//! The parts: `plan.rs` finds the chunks, `fast.rs` parses the plain ones, `pieces.rs` hands
//! the others to the `toml` crate, and `shift.rs` moves the spans of what they parse to the
//! file's offsets; validation is `scenario/validate/`'s, step by step.

mod fast;
mod pieces;
mod plan;
mod shift;

use self::pieces::{toml_firms, toml_goods, toml_goods_tables, PieceError};
use self::plan::scan;
use self::shift::Shift;
use super::error::{InputError, Location, Problem};
use super::format::*;
use super::overrides::{self, Target};
use super::validate::{self, Batch, GoodsPart, Head, HeadStart, ShapeCache};
use crate::economy::Economy;
use rayon::prelude::*;
use std::ops::Range;
use toml::Spanned;

/// Files at least this long load in chunks (smaller ones parse as one document).
pub const CHUNKED_FROM: usize = 1 << 20;
/// Target size of a chunk, in bytes.
pub const CHUNK_BYTES: usize = 128 << 10;
/// Longest file that falls back to the whole-document parse to report a syntax error.
pub const WHOLE_PARSE_LIMIT: usize = 512 << 20;

/// Load `text` in chunks of about `chunk_bytes`. None: the whole-document parse must decide.
pub fn load(
    label: &str,
    text: &str,
    sets: &[String],
    seed: Option<u64>,
    chunk_bytes: usize,
) -> Option<Result<Economy, InputError>> {
    load_releasing(label, text, sets, seed, chunk_bytes, &|_| {})
}

/// [`load`], calling `release` with each range of the text once it is parsed (the split,
/// then each chunk), so that a mapped file's pages can be given back as the loader goes:
/// they are read again only for an error message.
pub fn load_releasing(
    label: &str,
    text: &str,
    sets: &[String],
    seed: Option<u64>,
    chunk_bytes: usize,
    release: &(dyn Fn(Range<usize>) + Sync),
) -> Option<Result<Economy, InputError>> {
    let plan = scan(text, chunk_bytes.max(1), true);
    release(0..text.len());
    let plan = plan?;
    if plan.firms.is_empty() && plan.goods.is_empty() {
        return None;
    }
    let huge = text.len() > WHOLE_PARSE_LIMIT;
    let piece_error = |e: PieceError| {
        if huge {
            Some(Err(InputError::new(label, text, vec![e.problem])))
        } else {
            None
        }
    };

    // --- the rest: one small document --------------------------------------------------
    let (rest_text, map) = plan.rest_text(text);
    let mut file: ScenarioFile = match toml::from_str(&rest_text) {
        Ok(f) => f,
        Err(e) => {
            let mut p = super::toml_error::toml_problem(&e, &rest_text);
            if let Location::Span(r) = &mut p.location {
                *r = map.span(r.clone());
            }
            return piece_error(PieceError {
                problem: p,
                syntax: true,
            });
        }
    };
    drop(rest_text);
    file.shift(&|p, end| map.pos(p, end));
    if !file.firms.is_empty() || (!plan.goods.is_empty() && !file.goods.is_empty()) {
        return None;
    }
    // [sweep] paths are checked against the whole file (its firms and goods)
    if file.sweep.as_ref().is_some_and(|s| {
        s.params
            .keys()
            .any(|k| k.starts_with("firms.") || k.starts_with("goods."))
    }) {
        return None;
    }

    // --- --set: the rest now, goods and firms where they are parsed ----------------------
    let mut set_errors: Vec<(usize, String)> = Vec::new();
    let mut good_sets: Vec<(usize, &str, &str)> = Vec::new();
    let mut firm_sets: Vec<(usize, &str, &str)> = Vec::new();
    for (i, s) in sets.iter().enumerate() {
        match overrides::target(s) {
            Target::Good(name) if !plan.goods.is_empty() => good_sets.push((i, name, s)),
            Target::Firm(name) => firm_sets.push((i, name, s)),
            _ => {
                if let Err(e) = overrides::apply(&mut file, s) {
                    set_errors.push((i, e));
                }
            }
        }
    }

    // --- goods ---------------------------------------------------------------------------
    let start = HeadStart::new(&file);
    let market_initial = start.market_initial;
    type GoodsOut = (GoodsPart, Vec<(usize, Option<String>)>);
    let goods_out: Vec<Result<GoodsOut, PieceError>> = if plan.goods.is_empty() {
        let mut part = GoodsPart::default();
        for (name, spec) in &file.goods {
            validate::validate_good(&mut part, name, spec, market_initial);
        }
        vec![Ok((part, Vec::new()))]
    } else {
        plan.goods
            .par_iter()
            .map(|r| {
                let fast = if plan.goods_tables {
                    fast::goods_tables(text, r.clone())
                } else {
                    fast::goods(text, r.clone())
                };
                let list = match fast {
                    Some(l) => l,
                    None if plan.goods_tables => toml_goods_tables(text, r.clone())?,
                    None => toml_goods(text, r.clone())?,
                };
                release(r.clone());
                let mut part = GoodsPart::default();
                let mut hits = Vec::new();
                for (name, mut spec) in list {
                    for (k, &(_, target, arg)) in good_sets.iter().enumerate() {
                        if name == target {
                            hits.push((k, overrides::apply_good(spec.get_mut(), arg).err()));
                        }
                    }
                    validate::validate_good(&mut part, &name, &spec, market_initial);
                }
                Ok((part, hits))
            })
            .collect()
    };
    let mut parts = Vec::with_capacity(goods_out.len());
    let mut good_hits: Vec<Vec<Option<String>>> = vec![Vec::new(); good_sets.len()];
    for r in goods_out {
        match r {
            Ok((part, hits)) => {
                parts.push(part);
                for (k, e) in hits {
                    good_hits[k].push(e);
                }
            }
            Err(e) => return piece_error(e),
        }
    }
    let head = Head::assemble(start, &file, text, seed, !plan.firms.is_empty(), parts)?;
    for (k, &(i, name, arg)) in good_sets.iter().enumerate() {
        match good_hits[k].first() {
            None => set_errors.push((i, overrides::no_good(name, arg, head.goods.name.iter()))),
            Some(Some(e)) => set_errors.push((i, e.clone())),
            Some(None) => {}
        }
    }

    // --- firms: parsed and validated chunk by chunk, in parallel ----------------------------
    type FirmsOut = (Batch, Vec<(usize, Option<String>)>);
    let firms_out: Vec<Result<FirmsOut, PieceError>> = {
        let ctx = head.firm_ctx(&file, text);
        plan.firms
            .par_iter()
            .map(|r| {
                let mut out: FirmsOut = (Batch::default(), Vec::new());
                let mut cache = ShapeCache::default();
                let mut take = |mut f: Spanned<FirmSpec>, (batch, hits): &mut FirmsOut| {
                    for (k, &(_, target, arg)) in firm_sets.iter().enumerate() {
                        if f.get_ref().name.get_ref() == target {
                            hits.push((k, overrides::apply_firm(f.get_mut(), arg).err()));
                        }
                    }
                    validate::validate_firm(&ctx, f.get_ref(), &mut cache, batch);
                };
                if fast::each_firm(text, r.clone(), |f| take(f, &mut out)).is_none() {
                    // not the plain subset: start the chunk again with the toml crate
                    out = (Batch::default(), Vec::new());
                    for f in toml_firms(text, r.clone())? {
                        take(f, &mut out);
                    }
                }
                release(r.clone());
                out.0.shrink_to_fit();
                Ok(out)
            })
            .collect()
    };
    let mut batches = Vec::with_capacity(firms_out.len());
    let mut firm_hits: Vec<Vec<Option<String>>> = vec![Vec::new(); firm_sets.len()];
    // The whole-document parse reports a syntax error anywhere before any type error, and
    // then the first type error in file order: with the rest and the goods parsed, and no
    // chunk of firms failing on syntax, that is the first failing chunk's error, found
    // without the whole-document tree (which took 30 times the memory of the chunks).
    let mut first_type_error = None;
    for r in firms_out {
        match r {
            Ok((batch, hits)) => {
                batches.push(batch);
                for (k, e) in hits {
                    firm_hits[k].push(e);
                }
            }
            Err(e) if e.syntax || huge => return piece_error(e),
            Err(e) => {
                first_type_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_type_error {
        return Some(Err(InputError::new(label, text, vec![e.problem])));
    }
    for (k, &(i, name, arg)) in firm_sets.iter().enumerate() {
        match firm_hits[k].as_slice() {
            [] => {
                let names = batches.iter().flat_map(|b| (0..b.len()).map(move |j| b.group_name(j)));
                set_errors.push((i, overrides::no_firm(name, arg, names)));
            }
            // the whole-document path sets only the first of equal names
            [_, _, ..] if !huge => return None,
            [Some(e), ..] => set_errors.push((i, e.clone())),
            _ => {}
        }
    }
    if let Some((i, msg)) = set_errors.into_iter().min_by_key(|(i, _)| *i) {
        return Some(Err(InputError::new(
            label,
            text,
            vec![Problem::new(
                Location::Set(sets[i].clone()),
                msg,
                "fix the --set argument; `pricegrad run --help` lists the paths",
            )],
        )));
    }
    let economy = match validate::finish(head, &file, text, batches) {
        Ok(e) => e,
        Err(p) => return Some(Err(InputError::new(label, text, p))),
    };
    // as in `load_whole`: the [sweep] table is checked after the economy
    let problems = validate::sweep_table(&file);
    if !problems.is_empty() {
        return Some(Err(InputError::new(label, text, problems)));
    }
    Some(Ok(economy))
}
