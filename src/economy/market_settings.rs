//! `[market]` settings: how markets move their prices (the behaviour lives in
//! [`crate::sim::market`]).

/// How a market moves its price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// p <- max(0, p + step * z)
    Additive,
    /// p <- p * exp(step * z / max(S, D)): scale-free, a mirror-descent step.
    Multiplicative,
}

impl Rule {
    pub const NAMES: [&'static str; 2] = ["additive", "multiplicative"];
    pub fn parse(s: &str) -> Option<Rule> {
        match s {
            "additive" => Some(Rule::Additive),
            "multiplicative" => Some(Rule::Multiplicative),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Rule::Additive => "additive",
            Rule::Multiplicative => "multiplicative",
        }
    }
}

/// `[market]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketSettings {
    pub rule: Rule,
    pub step: f64,
}

impl MarketSettings {
    /// The price every market starts from when neither `[market]` nor the good gives an
    /// `initial_price`.
    pub const DEFAULT_INITIAL_PRICE: f64 = 1.0;
}
