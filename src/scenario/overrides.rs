//! `--set PATH=VALUE`: replace one field of a parsed scenario by its dotted path, e.g.
//! `market.step=0.2`, `goods.natgas.endowment=5`, `firms.B.rate=0.1`,
//! `firms.A.production.exponents.labor=0.4`, `shocks.0.price=3`. Sweeps use the same paths.

use super::error::did_you_mean;
use super::format::*;

/// The paths `--set` understands, for help and did-you-mean (NAME = a good or firm name).
pub const PATHS: &[&str] = &[
    "market.rule",
    "market.step",
    "market.initial_price",
    "run.max_ticks",
    "run.tolerance",
    "run.patience",
    "run.seed",
    "run.check_tolerance",
    "log.every",
    "goods.NAME.price",
    "goods.NAME.endowment",
    "goods.NAME.initial_price",
    "firms.NAME.rule",
    "firms.NAME.rate",
    "firms.NAME.form",
    "firms.NAME.noise",
    "firms.NAME.activation",
    "firms.NAME.production.scale",
    "firms.NAME.production.rho",
    "firms.NAME.production.returns",
    "firms.NAME.production.exponent",
    "firms.NAME.production.exponents.GOOD",
    "firms.NAME.production.weights.GOOD",
    "firms.NAME.production.coefficients.GOOD",
    "firms.NAME.production.requirements.GOOD",
    "shocks.N.tick",
    "shocks.N.price",
    "shocks.N.endowment",
    "shocks.N.productivity",
];

/// Split `PATH=VALUE`.
pub fn split_assignment(arg: &str) -> Result<(&str, &str), String> {
    match arg.split_once('=') {
        Some((p, v)) if !p.trim().is_empty() && !v.trim().is_empty() => Ok((p.trim(), v.trim())),
        _ => Err(format!("'{arg}' is not PATH=VALUE, e.g. --set market.step=0.2")),
    }
}

