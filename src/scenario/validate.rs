//! Validation: a parsed scenario file becomes an immutable [`Economy`], or a list of
//! problems, each with its place in the file and a way to fix it.

use super::error::{did_you_mean, Location, Problem, MAX_SHOWN};
use super::format::*;
use crate::economy::agent_settings::{self, AgentSettings};
use crate::economy::market_settings::{self, MarketSettings};
use crate::economy::*;
use crate::numeric::random;
use crate::production::{check_shape, Expr, Returns, ShapeProblem, Technology};
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;

/// Most firms one scenario may ask for (replicas included).
pub const MAX_FIRMS: u64 = 50_000_000;
/// Longest production expression, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 1 << 20;
/// Most input goods one production expression may use (as many as `pricegrad generate` gives
/// a firm). Sampling the shape of an expression costs about n^3 per point at hundreds of
/// points, so a few hundred inputs took minutes; families have no such limit.
pub const MAX_EXPRESSION_INPUTS: usize = 64;

const FUNCTION_NAMES: [&str; 7] = ["sqrt", "ln", "log", "exp", "pow", "min", "max"];

/// Collects problems while validation goes on, so one pass reports all of them.
struct Check {
    problems: Vec<Problem>,
    /// Per-firm checks (in parallel chunks) do not know how many problems come before
    /// theirs: suggestions are marked, and [`resolve_suggestions`] keeps the ones shown.
    defer: bool,
}

impl Check {
    fn push(&mut self, location: Location, message: impl Into<String>, help: impl Into<String>) {
        self.problems.push(Problem::new(location, message, help));
    }

    fn at(&mut self, span: Range<usize>, message: impl Into<String>, help: impl Into<String>) {
        self.push(Location::Span(span), message, help);
    }

    /// "did you mean 'x'? " for the problems that will be shown. A suggestion compares the
    /// name with every candidate; doing that for every one of thousands of problems (a good
    /// renamed in a generated file) took minutes.
    fn suggest<'a>(&self, name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
        if self.defer {
            format!("{SHOWN}{}{SHOWN}", did_you_mean(name, candidates))
        } else if self.problems.len() < MAX_SHOWN {
            did_you_mean(name, candidates)
        } else {
            String::new()
        }
    }

    /// [`Check::suggest`] among the goods (made later, and only if shown, when deferred).
    fn suggest_good(&self, name: &str, goods: &Names) -> String {
        if self.defer {
            format!("{GOOD}{name}{GOOD}")
        } else {
            self.suggest(name, goods)
        }
    }

    /// A number that must be finite and within [lo, hi] (open ends per flags).
    fn num(&mut self, n: &Num, what: &str, lo: f64, lo_open: bool, hi: f64, help: &str) -> f64 {
        self.num_with(n, || what.to_string(), lo, lo_open, hi, help)
    }

    /// [`Check::num`] with the name made only when it is needed (per-firm checks).
    fn num_with(&mut self, n: &Num, what: impl FnOnce() -> String, lo: f64, lo_open: bool, hi: f64, help: &str) -> f64 {
        let v = n.value;
        let bad = !v.is_finite() || (lo_open && v <= lo) || (!lo_open && v < lo) || v > hi;
        if bad {
            // bounds of 1e300 and more only keep numbers finite: say "at least", not the bound
            let range = match (lo_open, hi < 1e300) {
                (true, false) => format!("greater than {lo}"),
                (false, false) => format!("at least {lo}"),
                (true, true) => format!("greater than {lo} and at most {hi}"),
                (false, true) => format!("between {lo} and {hi}"),
            };
            let shown = if v.is_nan() { "nan".to_string() } else { format!("{v}") };
            let what = what();
            self.push(
                (&n.origin).into(),
                format!("{what} must be a finite number {range}, found {shown}"),
                help,
            );
        }
        v
    }

    fn int(&mut self, n: &Int, what: &str, lo: i64, hi: i64, help: &str) -> i64 {
        self.int_with(n, || what.to_string(), lo, hi, help)
    }

    fn int_with(&mut self, n: &Int, what: impl FnOnce() -> String, lo: i64, hi: i64, help: &str) -> i64 {
        if n.value < lo || n.value > hi {
            let what = what();
            self.push(
                (&n.origin).into(),
                format!("{what} must be a whole number between {lo} and {hi}, found {}", n.value),
                help,
            );
        }
        n.value.clamp(lo, hi)
    }
}

/// Deferred suggestions in help texts: SHOWN wraps a ready suggestion, GOOD a name to look
/// up among the goods.
const SHOWN: char = '\u{1}';
const GOOD: char = '\u{2}';

/// Replace the deferred suggestions of problems in their final order: problem i keeps its
/// suggestion when i < MAX_SHOWN, as [`Check::suggest`] decides for the others.
fn resolve_suggestions(problems: &mut [Problem], first: usize, goods: &Names) {
    for (i, p) in problems.iter_mut().enumerate() {
        let i = first + i;
        while let Some(a) = p.help.find([SHOWN, GOOD]) {
            let mark = p.help[a..].chars().next().expect("found");
            let Some(len) = p.help[a + 1..].find(mark) else {
                break;
            };
            let inner = &p.help[a + 1..a + 1 + len];
            let text = match (i < MAX_SHOWN, mark == GOOD) {
                (false, _) => String::new(),
                (true, false) => inner.to_string(),
                (true, true) => did_you_mean(inner, goods),
            };
            p.help.replace_range(a..a + 2 + len, &text);
        }
    }
}

fn span_of<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

/// Whether `name` can be used as a good name in expressions.
fn valid_good_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !FUNCTION_NAMES.contains(&name)
}

/// Whether `name` is usable as a directory name: `[A-Za-z0-9_-]`, 1 to 64 characters.
pub fn valid_scenario_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name != "-"
}

/// The validated scenario: the economy, and settings that only the CLI uses.
/// The validated scenario: the economy, and settings that only the CLI uses.
pub fn validate(file: &ScenarioFile, source: &str, seed_override: Option<u64>) -> Result<Economy, Vec<Problem>> {
    let head = Head::new(file, source, seed_override, !file.firms.is_empty());
    let mut batch = Batch::default();
    {
        let ctx = head.firm_ctx(file, source);
        let mut cache = ShapeCache::default();
        for f in &file.firms {
            validate_firm(&ctx, f.get_ref(), &mut cache, &mut batch);
        }
    }
    finish(head, file, source, vec![batch])
}

/// Everything validated before the firms: name, goods, market, agent defaults, run, log.
pub(crate) struct Head {
    problems: Vec<Problem>,
    name: String,
    pub(crate) goods: Goods,
    good_spans: Vec<Range<usize>>,
    pub(crate) index: NameIndex,
    agent_defaults: AgentSettings,
    market: MarketSettings,
    run: RunSettings,
    every: Option<u64>,
}

impl Head {
    /// Validate all but the firms, `[log] goods` and shocks. `has_firms`: whether the file
    /// has any `[[firms]]` entry.
    pub(crate) fn new(file: &ScenarioFile, source: &str, seed_override: Option<u64>, has_firms: bool) -> Head {
        let start = HeadStart::new(file);
        let mut part = GoodsPart::default();
        for (gname, spec) in &file.goods {
            validate_good(&mut part, gname, spec, start.market_initial);
        }
        Head::assemble(start, file, source, seed_override, has_firms, vec![part]).expect("goods names are unique")
    }

