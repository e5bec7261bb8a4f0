//! The compiled scenario as TOML text: a header saying what it computes, the input goods
//! (endowment = the value at the point), the intermediate goods and the result, the copier
//! and operation firms, and the run settings.

use super::graph::Graph;
use super::plan::Plan;
use super::point::Point;
use super::text::{number, one_line};

/// `run.max_ticks` of a compiled scenario: deep expressions need more than the default.
const MAX_TICKS: u64 = 100_000;

/// The scenario named `name` that computes the gradient of `src` at `point`, with the firms
/// and goods of `plan` over the operations of `g`.
pub(super) fn scenario_text(src: &str, name: &str, point: &Point, g: &Graph, plan: &Plan) -> String {
    let Point { vars, x, value, grad } = point;
    let value = *value;
    let Plan {
        result,
        good,
        firms,
        copiers,
        used_by,
        out_adj,
        use_adj,
    } = plan;
    let root = g.root;
    let src_line = one_line(src);
    let point_text = vars
        .iter()
        .zip(x)
        .map(|(v, a)| format!("{v} = {}", number(*a)))
        .collect::<Vec<_>>()
        .join(", ");
    let at_args = vars
        .iter()
        .zip(x)
        .map(|(v, a)| format!("--at {v}={}", number(*a)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut t = String::new();
    {
        use std::fmt::Write as _;
        let w = &mut t;
        let _ = writeln!(
            w,
            "# Written by: pricegrad compile {} {at_args}",
            toml_string(&src_line)
        );
        let _ = writeln!(w, "#");
        let _ = writeln!(w, "# A market that computes the gradient of");
        let _ = writeln!(w, "#   {result} = {src_line}");
        let _ = writeln!(w, "# at {point_text}, where {result} = {}.", number(value));
        for line in [
            "# Each operation is a firm (a linear one joins the operation that uses it); each input is an",
            "# endowment good; the result is a fixed-price good (price 1); an input used more than once",
            "# goes through a copier (joint production, one output per use), whose input price is the",
            "# sum of its outputs' prices. At equilibrium each input's price is the derivative of the",
            "# result; by automatic",
        ] {
            let _ = writeln!(w, "{line}");
        }
        let _ = writeln!(w, "# differentiation of the expression:");
        for (v, d) in vars.iter().zip(grad) {
            let _ = writeln!(w, "#   price of {v} = d{result}/d{v} = {}", number(*d));
        }
        let _ = writeln!(w, "# Check it with: pricegrad run FILE");
        let _ = writeln!(w);
        let _ = writeln!(w, "name = {}", toml_string(name));
        let _ = writeln!(
            w,
            "description = {}",
            toml_string(&format!(
                "The market computes the gradient of {src_line} at {point_text}"
            ))
        );
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "# inputs: endowment = the value at the point; price = the derivative"
        );
        for (v, a) in vars.iter().zip(x) {
            let _ = writeln!(w, "[goods.{v}]");
            let _ = writeln!(w, "endowment = {}", toml_float(*a));
        }
        let intermediate = firms.iter().any(|f| f.node != root);
        if intermediate || !copiers.is_empty() {
            let _ = writeln!(w);
            let _ = writeln!(
                w,
                "# intermediate values: quantity at the point; price = derivative of {result}"
            );
        }
        for (f, firm) in firms.iter().enumerate() {
            if firm.node != root {
                let _ = writeln!(
                    w,
                    "[goods.{}]  # {} = {}, price {}",
                    firm.output,
                    g.text(firm.node),
                    number(firm.value),
                    number(out_adj[f])
                );
            }
        }
        for (v, outs) in copiers {
            for (o, &u) in outs.iter().zip(&used_by[v]) {
                let _ = writeln!(
                    w,
                    "[goods.{o}]  # a copy of {}, price {}",
                    good[v],
                    number(use_adj[&(*v, u)])
                );
            }
        }
        let _ = writeln!(w);
        let _ = writeln!(w, "# the result");
        let _ = writeln!(w, "[goods.{result}]");
        let _ = writeln!(w, "price = 1.0");
        for (v, outs) in copiers {
            let _ = writeln!(w);
            let _ = writeln!(
                w,
                "# {} is used {} times: one unit in gives one unit of each copy",
                good[v],
                outs.len()
            );
            let _ = writeln!(w, "[[firms]]");
            let _ = writeln!(w, "name = {}", toml_string(&format!("copy_{}", good[v])));
            let outputs = outs.iter().map(|o| format!("{o} = 1.0")).collect::<Vec<_>>().join(", ");
            let _ = writeln!(w, "outputs = {{ {outputs} }}");
            let _ = writeln!(
                w,
                "production = {{ linear = {{ coefficients = {{ {} = 1.0 }} }} }}",
                good[v]
            );
        }
        for firm in firms {
            let _ = writeln!(w);
            let _ = writeln!(w, "# {} = {}", firm.output, g.text(firm.node));
            let _ = writeln!(w, "[[firms]]");
            let _ = writeln!(w, "name = {}", toml_string(&format!("op_{}", firm.output)));
            let _ = writeln!(w, "output = {}", toml_string(&firm.output));
            let _ = writeln!(w, "production = {}", toml_string(&firm.production));
        }
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "# Copiers and linear operations (sums, constant multiples) have constant returns; the"
        );
        let _ = writeln!(
            w,
            "# default gradient rule stabilises such firms by extrapolation (docs/MODEL.md)."
        );
        let _ = writeln!(w, "[run]");
        let _ = writeln!(w, "max_ticks = {MAX_TICKS}");
    }
    t
}

/// A number as a TOML float (always with a '.' or an exponent).
fn toml_float(c: f64) -> String {
    format!("{c:?}")
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(toml_string("sqrt(x)"), "\"sqrt(x)\"");
        assert_eq!(toml_string("a\"b\\c\td"), "\"a\\\"b\\\\c\\u0009d\"");
        assert_eq!(toml_float(2.0), "2.0");
        assert_eq!(toml_float(1e-7), "1e-7");
    }
}