/// Apply one `--set` to the parsed file. The error says what is wrong and how to fix it.
pub fn apply(file: &mut ScenarioFile, arg: &str) -> Result<(), String> {
    let (path, value) = split_assignment(arg)?;
    let parts: Vec<&str> = path.split('.').collect();
    let origin = Origin::Set(arg.to_string());
    let num = || -> Result<Num, String> {
        let v: f64 = value
            .parse()
            .map_err(|_| format!("'{value}' is not a number (in --set {arg})"))?;
        Ok(Num {
            value: v,
            origin: origin.clone(),
        })
    };
    let int = || -> Result<Int, String> {
        let v: i64 = value
            .parse()
            .map_err(|_| format!("'{value}' is not a whole number (in --set {arg})"))?;
        Ok(Int {
            value: v,
            origin: origin.clone(),
        })
    };
    let text = || Text {
        value: value.to_string(),
        origin: origin.clone(),
    };
    let unknown = || {
        let generic: String = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i == 1 && (parts[0] == "goods" || parts[0] == "firms") {
                    "NAME"
                } else if i == 1 && parts[0] == "shocks" {
                    "N"
                } else {
                    p
                }
            })
            .collect::<Vec<_>>()
            .join(".");
        format!(
            "unknown --set path '{path}'. {}Paths are: {}",
            did_you_mean(&generic, PATHS.iter().copied()),
            PATHS.join(", ")
        )
    };
    match parts.as_slice() {
        ["market", "rule"] => file.market.rule = Some(text()),
        ["market", "step"] => file.market.step = Some(num()?),
        ["market", "initial_price"] => file.market.initial_price = Some(num()?),
        ["agents", "rule"] => file.agents.rule = Some(text()),
        ["agents", "rate"] => file.agents.rate = Some(num()?),
        ["agents", "form"] => file.agents.form = Some(text()),
        ["agents", "noise"] => file.agents.noise = Some(num()?),
        ["agents", "activation"] => file.agents.activation = Some(num()?),
        ["run", "max_ticks"] => file.run.max_ticks = Some(int()?),
        ["run", "tolerance"] => file.run.tolerance = Some(num()?),
        ["run", "patience"] => file.run.patience = Some(int()?),
        ["run", "seed"] => file.run.seed = Some(int()?),
        ["run", "check_tolerance"] => file.run.check_tolerance = Some(num()?),
        ["log", "every"] => file.log.every = Some(int()?),
        ["goods", name, field] => {
            let names: Vec<String> = file.goods.keys().cloned().collect();
            let good = file.goods.get_mut(*name).ok_or_else(|| {
                format!(
                    "no good '{name}' in --set {arg}. {}",
                    did_you_mean(name, names.iter().map(|s| s.as_str()))
                )
            })?;
            let g = good.get_mut();
            match *field {
                "price" => g.price = Some(num()?),
                "endowment" => g.endowment = Some(num()?),
                "initial_price" => g.initial_price = Some(num()?),
                _ => return Err(unknown()),
            }
        }
        ["firms", name, rest @ ..] => {
            let names: Vec<String> = file.firms.iter().map(|f| f.get_ref().name.get_ref().clone()).collect();
            let firm = file
                .firms
                .iter_mut()
                .find(|f| f.get_ref().name.get_ref() == name)
                .ok_or_else(|| {
                    format!(
                        "no firm '{name}' in --set {arg}. {}",
                        did_you_mean(name, names.iter().map(|s| s.as_str()))
                    )
                })?;
            let f = firm.get_mut();
            match rest {
                ["rule"] => f.rule = Some(text()),
                ["rate"] => f.rate = Some(num()?),
                ["form"] => f.form = Some(text()),
                ["noise"] => f.noise = Some(num()?),
                ["activation"] => f.activation = Some(num()?),
                ["count"] => f.count = Some(int()?),
                ["productivity"] => f.productivity = Some(num()?),
                ["productivity_spread"] => f.productivity_spread = Some(num()?),
                ["production", field @ ..] => set_production(f.production.get_mut(), field, num()?)
                    .map_err(|e| format!("{e} (in --set {arg})"))?,
                _ => return Err(unknown()),
            }
        }
        ["shocks", n, field] => {
            let count = file.shocks.len();
            let i: usize = n.parse().map_err(|_| {
                format!("'{n}' in --set {arg} is not a shock index; shocks are numbered from 0 in file order")
            })?;
            let s = file
                .shocks
                .get_mut(i)
                .ok_or_else(|| format!("--set {arg}: the scenario has {count} shocks (numbered from 0)"))?
                .get_mut();
            match *field {
                "tick" => s.tick = int()?,
                "price" => s.price = Some(num()?),
                "endowment" => s.endowment = Some(num()?),
                "productivity" => s.productivity = Some(num()?),
                _ => return Err(unknown()),
            }
        }
        _ => return Err(unknown()),
    }
    Ok(())
}

fn set_production(p: &mut ProductionSpec, field: &[&str], v: Num) -> Result<(), String> {
    let fam = match p {
        ProductionSpec::Family(f) => f,
        ProductionSpec::Expression(_) => {
            return Err("this firm's production is an expression; only family parameters can be set".into())
        }
    };
    let table_set =
        |t: &mut toml::Spanned<indexmap::IndexMap<String, Num>>, good: &str, v: Num| -> Result<(), String> {
            match t.get_mut().get_mut(good) {
                Some(slot) => {
                    *slot = v;
                    Ok(())
                }
                None => Err(format!("the production has no input '{good}'")),
            }
        };
    match (fam, field) {
        (
            FamilySpec::CobbDouglas { scale, .. }
            | FamilySpec::Ces { scale, .. }
            | FamilySpec::Power { scale, .. }
            | FamilySpec::Leontief { scale, .. },
            ["scale"],
        ) => *scale = Some(v),
        (FamilySpec::Ces { rho, .. }, ["rho"]) => *rho = v,
        (FamilySpec::Ces { returns, .. }, ["returns"]) => *returns = Some(v),
        (FamilySpec::Power { exponent, .. }, ["exponent"]) => *exponent = v,
        (FamilySpec::CobbDouglas { exponents, .. }, ["exponents", g]) => table_set(exponents, g, v)?,
        (FamilySpec::Ces { weights, .. }, ["weights", g]) => table_set(weights, g, v)?,
        (FamilySpec::Linear { coefficients }, ["coefficients", g]) => table_set(coefficients, g, v)?,
        (FamilySpec::Leontief { requirements, .. }, ["requirements", g]) => table_set(requirements, g, v)?,
        _ => return Err(format!("this production family has no parameter '{}'", field.join("."))),
    }
    Ok(())
}
