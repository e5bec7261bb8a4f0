//! [`FirmEntry`]: what validating one firm reads of it, whichever form it was written in: a
//! `[[firms]]` entry of a TOML file (a [`FirmSpec`]) or a row of a firms table with its rows
//! of the inputs table (`scenario/tables/firm_rows.rs`). Both are checked by the same code
//! ([`super::validate_firm`]), so both forms of an economy give the same firms and the same
//! problems; a table row is read in place, without a string or a map per firm.

use crate::scenario::format::*;
use indexmap::IndexMap;
use std::ops::Range;
use toml::Spanned;

/// One firm entry, as validation reads it. Each value carries its place (a span of the
/// scenario text, or of a table cell: `scenario/tables/place.rs`).
pub(crate) trait FirmEntry {
    /// The name and its span.
    fn name(&self) -> (&str, Range<usize>);
    /// `output = "good"`.
    fn output(&self) -> Option<(&str, Range<usize>)>;
    /// `outputs = { a = 1.0, b = 0.5 }` (joint production; TOML only).
    fn outputs(&self) -> Option<&Spanned<IndexMap<String, Num>>>;
    /// The production (an expression, or a family with its parameters) and its span.
    fn production(&self) -> (Production<'_>, Range<usize>);
    /// The `--set firms.NAME.production=...` argument that gave the production, if one did.
    fn production_set(&self) -> Option<&str>;
    fn count(&self) -> Option<&Int>;
    fn productivity(&self) -> Option<&Num>;
    fn productivity_spread(&self) -> Option<&Num>;
    /// The firm's own agent settings (each overrides `[agents]`).
    fn rule(&self) -> Option<&Text>;
    fn rate(&self) -> Option<&Num>;
    fn form(&self) -> Option<&Text>;
    fn noise(&self) -> Option<&Num>;
    fn activation(&self) -> Option<&Num>;
}

/// A production as validation reads it.
pub(crate) enum Production<'a> {
    /// A formula in the input goods, e.g. `sqrt(natgas)`.
    Expression(&'a str),
    Family(Family<'a>),
}

/// A production family with its parameters (the spec's [`FamilySpec`], read in place).
pub(crate) enum Family<'a> {
    CobbDouglas {
        scale: Option<&'a Num>,
        exponents: Params<'a>,
    },
    Ces {
        scale: Option<&'a Num>,
        rho: &'a Num,
        returns: Option<&'a Num>,
        weights: Params<'a>,
    },
    Power {
        scale: Option<&'a Num>,
        exponent: &'a Num,
        input: (&'a str, Range<usize>),
    },
    Linear {
        coefficients: Params<'a>,
    },
    Leontief {
        scale: Option<&'a Num>,
        requirements: Params<'a>,
    },
}

/// A family's inputs with their parameters (exponents, weights, ...), in order, and the span
/// of the whole list.
pub(crate) struct Params<'a> {
    pub span: Range<usize>,
    pub list: ParamList<'a>,
}

/// The (good, parameter) pairs: a TOML table, or the rows of a firm in the inputs table.
pub(crate) enum ParamList<'a> {
    Map(&'a IndexMap<String, Num>),
    Rows(&'a [(&'a str, Num)]),
}

