//! Everything validated before the firms ([`Head`]): the scenario's name and format version,
//! the goods (merged from the parts [`super::goods`] checks, and indexed by name), and the
//! settings tables. The firms are checked against it.

use super::firms::FirmCtx;
use super::goods::{validate_good, GoodsPart};
use super::names::NameIndex;
use super::problems::{span_of, Check};
use super::settings;
use crate::economy::agent_settings::AgentSettings;
use crate::economy::market_settings::MarketSettings;
use crate::economy::{Goods, RunSettings};
use crate::scenario::error::Problem;
use crate::scenario::format::ScenarioFile;
use std::ops::Range;

/// Whether `name` is usable as a directory name: `[A-Za-z0-9_-]`, 1 to 64 characters.
pub fn valid_scenario_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name != "-"
}

/// Everything validated before the firms: name, goods, market, agent defaults, run, log.
pub(crate) struct Head {
    pub(super) problems: Vec<Problem>,
    pub(super) name: String,
    pub(crate) goods: Goods,
    pub(super) good_spans: Vec<Range<usize>>,
    pub(crate) index: NameIndex,
    pub(super) agent_defaults: AgentSettings,
    pub(super) market: MarketSettings,
    pub(super) run: RunSettings,
    pub(super) every: Option<u64>,
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

        // --- market and agent defaults, run, log ---------------------------------------------
        let agent_defaults = settings::agent_defaults(&mut c, &file.agents);
        let market = settings::market(&mut c, &file.market);
        let run = settings::run(&mut c, &file.run, seed_override);
        // None: the default, which depends on the economy's size (set in `finish`)
        let every = settings::log_every(&mut c, &file.log);
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

        let market_initial = file
            .market
            .initial_price
            .as_ref()
            .map_or(MarketSettings::DEFAULT_INITIAL_PRICE, |n| {
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
