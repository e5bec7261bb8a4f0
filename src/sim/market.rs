//! Markets: one per endogenous good. Each tick a market sees only its own supply and
//! demand and moves its price against the excess demand (tatonnement).

use crate::economy::market_settings::Rule;
use crate::numeric::vector_level::Level;

/// The next price of one market, given its supply and demand this tick.
#[inline]
pub fn next_price(rule: Rule, step: f64, price: f64, supply: f64, demand: f64) -> f64 {
    let z = demand - supply;
    match rule {
        Rule::Additive => (price + step * z).max(0.0),
        Rule::Multiplicative => {
            let scale = supply.max(demand);
            if scale > 0.0 {
                price * crate::numeric::fastmath::exp(step * z / scale)
            } else {
                price
            }
        }
    }
}

/// The lowest price a multiplicative market in lasting excess supply rests at: its price
/// decays towards 0 (a free good) and stops at this floor instead of leaving the range.
pub const PRICE_FLOOR: f64 = 1e-300;

/// Prices outside this range count as divergence.
pub const PRICE_RANGE: (f64, f64) = (PRICE_FLOOR, 1e300);

/// The next prices of many markets at once: for each good whose `traded` flag is set, the
/// [`next_price`] of its market (a multiplicative price in excess supply resting at
/// [`PRICE_FLOOR`] rather than going below it); other prices stay. A loop without branches
/// that vector units run several goods wide, with the bits of [`next_price`].
pub fn next_prices(
    rule: Rule,
    step: f64,
    traded: &[bool],
    price: &[f64],
    supply: &[f64],
    demand: &[f64],
    next: &mut [f64],
) {
    next_prices_at(Level::best(), rule, step, traded, price, supply, demand, next)
}

/// [`next_prices`] on the vector `level` (the bits do not depend on it).
///
/// # Panics
/// If the CPU does not support `level`, or the slices differ in length.
#[allow(clippy::too_many_arguments)]
pub fn next_prices_at(
    level: Level,
    rule: Rule,
    step: f64,
    traded: &[bool],
    price: &[f64],
    supply: &[f64],
    demand: &[f64],
    next: &mut [f64],
) {
    let n = next.len();
    assert!(traded.len() == n && price.len() == n && supply.len() == n && demand.len() == n);
    assert!(level <= Level::detected(), "the CPU does not support {level:?}");
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512 (checked above).
        Level::Avx512 => unsafe { next_prices_avx512(rule, step, traded, price, supply, demand, next) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX2 (checked above).
        Level::Avx2 => unsafe { next_prices_avx2(rule, step, traded, price, supply, demand, next) },
        _ => next_prices_loop(rule, step, traded, price, supply, demand, next),
    }
}

/// [`next_prices_loop`] compiled for AVX-512 (8 goods per instruction); without FMA, so the
/// same bits.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn next_prices_avx512(
    rule: Rule,
    step: f64,
    traded: &[bool],
    price: &[f64],
    supply: &[f64],
    demand: &[f64],
    next: &mut [f64],
) {
    next_prices_loop(rule, step, traded, price, supply, demand, next)
}

/// [`next_prices_loop`] compiled for AVX2 (4 goods per instruction); without FMA, so the
/// same bits.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn next_prices_avx2(
    rule: Rule,
    step: f64,
    traded: &[bool],
    price: &[f64],
    supply: &[f64],
    demand: &[f64],
    next: &mut [f64],
) {
    next_prices_loop(rule, step, traded, price, supply, demand, next)
}

/// The loop of [`next_prices`] (all slices of one length).
#[inline(always)]
fn next_prices_loop(
    rule: Rule,
    step: f64,
    traded: &[bool],
    price: &[f64],
    supply: &[f64],
    demand: &[f64],
    next: &mut [f64],
) {
    let n = next.len();
    let (traded, price, supply, demand) = (&traded[..n], &price[..n], &supply[..n], &demand[..n]);
    let mut slow = false;
    for i in 0..n {
        let (p, s, d) = (price[i], supply[i], demand[i]);
        let moved = match rule {
            Rule::Additive => (p + step * (d - s)).max(0.0),
            Rule::Multiplicative => {
                let scale = s.max(d);
                // exp(0) = 1 exactly: a market with nothing traded keeps its price
                let arg = if scale > 0.0 { step * (d - s) / scale } else { 0.0 };
                slow |= arg.is_nan() | (arg.abs() >= crate::numeric::fastmath::FAST_RANGE);
                let moved = p * crate::numeric::fastmath::exp_core(arg);
                if moved < PRICE_FLOOR && d <= s {
                    PRICE_FLOOR
                } else {
                    moved
                }
            }
        };
        next[i] = if traded[i] { moved } else { p };
    }
    if slow {
        for i in 0..n {
            let moved = next_price(rule, step, price[i], supply[i], demand[i]);
            let floor = rule == Rule::Multiplicative && moved < PRICE_FLOOR && demand[i] <= supply[i];
            next[i] = match (traded[i], floor) {
                (false, _) => price[i],
                (true, true) => PRICE_FLOOR,
                (true, false) => moved,
            };
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

    proptest::proptest! {
        /// Many markets at once move as one market at a time does, to the bit (NaN, infinite
        /// and empty markets, huge steps and the floor included).
        #[test]
        fn next_prices_match_next_price(
            markets in proptest::collection::vec((
                proptest::prop_oneof![proptest::strategy::Just(0.0), 1e-300f64..1e-290, 1e-3f64..1e3, proptest::strategy::Just(f64::NAN), proptest::strategy::Just(f64::INFINITY)],
                proptest::prop_oneof![proptest::strategy::Just(0.0), 0.0f64..1e3, proptest::strategy::Just(f64::NAN)],
                proptest::prop_oneof![proptest::strategy::Just(0.0), 0.0f64..1e3, proptest::strategy::Just(f64::INFINITY)],
                proptest::bool::ANY,
            ), 0..80),
            step in proptest::prop_oneof![0.01f64..2.0, 690.0f64..1e4],
            multiplicative in proptest::bool::ANY,
        ) {
            let rule = if multiplicative { Rule::Multiplicative } else { Rule::Additive };
            let price: Vec<f64> = markets.iter().map(|m| m.0).collect();
            let supply: Vec<f64> = markets.iter().map(|m| m.1).collect();
            let demand: Vec<f64> = markets.iter().map(|m| m.2).collect();
            let traded: Vec<bool> = markets.iter().map(|m| m.3).collect();
            for level in Level::available() {
            let mut next = vec![0.0; markets.len()];
            next_prices_at(level, rule, step, &traded, &price, &supply, &demand, &mut next);
            for i in 0..markets.len() {
                let one = next_price(rule, step, price[i], supply[i], demand[i]);
                let want = if !traded[i] {
                    price[i]
                } else if rule == Rule::Multiplicative && one < PRICE_FLOOR && demand[i] <= supply[i] {
                    PRICE_FLOOR
                } else {
                    one
                };
                // the same bits; a NaN is any NaN (its sign and payload depend on the order
                // the compiler gave the operands of the operation that made it)
                let same = next[i].to_bits() == want.to_bits() || (next[i].is_nan() && want.is_nan());
                proptest::prop_assert!(same, "{:?}, market {}: {} {} {}: {} vs {}", level, i, price[i], supply[i], demand[i], next[i], want);
            }
            }
        }
    }
}