impl<'a> Params<'a> {
    fn of(table: &'a Spanned<IndexMap<String, Num>>) -> Params<'a> {
        Params {
            span: table.span(),
            list: ParamList::Map(table.get_ref()),
        }
    }

    pub fn is_empty(&self) -> bool {
        match &self.list {
            ParamList::Map(m) => m.is_empty(),
            ParamList::Rows(r) => r.is_empty(),
        }
    }

    /// Each good and its parameter, in order.
    pub fn each(&self, mut f: impl FnMut(&'a str, &'a Num)) {
        match self.list {
            ParamList::Map(m) => m.iter().for_each(|(g, n)| f(g, n)),
            ParamList::Rows(r) => r.iter().for_each(|(g, n)| f(g, n)),
        }
    }
}

impl FirmEntry for FirmSpec {
    fn name(&self) -> (&str, Range<usize>) {
        (self.name.get_ref(), self.name.span())
    }
    fn output(&self) -> Option<(&str, Range<usize>)> {
        self.output.as_ref().map(|o| (o.get_ref().as_str(), o.span()))
    }
    fn outputs(&self) -> Option<&Spanned<IndexMap<String, Num>>> {
        self.outputs.as_ref()
    }
    fn production(&self) -> (Production<'_>, Range<usize>) {
        let production = match self.production.get_ref() {
            ProductionSpec::Expression(e) => Production::Expression(e),
            ProductionSpec::Family(f) => Production::Family(match f {
                FamilySpec::CobbDouglas { scale, exponents } => Family::CobbDouglas {
                    scale: scale.as_ref(),
                    exponents: Params::of(exponents),
                },
                FamilySpec::Ces {
                    scale,
                    rho,
                    returns,
                    weights,
                } => Family::Ces {
                    scale: scale.as_ref(),
                    rho,
                    returns: returns.as_ref(),
                    weights: Params::of(weights),
                },
                FamilySpec::Power { scale, exponent, input } => Family::Power {
                    scale: scale.as_ref(),
                    exponent,
                    input: (input.get_ref(), input.span()),
                },
                FamilySpec::Linear { coefficients } => Family::Linear {
                    coefficients: Params::of(coefficients),
                },
                FamilySpec::Leontief { scale, requirements } => Family::Leontief {
                    scale: scale.as_ref(),
                    requirements: Params::of(requirements),
                },
            }),
        };
        (production, self.production.span())
    }
    fn production_set(&self) -> Option<&str> {
        self.production_set.as_deref()
    }
    fn count(&self) -> Option<&Int> {
        self.count.as_ref()
    }
    fn productivity(&self) -> Option<&Num> {
        self.productivity.as_ref()
    }
    fn productivity_spread(&self) -> Option<&Num> {
        self.productivity_spread.as_ref()
    }
    fn rule(&self) -> Option<&Text> {
        self.rule.as_ref()
    }
    fn rate(&self) -> Option<&Num> {
        self.rate.as_ref()
    }
    fn form(&self) -> Option<&Text> {
        self.form.as_ref()
    }
    fn noise(&self) -> Option<&Num> {
        self.noise.as_ref()
    }
    fn activation(&self) -> Option<&Num> {
        self.activation.as_ref()
    }
}

/// The entry as a [`FirmSpec`] (for `--set firms.NAME...`, which edits a spec).
pub(crate) fn to_spec(f: &impl FirmEntry) -> FirmSpec {
    let text = |(s, span): (&str, Range<usize>)| Spanned::new(span, s.to_string());
    let table = |p: &Params| {
        let mut map = IndexMap::new();
        p.each(|g, n| {
            map.insert(g.to_string(), n.clone());
        });
        Spanned::new(p.span.clone(), map)
    };
    let (production, span) = f.production();
    let production = match production {
        Production::Expression(e) => ProductionSpec::Expression(e.to_string()),
        Production::Family(family) => ProductionSpec::Family(match family {
            Family::CobbDouglas { scale, exponents } => FamilySpec::CobbDouglas {
                scale: scale.cloned(),
                exponents: table(&exponents),
            },
            Family::Ces {
                scale,
                rho,
                returns,
                weights,
            } => FamilySpec::Ces {
                scale: scale.cloned(),
                rho: rho.clone(),
                returns: returns.cloned(),
                weights: table(&weights),
            },
            Family::Power { scale, exponent, input } => FamilySpec::Power {
                scale: scale.cloned(),
                exponent: exponent.clone(),
                input: text(input),
            },
            Family::Linear { coefficients } => FamilySpec::Linear {
                coefficients: table(&coefficients),
            },
            Family::Leontief { scale, requirements } => FamilySpec::Leontief {
                scale: scale.cloned(),
                requirements: table(&requirements),
            },
        }),
    };
    FirmSpec {
        name: text(f.name()),
        output: f.output().map(text),
        outputs: f.outputs().cloned(),
        production: Spanned::new(span, production),
        count: f.count().cloned(),
        productivity: f.productivity().cloned(),
        productivity_spread: f.productivity_spread().cloned(),
        rule: f.rule().cloned(),
        rate: f.rate().cloned(),
        form: f.form().cloned(),
        noise: f.noise().cloned(),
        activation: f.activation().cloned(),
        production_set: f.production_set().map(str::to_string),
    }
}
