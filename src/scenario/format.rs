//! The scenario file format, version 1: serde structures that mirror the TOML one to one.
//!
//! Every table rejects unknown keys, so a typo is an error rather than a silently ignored
//! setting. Numbers carry their position in the file ([`Num`], [`Int`]) so that validation
//! can point at the exact place; a value replaced by `--set` remembers that instead.
//! Written back ([`Serialize`]), the structures give the effective scenario of a run
//! ([`super::effective`]): the values only, without their places.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize, Serializer};
use std::ops::Range;
use toml::Spanned;

/// Where a value came from: a byte range in the scenario file, or a `--set` argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    File(Range<usize>),
    Set(String),
    Default,
}

/// A number (TOML float or integer) and where it came from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "Spanned<f64>")]
pub struct Num {
    pub value: f64,
    pub origin: Origin,
}

impl From<Spanned<f64>> for Num {
    fn from(s: Spanned<f64>) -> Self {
        Num {
            origin: Origin::File(s.span()),
            value: s.into_inner(),
        }
    }
}

/// Written as the bare number (the effective scenario, [`super::effective`]).
impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.value)
    }
}

impl Num {
    pub fn default_value(value: f64) -> Self {
        Num {
            value,
            origin: Origin::Default,
        }
    }
}

/// A word setting (a rule name) and where it came from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "Spanned<String>")]
pub struct Text {
    pub value: String,
    pub origin: Origin,
}

impl From<Spanned<String>> for Text {
    fn from(s: Spanned<String>) -> Self {
        Text {
            origin: Origin::File(s.span()),
            value: s.into_inner(),
        }
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

/// A whole number (seeds, counts, ticks) and where it came from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "Spanned<i64>")]
pub struct Int {
    pub value: i64,
    pub origin: Origin,
}

impl From<Spanned<i64>> for Int {
    fn from(s: Spanned<i64>) -> Self {
        Int {
            origin: Origin::File(s.span()),
            value: s.into_inner(),
        }
    }
}

impl Serialize for Int {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.value)
    }
}

impl Int {
    pub fn default_value(value: i64) -> Self {
        Int {
            value,
            origin: Origin::Default,
        }
    }
}

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Format version; only 1 exists.
    #[serde(default)]
    pub version: Option<Int>,
    /// Empty when `[tables]` gives the goods.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub goods: IndexMap<String, Spanned<GoodSpec>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firms: Vec<Spanned<FirmSpec>>,
    #[serde(default)]
    pub market: MarketSpec,
    #[serde(default)]
    pub agents: AgentSpec,
    #[serde(default)]
    pub run: RunSpec,
    #[serde(default)]
    pub log: LogSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shocks: Vec<Spanned<ShockSpec>>,
    /// Sweep defaults (used by `pricegrad sweep`; the command line wins).
    #[serde(default)]
    pub sweep: Option<SweepSpec>,
    /// The goods and firms as tables (CSV files) instead of `[goods]` and `[[firms]]`.
    #[serde(default)]
    pub tables: Option<Spanned<TablesSpec>>,
}

/// `[tables]`: the economy as table files, paths relative to the scenario file
/// (`scenario/tables/` reads them; README.md documents the columns).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TablesSpec {
    pub goods: Spanned<String>,
    pub firms: Spanned<String>,
    /// One row per input of a firm with a production family (firms with expressions need none).
    pub inputs: Option<Spanned<String>>,
}

/// `[goods.NAME]`: fixed-price when `price` is given, endogenous otherwise.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoodSpec {
    pub price: Option<Num>,
    pub endowment: Option<Num>,
    pub initial_price: Option<Num>,
}

/// `[[firms]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FirmSpec {
    pub name: Spanned<String>,
    pub output: Option<Spanned<String>>,
    pub outputs: Option<Spanned<IndexMap<String, Num>>>,
    pub production: Spanned<ProductionSpec>,
    pub count: Option<Int>,
    pub productivity: Option<Num>,
    pub productivity_spread: Option<Num>,
    // per-firm overrides of [agents]
    pub rule: Option<Text>,
    pub rate: Option<Num>,
    pub form: Option<Text>,
    pub noise: Option<Num>,
    pub activation: Option<Num>,
    /// The `--set firms.NAME.production=...` argument that replaced `production`, if one did
    /// (its problems are then reported at the argument, not in the file).
    #[serde(skip)]
    pub production_set: Option<String>,
}

