//! Loading large scenario files in chunks, in parallel, without a whole-document tree.
//!
//! `[[firms]]` entries are independent, and so are the lines of a `[goods]` table. The text is
//! split at top-level lines: runs of whole `[[firms]]` entries (with any `[firms.…]`
//! sub-tables that follow them), runs of `[goods]` lines, and the rest. Every chunk is parsed
//! on its own, by a fast parser for the plain subset of TOML that generated files use or, when
//! it meets anything else, by the `toml` crate, and is validated at once into the compact
//! per-firm form, so no tree of the whole file ever exists. The rest (name, `[market]`,
//! `[log]`, shocks, ...) is parsed as one small document. Spans are shifted back to byte
//! offsets in the file, so messages point at the same file:line:col.
//!
//! Whenever the split might not be what a TOML parser would see (multi-line strings, a
//! `[firms]` table, root keys named `firms` or `goods`, unbalanced brackets, ...), and whenever
//! any chunk fails to parse, the loader falls back to the whole-document parse, so every
//! file gives the same economy or the same errors as before. Files longer than
//! [`WHOLE_PARSE_LIMIT`] (which the whole-document parse could not hold in memory) report the
//! first failing chunk's error instead.

use super::error::{InputError, Location, Problem};
use super::format::*;
use super::overrides::{self, Target};
use super::validate::{self, Batch, GoodsPart, Head, HeadStart, ShapeCache};
use crate::economy::Economy;
use indexmap::IndexMap;
use rayon::prelude::*;
use serde::Deserialize;
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
            let mut p = super::toml_problem(&e, &rest_text);
            if let Location::Span(r) = &mut p.location {
                *r = map.span(r.clone());
            }
            return piece_error(PieceError { problem: p });
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
                let list = match fast::goods(text, r.clone()) {
                    Some(l) => l,
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
    for r in firms_out {
        match r {
            Ok((batch, hits)) => {
                batches.push(batch);
                for (k, e) in hits {
                    firm_hits[k].push(e);
                }
            }
            Err(e) => return piece_error(e),
        }
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

/// A chunk that the `toml` crate rejected, located in the file.
struct PieceError {
    problem: Problem,
}

fn toml_piece<T: serde::de::DeserializeOwned>(text: &str, r: &Range<usize>) -> Result<T, PieceError> {
    toml::from_str::<T>(&text[r.clone()]).map_err(|e| {
        let mut p = super::toml_problem(&e, &text[r.clone()]);
        if let Location::Span(s) = &mut p.location {
            *s = s.start + r.start..s.end + r.start;
        }
        PieceError { problem: p }
    })
}

fn toml_goods(text: &str, r: Range<usize>) -> Result<Vec<(String, Spanned<GoodSpec>)>, PieceError> {
    let mut map: IndexMap<String, Spanned<GoodSpec>> = toml_piece(text, &r)?;
    map.shift(&|p, _| p + r.start);
    Ok(map.into_iter().collect())
}

fn toml_firms(text: &str, r: Range<usize>) -> Result<Vec<Spanned<FirmSpec>>, PieceError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Chunk {
        firms: Vec<Spanned<FirmSpec>>,
    }
    let mut chunk: Chunk = toml_piece(text, &r)?;
    chunk.firms.shift(&|p, _| p + r.start);
    Ok(chunk.firms)
}

// --- the split ------------------------------------------------------------------------------

/// Where the chunks are: byte ranges of the file.
#[derive(Debug, Default)]
struct Plan {
    /// The rest, in pieces (file order).
    rest: Vec<Range<usize>>,
    /// Runs of `[goods]` lines.
    goods: Vec<Range<usize>>,
    /// Runs of whole `[[firms]]` entries.
    firms: Vec<Range<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rest,
    Goods,
    Firms,
}

impl Plan {
    fn push(&mut self, kind: Kind, r: Range<usize>) {
        if r.is_empty() {
            return;
        }
        match kind {
            Kind::Rest => match self.rest.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => self.rest.push(r),
            },
            Kind::Goods => self.goods.push(r),
            Kind::Firms => self.firms.push(r),
        }
    }

    /// The rest as one text, and the map from its offsets to the file's.
    fn rest_text(&self, text: &str) -> (String, SegmentMap) {
        let mut s = String::with_capacity(self.rest.iter().map(|r| r.len()).sum());
        let mut map = SegmentMap::default();
        for r in &self.rest {
            map.starts.push((s.len(), r.start));
            s.push_str(&text[r.clone()]);
        }
        (s, map)
    }
}

