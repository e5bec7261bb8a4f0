//! The columns of the three tables, and a row (a firm's with its input rows) made into the
//! same `GoodSpec` and `FirmSpec` a `[goods]` line or a `[[firms]]` entry gives, each value
//! spanned at its cell so that validation places its problems there.

use super::place::Places;
use super::read::Column;
use super::source::Row;
use crate::scenario::error::Problem;
use crate::scenario::format::*;
use indexmap::IndexMap;
use toml::Spanned;

const fn col(name: &'static str, required: bool) -> Column {
    Column { name, required }
}

/// `goods.csv`: one row per good.
pub const GOODS: [Column; 4] = [
    col("name", true),
    col("price", false),
    col("endowment", false),
    col("initial_price", false),
];
const G_NAME: usize = 0;
/// The columns of each table that hold texts (the rest hold numbers).
pub const GOODS_TEXT: [usize; 1] = [G_NAME];
pub const FIRMS_TEXT: [usize; 6] = [F_NAME, 1, 2, 3, 11, 13];
pub const INPUTS_TEXT: [usize; 2] = [I_FIRM, I_GOOD];

/// `firms.csv`: one row per firm (or group of `count` firms).
pub const FIRMS: [Column; 16] = [
    col("name", true),
    col("output", true),
    col("production", false),
    col("family", false),
    col("scale", false),
    col("rho", false),
    col("returns", false),
    col("exponent", false),
    col("count", false),
    col("productivity", false),
    col("productivity_spread", false),
    col("rule", false),
    col("rate", false),
    col("form", false),
    col("noise", false),
    col("activation", false),
];
const F_NAME: usize = 0;

/// `inputs.csv`: one row per input of a firm with a production family.
pub const INPUTS: [Column; 3] = [col("firm", true), col("good", true), col("param", false)];
pub const I_FIRM: usize = 0;
const I_GOOD: usize = 1;
const I_PARAM: usize = 2;

/// Reads typed cells of rows, collecting the problems of cells that do not parse.
pub struct Cells<'p> {
    pub places: &'p Places,
    pub problems: Vec<Problem>,
}