/// `production = "expr"` or `production = { family = {...} }`.
#[derive(Debug, Clone)]
pub enum ProductionSpec {
    Expression(String),
    Family(FamilySpec),
}

/// Written as the expression string or the family table it was read from.
impl Serialize for ProductionSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ProductionSpec::Expression(e) => s.serialize_str(e),
            ProductionSpec::Family(f) => f.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ProductionSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ProductionSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "an expression string like \"sqrt(natgas)\" or a family table like \
                     { cobb_douglas = { exponents = { labor = 0.3 } } }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ProductionSpec::Expression(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                use serde::de::Error;
                const FAMILIES: &str = "cobb_douglas, ces, power, linear, leontief";
                // An enum read from a map looks at the first key only: check for none and for
                // a second one here, so that an extra family is never silently ignored.
                let family =
                    FamilySpec::deserialize(serde::de::value::MapAccessDeserializer::new(&mut map)).map_err(|e| {
                        if e.to_string().starts_with("invalid type: map, expected enum") {
                            A::Error::custom(format!("the production table names no family (one of {FAMILIES})"))
                        } else {
                            e
                        }
                    })?;
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(A::Error::custom(format!(
                        "the production table names a second family `{extra}`: a firm has one production function"
                    )));
                }
                Ok(ProductionSpec::Family(family))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum FamilySpec {
    /// F = scale * prod x_i^a_i
    CobbDouglas {
        #[serde(default)]
        scale: Option<Num>,
        exponents: Spanned<IndexMap<String, Num>>,
    },
    /// F = scale * (sum w_i x_i^rho)^(returns/rho)
    Ces {
        #[serde(default)]
        scale: Option<Num>,
        rho: Num,
        #[serde(default)]
        returns: Option<Num>,
        weights: Spanned<IndexMap<String, Num>>,
    },
    /// F = scale * x^exponent, one input.
    Power {
        #[serde(default)]
        scale: Option<Num>,
        exponent: Num,
        input: Spanned<String>,
    },
    /// F = sum c_i x_i
    Linear {
        coefficients: Spanned<IndexMap<String, Num>>,
    },
    /// F = scale * min_i x_i / c_i (c_i = units of input i per unit of output)
    Leontief {
        #[serde(default)]
        scale: Option<Num>,
        requirements: Spanned<IndexMap<String, Num>>,
    },
}

/// `[market]`: defaults for every endogenous good.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    pub rule: Option<Text>,
    pub step: Option<Num>,
    pub initial_price: Option<Num>,
}

/// `[agents]`: defaults for every firm.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    pub rule: Option<Text>,
    pub rate: Option<Num>,
    /// `relative` (x <- x exp(rate g/p), default) or `additive` (x <- x + rate g) for gradient rules.
    pub form: Option<Text>,
    pub noise: Option<Num>,
    pub activation: Option<Num>,
}

/// `[run]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    pub max_ticks: Option<Int>,
    pub tolerance: Option<Num>,
    pub patience: Option<Int>,
    pub seed: Option<Int>,
    pub check_tolerance: Option<Num>,
}

/// `[log]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    /// "csv" or "parquet" (as `--format`).
    pub format: Option<crate::economy::LogFormat>,
    pub every: Option<Int>,
    pub goods: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[[shocks]]`: at `tick`, set one thing.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShockSpec {
    pub tick: Int,
    pub good: Option<Spanned<String>>,
    pub price: Option<Num>,
    pub endowment: Option<Num>,
    pub firm: Option<Spanned<String>>,
    pub productivity: Option<Num>,
}

/// `[sweep]`: parameters to sweep, `path = "spec"` (e.g. `"market.step" = "log:0.05:2:8"`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    #[serde(default)]
    pub params: IndexMap<String, Spanned<String>>,
    pub replicates: Option<Int>,
    /// A design table (as `--design`), relative to the scenario file's folder.
    pub design: Option<Spanned<String>>,
}