/// Offsets in the rest text -> offsets in the file.
#[derive(Default)]
struct SegmentMap {
    /// (start in the rest text, start in the file) of each piece.
    starts: Vec<(usize, usize)>,
}

impl SegmentMap {
    /// The file offset of rest offset `p`; at a seam, an end belongs to the piece before.
    fn pos(&self, p: usize, end: bool) -> usize {
        let k = self.starts.partition_point(|&(s, _)| if end { s < p } else { s <= p });
        match k.checked_sub(1) {
            Some(k) => self.starts[k].1 + (p - self.starts[k].0),
            None => p,
        }
    }
    fn span(&self, r: Range<usize>) -> Range<usize> {
        self.pos(r.start, false)..self.pos(r.end, true).max(self.pos(r.start, false))
    }
}

/// Split the text at top-level lines, or None when that is not safe.
fn scan(text: &str, chunk: usize, chunk_goods: bool) -> Option<Plan> {
    let b = text.as_bytes();
    let mut plan = Plan::default();
    let mut pos = 0;
    let mut depth = 0i32;
    let mut section = Kind::Rest;
    let mut root = true;
    let mut goods_table = false;
    let mut other_goods = false;
    let (mut cur_kind, mut cur_start) = (Kind::Rest, 0);
    while pos < b.len() {
        let end = memchr::memchr(b'\n', &b[pos..]).map_or(b.len(), |i| pos + i);
        let line = &b[pos..end];
        let next = (end + 1).min(b.len());
        let trimmed = trim_start(line);
        let at_top = depth == 0;
        let mut entry_start = false;
        let kind;
        if at_top && trimmed.first() == Some(&b'[') {
            let (array, first, keys) = header(trimmed)?;
            root = false;
            kind = match (first, array, keys) {
                ("firms", true, 1) => {
                    entry_start = true;
                    section = Kind::Firms;
                    Kind::Firms
                }
                ("firms", _, n) if n > 1 => {
                    if section != Kind::Firms {
                        return None;
                    }
                    Kind::Firms
                }
                ("firms", ..) => return None,
                ("goods", false, 1) => {
                    if goods_table {
                        return None;
                    }
                    goods_table = true;
                    section = if chunk_goods { Kind::Goods } else { Kind::Rest };
                    Kind::Rest
                }
                ("goods", ..) => {
                    other_goods = true;
                    section = Kind::Rest;
                    Kind::Rest
                }
                _ => {
                    section = Kind::Rest;
                    Kind::Rest
                }
            };
        } else {
            if at_top && root {
                match trimmed.first() {
                    Some(b'"' | b'\'') => return None,
                    Some(_) => {
                        let key: Vec<u8> = trimmed
                            .iter()
                            .copied()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
                            .collect();
                        if key == b"firms" || key == b"goods" {
                            return None;
                        }
                    }
                    None => {}
                }
            }
            depth = brackets(line, depth)?;
            kind = section;
        }
        let split = at_top
            && pos - cur_start >= chunk
            && ((cur_kind == Kind::Goods && kind == Kind::Goods) || (cur_kind == Kind::Firms && entry_start));
        if kind != cur_kind || split {
            plan.push(cur_kind, cur_start..pos);
            cur_kind = kind;
            cur_start = pos;
        }
        pos = next;
    }
    if depth != 0 {
        return None;
    }
    plan.push(cur_kind, cur_start..b.len());
    if other_goods && chunk_goods && !plan.goods.is_empty() {
        return scan(text, chunk, false);
    }
    Some(plan)
}

