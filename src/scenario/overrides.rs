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
    "agents.rule",
    "agents.rate",
    "agents.form",
    "agents.noise",
    "agents.activation",
    "run.max_ticks",
    "run.tolerance",
    "run.patience",
    "run.seed",
    "run.check_tolerance",
    "log.every",
    "log.format",
    "goods.NAME.price",
    "goods.NAME.endowment",
    "goods.NAME.initial_price",
    "firms.NAME.rule",
    "firms.NAME.rate",
    "firms.NAME.form",
    "firms.NAME.noise",
    "firms.NAME.activation",
    "firms.NAME.count",
    "firms.NAME.productivity",
    "firms.NAME.productivity_spread",
    "firms.NAME.production",
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

/// What a `--set` changes: one good, one firm (by name), or something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    Good(&'a str),
    Firm(&'a str),
    Other,
}

/// The target of a `--set` argument (Other when it is not PATH=VALUE).
pub(crate) fn target(arg: &str) -> Target<'_> {
    let Ok((path, _)) = split_assignment(arg) else {
        return Target::Other;
    };
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["goods", name, _] => Target::Good(name),
        ["firms", name, ..] => Target::Firm(name),
        _ => Target::Other,
    }
}

/// The error for a `--set goods.NAME...` when no good has that name.
pub(crate) fn no_good<'a>(name: &str, arg: &str, names: impl IntoIterator<Item = &'a str>) -> String {
    format!("no good '{name}' in --set {arg}. {}", did_you_mean(name, names))
}

/// The error for a `--set firms.NAME...` when no firm has that name.
pub(crate) fn no_firm<'a>(name: &str, arg: &str, names: impl IntoIterator<Item = &'a str>) -> String {
    format!("no firm '{name}' in --set {arg}. {}", did_you_mean(name, names))
}

/// The pieces of a `--set` argument.
struct Parsed<'a> {
    path: &'a str,
    parts: Vec<&'a str>,
    origin: Origin,
    value: &'a str,
    arg: &'a str,
}

impl<'a> Parsed<'a> {
    fn new(arg: &'a str) -> Result<Parsed<'a>, String> {
        let (path, value) = split_assignment(arg)?;
        Ok(Parsed {
            path,
            parts: path.split('.').collect(),
            origin: Origin::Set(arg.to_string()),
            value,
            arg,
        })
    }
    fn num(&self) -> Result<Num, String> {
        let (value, arg) = (self.value, self.arg);
        let v: f64 = value
            .parse()
            .map_err(|_| format!("'{value}' is not a number (in --set {arg})"))?;
        Ok(Num {
            value: v,
            origin: self.origin.clone(),
        })
    }
    fn int(&self) -> Result<Int, String> {
        let (value, arg) = (self.value, self.arg);
        let v: i64 = value
            .parse()
            .map_err(|_| format!("'{value}' is not a whole number (in --set {arg})"))?;
        Ok(Int {
            value: v,
            origin: self.origin.clone(),
        })
    }
    fn text(&self) -> Text {
        Text {
            value: self.value.to_string(),
            origin: self.origin.clone(),
        }
    }
    fn unknown(&self) -> String {
        let parts = &self.parts;
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
            "unknown --set path '{}'. {}Paths are: {}",
            self.path,
            did_you_mean(&generic, PATHS.iter().copied()),
            PATHS.join(", ")
        )
    }
}

/// Apply a `--set goods.NAME.FIELD=VALUE` to the good it names.
pub(crate) fn apply_good(g: &mut GoodSpec, arg: &str) -> Result<(), String> {
    let p = Parsed::new(arg)?;
    match p.parts.as_slice() {
        ["goods", _, "price"] => g.price = Some(p.num()?),
        ["goods", _, "endowment"] => g.endowment = Some(p.num()?),
        ["goods", _, "initial_price"] => g.initial_price = Some(p.num()?),
        _ => return Err(p.unknown()),
    }
    Ok(())
}

/// Apply a `--set firms.NAME...=VALUE` to the firm it names.
pub(crate) fn apply_firm(f: &mut FirmSpec, arg: &str) -> Result<(), String> {
    let p = Parsed::new(arg)?;
    let (num, int, text) = (|| p.num(), || p.int(), || p.text());
    let rest = match p.parts.as_slice() {
        ["firms", _, rest @ ..] => rest,
        _ => return Err(p.unknown()),
    };
    match rest {
        ["rule"] => f.rule = Some(text()),
        ["rate"] => f.rate = Some(num()?),
        ["form"] => f.form = Some(text()),
        ["noise"] => f.noise = Some(num()?),
        ["activation"] => f.activation = Some(num()?),
        ["count"] => f.count = Some(int()?),
        ["productivity"] => f.productivity = Some(num()?),
        ["productivity_spread"] => f.productivity_spread = Some(num()?),
        ["production"] => {
            let old = f.production.span();
            f.production = toml::Spanned::new(old, production(p.value).map_err(|e| format!("{e} (in --set {arg})"))?);
            f.production_set = Some(arg.to_string());
        }
        ["production", field @ ..] => {
            set_production(f.production.get_mut(), field, num()?).map_err(|e| format!("{e} (in --set {arg})"))?
        }
        _ => return Err(p.unknown()),
    }
    Ok(())
}