impl Cells<'_> {
    fn text(&self, row: &Row, c: usize) -> Option<Spanned<String>> {
        row.get(c)
            .map(|v| Spanned::new(row.span(self.places, c), v.to_string()))
    }
    fn word(&self, row: &Row, c: usize) -> Option<Text> {
        row.get(c).map(|v| Text {
            value: v.to_string(),
            origin: Origin::File(row.span(self.places, c)),
        })
    }
    fn num(&mut self, row: &Row, c: usize) -> Option<Num> {
        let span = row.span(self.places, c);
        match row.number(c)? {
            Ok(value) => Some(Num {
                value,
                origin: Origin::File(span),
            }),
            Err(v) => {
                self.problems.push(Problem::at(
                    span,
                    format!("'{v}' is not a number"),
                    "write a number such as 0.5 or 1e-3, or leave the cell empty",
                ));
                None
            }
        }
    }
    fn int(&mut self, row: &Row, c: usize) -> Option<Int> {
        let span = row.span(self.places, c);
        match row.whole(c)? {
            Ok(value) => Some(Int {
                value,
                origin: Origin::File(span),
            }),
            Err(v) => {
                self.problems.push(Problem::at(
                    span,
                    format!("'{v}' is not a whole number"),
                    "write a whole number such as 100, or leave the cell empty",
                ));
                None
            }
        }
    }

    /// A row of `goods.csv` as its name and spec.
    pub fn good(&mut self, row: &Row) -> Option<(String, Spanned<GoodSpec>)> {
        let name = row.get(G_NAME)?.to_string();
        let spec = GoodSpec {
            price: self.num(row, 1),
            endowment: self.num(row, 2),
            initial_price: self.num(row, 3),
        };
        Some((name, Spanned::new(row.span(self.places, G_NAME), spec)))
    }

    /// The name of a firm row (None for a row without one).
    pub fn firm_name<'r>(&self, row: &'r Row) -> Option<&'r str> {
        row.get(F_NAME)
    }

    /// A row of `firms.csv` and the `inputs` of that firm (good name, its parameter) as the
    /// firm's spec. `inputs_at`: the span of the firm's first input row, else its name.
    pub fn firm(&mut self, row: &Row, inputs: &[(Spanned<String>, Option<Num>)]) -> Option<FirmSpec> {
        let name = self.text(row, F_NAME)?;
        let family_cell = self.text(row, 3);
        let production_span = family_cell
            .as_ref()
            .map_or_else(|| row.span(self.places, 2), |f| f.span());
        let production = match (self.text(row, 2), family_cell) {
            (Some(e), None) => Spanned::new(e.span(), ProductionSpec::Expression(e.into_inner())),
            (e, Some(family)) => {
                if let Some(e) = e {
                    self.problems.push(Problem::at(
                        e.span(),
                        format!("firm '{}' has both a production expression and a family", name.get_ref()),
                        "fill in `production` (an expression) or `family` (with its inputs in the inputs table), not both",
                    ));
                }
                let family = self.family(row, &family, inputs)?;
                Spanned::new(production_span, ProductionSpec::Family(family))
            }
            (None, None) => {
                self.problems.push(Problem::at(
                    name.span(),
                    format!("firm '{}' has no production", name.get_ref()),
                    "fill in `production` (an expression such as sqrt(natgas)) or `family` (cobb_douglas, ces, \
                     power, linear or leontief, with the firm's inputs in the inputs table)",
                ));
                return None;
            }
        };
        Some(FirmSpec {
            name,
            output: self.text(row, 1),
            outputs: None,
            production,
            count: self.int(row, 8),
            productivity: self.num(row, 9),
            productivity_spread: self.num(row, 10),
            rule: self.word(row, 11),
            rate: self.num(row, 12),
            form: self.word(row, 13),
            noise: self.num(row, 14),
            activation: self.num(row, 15),
            production_set: None,
        })
    }

    /// The family named in a firm row, with its inputs.
    fn family(
        &mut self,
        row: &Row,
        family: &Spanned<String>,
        inputs: &[(Spanned<String>, Option<Num>)],
    ) -> Option<FamilySpec> {
        let span = family.span();
        let table = |what: &str, cells: &mut Self| -> Spanned<IndexMap<String, Num>> {
            let mut map = IndexMap::new();
            for (good, param) in inputs {
                match param {
                    Some(p) => {
                        map.insert(good.get_ref().clone(), p.clone());
                    }
                    None => cells.problems.push(Problem::at(
                        good.span(),
                        format!("the input '{}' has no `param` (its {what})", good.get_ref()),
                        format!(
                            "give each input of a {} firm its {what} in the `param` column",
                            family.get_ref()
                        ),
                    )),
                }
            }
            Spanned::new(span.clone(), map)
        };
        let scale = self.num(row, 4);
        Some(match family.get_ref().as_str() {
            "cobb_douglas" => FamilySpec::CobbDouglas {
                scale,
                exponents: table("exponent", self),
            },
            "ces" => {
                let rho = self.num(row, 5);
                let returns = self.num(row, 6);
                let weights = table("weight", self);
                let Some(rho) = rho else {
                    self.problems.push(Problem::at(
                        span,
                        "a ces firm needs `rho`",
                        "fill in the `rho` column, e.g. 0.5",
                    ));
                    return None;
                };
                FamilySpec::Ces {
                    scale,
                    rho,
                    returns,
                    weights,
                }
            }
            "power" => {
                let exponent = self.num(row, 7);
                match (exponent, inputs) {
                    (Some(exponent), [(input, _)]) => FamilySpec::Power {
                        scale,
                        exponent,
                        input: input.clone(),
                    },
                    (None, _) => {
                        self.problems.push(Problem::at(
                            span,
                            "a power firm needs `exponent`",
                            "fill in the `exponent` column, e.g. 0.5",
                        ));
                        return None;
                    }
                    (_, other) => {
                        self.problems.push(Problem::at(
                            span,
                            format!("a power firm has one input; this one has {}", other.len()),
                            "give it exactly one row in the inputs table",
                        ));
                        return None;
                    }
                }
            }
            "linear" => FamilySpec::Linear {
                coefficients: table("coefficient", self),
            },
            "leontief" => FamilySpec::Leontief {
                scale,
                requirements: table("requirement", self),
            },
            other => {
                self.problems.push(Problem::at(
                    span,
                    format!("'{other}' is not a production family"),
                    format!(
                        "{}use cobb_douglas, ces, power, linear or leontief (or an expression in `production`)",
                        crate::scenario::error::did_you_mean(
                            other,
                            ["cobb_douglas", "ces", "power", "linear", "leontief"]
                        )
                    ),
                ));
                return None;
            }
        })
    }

    /// A row of `inputs.csv` as the good and its parameter.
    pub fn input(&mut self, row: &Row) -> Option<(Spanned<String>, Option<Num>)> {
        Some((self.text(row, I_GOOD)?, self.num(row, I_PARAM)))
    }
}