fn trim_start(line: &[u8]) -> &[u8] {
    let i = line.iter().position(|&c| c != b' ' && c != b'\t').unwrap_or(line.len());
    &line[i..]
}

/// A table header line: (array of tables?, its first key, the number of keys), or None if it
/// is not a plain one.
fn header(line: &[u8]) -> Option<(bool, &str, usize)> {
    let array = line.starts_with(b"[[");
    let mut i = if array { 2 } else { 1 };
    let ws = |i: &mut usize| {
        while matches!(line.get(*i), Some(b' ' | b'\t')) {
            *i += 1;
        }
    };
    let (mut first, mut keys) = ("", 0);
    loop {
        ws(&mut i);
        let key = match *line.get(i)? {
            q @ (b'"' | b'\'') => {
                let len = line[i + 1..].iter().position(|&c| c == q)?;
                let k = &line[i + 1..i + 1 + len];
                if k.contains(&b'\\') {
                    return None;
                }
                i += len + 2;
                k
            }
            _ => {
                let s = i;
                while matches!(line.get(i), Some(c) if c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-') {
                    i += 1;
                }
                if i == s {
                    return None;
                }
                &line[s..i]
            }
        };
        let key = std::str::from_utf8(key).ok()?;
        if keys == 0 {
            first = key;
        }
        keys += 1;
        ws(&mut i);
        if line.get(i) == Some(&b'.') {
            i += 1;
        } else {
            break;
        }
    }
    let close: &[u8] = if array { b"]]" } else { b"]" };
    if !line[i..].starts_with(close) {
        return None;
    }
    i += close.len();
    ws(&mut i);
    match line.get(i) {
        None | Some(b'#') => Some((array, first, keys)),
        Some(b'\r') if i + 1 == line.len() => Some((array, first, keys)),
        _ => None,
    }
}

/// The bytes [`brackets`] looks at: quotes, comments, brackets and braces.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    while k < 7 {
        t[b"\"'#[]{}"[k] as usize] = true;
        k += 1;
    }
    t
};

/// Bracket depth after `line` (strings and comments skipped), or None if unbalanced or if a
/// multi-line string starts.
fn brackets(line: &[u8], mut depth: i32) -> Option<i32> {
    let mut i = 0;
    while i < line.len() {
        // most bytes are none of those: skip them with one table look-up each
        if !SPECIAL[line[i] as usize] {
            i += 1;
            continue;
        }
        match line[i] {
            q @ (b'"' | b'\'') if line[i..].starts_with(&[q, q, q]) => return None,
            b'"' => {
                i += 1;
                loop {
                    match *line.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'\'' => {
                i += 1 + line[i + 1..].iter().position(|&c| c == b'\'')?;
            }
            b'#' => break,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Some(depth)
}

// --- moving spans ----------------------------------------------------------------------------

/// Rewrite every file span of a parsed value; `m(offset, is_end)`.
pub(crate) trait Shift {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize);
}

fn shifted(r: Range<usize>, m: &dyn Fn(usize, bool) -> usize) -> Range<usize> {
    let start = m(r.start, false);
    start..m(r.end, true).max(start)
}

/// A cheap value to leave in a `Spanned` while its content moves.
trait Placeholder {
    fn placeholder() -> Self;
}

impl<T: Shift + Placeholder> Shift for Spanned<T> {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        let span = shifted(self.span(), m);
        let mut v = std::mem::replace(self, Spanned::new(0..0, T::placeholder())).into_inner();
        v.shift(m);
        *self = Spanned::new(span, v);
    }
}

impl Shift for Origin {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        if let Origin::File(r) = self {
            *r = shifted(r.clone(), m);
        }
    }
}

impl Shift for Num {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.origin.shift(m)
    }
}
impl Shift for Int {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.origin.shift(m)
    }
}
impl Shift for Text {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.origin.shift(m)
    }
}
impl Shift for String {
    fn shift(&mut self, _: &dyn Fn(usize, bool) -> usize) {}
}
impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        if let Some(v) = self {
            v.shift(m)
        }
    }
}
impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        for v in self {
            v.shift(m)
        }
    }
}
impl<V: Shift> Shift for IndexMap<String, V> {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        for v in self.values_mut() {
            v.shift(m)
        }
    }
}