    /// The rest of [`Head::new`], with the goods validated in parts (in file order). None
    /// when a good name repeats (a whole-document parse reports or merges those).
    pub(crate) fn assemble(
        start: HeadStart,
        file: &ScenarioFile,
        source: &str,
        seed_override: Option<u64>,
        has_firms: bool,
        parts: Vec<GoodsPart>,
    ) -> Option<Head> {
        let HeadStart {
            mut c,
            name,
            market_initial: _,
        } = start;
        let n_goods: usize = parts.iter().map(|p| p.goods.len()).sum();

        if n_goods == 0 {
            c.at(
                goods_table_span(source),
                "the scenario declares no goods",
                "declare goods as tables, e.g. [goods.natgas] endowment = 4.0 and [goods.tupperware] price = 1.0",
            );
        }
        let mut goods = Goods::default();
        let mut good_spans: Vec<Range<usize>> = Vec::with_capacity(n_goods);
        goods
            .name
            .reserve(n_goods, parts.iter().map(|p| p.goods.name.bytes()).sum());
        goods.fixed.reserve_exact(n_goods);
        goods.price.reserve_exact(n_goods);
        goods.endowment.reserve_exact(n_goods);
        for p in parts {
            goods.name.append(&p.goods.name);
            goods.fixed.extend(p.goods.fixed);
            goods.price.extend(p.goods.price);
            goods.endowment.extend(p.goods.endowment);
            good_spans.extend(p.spans);
            c.problems.extend(p.problems);
        }
        let (index, unique) = NameIndex::build_checked(goods.len(), |i| &goods.name[i]);
        if !unique {
            return None;
        }

        // --- market and agent defaults ---------------------------------------------------
        let agent_defaults = agent_settings(
            &mut c,
            &file.agents.rule,
            &file.agents.rate,
            &file.agents.form,
            &file.agents.noise,
            &file.agents.activation,
            None,
            ("agents", ""),
        );
        let market = MarketSettings {
            rule: parse_rule(
                &mut c,
                file.market.rule.as_ref(),
                || "market.rule".to_string(),
                market_settings::Rule::parse,
                &market_settings::Rule::NAMES,
            )
            .unwrap_or(market_settings::Rule::Multiplicative),
            step: file.market.step.as_ref().map_or(0.5, |n| {
                c.num(
                    n,
                    "market.step",
                    0.0,
                    true,
                    1e6,
                    "a price step is positive, e.g. step = 0.5",
                )
            }),
        };

        // --- run, log ----------------------------------------------------------------------
        let r = &file.run;
        let run = RunSettings {
            max_ticks: r.max_ticks.as_ref().map_or(20_000, |n| {
                c.int(n, "run.max_ticks", 1, 1_000_000_000_000, "e.g. max_ticks = 20000") as u64
            }),
            tolerance: r.tolerance.as_ref().map_or(1e-10, |n| {
                c.num(
                    n,
                    "run.tolerance",
                    0.0,
                    true,
                    1.0,
                    "the convergence tolerance on relative excess demand and price change, e.g. tolerance = 1e-10",
                )
            }),
            patience: r.patience.as_ref().map_or(20, |n| {
                c.int(
                    n,
                    "run.patience",
                    1,
                    1_000_000_000,
                    "ticks in a row within tolerance, e.g. patience = 20",
                ) as u64
            }),
            seed: seed_override.unwrap_or_else(|| {
                r.seed.as_ref().map_or(42, |n| {
                    c.int(n, "run.seed", 0, i64::MAX, "any whole number >= 0, e.g. seed = 42") as u64
                })
            }),
            check_tolerance: r.check_tolerance.as_ref().map_or(1e-6, |n| {
                c.num(
                    n,
                    "run.check_tolerance",
                    0.0,
                    true,
                    1.0,
                    "the relative error allowed in the final checks, e.g. check_tolerance = 1e-6",
                )
            }),
        };
        // None: the default, which depends on the economy's size (set in `finish`)
        let every = file
            .log
            .every
            .as_ref()
            .map(|n| c.int(n, "log.every", 1, 1_000_000_000, "log every N ticks, e.g. every = 1") as u64);
        if !has_firms {
            // at the end of the file, where a [[firms]] table would go
            c.at(source.len()..source.len(), "the scenario has no firms", "add at least one [[firms]] table with name, output and production, e.g.\n  [[firms]]\n  name = \"A\"\n  output = \"ethylene\"\n  production = \"sqrt(natgas)\"");
        }
        Some(Head {
            problems: c.problems,
            name,
            goods,
            good_spans,
            index,
            agent_defaults,
            market,
            run,
            every,
        })
    }

    /// What validating one firm needs to know.
    pub(crate) fn firm_ctx<'a>(&'a self, file: &'a ScenarioFile, source: &'a str) -> FirmCtx<'a> {
        FirmCtx {
            names: &self.goods.name,
            index: &self.index,
            defaults: &self.agent_defaults,
            agents_rate: file.agents.rate.as_ref(),
            agents_rule: file.agents.rule.as_ref(),
            source,
        }
    }
}

/// The first checks of a scenario: name, version and the market's initial price (which the
/// goods need).
pub(crate) struct HeadStart {
    c: Check,
    name: String,
    pub(crate) market_initial: f64,
}

impl HeadStart {
    pub(crate) fn new(file: &ScenarioFile) -> HeadStart {
        let mut c = Check {
            problems: Vec::new(),
            defer: false,
        };

        // --- name, version ---------------------------------------------------------------
        let name = file.name.get_ref().clone();
        if !valid_scenario_name(&name) {
            c.at(
                span_of(&file.name),
                format!("scenario name {name:?} cannot name an output folder"),
                "use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-', e.g. name = \"tupperware\"",
            );
        }
        if let Some(v) = &file.version {
            if v.value != 1 {
                c.push(
                    (&v.origin).into(),
                    format!("scenario format version {} is not supported", v.value),
                    "this pricegrad reads version = 1; remove the key or set it to 1",
                );
            }
        }

        let market_initial = file.market.initial_price.as_ref().map_or(1.0, |n| {
            c.num(
                n,
                "market.initial_price",
                0.0,
                true,
                f64::INFINITY,
                "prices start positive, e.g. initial_price = 1.0",
            )
        });
        HeadStart {
            c,
            name,
            market_initial,
        }
    }
}

/// Goods validated in file order, with their problems.
#[derive(Default)]
pub(crate) struct GoodsPart {
    pub(crate) goods: Goods,
    spans: Vec<Range<usize>>,
    problems: Vec<Problem>,
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

/// What validating one firm needs: the goods, the agent defaults and the source text.
pub(crate) struct FirmCtx<'a> {
    names: &'a Names,
    index: &'a NameIndex,
    defaults: &'a AgentSettings,
    agents_rate: Option<&'a Num>,
    agents_rule: Option<&'a Text>,
    source: &'a str,
}

/// A name -> position index over a list of names: open addressing over 8-byte slots (a hash
/// tag and an offset into a copy of the names), so that a lookup among millions of names
/// touches two cache lines. The first of equal names wins.
pub(crate) struct NameIndex {
    /// tag (24 bits) << 40 | offset of the entry in `arena`; EMPTY when free.
    slots: Vec<u64>,
    /// Entries: position (u32), length (u32), the name's bytes.
    arena: Vec<u8>,
    mask: usize,
}

const EMPTY: u64 = u64::MAX;
const OFFSET_BITS: u32 = 40;

