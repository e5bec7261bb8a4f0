//! Markets: one per endogenous good. Each tick a market sees only its own supply and
//! demand and moves its price against the excess demand (tatonnement).

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

/// The next price of one market, given its supply and demand this tick.
#[inline]
pub fn next_price(rule: Rule, step: f64, price: f64, supply: f64, demand: f64) -> f64 {
    let z = demand - supply;
    match rule {
        Rule::Additive => (price + step * z).max(0.0),
        Rule::Multiplicative => {
            let scale = supply.max(demand);
            if scale > 0.0 {
                price * crate::fastmath::exp(step * z / scale)
            } else {
                price
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_rise_with_excess_demand_and_fall_with_excess_supply() {
        for rule in [Rule::Additive, Rule::Multiplicative] {
            assert!(next_price(rule, 0.1, 1.0, 1.0, 2.0) > 1.0);
            assert!(next_price(rule, 0.1, 1.0, 2.0, 1.0) < 1.0);
            assert_eq!(next_price(rule, 0.1, 1.0, 2.0, 2.0), 1.0);
        }
        // additive prices are projected onto p >= 0 (free disposal)
        assert_eq!(next_price(Rule::Additive, 1.0, 0.5, 3.0, 1.0), 0.0);
        // multiplicative: relative excess 1/2 moves the log price by step/2
        let p = next_price(Rule::Multiplicative, 0.4, 2.0, 1.0, 2.0);
        assert!((p - 2.0 * (0.2f64).exp()).abs() < 1e-15);
    }
}
