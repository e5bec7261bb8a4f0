//! The settings tables: `[market]`, `[agents]` (and each firm's own agent settings), `[run]`
//! and `[log]`, checked into [`MarketSettings`], [`AgentSettings`], [`RunSettings`] and the
//! log's period and goods.

use super::goods::lookup_good;
use super::names::NameIndex;
use super::problems::{list, span_of, Check};
use crate::economy::agent_settings::{self, AgentSettings};
use crate::economy::market_settings::{self, MarketSettings};
use crate::economy::{Goods, RunSettings};
use crate::scenario::format::*;

/// The `[agents]` table: the defaults of every firm's agent settings.
pub(super) fn agent_defaults(c: &mut Check, agents: &AgentSpec) -> AgentSettings {
    agent_settings(
        c,
        agents.rule.as_ref(),
        agents.rate.as_ref(),
        agents.form.as_ref(),
        agents.noise.as_ref(),
        agents.activation.as_ref(),
        None,
        ("agents", ""),
    )
}

/// The `[market]` table.
pub(super) fn market(c: &mut Check, market: &MarketSpec) -> MarketSettings {
    MarketSettings {
        rule: parse_rule(
            c,
            market.rule.as_ref(),
            || "market.rule".to_string(),
            market_settings::Rule::parse,
            &market_settings::Rule::NAMES,
        )
        .unwrap_or(market_settings::Rule::Multiplicative),
        step: market.step.as_ref().map_or(0.5, |n| {
            c.num(
                n,
                "market.step",
                0.0,
                true,
                1e6,
                "a price step is positive, e.g. step = 0.5",
            )
        }),
    }
}

/// The `[run]` table; `seed_override` (from the command line) replaces its seed.
pub(super) fn run(c: &mut Check, r: &RunSpec, seed_override: Option<u64>) -> RunSettings {
    RunSettings {
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
    }
}

/// `[log] every`; None when not given (the default depends on the economy's size).
pub(super) fn log_every(c: &mut Check, log: &LogSpec) -> Option<u64> {
    log.every
        .as_ref()
        .map(|n| c.int(n, "log.every", 1, 1_000_000_000, "log every N ticks, e.g. every = 1") as u64)
}

/// `[log] goods`: the endogenous goods listed, by position (empty when not given).
pub(super) fn log_goods(c: &mut Check, log: &LogSpec, goods: &Goods, index: &NameIndex) -> Vec<usize> {
    let mut log_goods: Vec<usize> = Vec::new();
    if let Some(list) = &log.goods {
        for g in list.get_ref() {
            if let Some(i) = lookup_good(c, &goods.name, index, g.get_ref(), span_of(g), || {
                "in log.goods".to_string()
            }) {
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
    log_goods
}

pub(super) fn parse_rule<T: Copy>(
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
pub(super) fn agent_settings(
    c: &mut Check,
    rule: Option<&Text>,
    rate: Option<&Num>,
    form: Option<&Text>,
    noise: Option<&Num>,
    activation: Option<&Num>,
    defaults: Option<&AgentSettings>,
    (prefix, name): (&str, &str),
) -> AgentSettings {
    let d = defaults.cloned().unwrap_or(AgentSettings::DEFAULT);
    AgentSettings {
        rule: parse_rule(
            c,
            rule,
            || format!("{prefix}{name}.rule"),
            agent_settings::Rule::parse,
            &agent_settings::Rule::NAMES,
        )
        .unwrap_or(d.rule),
        rate: rate.map_or(d.rate, |n| {
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
            form,
            || format!("{prefix}{name}.form"),
            agent_settings::Form::parse,
            &agent_settings::Form::NAMES,
        )
        .unwrap_or(d.form),
        noise: noise.map_or(d.noise, |n| {
            c.num_with(
                n,
                || format!("{prefix}{name}.noise"),
                0.0,
                false,
                1.0,
                "relative observation noise from 0 (none) to 1, e.g. noise = 0.01",
            )
        }),
        activation: activation.map_or(d.activation, |n| {
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