impl NameIndex {
    /// An index over `n` names, name i being `name_of(i)`.
    pub(crate) fn build<'a>(n: usize, name_of: impl Fn(usize) -> &'a str) -> NameIndex {
        Self::build_checked(n, name_of).0
    }

    /// The index, and whether the names are all different.
    pub(crate) fn build_checked<'a>(n: usize, name_of: impl Fn(usize) -> &'a str) -> (NameIndex, bool) {
        let mut unique = true;
        let cap = (n + n / 2 + 1).next_power_of_two().max(8);
        let mut slots = Vec::with_capacity(cap);
        huge_pages(&slots);
        slots.resize(cap, EMPTY);
        let arena = Vec::with_capacity((0..n).map(|i| 8 + name_of(i).len()).sum());
        huge_pages(&arena);
        let mut index = NameIndex {
            slots,
            arena,
            mask: cap - 1,
        };
        for i in 0..n {
            let name = name_of(i);
            let (mut h, tag) = index.probe_start(name);
            loop {
                let s = index.slots[h];
                if s == EMPTY {
                    let off = index.arena.len() as u64;
                    assert!(off < 1 << OFFSET_BITS, "too many names to index");
                    index.arena.extend_from_slice(&(i as u32).to_le_bytes());
                    index.arena.extend_from_slice(&(name.len() as u32).to_le_bytes());
                    index.arena.extend_from_slice(name.as_bytes());
                    index.slots[h] = tag << OFFSET_BITS | off;
                    break;
                }
                if s >> OFFSET_BITS == tag && index.entry(s).1 == name.as_bytes() {
                    unique = false;
                    break;
                }
                h = (h + 1) & index.mask;
            }
        }
        index.arena.shrink_to_fit();
        (index, unique)
    }

    fn probe_start(&self, name: &str) -> (usize, u64) {
        let h = name_hash(name) as u64;
        ((h as usize) & self.mask, h >> OFFSET_BITS)
    }

    /// (position, name bytes) of the entry a slot points at.
    fn entry(&self, slot: u64) -> (usize, &[u8]) {
        let off = (slot & ((1 << OFFSET_BITS) - 1)) as usize;
        let word = |o: usize| u32::from_le_bytes(self.arena[o..o + 4].try_into().expect("4 bytes")) as usize;
        let len = word(off + 4);
        (word(off), &self.arena[off + 8..off + 8 + len])
    }

    /// The position of the first name equal to `key`.
    pub(crate) fn get(&self, key: &str) -> Option<usize> {
        let (mut h, tag) = self.probe_start(key);
        loop {
            let s = self.slots[h];
            if s == EMPTY {
                return None;
            }
            if s >> OFFSET_BITS == tag {
                let (i, name) = self.entry(s);
                if name == key.as_bytes() {
                    return Some(i);
                }
            }
            h = (h + 1) & self.mask;
        }
    }
}

/// Ask for transparent huge pages on a large, not yet touched buffer: random lookups in
/// hundreds of megabytes then miss the TLB far less often. Only a hint.
fn huge_pages<T>(v: &Vec<T>) {
    const HUGE: usize = 2 << 20;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 4 * HUGE {
        return;
    }
    let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
    let end = (v.as_ptr() as usize + bytes) / HUGE * HUGE;
    if end > start {
        // SAFETY: the range lies inside the vector's own allocation; MADV_HUGEPAGE changes
        // only how the kernel backs it, never its contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

fn name_hash(s: &str) -> usize {
    // FNV-1a, then a final mix so that the low bits depend on every byte
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 32;
    h as usize
}

/// Shape checks of expressions, one per distinct text.
pub(crate) type ShapeCache = HashMap<Vec<u64>, Result<(), ShapeProblem>>;

/// Identical technologies share one entry of `Economy::technologies`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum TechKey {
    Expression(String),
    Family(u8, [u64; 3]),
}

fn tech_key(t: &Technology) -> TechKey {
    let b = f64::to_bits;
    match t {
        Technology::Expression(e) => TechKey::Expression(e.source().to_string()),
        Technology::CobbDouglas { scale } => TechKey::Family(0, [b(*scale), 0, 0]),
        Technology::Ces { scale, rho, returns } => TechKey::Family(1, [b(*scale), b(*rho), b(*returns)]),
        Technology::Power { scale, exponent } => TechKey::Family(2, [b(*scale), b(*exponent), 0]),
        Technology::Linear => TechKey::Family(3, [0; 3]),
        Technology::Leontief { scale } => TechKey::Family(4, [b(*scale), 0, 0]),
    }
}

/// Values with their duplicates merged (equal keys, one entry), in order of first use.
pub(crate) struct Dedup<T, K> {
    list: Vec<T>,
    seen: HashMap<K, u32>,
    key: fn(&T) -> K,
    /// The last key added and its index (runs of firms share settings: no hashing for them).
    last: Option<(K, u32)>,
}

impl<T, K: std::hash::Hash + Eq + Clone> Dedup<T, K> {
    fn new(key: fn(&T) -> K) -> Self {
        Dedup {
            list: Vec::new(),
            seen: HashMap::new(),
            key,
            last: None,
        }
    }

    /// The index of `t`'s entry (added when new).
    fn add(&mut self, t: T) -> u32 {
        let key = (self.key)(&t);
        if let Some((k, i)) = &self.last {
            if *k == key {
                return *i;
            }
        }
        let i = match self.seen.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.list.len() as u32;
                self.list.push(t);
                self.seen.insert(key.clone(), i);
                i
            }
        };
        self.last = Some((key, i));
        i
    }
}

/// Identical technologies share one entry of `Economy::technologies`.
pub(crate) type TechTable = Dedup<Technology, TechKey>;

/// Identical agent settings share one entry of `Economy::agents`.
pub(crate) type AgentTable = Dedup<AgentSettings, (u8, u8, [u64; 3])>;

fn agent_key(a: &AgentSettings) -> (u8, u8, [u64; 3]) {
    (
        a.rule as u8,
        a.form as u8,
        [a.rate.to_bits(), a.noise.to_bits(), a.activation.to_bits()],
    )
}

impl Default for TechTable {
    fn default() -> Self {
        Dedup::new(tech_key)
    }
}

impl Default for AgentTable {
    fn default() -> Self {
        Dedup::new(agent_key)
    }
}

/// Validated firms in file order, compact: one group per `[[firms]]` entry (its technology
/// and agent indices local to the batch) with its edges in flat arrays, and the problems
/// found, by firm.
#[derive(Default)]
pub(crate) struct Batch {
    groups: Vec<FirmGroup>,
    names: Names,
    name_spans: Vec<Range<usize>>,
    techs: TechTable,
    agents: AgentTable,
    input_start: Vec<u32>,
    inputs: Vec<u32>,
    params: Vec<f64>,
    output_start: Vec<u32>,
    outputs: Vec<(u32, f64)>,
    spread: Vec<f64>,
    /// Firms counted (replicas included; entries whose production failed count 0).
    total: u64,
    /// The largest `count` given (the last of equal ones), for the firm-cap message.
    largest_count: Option<Int>,
    /// (firm in this batch, whether the problem comes after the duplicate-name check, problem)
    problems: Vec<(u32, bool, Problem)>,
}

impl Batch {
    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }
    pub(crate) fn group_name(&self, i: usize) -> &str {
        &self.names[i]
    }
    /// Input edges and output slots of the batch's firms (replicas included).
    fn edges_and_slots(&self) -> (u64, u64) {
        let per = |start: &[u32], i: usize| u64::from(start[i + 1] - start[i]);
        self.groups.iter().enumerate().fold((0, 0), |(e, s), (i, g)| {
            let n = u64::from(g.count);
            (e + n * per(&self.input_start, i), s + n * per(&self.output_start, i))
        })
    }
    #[allow(clippy::too_many_arguments)]
    fn push_firm(
        &mut self,
        name: &str,
        name_span: Range<usize>,
        (count, productivity): (u32, f64),
        agent: AgentSettings,
        tech: Technology,
        inputs: &[usize],
        params: &[f64],
        outputs: &[(usize, f64)],
        spread: f64,
    ) {
        if self.input_start.is_empty() {
            self.input_start.push(0);
            self.output_start.push(0);
        }
        self.groups.push(FirmGroup {
            first: 0,
            count,
            technology: self.techs.add(tech),
            agent: self.agents.add(agent),
            productivity,
        });
        self.names.push(name);
        self.name_spans.push(name_span);
        self.inputs.extend(inputs.iter().map(|&g| g as u32));
        self.params.extend_from_slice(params);
        self.input_start.push(self.inputs.len() as u32);
        self.outputs.extend(outputs.iter().map(|&(g, w)| (g as u32, w)));
        self.output_start.push(self.outputs.len() as u32);
        self.spread.push(spread);
    }
}