impl Placeholder for String {
    fn placeholder() -> Self {
        String::new()
    }
}
impl<T> Placeholder for Vec<T> {
    fn placeholder() -> Self {
        Vec::new()
    }
}
impl<V> Placeholder for IndexMap<String, V> {
    fn placeholder() -> Self {
        IndexMap::new()
    }
}
impl Placeholder for GoodSpec {
    fn placeholder() -> Self {
        GoodSpec::default()
    }
}
impl Placeholder for ProductionSpec {
    fn placeholder() -> Self {
        ProductionSpec::Expression(String::new())
    }
}
impl Placeholder for FirmSpec {
    fn placeholder() -> Self {
        FirmSpec {
            name: Spanned::new(0..0, String::new()),
            output: None,
            outputs: None,
            production: Spanned::new(0..0, ProductionSpec::placeholder()),
            count: None,
            productivity: None,
            productivity_spread: None,
            rule: None,
            rate: None,
            form: None,
            noise: None,
            activation: None,
        }
    }
}
impl Placeholder for ShockSpec {
    fn placeholder() -> Self {
        ShockSpec {
            tick: Int::default_value(0),
            good: None,
            price: None,
            endowment: None,
            firm: None,
            productivity: None,
        }
    }
}

impl Shift for GoodSpec {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.price.shift(m);
        self.endowment.shift(m);
        self.initial_price.shift(m);
    }
}

impl Shift for FamilySpec {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        match self {
            FamilySpec::CobbDouglas { scale, exponents } => {
                scale.shift(m);
                exponents.shift(m);
            }
            FamilySpec::Ces {
                scale,
                rho,
                returns,
                weights,
            } => {
                scale.shift(m);
                rho.shift(m);
                returns.shift(m);
                weights.shift(m);
            }
            FamilySpec::Power { scale, exponent, input } => {
                scale.shift(m);
                exponent.shift(m);
                input.shift(m);
            }
            FamilySpec::Linear { coefficients } => coefficients.shift(m),
            FamilySpec::Leontief { scale, requirements } => {
                scale.shift(m);
                requirements.shift(m);
            }
        }
    }
}

impl Shift for ProductionSpec {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        if let ProductionSpec::Family(f) = self {
            f.shift(m)
        }
    }
}

impl Shift for FirmSpec {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.name.shift(m);
        self.output.shift(m);
        self.outputs.shift(m);
        self.production.shift(m);
        self.count.shift(m);
        self.productivity.shift(m);
        self.productivity_spread.shift(m);
        self.rule.shift(m);
        self.rate.shift(m);
        self.form.shift(m);
        self.noise.shift(m);
        self.activation.shift(m);
    }
}

impl Shift for ShockSpec {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.tick.shift(m);
        self.good.shift(m);
        self.price.shift(m);
        self.endowment.shift(m);
        self.firm.shift(m);
        self.productivity.shift(m);
    }
}

impl Shift for ScenarioFile {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.name.shift(m);
        self.version.shift(m);
        self.goods.shift(m);
        self.firms.shift(m);
        let MarketSpec {
            rule,
            step,
            initial_price,
        } = &mut self.market;
        rule.shift(m);
        step.shift(m);
        initial_price.shift(m);
        let AgentSpec {
            rule,
            rate,
            form,
            noise,
            activation,
        } = &mut self.agents;
        rule.shift(m);
        rate.shift(m);
        form.shift(m);
        noise.shift(m);
        activation.shift(m);
        let RunSpec {
            max_ticks,
            tolerance,
            patience,
            seed,
            check_tolerance,
        } = &mut self.run;
        max_ticks.shift(m);
        tolerance.shift(m);
        patience.shift(m);
        seed.shift(m);
        check_tolerance.shift(m);
        self.log.every.shift(m);
        self.log.goods.shift(m);
        self.shocks.shift(m);
        if let Some(s) = &mut self.sweep {
            s.params.shift(m);
            s.replicates.shift(m);
        }
    }
}

