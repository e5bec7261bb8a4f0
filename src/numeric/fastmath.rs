//! `exp` for the tick's hot loop: the same answer as `f64::exp` to within 2 units in the last
//! place, but inlined (no call into libm) and short. Plain IEEE arithmetic in a fixed order:
//! bit-identical on every machine.
//!
//! Method (table-driven, as in most libms): with k = round(32 x / ln 2), j = k mod 32 and
//! m = (k - j) / 32, exp(x) = 2^m * 2^(j/32) * exp(r), r = x - k ln(2)/32 (ln(2)/32 split in
//! two parts so that r is exact to about 1e-20), |r| <= ln(2)/64. exp(r) is its Taylor
//! polynomial to degree 6 (truncation below 4e-18 relative), 2^(j/32) comes from a table of
//! correctly rounded values, and 2^m is built from its bits. Arguments outside (-700, 700),
//! and NaN, go to `f64::exp`.

/// 32 / ln 2.
const INV_STEP: f64 = 46.166_241_308_446_83;
/// ln(2)/32 = STEP_HI + STEP_LO; STEP_HI has its low 32 mantissa bits zero, so k * STEP_HI is
/// exact for |k| < 2^21.
const STEP_HI: f64 = 0.021_660_834_550_857_544;
const STEP_LO: f64 = 1.484_164_074_697_397_7e-8;
/// Adding and subtracting 1.5 * 2^52 rounds to the nearest integer (no call to `round`).
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// 2^(j/32), j = 0..32, correctly rounded.
const TABLE: [f64; 32] = [
    f64::from_bits(0x3ff0000000000000),
    f64::from_bits(0x3ff059b0d3158574),
    f64::from_bits(0x3ff0b5586cf9890f),
    f64::from_bits(0x3ff11301d0125b51),
    f64::from_bits(0x3ff172b83c7d517b),
    f64::from_bits(0x3ff1d4873168b9aa),
    f64::from_bits(0x3ff2387a6e756238),
    f64::from_bits(0x3ff29e9df51fdee1),
    f64::from_bits(0x3ff306fe0a31b715),
    f64::from_bits(0x3ff371a7373aa9cb),
    f64::from_bits(0x3ff3dea64c123422),
    f64::from_bits(0x3ff44e086061892d),
    f64::from_bits(0x3ff4bfdad5362a27),
    f64::from_bits(0x3ff5342b569d4f82),
    f64::from_bits(0x3ff5ab07dd485429),
    f64::from_bits(0x3ff6247eb03a5585),
    f64::from_bits(0x3ff6a09e667f3bcd),
    f64::from_bits(0x3ff71f75e8ec5f74),
    f64::from_bits(0x3ff7a11473eb0187),
    f64::from_bits(0x3ff82589994cce13),
    f64::from_bits(0x3ff8ace5422aa0db),
    f64::from_bits(0x3ff93737b0cdc5e5),
    f64::from_bits(0x3ff9c49182a3f090),
    f64::from_bits(0x3ffa5503b23e255d),
    f64::from_bits(0x3ffae89f995ad3ad),
    f64::from_bits(0x3ffb7f76f2fb5e47),
    f64::from_bits(0x3ffc199bdd85529c),
    f64::from_bits(0x3ffcb720dcef9069),
    f64::from_bits(0x3ffd5818dcfba487),
    f64::from_bits(0x3ffdfc97337b9b5f),
    f64::from_bits(0x3ffea4afa2a490da),
    f64::from_bits(0x3fff50765b6e4540),
];

/// Arguments of absolute value below this take the fast path of [`exp`]; [`exp_core`] needs
/// them there.
pub const FAST_RANGE: f64 = 700.0;

/// e^x.
#[inline]
pub fn exp(x: f64) -> f64 {
    // NaN fails the test too
    if x.is_nan() || x.abs() >= FAST_RANGE {
        return x.exp();
    }
    exp_core(x)
}

/// e^x for |x| < [`FAST_RANGE`] (anything else gives a meaningless number, never a panic):
/// the fast path of [`exp`] without its test, so that a loop over many arguments has no
/// branch and vectorises (check the range of the arguments separately).
#[inline(always)]
pub fn exp_core(x: f64) -> f64 {
    let t = x * INV_STEP + ROUNDER;
    let k = t - ROUNDER;
    let r = (x - k * STEP_HI) - k * STEP_LO;
    // k as an integer: t and ROUNDER share their exponent, so their bits differ by k. Biased
    // by BIAS (a multiple of 32 above any |k|) it is positive, so that j = k mod 32 and
    // m = floor(k / 32) need only logical shifts (which vector units have for 64-bit lanes).
    const BIAS: u64 = 1 << 20;
    let kb = (t.to_bits().wrapping_sub(ROUNDER.to_bits())).wrapping_add(BIAS);
    let j = (kb & 31) as usize;
    let m_biased = kb >> 5;
    // 1 + r + r^2/2 + ... + r^6/720, Horner form
    let mut p = 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p *= r;
    // 2^m from its bits, m = m_biased - BIAS / 32; |m| <= 1010, so 2^m is a normal number
    let two_m = f64::from_bits((m_biased.wrapping_add(1023).wrapping_sub(BIAS >> 5)) << 52);
    let t = TABLE[j];
    (t + t * p) * two_m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Distance in units in the last place.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exact_points_and_edges() {
        assert_eq!(exp(0.0), 1.0);
        assert!(ulps(exp(1.0), std::f64::consts::E) <= 1);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(800.0), f64::INFINITY);
        assert_eq!(exp(-800.0), 0.0);
        // the largest and smallest arguments of the fast path
        assert!(ulps(exp(699.9), 699.9f64.exp()) <= 2);
        assert!(ulps(exp(-699.9), (-699.9f64).exp()) <= 2);
    }

    #[test]
    fn small_steps_are_within_two_ulps_on_a_grid() {
        // the relative plan steps of the tick: |x| <= 1
        let mut worst = 0;
        for i in -100_000..=100_000 {
            let x = i as f64 * 1e-5;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 2, "worst {worst} ulps");
    }

    proptest! {
        #[test]
        fn within_two_ulps_of_std(x in -699.0f64..699.0) {
            prop_assert!(ulps(exp(x), x.exp()) <= 2, "exp({x}) = {} vs {}", exp(x), x.exp());
        }
    }
}