fn lookup_good(
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

/// Validate one `[[firms]]` entry into `batch` (in file order). The duplicate-name check is
/// left to [`finish`], which sees all firms.
pub(crate) fn validate_firm(ctx: &FirmCtx, f: &FirmSpec, shape_cache: &mut ShapeCache, batch: &mut Batch) {
    let mut c = Check {
        problems: Vec::new(),
        defer: true,
    };
    if let Some(n) = &f.count {
        batch.note_count(n);
    }
    let firm = batch.len() as u32;
    let names = ctx.names;
    let source = ctx.source;
    let agent_defaults = ctx.defaults;
    let goods_name = ctx.names;
    let fname: &str = f.name.get_ref();
    let name_span = span_of(&f.name);
    if fname.is_empty() || fname.len() > 128 || fname.chars().any(|ch| ch.is_control() || ch == '.' || ch == '#') {
        c.at(name_span.clone(), format!("firm name {fname:?} is not usable"), "use 1 to 128 characters without '.', '#' or control characters (names appear in --set paths like firms.NAME.rate)");
    }
    let split = c.problems.len();

    // outputs
    let mut outputs: Vec<(usize, f64)> = Vec::new();
    match (&f.output, &f.outputs) {
        (Some(o), None) => {
            if let Some(g) = lookup_good(&mut c, names, ctx.index, o.get_ref(), span_of(o), || {
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
        (Some(o), Some(_)) => c.at(
            span_of(o),
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
    let (tech, inputs, params) = match technology(&mut c, &f.production, fname, source, names, ctx.index) {
        Some(t) => t,
        None => {
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
    let prod_span = span_of(&f.production);
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

    // counts and productivity
    let count = match &f.count {
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
    let productivity = f.productivity.as_ref().map_or(1.0, |n| {
        c.num_with(
            n,
            || format!("firms.{fname}.productivity"),
            0.0,
            true,
            1e300,
            "a productivity multiplier on F, e.g. productivity = 1.0",
        )
    });
    let spread = f.productivity_spread.as_ref().map_or(0.0, |n| {
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
        if let Some(n) = &f.productivity_spread {
            c.push((&n.origin).into(), format!("firm '{fname}' has productivity_spread but count = 1"), "productivity_spread varies productivity across the replicas of `count = N` firms; add count or remove the spread");
        }
    }
    let agent = agent_settings(
        &mut c,
        &f.rule,
        &f.rate,
        &f.form,
        &f.noise,
        &f.activation,
        Some(agent_defaults),
        ("firms.", fname),
    );
    if agent.rule == agent_settings::Rule::BestResponse && agent.rate > 1.0 {
        let loc = f
            .rate
            .as_ref()
            .or(ctx.agents_rate)
            .map_or(Location::File, |n| (&n.origin).into());
        c.push(loc, format!("firm '{fname}' uses best_response with rate {} > 1", agent.rate), "for best_response, rate is the fraction of the way to the best plan moved each tick (beta), in (0, 1], e.g. rate = 0.5");
    }
    if agent.rule == agent_settings::Rule::BestResponse && tech.returns(&params) == Returns::Constant {
        let loc = f
            .rule
            .as_ref()
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

impl Batch {
    /// Give back the spare capacity of the batch's arrays (they grew by doubling; the batches
    /// of all chunks are held until they are merged).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.groups.shrink_to_fit();
        self.names.shrink_to_fit();
        self.name_spans.shrink_to_fit();
        self.input_start.shrink_to_fit();
        self.inputs.shrink_to_fit();
        self.params.shrink_to_fit();
        self.output_start.shrink_to_fit();
        self.outputs.shrink_to_fit();
        self.spread.shrink_to_fit();
    }

    fn note_count(&mut self, n: &Int) {
        if self.largest_count.as_ref().is_none_or(|m| n.value >= m.value) {
            self.largest_count = Some(n.clone());
        }
    }

    fn record(&mut self, firm: u32, split: usize, problems: Vec<Problem>) {
        for (i, p) in problems.into_iter().enumerate() {
            self.problems.push((firm, i >= split, p));
        }
    }
}

/// Merge the validated firms (batches in file order) with the head, check what needs all
/// firms (duplicate names, totals, log goods, shocks, sources, cycles) and build the economy.
pub(crate) fn finish(
    head: Head,
    file: &ScenarioFile,
    source: &str,
    batches: Vec<Batch>,
) -> Result<Economy, Vec<Problem>> {
    let Head {
        problems,
        name,
        mut goods,
        good_spans,
        index,
        agent_defaults: _,
        market,
        run,
        every,
    } = head;
    let mut c = Check { problems, defer: false };

    // --- sizes: the firm cap and the memory a run would need, before anything is built ----
    let n_groups: usize = batches.iter().map(Batch::len).sum();
    let total_firms: u64 = batches.iter().map(|b| b.total).sum();
    let (total_edges, total_slots) = batches
        .iter()
        .map(Batch::edges_and_slots)
        .fold((0u64, 0u64), |(e, s), (be, bs)| (e + be, s + bs));
    // the largest `count` given (the last of equal ones)
    let largest_count = batches
        .iter()
        .filter_map(|b| b.largest_count.as_ref())
        .fold(None, |m: Option<&Int>, n| match m {
            Some(m) if n.value < m.value => Some(m),
            _ => Some(n),
        })
        .cloned();
    let bytes = estimated_bytes(total_firms, total_edges);
    let too_many = total_firms > MAX_FIRMS;
    // input edges and output slots are numbered with 32 bits
    let too_many_edges = total_edges.max(total_slots) > u64::from(u32::MAX);
    let too_big = bytes > MEMORY_CHECK_FROM && available_memory().is_some_and(|avail| bytes > avail);
    let fits = !(too_many || too_many_edges || too_big);

    // --- merge the batches: the groups, and the firm arrays with the replicas -----------------
    // Each batch is copied into place and freed at once, so the firms are never held twice.
    let mut groups: Vec<FirmGroup> = Vec::with_capacity(n_groups);
    let mut group_names = Names::new();
    group_names.reserve(n_groups, batches.iter().map(|b| b.names.bytes()).sum());
    let mut name_spans: Vec<Range<usize>> = Vec::with_capacity(n_groups);
    let mut techs = TechTable::default();
    let mut agents = AgentTable::default();
    let mut firms = Firms::default();
    if fits {
        let (n_firms, n_edges, n_outs) = (total_firms as usize, total_edges as usize, total_slots as usize);
        firms.group.reserve_exact(n_firms);
        firms.productivity.reserve_exact(n_firms);
        firms.input_start.reserve_exact(n_firms + 1);
        firms.input_good.reserve_exact(n_edges);
        firms.input_param.reserve_exact(n_edges);
        firms.edge_firm.reserve_exact(n_edges);
        firms.output_start.reserve_exact(n_firms + 1);
        firms.output_good.reserve_exact(n_outs);
        firms.output_weight.reserve_exact(n_outs);
        firms.output_firm.reserve_exact(n_outs);
        firms.input_start.push(0);
        firms.output_start.push(0);
    }
    // goods some firm uses (for the unit-of-account message, needed only without a fixed price)
    let mut used = (!goods.fixed.iter().any(|&f| f) && !goods.is_empty()).then(|| vec![false; goods.len()]);
    // (firm, 0 = before the duplicate check / 1 = duplicate / 2 = after, problem)
    let mut firm_problems: Vec<(usize, u8, Problem)> = Vec::new();
    for (k, b) in batches.into_iter().enumerate() {
        // the batches merged so far are freed: give their pages back now and then, so that
        // the firms are not resident twice (the workers' allocator arenas keep freed pages)
        if k % TRIM_EVERY == TRIM_EVERY - 1 {
            super::release_free_memory();
        }
        let first = groups.len();
        let tech_map: Vec<u32> = b.techs.list.into_iter().map(|t| techs.add(t)).collect();
        let agent_map: Vec<u32> = b.agents.list.into_iter().map(|a| agents.add(a)).collect();
        group_names.append(&b.names);
        name_spans.extend(b.name_spans);
        if let Some(used) = used.as_mut() {
            for &g in &b.inputs {
                used[g as usize] = true;
            }
        }
        for (j, g) in b.groups.iter().enumerate() {
            let mut g = FirmGroup {
                technology: tech_map[g.technology as usize],
                agent: agent_map[g.agent as usize],
                ..g.clone()
            };
            if fits {
                let r = b.input_start[j] as usize..b.input_start[j + 1] as usize;
                let o = b.output_start[j] as usize..b.output_start[j + 1] as usize;
                g.first = firms.group.len() as u32;
                push_replicas(
                    &mut firms,
                    &g,
                    groups.len() as u32,
                    run.seed,
                    b.spread[j],
                    (&b.inputs[r.clone()], &b.params[r]),
                    &b.outputs[o],
                );
            }
            groups.push(g);
        }
        firm_problems.extend(
            b.problems
                .into_iter()
                .map(|(f, after, p)| (first + f as usize, if after { 2 } else { 0 }, p)),
        );
    }
    let technologies = techs.list;
    let agents = agents.list;
    // duplicate firm names: the first use of a name wins
    let firm_index = NameIndex::build(groups.len(), |i| &group_names[i]);
    for (f, name) in group_names.iter().enumerate() {
        let first = firm_index.get(name).expect("indexed");
        if first != f {
            let (line, _) = super::error::line_col(source, name_spans[first].start);
            firm_problems.push((
                f,
                1,
                Problem::at(
                    name_spans[f].clone(),
                    format!("duplicate firm name '{name}' (first used on line {line})"),
                    "give every [[firms]] entry its own name; use `count = N` for N identical firms",
                ),
            ));
        }
    }
    drop(firm_index);
    firm_problems.sort_by_key(|(f, phase, _)| (*f, *phase));
    if !firm_problems.is_empty() {
        let first = c.problems.len();
        c.problems.extend(firm_problems.into_iter().map(|(_, _, p)| p));
        resolve_suggestions(&mut c.problems[first..], first, &goods.name);
    }
    let lookup_good = |c: &mut Check, name: &str, span: Range<usize>, role: &str| {
        lookup_good(c, &goods.name, &index, name, span, || role.to_string())
    };

    // All the entries together: the firm cap, and the memory a run would need.
    if !fits {
        // point at the largest count, the one to lower
        let largest = largest_count.as_ref().map_or(Location::File, |n| (&n.origin).into());
        let limit = if too_many {
            format!("at most {MAX_FIRMS} firms in all")
        } else if too_many_edges {
            format!(
                "at most {} input edges and as many output slots in all (count x inputs, here {total_edges} and {total_slots})",
                u32::MAX
            )
        } else {
            "firms that fit in memory".to_string()
        };
        c.push(
            largest,
            format!(
                "the scenario asks for {total_firms} firms in all, which would need {}",
                memory_needed(total_firms, total_edges)
            ),
            format!("pricegrad holds {limit}; lower the `count` of the largest [[firms]] entries"),
        );
    }

    // A unit of account. Point at a good no firm uses (a final good: the natural one to
    // price), else at the first good.
    if let Some(used) = used {
        let g = (0..goods.len()).find(|&g| !used[g]).unwrap_or(0);
        let gname = &goods.name[g];
        c.at(
            good_spans[g].clone(),
            "no good has a fixed price",
            format!("at least one good needs `price = ...`: it is the unit of account (the essay prices everything in tupperware); e.g. the final good: [goods.{gname}] price = 1.0"),
        );
    }

    // --- log goods ------------------------------------------------------------------------
    let mut log_goods: Vec<usize> = Vec::new();
    if let Some(list) = &file.log.goods {
        for g in list.get_ref() {
            if let Some(i) = lookup_good(&mut c, g.get_ref(), span_of(g), "in log.goods") {
                if goods.fixed[i] {
                    c.at(
                        span_of(g),
                        format!("log.goods lists '{}', which has a fixed price", g.get_ref()),
                        "log.goods lists endogenous goods (fixed prices never move); remove it",
                    );
                } else {
                    log_goods.push(i);
                }
            }
        }
    }

    // --- shocks ---------------------------------------------------------------------------
    let mut shocks = Vec::new();
    for s in &file.shocks {
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
            (Some(g), None, Some(p), None, None) => lookup_good(&mut c, g.get_ref(), span_of(g), "in a shock")
                .and_then(|gi| {
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
                }),
            (Some(g), None, None, Some(e), None) => lookup_good(&mut c, g.get_ref(), span_of(g), "in a shock")
                .and_then(|gi| {
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
                }),
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
                                c.suggest(fname.get_ref(), &group_names),
                                list(&group_names)
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

    // Stop here if anything is wrong so far: the graph checks below need consistent data.
    if !c.problems.is_empty() {
        return Err(c.problems);
    }

    drop(index);
    index_goods(&mut goods, &firms);

    // --- graph checks: sources, cycles ---------------------------------------------------------
    let firm_spans = name_spans;
    for g in goods.endogenous() {
        if goods.endowment[g] == 0.0 && goods.producers(g).is_empty() {
            let uses = goods.uses(g).len();
            c.at(good_spans[g].clone(), format!("good '{}' has no source: no firm produces it and it has no endowment{}", &goods.name[g], if uses > 0 { " (but firms use it)" } else { "" }), format!("give it a supply, e.g. [goods.{}] endowment = 1.0, add a firm with output = \"{}\", or give it a fixed price", &goods.name[g], &goods.name[g]));
        }
    }
    match topological_order(&goods, &firms) {
        Ok(order) => firms.topo_order = order,
        Err(cycle) => {
            let path = cycle
                .iter()
                .map(|&(g, f)| format!("{} -> {}", &goods.name[g], &group_names[firms.group[f] as usize]))
                .collect::<Vec<_>>()
                .join(" -> ");
            let first_good = cycle[0].0;
            let first_group = firms.group[cycle[0].1] as usize;
            c.at(firm_spans[first_group].clone(), format!("the goods graph has a cycle: {path} -> {}", &goods.name[first_good]), "pricegrad (version 1) needs an acyclic supply chain along endogenous goods; break the cycle, e.g. by giving one of these goods a fixed price (bought from outside)");
        }
    }
    if !c.problems.is_empty() {
        return Err(c.problems);
    }

    if log_goods.is_empty() {
        log_goods = LogSettings::default_goods(&goods.endogenous().collect::<Vec<_>>());
    }
    let every = every.unwrap_or_else(|| LogSettings::default_every(firms.edges()));
    Ok(Economy {
        name,
        description: file.description.clone().unwrap_or_default(),
        goods,
        groups,
        group_names,
        technologies,
        agents,
        firms,
        market,
        run,
        log: LogSettings {
            every,
            goods: log_goods,
        },
        shocks,
    })
}

/// Batches merged between two returns of freed memory to the system (about 20 MB of batches
/// at 128 kB chunks of generated firms).
const TRIM_EVERY: usize = 128;

/// Append the `group.count` replicas of group `gi` to the firm arrays: its inputs (goods,
/// parameters) and outputs (goods, weights), and each replica's productivity, the group's
/// times a seeded lognormal draw when `spread` > 0.
fn push_replicas(
    firms: &mut Firms,
    group: &FirmGroup,
    gi: u32,
    seed: u64,
    spread: f64,
    (inputs, params): (&[u32], &[f64]),
    outputs: &[(u32, f64)],
) {
    for _ in 0..group.count {
        let f = firms.group.len();
        firms.group.push(gi);
        let draw = if spread > 0.0 {
            let mut rng = random::stream(seed, random::Purpose::Productivity, f as u64);
            (spread * random::normal(&mut rng) - 0.5 * spread * spread).exp()
        } else {
            1.0
        };
        firms.productivity.push(group.productivity * draw);
        for (&g, &w) in inputs.iter().zip(params) {
            firms.input_good.push(g);
            firms.input_param.push(w);
            firms.edge_firm.push(f as u32);
        }
        firms.input_start.push(firms.input_good.len() as u32);
        for &(g, w) in outputs {
            firms.output_good.push(g);
            firms.output_weight.push(w);
            firms.output_firm.push(f as u32);
        }
        firms.output_start.push(firms.output_good.len() as u32);
    }
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

/// Where an empty goods table is written (`[goods]` or `goods = {}`), else the file's start.
fn goods_table_span(source: &str) -> Range<usize> {
    let mut start = 0;
    for line in source.split_inclusive('\n') {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let key = t.strip_prefix('[').unwrap_or(t).trim_start();
        if key.starts_with("goods") && key["goods".len()..].trim_start().starts_with([']', '=']) {
            return start + indent..start + line.trim_end().len();
        }
        start += line.len();
    }
    0..0
}

/// Bytes a run needs per firm and per input edge: the economy, the engine's state, the
/// diagnostics and the reference solver (measured: about 180 bytes for a one-input firm).
const BYTES_PER_FIRM: u64 = 100;
const BYTES_PER_EDGE: u64 = 80;
/// Below this estimate the machine's memory is not consulted.
const MEMORY_CHECK_FROM: u64 = 1 << 30;

fn estimated_bytes(firms: u64, edges: u64) -> u64 {
    firms
        .saturating_mul(BYTES_PER_FIRM)
        .saturating_add(edges.saturating_mul(BYTES_PER_EDGE))
}

/// "about 180.0 TB of memory; this machine has 23.1 GB available".
fn memory_needed(firms: u64, edges: u64) -> String {
    let mut s = format!("about {} of memory", human_bytes(estimated_bytes(firms, edges)));
    if let Some(avail) = available_memory() {
        s.push_str(&format!("; this machine has {} available", human_bytes(avail)));
    }
    s
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 7] = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} bytes")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Memory the machine can give a new process (Linux: MemAvailable in /proc/meminfo).
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

fn list<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: ExactSizeIterator,
{
    const MAX: usize = 12;
    let names = names.into_iter();
    let n = names.len();
    let mut s = names.take(MAX).map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    if n > MAX {
        s.push_str(&format!(" and {} more", n - MAX));
    }
    s
}

fn parse_rule<T: Copy>(
    c: &mut Check,
    s: Option<&Text>,
    what: impl FnOnce() -> String,
    parse: fn(&str) -> Option<T>,
    names: &[&str],
) -> Option<T> {
    let s = s?;
    match parse(&s.value) {
        Some(r) => Some(r),
        None => {
            let what = what();
            c.push(
                (&s.origin).into(),
                format!("unknown {what} '{}'", s.value),
                format!(
                    "{}choose one of: {}",
                    c.suggest(&s.value, names.iter().copied()),
                    list(names.iter().copied())
                ),
            );
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn agent_settings(
    c: &mut Check,
    rule: &Option<Text>,
    rate: &Option<Num>,
    form: &Option<Text>,
    noise: &Option<Num>,
    activation: &Option<Num>,
    defaults: Option<&AgentSettings>,
    (prefix, name): (&str, &str),
) -> AgentSettings {
    let d = defaults.cloned().unwrap_or(AgentSettings {
        rule: agent_settings::Rule::Gradient,
        rate: 0.5,
        form: agent_settings::Form::Relative,
        noise: 0.0,
        activation: 1.0,
    });
    AgentSettings {
        rule: parse_rule(
            c,
            rule.as_ref(),
            || format!("{prefix}{name}.rule"),
            agent_settings::Rule::parse,
            &agent_settings::Rule::NAMES,
        )
        .unwrap_or(d.rule),
        rate: rate.as_ref().map_or(d.rate, |n| {
            c.num_with(
                n,
                || format!("{prefix}{name}.rate"),
                0.0,
                true,
                1e6,
                "a firm's step size is positive, e.g. rate = 0.5",
            )
        }),
        form: parse_rule(
            c,
            form.as_ref(),
            || format!("{prefix}{name}.form"),
            agent_settings::Form::parse,
            &agent_settings::Form::NAMES,
        )
        .unwrap_or(d.form),
        noise: noise.as_ref().map_or(d.noise, |n| {
            c.num_with(
                n,
                || format!("{prefix}{name}.noise"),
                0.0,
                false,
                1.0,
                "relative observation noise from 0 (none) to 1, e.g. noise = 0.01",
            )
        }),
        activation: activation.as_ref().map_or(d.activation, |n| {
            c.num_with(
                n,
                || format!("{prefix}{name}.activation"),
                0.0,
                true,
                1.0,
                "the probability a firm updates each tick, in (0, 1], e.g. activation = 0.5",
            )
        }),
    }
}

/// Parse a production spec into a technology, its input goods and per-input parameters.
fn technology(
    c: &mut Check,
    spec: &Spanned<ProductionSpec>,
    fname: &str,
    source: &str,
    names: &Names,
    index: &NameIndex,
) -> Option<(Technology, Vec<usize>, Vec<f64>)> {
    let span = span_of(spec);
    let before = c.problems.len();
    let goods_of = |c: &mut Check,
                    table: &Spanned<indexmap::IndexMap<String, Num>>,
                    what: &str,
                    lo: f64,
                    lo_open: bool,
                    hi: f64,
                    help: &str|
     -> (Vec<usize>, Vec<f64>) {
        let mut gs = Vec::new();
        let mut ps = Vec::new();
        if table.get_ref().is_empty() {
            c.at(
                span_of(table),
                format!("firm '{fname}': `{what}` lists no inputs"),
                format!("name at least one input good, e.g. {what} = {{ labor = 0.5 }}"),
            );
        }
        for (g, n) in table.get_ref() {
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
                _ => span_of(table),
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
        }
        (gs, ps)
    };
    let scale_of = |c: &mut Check, s: &Option<Num>| {
        s.as_ref().map_or(1.0, |n| {
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
    let result = match spec.get_ref() {
        ProductionSpec::Expression(src) => {
            if src.len() > MAX_EXPRESSION_BYTES {
                c.at(span.clone(), format!("the production expression of firm '{fname}' is {} bytes long, more than the {MAX_EXPRESSION_BYTES} allowed", src.len()), "write large technologies with a family (cobb_douglas, ces, ...) or split the firm");
                return None;
            }
            // Where each byte of the expression is in the file (escapes and line-ending
            // backslashes make the two differ).
            // (built only when there is something to report)
            let at = || StringMap::new(source.get(span.clone()).unwrap_or(""), src, span.start);
            match Expr::parse(src) {
                Err(e) => {
                    c.at(
                        at().span(e.offset, e.len.max(1)),
                        format!(
                            "in the production of firm '{fname}': {}",
                            relocate(&e.message, src, &at(), source)
                        ),
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
        ProductionSpec::Family(fam) => match fam {
            FamilySpec::CobbDouglas { scale, exponents } => {
                let scale = scale_of(c, scale);
                let (gs, ps) = goods_of(c, exponents, "exponents", 0.0, true, 1.0, "Cobb-Douglas exponents are in (0, 1] and sum to at most 1, e.g. exponents = { labor = 0.3, capital = 0.6 }");
                let sum: f64 = ps.iter().sum();
                if sum > 1.0 + 1e-12 {
                    c.at(span_of(exponents), format!("firm '{fname}': Cobb-Douglas exponents sum to {sum}, more than 1 (increasing returns, not concave)"), "make the exponents sum to at most 1 (less than 1 for decreasing returns, which converge fastest)");
                }
                Some((Technology::CobbDouglas { scale }, gs, ps))
            }
            FamilySpec::Ces {
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
                let nu = returns.as_ref().map_or(1.0, |n| {
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
                    weights,
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
            FamilySpec::Power { scale, exponent, input } => {
                let scale = scale_of(c, scale);
                let e = c.num_with(
                    exponent,
                    || format!("firms.{fname}.production.exponent"),
                    0.0,
                    true,
                    1.0,
                    "a power exponent in (0, 1] keeps F concave, e.g. exponent = 0.5",
                );
                match index.get(input.get_ref()) {
                    Some(g) => Some((Technology::Power { scale, exponent: e }, vec![g], vec![1.0])),
                    None => {
                        c.at(
                            span_of(input),
                            format!("unknown good '{}' in the production of firm '{fname}'", input.get_ref()),
                            format!("{}known goods: {}", c.suggest_good(input.get_ref(), names), list(names)),
                        );
                        None
                    }
                }
            }
            FamilySpec::Linear { coefficients } => {
                let (gs, ps) = goods_of(
                    c,
                    coefficients,
                    "coefficients",
                    0.0,
                    true,
                    1e300,
                    "linear coefficients are positive, e.g. coefficients = { a = 1.0 }",
                );
                Some((Technology::Linear, gs, ps))
            }
            FamilySpec::Leontief { scale, requirements } => {
                let scale = scale_of(c, scale);
                let (gs, ps) = goods_of(c, requirements, "requirements", 0.0, true, 1e300, "Leontief requirements (input per unit of output) are positive, e.g. requirements = { a = 1.0, b = 2.0 }");
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

/// Problems in the `[sweep]` table: each parameter's spec must parse and its path must be a
/// `--set` path of this scenario (checked by setting the first value on a copy).
pub fn sweep_table(file: &ScenarioFile) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(sweep) = &file.sweep else {
        return problems;
    };
    for (path, spec) in &sweep.params {
        let fail = |m: String| {
            Problem::at(
                spec.span(),
                format!("[sweep] params \"{path}\": {m}"),
                "[sweep] params maps --set paths (`pricegrad run --help` lists them) to a list \"0.1,0.2,0.5\", \"lin:A:B:N\" or \"log:A:B:N\", e.g. params = { \"market.step\" = \"log:0.05:2:8\" }",
            )
        };
        match super::sweep_spec::parse_spec(spec.get_ref()) {
            Err(m) => problems.push(fail(m)),
            Ok(values) => {
                let set = format!("{path}={}", values.first().map_or("", String::as_str));
                if let Err(m) = super::overrides::apply(&mut file.clone(), &set) {
                    problems.push(fail(m));
                }
            }
        }
    }
    if let Some(r) = &sweep.replicates {
        if r.value < 1 {
            problems.push(Problem::new(
                (&r.origin).into(),
                format!("[sweep] replicates = {} must be at least 1", r.value),
                "replicates is the number of runs (with different seeds) per grid point, e.g. replicates = 3",
            ));
        }
    }
    problems
}

/// Expression messages count from the expression's start ("the '(' at column 2"); say where
/// that is in the file instead ("the '(' at line 26, column 16").
fn relocate(msg: &str, expr: &str, at: &StringMap, source: &str) -> String {
    let number = |s: &str| -> Option<(usize, usize)> {
        let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        s[..digits].parse().ok().map(|n| (n, digits))
    };
    let mut out = String::new();
    let mut rest = msg;
    while let Some(i) = rest.find("column ") {
        // "line L, column C" (multi-line expressions) or "column C"
        let (start, line) = match rest[..i].strip_suffix(", ").and_then(|b| {
            let j = b.rfind("line ")?;
            number(&b[j + 5..])
                .filter(|&(_, d)| j + 5 + d == b.len())
                .map(|(l, _)| (j, l))
        }) {
            Some((j, l)) => (j, l),
            None => (i, 1),
        };
        let Some((col, digits)) = number(&rest[i + 7..]) else {
            out.push_str(&rest[..i + 7]);
            rest = &rest[i + 7..];
            continue;
        };
        // byte offset of (line, col) in the expression
        let line_start = if line == 1 {
            Some(0)
        } else {
            expr.match_indices('\n').nth(line - 2).map(|(k, _)| k + 1)
        };
        let offset = line_start.map(|ls| {
            expr[ls..]
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(expr.len(), |(k, _)| ls + k)
        });
        out.push_str(&rest[..start]);
        match offset {
            Some(o) => {
                let (fl, fc) = super::error::line_col(source, at.span(o, 1).start);
                out.push_str(&format!("line {fl}, column {fc}"));
            }
            None => out.push_str(&rest[start..i + 7 + digits]),
        }
        rest = &rest[i + 7 + digits..];
    }
    out.push_str(rest);
    out
}

/// Byte offsets in the file of the bytes of a TOML string value, so that a position inside
/// the parsed string (an expression error) can be shown at its place in the file.
struct StringMap {
    /// File offset of each byte of the parsed string, and of its end.
    offsets: Option<Vec<usize>>,
    /// Fallback: the file offset of the first byte after the opening quote(s).
    base: usize,
}

impl StringMap {
    /// `raw` is the value as written (quotes included), starting at file offset `start`;
    /// `parsed` the string TOML made of it.
    fn new(raw: &str, parsed: &str, start: usize) -> StringMap {
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        let base = start + quote.min(raw.len());
        let offsets = Self::decode(raw, quote)
            .filter(|(text, _)| text == parsed)
            .map(|(_, offs)| offs.into_iter().map(|o| start + o).collect());
        StringMap { offsets, base }
    }

    /// The file range of bytes `off..off + len` of the parsed string.
    fn span(&self, off: usize, len: usize) -> Range<usize> {
        match &self.offsets {
            Some(o) => {
                let a = o[off.min(o.len() - 1)];
                let b = o[(off + len).min(o.len() - 1)];
                a..b.max(a + 1)
            }
            None => self.base + off..self.base + off + len,
        }
    }

    /// Decode a TOML string token: the text and, per byte, its offset in `raw` (plus the end).
    /// None for anything unexpected (then the caller falls back to plain offsets).
    fn decode(raw: &str, quote: usize) -> Option<(String, Vec<usize>)> {
        if raw.len() < 2 * quote {
            return None;
        }
        let literal = raw.starts_with('\'');
        let multi = quote == 3;
        let body_end = raw.len() - quote;
        let mut text = String::new();
        let mut offs = Vec::new();
        let mut i = quote;
        let bytes = raw.as_bytes();
        // a newline right after the opening delimiter is not part of a multi-line string
        if multi {
            if raw[i..].starts_with("\r\n") {
                i += 2;
            } else if raw[i..].starts_with('\n') {
                i += 1;
            }
        }
        let mut push = |text: &mut String, ch: char, at: usize| {
            for _ in 0..ch.len_utf8() {
                offs.push(at);
            }
            text.push(ch);
        };
        while i < body_end {
            let ch = raw[i..].chars().next()?;
            if ch == '\r' && raw[i..].starts_with("\r\n") {
                push(&mut text, '\n', i);
                i += 2;
            } else if ch != '\\' || literal {
                push(&mut text, ch, i);
                i += ch.len_utf8();
            } else {
                let esc = *bytes.get(i + 1)? as char;
                let simple = match esc {
                    'b' => Some('\u{8}'),
                    't' => Some('\t'),
                    'n' => Some('\n'),
                    'f' => Some('\u{c}'),
                    'r' => Some('\r'),
                    'e' => Some('\u{1b}'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    _ => None,
                };
                if let Some(d) = simple {
                    push(&mut text, d, i);
                    i += 2;
                } else if esc == 'u' || esc == 'U' || esc == 'x' {
                    let n = match esc {
                        'u' => 4,
                        'U' => 8,
                        _ => 2,
                    };
                    let hex = raw.get(i + 2..i + 2 + n)?;
                    let d = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                    push(&mut text, d, i);
                    i += 2 + n;
                } else if multi {
                    // line-ending backslash: skip whitespace and newlines up to the next text
                    let rest = &raw[i + 1..body_end];
                    let skipped = rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
                    if !rest[..skipped].contains('\n') {
                        return None;
                    }
                    i += 1 + skipped;
                } else {
                    return None;
                }
            }
        }
        offs.push(body_end);
        Some((text, offs))
    }
}

/// Fill the goods-major index: buyers (input edges) and sellers (output slots) of each good.
pub fn index_goods(goods: &mut Goods, firms: &Firms) {
    let n = goods.len();
    let mut use_count = vec![0u32; n + 1];
    for &g in &firms.input_good {
        use_count[g as usize + 1] += 1;
    }
    let mut prod_count = vec![0u32; n + 1];
    for &g in &firms.output_good {
        prod_count[g as usize + 1] += 1;
    }
    for i in 0..n {
        use_count[i + 1] += use_count[i];
        prod_count[i + 1] += prod_count[i];
    }
    let mut use_edge = vec![0u32; firms.input_good.len()];
    let mut fill = use_count.clone();
    for (e, &g) in firms.input_good.iter().enumerate() {
        use_edge[fill[g as usize] as usize] = e as u32;
        fill[g as usize] += 1;
    }
    let mut prod_slot = vec![0u32; firms.output_good.len()];
    let mut fill = prod_count.clone();
    for (k, &g) in firms.output_good.iter().enumerate() {
        prod_slot[fill[g as usize] as usize] = k as u32;
        fill[g as usize] += 1;
    }
    goods.use_start = use_count;
    goods.use_edge = use_edge;
    goods.prod_start = prod_count;
    goods.prod_slot = prod_slot;
}

/// Firms ordered producers-before-users along endogenous goods (Kahn's algorithm on the
/// bipartite goods-firms graph), or a cycle as (good, firm using it) pairs.
pub fn topological_order(goods: &Goods, firms: &Firms) -> Result<Vec<u32>, Vec<(usize, usize)>> {
    let n_f = firms.len();
    let n_g = goods.len();
    // slot -> firm for output slots
    let mut slot_firm = vec![0u32; firms.output_good.len()];
    for f in 0..n_f {
        for k in firms.outputs(f) {
            slot_firm[k] = f as u32;
        }
    }
    let mut good_pending: Vec<u32> = (0..n_g)
        .map(|g| {
            if goods.fixed[g] {
                0
            } else {
                goods.producers(g).len() as u32
            }
        })
        .collect();
    let mut firm_pending: Vec<u32> = (0..n_f)
        .map(|f| {
            firms
                .inputs(f)
                .filter(|&e| !goods.fixed[firms.input_good[e] as usize])
                .count() as u32
        })
        .collect();
    let mut order = Vec::with_capacity(n_f);
    let mut ready_goods: Vec<usize> = (0..n_g).filter(|&g| !goods.fixed[g] && good_pending[g] == 0).collect();
    let mut ready_firms: Vec<usize> = (0..n_f).filter(|&f| firm_pending[f] == 0).collect();
    ready_firms.reverse();
    loop {
        if let Some(f) = ready_firms.pop() {
            order.push(f as u32);
            for k in firms.outputs(f) {
                let g = firms.output_good[k] as usize;
                if !goods.fixed[g] {
                    good_pending[g] -= 1;
                    if good_pending[g] == 0 {
                        ready_goods.push(g);
                    }
                }
            }
        } else if let Some(g) = ready_goods.pop() {
            for &e in goods.uses(g) {
                let f = firms.edge_firm[e as usize] as usize;
                firm_pending[f] -= 1;
                if firm_pending[f] == 0 {
                    ready_firms.push(f);
                }
            }
        } else {
            break;
        }
    }
    if order.len() == n_f {
        return Ok(order);
    }
    // A cycle among the firms left: walk back from a blocked firm through a blocked input
    // good to one of its blocked producers until a firm repeats.
    let blocked: Vec<bool> = (0..n_f).map(|f| firm_pending[f] > 0).collect();
    let start = (0..n_f).find(|&f| blocked[f]).expect("a blocked firm exists");
    let mut seen = vec![usize::MAX; n_f];
    let mut path: Vec<(usize, usize)> = Vec::new();
    let mut f = start;
    loop {
        if seen[f] != usize::MAX {
            let mut cycle = path[seen[f]..].to_vec();
            // path holds (input good, firm) walking backwards; reverse into forward order
            cycle.reverse();
            let fwd: Vec<(usize, usize)> = cycle.iter().map(|&(g, user)| (g, user)).collect();
            return Err(fwd);
        }
        seen[f] = path.len();
        let (g, producer) = firms
            .inputs(f)
            .map(|e| firms.input_good[e] as usize)
            .filter(|&g| !goods.fixed[g] && good_pending[g] > 0)
            .find_map(|g| {
                goods
                    .producers(g)
                    .iter()
                    .map(|&k| slot_firm[k as usize] as usize)
                    .find(|&p| blocked[p])
                    .map(|p| (g, p))
            })
            .expect("a blocked firm has a blocked input with a blocked producer");
        path.push((g, f));
        f = producer;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where byte `i` of the parsed string `parsed` is in `raw`, per StringMap.
    fn at(raw: &str, parsed: &str, needle: &str) -> usize {
        let m = StringMap::new(raw, parsed, 0);
        assert!(m.offsets.is_some(), "{raw:?} did not decode to {parsed:?}");
        m.span(parsed.find(needle).unwrap(), needle.len()).start
    }

    #[test]
    fn string_positions_survive_escapes_and_multiline_forms() {
        let raw = r#""\tsqrt(x)""#;
        assert_eq!(at(raw, "\tsqrt(x)", "x"), raw.find("x)").unwrap());
        let raw = r#""\u0073qrt(\U00000078)""#;
        assert_eq!(at(raw, "sqrt(x)", "x"), raw.find("\\U").unwrap());
        let raw = "\"\"\"\r\nsqrt(\r\n  x)\"\"\"";
        assert_eq!(at(raw, "sqrt(\n  x)", "x"), raw.find("x)").unwrap());
        let raw = "\"\"\"sqrt( \\\n     x)\"\"\"";
        assert_eq!(at(raw, "sqrt( x)", "x"), raw.find("x)").unwrap());
        let raw = "'''\nln(a\\b)'''";
        assert_eq!(at(raw, "ln(a\\b)", "b"), raw.find("b)").unwrap());
        // not what TOML made of it: fall back to plain offsets after the quote
        let m = StringMap::new("\"abc\"", "xyz", 10);
        assert!(m.offsets.is_none());
        assert_eq!(m.span(1, 1), 12..13);
    }

    #[test]
    fn expression_columns_become_file_positions() {
        let source = "a = 1\nproduction = \"\\t((x)\"\n";
        let start = source.find('"').unwrap();
        let raw = &source[start..source.len() - 1];
        let m = StringMap::new(raw, "\t((x)", start);
        assert_eq!(
            relocate("the '(' at column 3, and column 99", "\t((x)", &m, source),
            "the '(' at line 2, column 18, and line 2, column 21"
        );
        assert_eq!(relocate("no place", "x", &m, source), "no place");
    }

    #[test]
    fn memory_estimates_read_well() {
        assert_eq!(human_bytes(999), "999 bytes");
        assert_eq!(human_bytes(180_000_000_000_000), "180.0 TB");
        assert!(estimated_bytes(u64::MAX, u64::MAX) == u64::MAX);
    }
}