// --- the fast parser --------------------------------------------------------------------------

/// A parser for the plain subset of TOML that `pricegrad generate` writes: `[[firms]]`
/// headers, `key = value` lines with bare keys, basic strings without escapes, decimal
/// numbers, one-line inline tables and comments. It gives exactly what the `toml` crate
/// gives (values and spans) or None, and then the chunk goes to the `toml` crate.
pub(crate) mod fast {
    use super::super::format::*;
    use indexmap::IndexMap;
    use std::ops::Range;
    use toml::Spanned;

    struct Cur<'a> {
        /// The text, and its bytes.
        t: &'a str,
        b: &'a [u8],
        i: usize,
        end: usize,
    }

    /// Bytes of a bare key.
    const KEY: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            let b = c as u8;
            t[c] = b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
            c += 1;
        }
        t
    };

    enum Number {
        Int(i64),
        Float(f64),
    }

    impl<'a> Cur<'a> {
        fn new(text: &'a str, r: &Range<usize>) -> Cur<'a> {
            Cur {
                t: text,
                b: text.as_bytes(),
                i: r.start,
                end: r.end,
            }
        }
        /// The text from byte `s` to here (None where that is not whole characters).
        fn since(&self, s: usize) -> Option<&'a str> {
            self.t.get(s..self.i)
        }
        fn peek(&self) -> Option<u8> {
            (self.i < self.end).then(|| self.b[self.i])
        }
        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.i += 1;
            }
        }
        fn eat(&mut self, c: u8) -> Option<()> {
            (self.peek()? == c).then(|| self.i += 1)
        }
        /// A comment to the end of the line (without control characters, as TOML wants).
        fn comment(&mut self) -> Option<()> {
            if self.peek() != Some(b'#') {
                return Some(());
            }
            while let Some(c) = self.peek() {
                match c {
                    b'\n' => break,
                    b'\t' => {}
                    c if c < 0x20 || c == 0x7f => return None,
                    _ => {}
                }
                self.i += 1;
            }
            Some(())
        }
        /// Spaces and a comment, then the end of the line.
        fn eol(&mut self) -> Option<()> {
            self.ws();
            self.comment()?;
            match self.peek() {
                None => Some(()),
                Some(b'\n') => {
                    self.i += 1;
                    Some(())
                }
                _ => None,
            }
        }
        /// Skip blank and comment lines; false at the end (None: a bad comment).
        fn blank_lines(&mut self) -> Option<bool> {
            loop {
                let s = self.i;
                self.ws();
                self.comment()?;
                match self.peek() {
                    None => return Some(false),
                    Some(b'\n') => self.i += 1,
                    _ => {
                        self.i = s;
                        return Some(true);
                    }
                }
            }
        }
        fn key(&mut self) -> Option<&'a str> {
            let s = self.i;
            while self.i < self.end && KEY[self.b[self.i] as usize] {
                self.i += 1;
            }
            if self.i == s {
                return None;
            }
            self.since(s)
        }
        /// `key = ` (spaces around `=`).
        fn key_eq(&mut self) -> Option<&'a str> {
            let k = self.key()?;
            self.ws();
            self.eat(b'=')?;
            self.ws();
            Some(k)
        }
        fn string(&mut self) -> Option<Spanned<String>> {
            let s = self.i;
            self.eat(b'"')?;
            let v0 = self.i;
            loop {
                match self.peek()? {
                    b'"' => break,
                    b'\\' | 0x7f => return None,
                    c if c < 0x20 => return None,
                    _ => self.i += 1,
                }
            }
            let v = self.since(v0)?.to_string();
            self.i += 1;
            Some(Spanned::new(s..self.i, v))
        }
        fn digits(&mut self) -> usize {
            let s = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            self.i - s
        }
        fn number(&mut self) -> Option<(Number, Range<usize>)> {
            let s = self.i;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            let d0 = self.i;
            let n = self.digits();
            if n == 0 || (n > 1 && self.b[d0] == b'0') {
                return None;
            }
            let mut float = false;
            if self.peek() == Some(b'.') {
                self.i += 1;
                if self.digits() == 0 {
                    return None;
                }
                float = true;
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.i += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.i += 1;
                }
                if self.digits() == 0 {
                    return None;
                }
                float = true;
            }
            if !matches!(self.peek(), None | Some(b' ' | b'\t' | b',' | b'}' | b'\n')) {
                return None;
            }
            let lit = self.since(s)?;
            let v = if float {
                let f: f64 = lit.parse().ok()?;
                if f.is_infinite() {
                    return None;
                }
                Number::Float(f)
            } else {
                Number::Int(lit.parse().ok()?)
            };
            Some((v, s..self.i))
        }
        fn num(&mut self) -> Option<Num> {
            let (v, r) = self.number()?;
            let value = match v {
                Number::Int(i) => i as f64,
                Number::Float(f) => f,
            };
            Some(Num {
                value,
                origin: Origin::File(r),
            })
        }
        fn int(&mut self) -> Option<Int> {
            match self.number()? {
                (Number::Int(value), r) => Some(Int {
                    value,
                    origin: Origin::File(r),
                }),
                _ => None,
            }
        }
        fn text(&mut self) -> Option<Text> {
            let s = self.string()?;
            Some(Text {
                origin: Origin::File(s.span()),
                value: s.into_inner(),
            })
        }
        /// `{ k = v, ... }` on one line; `each` parses the value of key k. Returns the span.
        fn table(&mut self, mut each: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<Range<usize>> {
            let s = self.i;
            self.eat(b'{')?;
            self.ws();
            if self.peek()? == b'}' {
                self.i += 1;
                return Some(s..self.i);
            }
            loop {
                self.ws();
                let k = self.key_eq()?;
                each(self, k)?;
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        return Some(s..self.i);
                    }
                    _ => return None,
                }
            }
        }
        fn num_table(&mut self) -> Option<Spanned<IndexMap<String, Num>>> {
            let mut map = IndexMap::new();
            let r = self.table(|c, k| {
                let v = c.num()?;
                map.insert(k.to_string(), v).is_none().then_some(())
            })?;
            Some(Spanned::new(r, map))
        }
    }

    fn once<T>(slot: &mut Option<T>, v: Option<T>) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(v?);
        Some(())
    }

    /// The `[goods]` lines `name = { price = ..., endowment = ..., initial_price = ... }`.
    pub(crate) fn goods(text: &str, r: Range<usize>) -> Option<Vec<(String, Spanned<GoodSpec>)>> {
        let mut c = Cur::new(text, &r);
        let mut out = Vec::new();
        while c.blank_lines()? {
            let name = c.key_eq()?.to_string();
            let mut g = GoodSpec::default();
            let span = c.table(|c, k| match k {
                "price" => once(&mut g.price, c.num()),
                "endowment" => once(&mut g.endowment, c.num()),
                "initial_price" => once(&mut g.initial_price, c.num()),
                _ => None,
            })?;
            c.eol()?;
            out.push((name, Spanned::new(span, g)));
        }
        Some(out)
    }

    fn family(c: &mut Cur, fam: &str) -> Option<FamilySpec> {
        let mut scale = None;
        let mut rho = None;
        let mut returns = None;
        let mut exponent = None;
        let mut input = None;
        let mut table = None;
        let table_key = match fam {
            "cobb_douglas" => "exponents",
            "ces" => "weights",
            "power" => "",
            "linear" => "coefficients",
            "leontief" => "requirements",
            _ => return None,
        };
        c.table(|c, k| match (fam, k) {
            ("cobb_douglas" | "ces" | "power" | "leontief", "scale") => once(&mut scale, c.num()),
            ("ces", "rho") => once(&mut rho, c.num()),
            ("ces", "returns") => once(&mut returns, c.num()),
            ("power", "exponent") => once(&mut exponent, c.num()),
            ("power", "input") => once(&mut input, c.string()),
            (_, k) if k == table_key => once(&mut table, c.num_table()),
            _ => None,
        })?;
        Some(match fam {
            "cobb_douglas" => FamilySpec::CobbDouglas {
                scale,
                exponents: table?,
            },
            "ces" => FamilySpec::Ces {
                scale,
                rho: rho?,
                returns,
                weights: table?,
            },
            "power" => FamilySpec::Power {
                scale,
                exponent: exponent?,
                input: input?,
            },
            "linear" => {
                if scale.is_some() {
                    return None;
                }
                FamilySpec::Linear { coefficients: table? }
            }
            _ => FamilySpec::Leontief {
                scale,
                requirements: table?,
            },
        })
    }

    fn production(c: &mut Cur) -> Option<Spanned<ProductionSpec>> {
        if c.peek()? == b'"' {
            let s = c.string()?;
            let r = s.span();
            return Some(Spanned::new(r, ProductionSpec::Expression(s.into_inner())));
        }
        let mut fam = None;
        let r = c.table(|c, k| once(&mut fam, family(c, k)))?;
        Some(Spanned::new(r, ProductionSpec::Family(fam?)))
    }

    /// Whole `[[firms]]` entries.
    #[cfg(test)]
    pub(crate) fn firms(text: &str, r: Range<usize>) -> Option<Vec<Spanned<FirmSpec>>> {
        let mut out = Vec::new();
        each_firm(text, r, |f| out.push(f))?;
        Some(out)
    }

    /// Whole `[[firms]]` entries, handed to `each` one by one as they are read (so that each
    /// is validated and freed before the next is read). None: not the plain subset (some
    /// entries may have been handed over already).
    pub(crate) fn each_firm(text: &str, r: Range<usize>, mut each: impl FnMut(Spanned<FirmSpec>)) -> Option<()> {
        let mut c = Cur::new(text, &r);
        while c.blank_lines()? {
            let h0 = c.i;
            if !c.b[c.i..c.end].starts_with(b"[[firms]]") {
                return None;
            }
            c.i += b"[[firms]]".len();
            let mut last = c.i;
            c.eol()?;
            let mut name = None;
            let mut output = None;
            let mut outputs = None;
            let mut production_ = None;
            let mut count = None;
            let mut productivity = None;
            let mut productivity_spread = None;
            let mut rule = None;
            let mut rate = None;
            let mut form = None;
            let mut noise = None;
            let mut activation = None;
            while c.blank_lines()? {
                if c.peek() == Some(b'[') {
                    break;
                }
                let k = c.key_eq()?;
                match k {
                    "name" => once(&mut name, c.string())?,
                    "output" => once(&mut output, c.string())?,
                    "outputs" => once(&mut outputs, c.num_table())?,
                    "production" => once(&mut production_, production(&mut c))?,
                    "count" => once(&mut count, c.int())?,
                    "productivity" => once(&mut productivity, c.num())?,
                    "productivity_spread" => once(&mut productivity_spread, c.num())?,
                    "rule" => once(&mut rule, c.text())?,
                    "rate" => once(&mut rate, c.num())?,
                    "form" => once(&mut form, c.text())?,
                    "noise" => once(&mut noise, c.num())?,
                    "activation" => once(&mut activation, c.num())?,
                    _ => return None,
                }
                last = c.i;
                c.eol()?;
            }
            let spec = FirmSpec {
                name: name?,
                output,
                outputs,
                production: production_?,
                count,
                productivity,
                productivity_spread,
                rule,
                rate,
                form,
                noise,
                activation,
            };
            each(Spanned::new(h0..last, spec));
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files written by `pricegrad generate --layers 3 --width 40 --seed 1` (one per family),
    /// kept as fixtures so that this module does not depend on the generator.
    const GENERATED: [&str; 4] = [
        include_str!("../../tests/fixtures/generated_cobb_douglas.toml"),
        include_str!("../../tests/fixtures/generated_ces.toml"),
        include_str!("../../tests/fixtures/generated_power.toml"),
        include_str!("../../tests/fixtures/generated_expression.toml"),
    ];

    /// The fast parser reads every chunk of generated files, exactly as the toml crate does.
    #[test]
    fn fast_parser_reads_generated_files_like_toml() {
        for text in GENERATED {
            for chunk in [1, 500, 1 << 20] {
                let plan = scan(text, chunk, true).expect("generated files split");
                assert!(!plan.firms.is_empty() && !plan.goods.is_empty());
                for r in &plan.firms {
                    let fast = fast::firms(text, r.clone()).expect("the fast parser reads generated firms");
                    let slow = toml_firms(text, r.clone()).ok().unwrap();
                    assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
                }
                for r in &plan.goods {
                    let fast = fast::goods(text, r.clone()).expect("the fast parser reads generated goods");
                    let slow = toml_goods(text, r.clone()).ok().unwrap();
                    assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
                }
            }
        }
    }

    /// Values at the edges of the subset: the fast parser agrees with toml or declines.
    #[test]
    fn fast_parser_agrees_or_declines() {
        let values = [
            "0",
            "-0",
            "+1",
            "01",
            "1.",
            "1.5",
            "-2.5e-3",
            "1e5",
            "1E+05",
            "1_000",
            "0x1f",
            "1e400",
            "-1e400",
            "9223372036854775807",
            "9223372036854775808",
            "inf",
            "nan",
            "\"x\"",
            "1979-05-27",
            "2.0.",
            "-",
            ".5",
        ];
        for v in values {
            for field in ["rate", "count"] {
                let text = format!(
                    "[[firms]]\nname = \"A\"\nproduction = {{ power = {{ exponent = {v}, input = \"x\" }} }}\n{field} = {v}\n"
                );
                let r = 0..text.len();
                let slow = toml_firms(&text, r.clone()).ok();
                if let Some(fast) = fast::firms(&text, r) {
                    assert_eq!(format!("{fast:?}"), format!("{:?}", slow.expect(v)), "{v}");
                }
            }
        }
        for line in [
            "a = { }",
            "a = {}",
            "a = { price = 1, }",
            "a = { price = 1 price = 2 }",
            "a = { price = 1, price = 2 }",
            "a = { bogus = 1 }",
            "a={price=1}",
            "a = { price = 1 } # c",
            "\"a\" = { price = 1 }",
            "a = { price = \"1\" }",
        ] {
            let text = format!("{line}\n");
            let r = 0..text.len();
            let slow = toml_goods(&text, r.clone()).ok();
            if let Some(fast) = fast::goods(&text, r) {
                assert_eq!(format!("{fast:?}"), format!("{:?}", slow.expect(line)), "{line}");
            }
        }
    }

    #[test]
    fn unsafe_splits_are_refused() {
        for text in [
            "name = \"\"\"x\"\"\"\n[[firms]]\nname = \"A\"\n",
            "firms = []\n[goods]\n",
            "goods.a = {}\n[[firms]]\n",
            "[firms]\n[[firms]]\n",
            "[market]\n[firms.x]\n",
            "[log]\ngoods = [\n[[firms]]\n",
            "[goods]\n[goods]\n[[firms]]\n",
        ] {
            assert!(scan(text, 1, true).is_none(), "{text}");
        }
        // an array spanning lines is not a header
        let plan = scan("[log]\ngoods = [\n[\"a\"],\n]\n[[firms]]\nname = \"A\"\n", 1, true).unwrap();
        assert_eq!(plan.firms.len(), 1);
    }
}