/// `log.format=csv|parquet`.
fn log_format(value: &str, arg: &str) -> Result<crate::economy::LogFormat, String> {
    use crate::economy::LogFormat;
    match value {
        "csv" => Ok(LogFormat::Csv),
        "parquet" => Ok(LogFormat::Parquet),
        v => Err(format!(
            "'{v}' is not a log format (in --set {arg}); {}use csv or parquet",
            did_you_mean(v, ["csv", "parquet"])
        )),
    }
}

/// Apply one `--set` to the parsed file. The error says what is wrong and how to fix it.
pub fn apply(file: &mut ScenarioFile, arg: &str) -> Result<(), String> {
    let p = Parsed::new(arg)?;
    let (num, int, text, unknown) = (|| p.num(), || p.int(), || p.text(), || p.unknown());
    let parts = p.parts.clone();
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
        ["log", "format"] => file.log.format = Some(log_format(p.value, arg)?),
        ["goods", name, _] => {
            let names: Vec<String> = file.goods.keys().cloned().collect();
            let good = file
                .goods
                .get_mut(*name)
                .ok_or_else(|| no_good(name, arg, names.iter().map(|s| s.as_str())))?;
            apply_good(good.get_mut(), arg)?;
        }
        ["firms", name, _rest @ ..] => {
            let names: Vec<String> = file.firms.iter().map(|f| f.get_ref().name.get_ref().clone()).collect();
            let firm = file
                .firms
                .iter_mut()
                .find(|f| f.get_ref().name.get_ref() == name)
                .ok_or_else(|| no_firm(name, arg, names.iter().map(|s| s.as_str())))?;
            apply_firm(firm.get_mut(), arg)?;
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

/// The value of `--set firms.NAME.production=VALUE`: an expression (`sqrt(natgas)`, quotes
/// optional) or a family as a TOML inline table
/// (`{ cobb_douglas = { exponents = { labor = 0.5 } } }`), checked like the file's.
fn production(value: &str) -> Result<ProductionSpec, String> {
    if value.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct One {
            production: ProductionSpec,
        }
        return toml::from_str::<One>(&format!("production = {value}"))
            .map(|o| o.production)
            .map_err(|e| format!("'{value}' is not a production family table: {}", e.message()));
    }
    let unquoted = [('"', '"'), ('\'', '\'')]
        .iter()
        .find_map(|&(a, b)| value.strip_prefix(a).and_then(|v| v.strip_suffix(b)));
    Ok(ProductionSpec::Expression(unquoted.unwrap_or(value).to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;

    const TUPPERWARE: &str = include_str!("../../scenarios/tupperware.toml");

    /// Every listed path outside productions and shocks (which depend on the family and on
    /// the file having shocks) is one `apply` accepts.
    #[test]
    fn every_listed_path_applies() {
        let file = crate::scenario::parse("tupperware.toml", TUPPERWARE).unwrap();
        for path in PATHS
            .iter()
            .filter(|p| !p.contains("production") && !p.starts_with("shocks"))
        {
            let path = path
                .replace("goods.NAME", "goods.natgas")
                .replace("firms.NAME", "firms.A");
            let value = match path.rsplit('.').next().unwrap() {
                "rule" if path.starts_with("market") => "additive",
                "rule" => "gradient",
                "form" => "relative",
                "format" => "parquet",
                "count" | "max_ticks" | "patience" | "seed" | "every" => "2",
                _ => "0.5",
            };
            let mut f = file.clone();
            apply(&mut f, &format!("{path}={value}")).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }

    #[test]
    fn a_misspelt_path_gets_the_nearest_listed_one() {
        let mut file = crate::scenario::parse("tupperware.toml", TUPPERWARE).unwrap();
        let e = apply(&mut file, "agents.ratee=0.2").unwrap_err();
        assert!(e.contains("did you mean 'agents.rate'?"), "{e}");
        let e = apply(&mut file, "firms.A.rat=0.2").unwrap_err();
        assert!(e.contains("did you mean 'firms.NAME.rate'?"), "{e}");
    }
}
