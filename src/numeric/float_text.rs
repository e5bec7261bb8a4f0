//! Numbers as text in every CSV file pricegrad writes: the shortest representation that reads
//! back to the same f64, and an empty field for a missing or non-finite value.

/// Format an optional number: empty when absent or not finite (no NaN/inf is ever written).
/// Shortest representation that reads back to the same f64; exponent form for very small
/// or large magnitudes.
pub fn opt(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => {
            let a = v.abs();
            if a == 0.0 || (1e-4..1e15).contains(&a) {
                format!("{v}")
            } else {
                format!("{v:e}")
            }
        }
        _ => String::new(),
    }
}

pub fn num(v: f64) -> String {
    opt(Some(v))
}
