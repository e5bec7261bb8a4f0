//! The statistics of a tick's market phase, for logging and stopping: the largest relative
//! excess demand and price change over the markets that count, and the first market that
//! left the finite range (docs/MODEL.md, "Stopping").

use crate::numeric::vector_level::Level;
use crate::sim::market::PRICE_RANGE;

/// Statistics of one tick's market phase.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TickStats {
    pub(super) rel_excess: f64,
    pub(super) rel_change: f64,
    /// The first good (lowest index) that left the finite range.
    pub(super) first_bad: Option<usize>,
}

/// The markets of goods `g0`, `g0 + 1`, ... after a price update: whether each is `traded`,
/// its `last` and new `price`, its `supply` and `demand` (all slices of one length); a
/// price at most `free_price` in excess supply is a free good's; `multiplicative`: the
/// market rule.
#[derive(Clone, Copy)]
pub(super) struct Markets<'a> {
    pub g0: usize,
    pub traded: &'a [bool],
    pub last: &'a [f64],
    pub price: &'a [f64],
    pub supply: &'a [f64],
    pub demand: &'a [f64],
    pub free_price: f64,
    pub multiplicative: bool,
}

impl TickStats {
    /// The statistics of the markets `m`. Markets that do not count: goods without a market
    /// (whose quantities must still be finite) and free goods (excess supply at a price that
    /// is 0 to working precision: in equilibrium by free disposal, they do not hold up
    /// convergence). A loop without branches; the first bad market is looked for only when
    /// there is one.
    pub(super) fn of_markets(m: Markets) -> TickStats {
        Self::of_markets_at(Level::best(), m)
    }

    /// [`TickStats::of_markets`] on the vector `level` (the results do not depend on it).
    ///
    /// # Panics
    /// If the CPU does not support `level`, or the slices differ in length.
    pub(super) fn of_markets_at(level: Level, m: Markets) -> TickStats {
        let n = m.price.len();
        assert!(m.traded.len() == n && m.last.len() == n && m.supply.len() == n && m.demand.len() == n);
        assert!(level <= Level::detected(), "the CPU does not support {level:?}");
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX-512 (checked above).
            Level::Avx512 => unsafe { Self::of_markets_avx512(m) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX2 (checked above).
            Level::Avx2 => unsafe { Self::of_markets_avx2(m) },
            _ => Self::of_markets_loop(m),
        }
    }

    /// [`TickStats::of_markets_loop`] compiled for AVX-512; the same results (max and min are
    /// exact).
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn of_markets_avx512(m: Markets) -> TickStats {
        Self::of_markets_loop(m)
    }

