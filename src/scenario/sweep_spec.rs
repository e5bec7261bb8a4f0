//! The value specs of a sweep parameter (`--param PATH=SPEC` and a scenario's `[sweep]`
//! table): a list `0.1,0.2,0.5`, or a range `lin:A:B:N` / `log:A:B:N`. A leaf: it knows
//! nothing of scenarios or sweeps, so both can use it.

use crate::numeric::float_text::opt;
use std::collections::BTreeMap;

/// Most values of one `lin:`/`log:` spec.
pub const MAX_VALUES: u64 = 1_000_000;

/// Split `PATH=SPEC`.
pub fn split_param(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((p, s)) if !p.trim().is_empty() && !s.trim().is_empty() => {
            Ok((p.trim().to_string(), s.trim().to_string()))
        }
        _ => Err(format!(
            "'{arg}' is not PATH=SPEC; write e.g. --param market.step=0.1,0.2,0.5 or --param agents.rate=log:0.05:2:8"
        )),
    }
}

/// Round to `digits` significant digits (so that `lin:0:1:11` gives `0.3`, not
/// `0.30000000000000004`, and `log:` values read well).
fn round_sig(v: f64, digits: usize) -> f64 {
    format!("{v:.*e}", digits.saturating_sub(1)).parse().unwrap_or(v)
}

/// The values of a spec: `0.1,0.2,0.5` (a list, values kept as written; words such as rule
/// names are allowed), `lin:A:B:N` (N evenly spaced values from A to B), `log:A:B:N` (N values
/// evenly spaced in log from A to B, both > 0). Range values between the end points are
/// rounded to 6 significant digits (more when needed to keep them distinct).
pub fn parse_spec(spec: &str) -> Result<Vec<String>, String> {
    let spec = spec.trim();
    let values: Vec<String> = if let Some(kind) = ["lin:", "log:"].iter().find(|k| spec.starts_with(**k)) {
        let body = &spec[kind.len()..];
        let parts: Vec<&str> = body.split(':').map(str::trim).collect();
        let form = format!("{}A:B:N", kind);
        if parts.len() != 3 {
            return Err(format!(
                "'{spec}' is not {form} (three fields after '{kind}', e.g. {kind}0.05:2:8)"
            ));
        }
        let num = |s: &str, what: &str| -> Result<f64, String> {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("in '{spec}', {what} '{s}' is not a finite number (the form is {form})"))
        };
        let a = num(parts[0], "A")?;
        let b = num(parts[1], "B")?;
        let n: u64 = parts[2].parse().map_err(|_| {
            format!(
                "in '{spec}', N '{}' is not a whole number of values (the form is {form})",
                parts[2]
            )
        })?;
        if n < 2 {
            return Err(format!(
                "in '{spec}', N = {n}: a range needs at least 2 values (for one value write just the value, e.g. {a})"
            ));
        }
        if n > MAX_VALUES {
            return Err(format!("in '{spec}', N = {n} is more than {MAX_VALUES} values"));
        }
        if *kind == "log:" && (a <= 0.0 || b <= 0.0) {
            return Err(format!(
                "in '{spec}', log spacing needs A > 0 and B > 0; use lin:{a}:{b}:{n} for a range through zero"
            ));
        }
        let last = (n - 1) as f64;
        let exact: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 / last;
                if *kind == "lin:" {
                    a + (b - a) * t
                } else {
                    (a.ln() + (b.ln() - a.ln()) * t).exp()
                }
            })
            .collect();
        // the fewest significant digits (6, 9, 12, 17) that keep the values distinct;
        // the end points stay as given
        let mut chosen = Vec::new();
        for digits in [6usize, 9, 12, 17] {
            let vals: Vec<f64> = exact
                .iter()
                .enumerate()
                .map(|(i, &v)| match i {
                    0 => a,
                    i if i as u64 == n - 1 => b,
                    _ => round_sig(v, digits),
                })
                .collect();
            chosen = vals;
            if chosen.windows(2).all(|w| w[0] != w[1]) {
                break;
            }
        }
        chosen.into_iter().map(|v| opt(Some(v))).collect()
    } else {
        let items: Vec<String> = spec.split(',').map(|s| s.trim().to_string()).collect();
        for item in &items {
            if item.is_empty() {
                return Err(format!(
                    "'{spec}' has an empty value; write values separated by commas, e.g. 0.1,0.2,0.5"
                ));
            }
            if let Some(c) = item
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "._+-".contains(*c)))
            {
                return Err(format!(
                    "value '{item}' in '{spec}' contains '{c}'; values are numbers or words (rule names), \
                     e.g. 0.1,0.2,0.5 or lin:0.1:1:10 or gradient,best_response"
                ));
            }
        }
        items
    };
    // the same value twice would make two identical points
    let key = |s: &str| {
        s.parse::<f64>()
            .map(|v| format!("{v:e}"))
            .unwrap_or_else(|_| s.to_string())
    };
    let mut seen = BTreeMap::new();
    for v in &values {
        if let Some(first) = seen.insert(key(v), v.clone()) {
            return Err(format!(
                "'{spec}' gives the value {v} twice ({first} and {v}); every value of a parameter must differ"
            ));
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(parse_spec("0.1, 0.2,0.5").unwrap(), ["0.1", "0.2", "0.5"]);
        assert_eq!(parse_spec("lin:0:1:11").unwrap()[3], "0.3");
        assert_eq!(
            parse_spec("lin:1000:5000:5").unwrap(),
            ["1000", "2000", "3000", "4000", "5000"]
        );
        let l = parse_spec("log:0.01:100:5").unwrap();
        assert_eq!(l, ["0.01", "0.1", "1", "10", "100"]);
        assert_eq!(
            parse_spec("gradient,best_response").unwrap(),
            ["gradient", "best_response"]
        );
        for bad in [
            "",
            "0.1,,0.2",
            "lin:0:1",
            "lin:0:1:1",
            "log:0:1:3",
            "lin:a:1:3",
            "0.1,0.10",
            "x y",
            "lin:0:1:2.5",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad} must be rejected");
        }
    }
}
