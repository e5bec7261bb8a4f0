//! The effective scenario of a run: the parsed file with its `--set` overrides applied and
//! every `[market]`, `[agents]` and `[run]` setting written out (the defaults included, and
//! `run.seed` the seed the run used), as TOML. Loading it gives the same economy, so running
//! it gives the same files.
//!
//! `log.every` stays unset where the scenario left it unset: its default depends on the size
//! of the economy and thins the log of long runs, which an explicit value turns off.

use super::format::{Int, Num, ScenarioFile, Text};
use crate::economy::agent_settings::AgentSettings;
use crate::economy::market_settings::MarketSettings;
use crate::economy::Economy;

/// `file` (already validated into `economy`, with the same overrides and seed) as TOML, with
/// its settings made explicit from `economy`.
pub fn effective_toml(file: &ScenarioFile, economy: &Economy) -> Result<String, String> {
    let mut f = file.clone();
    let num = |v: f64| Some(Num::default_value(v));
    let int = |v: u64| Some(Int::default_value(v as i64));
    let text = |v: &str| {
        Some(Text {
            value: v.to_string(),
            origin: super::format::Origin::Default,
        })
    };
    let m = &economy.market;
    f.market.rule = text(m.rule.name());
    f.market.step = num(m.step);
    f.market.initial_price = f
        .market
        .initial_price
        .or_else(|| num(MarketSettings::DEFAULT_INITIAL_PRICE));
    let d = AgentSettings::DEFAULT;
    let a = &mut f.agents;
    a.rule = a.rule.take().or_else(|| text(d.rule.name()));
    a.rate = a.rate.take().or_else(|| num(d.rate));
    a.form = a.form.take().or_else(|| text(d.form.name()));
    a.noise = a.noise.take().or_else(|| num(d.noise));
    a.activation = a.activation.take().or_else(|| num(d.activation));
    let r = &economy.run;
    f.run.max_ticks = int(r.max_ticks);
    f.run.tolerance = num(r.tolerance);
    f.run.patience = int(r.patience);
    f.run.seed = int(r.seed);
    f.run.check_tolerance = num(r.check_tolerance);
    let mut doc = toml_edit::ser::to_document(&f).map_err(|e| format!("cannot write the effective scenario: {e}"))?;
    as_tables(&mut doc);
    Ok(doc.to_string())
}

/// Lay the document out as scenario files are written: `[goods.NAME]` tables, `[[firms]]`
/// and `[[shocks]]` entries (each production inline, on one line), `[market]`, `[agents]`,
/// `[run]`, `[log]` and `[sweep]` tables, a blank line before each; empty tables left out.
fn as_tables(doc: &mut toml_edit::DocumentMut) {
    use toml_edit::{ArrayOfTables, Item, Table, Value};
    fn table(item: &Item) -> Option<Table> {
        match item {
            Item::Value(Value::InlineTable(t)) => Some(t.clone().into_table()),
            Item::Table(t) => Some(t.clone()),
            _ => None,
        }
    }
    fn spaced(mut t: Table) -> Table {
        t.decor_mut().set_prefix("\n");
        t
    }
    let keys: Vec<String> = doc.iter().map(|(k, _)| k.to_string()).collect();
    for key in keys {
        let item = doc.get(&key).cloned().unwrap_or_default();
        let new = match (key.as_str(), &item) {
            ("goods", _) => table(&item).map(|goods| {
                let mut outer = Table::new();
                outer.set_implicit(true);
                for (name, good) in goods.iter() {
                    let mut t = table(good).unwrap_or_default();
                    t.set_implicit(false);
                    outer.insert(name, Item::Table(spaced(t)));
                }
                Item::Table(outer)
            }),
            ("firms" | "shocks", Item::Value(Value::Array(entries))) => {
                let mut all = ArrayOfTables::new();
                for e in entries.iter() {
                    if let Value::InlineTable(t) = e {
                        all.push(spaced(t.clone().into_table()));
                    }
                }
                Some(Item::ArrayOfTables(all))
            }
            (_, Item::Value(Value::InlineTable(t))) if t.is_empty() => Some(Item::None),
            (_, Item::Value(Value::InlineTable(_))) => table(&item).map(|t| Item::Table(spaced(t))),
            _ => None,
        };
        if let Some(new) = new {
            if new.is_none() {
                doc.remove(&key);
            } else {
                doc.insert(&key, new);
            }
        }
    }
}

/// The effective scenario of `text` (a scenario file, labelled `label`) loaded with `sets`
/// into `economy`: None for a file of [`super::chunked::CHUNKED_FROM`] bytes or more, which
/// is never parsed whole (rewriting a file of a million firms would double the disk a run
/// takes; its SHA-256 and the `--set` list identify the run instead).
pub fn of_text(label: &str, text: &str, sets: &[String], economy: &Economy) -> Option<Result<String, String>> {
    if text.len() >= super::chunked::CHUNKED_FROM {
        return None;
    }
    let parsed = super::parse(label, text).and_then(|mut file| {
        super::apply_overrides(&mut file, label, text, sets)?;
        Ok(file)
    });
    Some(match parsed {
        Ok(file) if file.tables.is_some() => Err(
            "the economy is in the tables [tables] names, which are not copied; rerun the scenario file with the \
             recorded --set list and seed"
                .to_string(),
        ),
        Ok(file) => effective_toml(&file, economy),
        Err(e) => Err(format!("cannot write the effective scenario: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{apply_overrides, parse, validate};

    fn effective(text: &str, sets: &[&str], seed: Option<u64>) -> (Economy, String) {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let mut file = parse("t.toml", text).unwrap();
        apply_overrides(&mut file, "t.toml", text, &sets).unwrap();
        let economy = validate(&file, text, seed).unwrap();
        let toml = effective_toml(&file, &economy).unwrap();
        (economy, toml)
    }

    /// The economy of the effective scenario, loaded with no override and no seed, is the
    /// economy it was written from (compared through its debug form: every field, every bit).
    #[test]
    fn every_shipped_scenario_round_trips() {
        for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let (economy, toml) = effective(&text, &[], None);
            let again = crate::scenario::load_str("effective.toml", &toml, &[], None)
                .unwrap_or_else(|e| panic!("{}: {e}\n{toml}", path.display()));
            assert_eq!(format!("{economy:?}"), format!("{again:?}"), "{}", path.display());
        }
    }

    #[test]
    fn overrides_seed_and_defaults_are_written_out() {
        let text = crate::scenario::TUPPERWARE.replace("[agents]\nrule = \"gradient\"\nrate = 0.5\n", "");
        let (economy, toml) = effective(
            &text,
            &[
                "goods.natgas.endowment=5",
                "market.step=0.1",
                "firms.A.production=sqrt(natgas) * 2",
            ],
            Some(7),
        );
        let again = crate::scenario::load_str("effective.toml", &toml, &[], None).unwrap();
        assert_eq!(format!("{economy:?}"), format!("{again:?}"));
        let file = parse("effective.toml", &toml).unwrap();
        assert_eq!(file.goods["natgas"].get_ref().endowment.as_ref().unwrap().value, 5.0);
        assert_eq!(file.market.step.as_ref().unwrap().value, 0.1);
        assert_eq!(file.run.seed.as_ref().unwrap().value, 7);
        assert_eq!(file.agents.rate.as_ref().unwrap().value, AgentSettings::DEFAULT.rate);
        assert_eq!(file.agents.rule.as_ref().unwrap().value, "gradient");
        assert!(file.log.every.is_none(), "{toml}");
        assert!(toml.contains("sqrt(natgas) * 2"), "{toml}");
    }
}