    /// [`TickStats::of_markets_loop`] compiled for AVX2; the same results (max and min are
    /// exact).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn of_markets_avx2(m: Markets) -> TickStats {
        Self::of_markets_loop(m)
    }

    /// The loop of [`TickStats::of_markets`].
    #[inline(always)]
    fn of_markets_loop(m: Markets) -> TickStats {
        let Markets {
            g0,
            traded,
            last,
            price,
            supply,
            demand,
            free_price,
            multiplicative,
        } = m;
        let n = price.len();
        let (traded, last, supply, demand) = (&traded[..n], &last[..n], &supply[..n], &demand[..n]);
        // The maxima are taken over the bits: for numbers >= +0 (these are, or NaN, which
        // f64::max would skip and which count as 0 here) the order of the bits is the order
        // of the numbers, and an integer maximum vectorises where a float one may not.
        let (mut rel_excess, mut rel_change, mut any_bad) = (0u64, 0u64, false);
        for i in 0..n {
            let (p, s, d, l) = (price[i], supply[i], demand[i], last[i]);
            let counted = traded[i] & !((d <= s) & (p <= free_price) & (l <= free_price));
            let scale = s.abs().max(d.abs());
            let excess = (d - s).abs() / scale;
            let change = (p - l).abs() / l;
            let excess = if counted & (scale > 0.0) & !excess.is_nan() {
                excess
            } else {
                0.0
            };
            let change = if counted & (l > 0.0) & !change.is_nan() {
                change
            } else {
                0.0
            };
            rel_excess = rel_excess.max(excess.to_bits());
            rel_change = rel_change.max(change.to_bits());
            let out_of_range = !p.is_finite()
                | !s.is_finite()
                | !d.is_finite()
                | (p > PRICE_RANGE.1)
                | ((p < PRICE_RANGE.0) & multiplicative);
            // goods without a market: no one moves their prices, but their quantities come
            // from firms too
            let bad = if traded[i] {
                counted & out_of_range
            } else {
                !(s.is_finite() & d.is_finite())
            };
            any_bad |= bad;
        }
        // the first bad market, looked for only when there is one
        let first_bad = || {
            (0..n).find(|&i| {
                let (p, s, d, l) = (price[i], supply[i], demand[i], last[i]);
                if traded[i] {
                    let free = d <= s && p <= free_price && l <= free_price;
                    let out_of_range = !p.is_finite()
                        || !s.is_finite()
                        || !d.is_finite()
                        || p > PRICE_RANGE.1
                        || (p < PRICE_RANGE.0 && multiplicative);
                    !free && out_of_range
                } else {
                    !(s.is_finite() && d.is_finite())
                }
            })
        };
        TickStats {
            rel_excess: f64::from_bits(rel_excess),
            rel_change: f64::from_bits(rel_change),
            first_bad: if any_bad { first_bad().map(|i| g0 + i) } else { None },
        }
    }

    pub(super) fn merge(a: TickStats, b: TickStats) -> TickStats {
        TickStats {
            rel_excess: a.rel_excess.max(b.rel_excess),
            rel_change: a.rel_change.max(b.rel_change),
            first_bad: match (a.first_bad, b.first_bad) {
                (Some(i), Some(j)) => Some(i.min(j)),
                (i, j) => i.or(j),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The statistics as the market phase used to take them, one market at a time.
    fn stats_one_by_one(
        traded: &[bool],
        last: &[f64],
        price: &[f64],
        supply: &[f64],
        demand: &[f64],
        free_price: f64,
        multiplicative: bool,
    ) -> TickStats {
        let mut stats = TickStats::default();
        for g in 0..price.len() {
            let (p, supply, demand, last) = (price[g], supply[g], demand[g], last[g]);
            if !traded[g] {
                if !(supply.is_finite() && demand.is_finite()) && stats.first_bad.is_none() {
                    stats.first_bad = Some(g);
                }
                continue;
            }
            if demand <= supply && p <= free_price && last <= free_price {
                continue;
            }
            let scale = supply.abs().max(demand.abs());
            if scale > 0.0 {
                stats.rel_excess = stats.rel_excess.max((demand - supply).abs() / scale);
            }
            if last > 0.0 {
                stats.rel_change = stats.rel_change.max((p - last).abs() / last);
            }
            let out_of_range = !p.is_finite()
                || !supply.is_finite()
                || !demand.is_finite()
                || p > PRICE_RANGE.1
                || (p < PRICE_RANGE.0 && multiplicative);
            if out_of_range && stats.first_bad.is_none() {
                stats.first_bad = Some(g);
            }
        }
        stats
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(1e-16),
            Just(1e-301),
            1e-3f64..1e3,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(2e300),
        ]
    }

    proptest! {
        /// The branch-free statistics equal the one-market-at-a-time ones: free goods, goods
        /// without a market, NaN, infinite and out-of-range numbers included.
        #[test]
        fn market_statistics_match_one_market_at_a_time(
            markets in proptest::collection::vec((any::<bool>(), number(), number(), number(), number()), 0..80),
            multiplicative in any::<bool>(),
        ) {
            let traded: Vec<bool> = markets.iter().map(|m| m.0).collect();
            let last: Vec<f64> = markets.iter().map(|m| m.1).collect();
            let price: Vec<f64> = markets.iter().map(|m| m.2).collect();
            let supply: Vec<f64> = markets.iter().map(|m| m.3).collect();
            let demand: Vec<f64> = markets.iter().map(|m| m.4).collect();
            let free = 1e-15;
            let want = stats_one_by_one(&traded, &last, &price, &supply, &demand, free, multiplicative);
            for level in Level::available() {
                let markets = Markets {
                    g0: 7,
                    traded: &traded,
                    last: &last,
                    price: &price,
                    supply: &supply,
                    demand: &demand,
                    free_price: free,
                    multiplicative,
                };
                let got = TickStats::of_markets_at(level, markets);
                prop_assert_eq!(got.rel_excess.to_bits(), want.rel_excess.to_bits(), "{:?}", level);
                prop_assert_eq!(got.rel_change.to_bits(), want.rel_change.to_bits(), "{:?}", level);
                prop_assert_eq!(got.first_bad, want.first_bad.map(|g| g + 7), "{:?}", level);
            }
        }
    }
}
