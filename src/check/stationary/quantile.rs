//! Quantiles of Student's t distribution, for the confidence intervals and drift tests of
//! stationary runs: the upper tail `P(T > t)` from the regularised incomplete beta function
//! (a continued fraction, evaluated by the modified Lentz method), inverted by bisection.

/// `P(T > t)` for Student's t with `df` degrees of freedom (`t >= 0`).
pub fn t_upper_tail(t: f64, df: f64) -> f64 {
    if t <= 0.0 {
        return 0.5;
    }
    // P(|T| > t) = I_x(df/2, 1/2) with x = df / (df + t^2)
    0.5 * incomplete_beta(df / (df + t * t), 0.5 * df, 0.5)
}

/// The t with `P(T > t) = tail` for Student's t with `df` degrees of freedom (`0 < tail <=
/// 0.5`): e.g. `t_quantile(0.025, 31)` is the two-sided 95% quantile with 31 degrees of
/// freedom, 2.0395.
pub fn t_quantile(tail: f64, df: f64) -> f64 {
    debug_assert!(tail > 0.0 && tail <= 0.5 && df >= 1.0);
    // the tail falls from 0.5 at 0; bracket the answer, then halve the bracket to rounding
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while t_upper_tail(hi, df) > tail && hi < 1e300 {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if t_upper_tail(mid, df) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The regularised incomplete beta function I_x(a, b).
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    // the continued fraction converges fast for x < (a + 1) / (a + b + 2); else use symmetry
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..1000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // reflection: Γ(x) Γ(1 - x) = π / sin(π x)
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_the_tables() {
        // two-sided 95% and 99% points of Student's t (Fisher and Yates' tables), and the
        // normal limit
        for (tail, df, want) in [
            (0.025, 1.0, 12.7062),
            (0.025, 2.0, 4.3027),
            (0.025, 10.0, 2.2281),
            (0.025, 30.0, 2.0423),
            (0.025, 31.0, 2.0395),
            (0.005, 31.0, 2.7440),
            (0.025, 1e7, 1.9600),
            (0.0005, 20.0, 3.8495),
        ] {
            let got = t_quantile(tail, df);
            assert!((got - want).abs() < 1e-4, "t({tail}, {df}) = {got}, want {want}");
        }
    }

    #[test]
    fn the_tail_is_the_inverse_of_the_quantile_far_out() {
        // Bonferroni over a million goods asks for tails of 2.5e-8
        for df in [5.0, 30.0, 62.0] {
            for tail in [1e-3, 2.5e-8, 1e-12] {
                let t = t_quantile(tail, df);
                let back = t_upper_tail(t, df);
                assert!((back / tail - 1.0).abs() < 1e-9, "df {df}, tail {tail}: {back}");
            }
        }
        // ln Γ at known points: Γ(1/2) = √π, Γ(5) = 24
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
    }
}
