//! `pricegrad compile "EXPR" --at x=4`: write a scenario whose market computes a gradient.
use clap::Args;
use std::path::PathBuf;

use super::{EXIT_BAD_INPUT, EXIT_FAIL, EXIT_PASS};
use crate::compile::{compile, CompileError, Options};

const AFTER_HELP: &str = "\
Each operation of the expression becomes a firm whose production is that operation over its
operand goods; each input becomes an endowment good (endowment = its value at the point); the
result is the fixed-price good f (price 1); an input used more than once goes through a copier
(joint production, one output per use). `pricegrad run` on the file then finds, by trading
alone, the price of each input = the derivative of the expression with respect to it.

Linear operations (sums, v + 1, 2*v) join the operation that uses them (ln(1 + x) is one
firm). Only concave, non-decreasing operations can be firms; one that is not joins its only
user when the joint firm is (1/v is decreasing, 1 - 1/(v + 1) is not). Intermediate values
must be positive at the point. Anything else is rejected, naming the operation and why
(exit code 2).

Examples:
  pricegrad compile \"ln(1 - 1/(sqrt(x) + 1))\" --at x=4 --out essay.toml
  pricegrad run essay.toml                      # price of x = 1/24 = 0.041666...
  pricegrad compile \"sqrt(x) + sqrt(x + y)\" --at x=4 --at y=5 --out fanout.toml
  pricegrad compile \"x^0.3 * y^0.6\" --at x=2 --at y=3 > cd.toml
  pricegrad compile \"x*y\" --at x=1 --at y=2     # rejected: a product of two goods is not concave

Exit codes: 0 written, 1 could not write the file, 2 bad input (expression, point, name).";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CompileArgs {
    /// The expression, over named inputs: numbers, + - * / ^, sqrt ln log exp pow min max.
    #[arg(value_name = "EXPR", allow_hyphen_values = true)]
    pub expr: String,
    /// The point: a value for each input, e.g. --at x=4 --at y=2 (repeatable; values > 0).
    #[arg(long = "at", value_name = "NAME=VALUE", value_parser = parse_at)]
    pub at: Vec<(String, f64)>,
    /// Write the scenario to FILE (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Scenario name (the output folder of `pricegrad run`).
    #[arg(long, default_value = "compiled")]
    pub name: String,
}

fn parse_at(s: &str) -> Result<(String, f64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, e.g. x=4; got {s:?}"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("expected NAME=VALUE, e.g. x=4; the name is missing in {s:?}"));
    }
    let v: f64 = value.trim().parse().map_err(|_| {
        format!(
            "the value of {name} is not a number: {:?} (e.g. {name}=4)",
            value.trim()
        )
    })?;
    Ok((name.to_string(), v))
}

pub fn run(args: &CompileArgs) -> u8 {
    let options = Options {
        name: args.name.clone(),
    };
    let compiled = match compile(&args.expr, &args.at, &options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", render(&args.expr, &e));
            return EXIT_BAD_INPUT;
        }
    };
    match &args.out {
        None => {
            print!("{}", compiled.toml);
            EXIT_PASS
        }
        Some(path) => {
            if let Err(e) = crate::output::atomic::write_atomic(path, compiled.toml.as_bytes()) {
                eprintln!("error: cannot write {}: {e}", path.display());
                eprintln!(
                    "  = help: {} (nothing was written; an existing file is unchanged)",
                    crate::output::atomic::io_help(&e).replace("--out DIR", "--out FILE")
                );
                return EXIT_FAIL;
            }
            println!(
                "wrote {}: {} operation firm{}, {} copier{}; f = {} at the point",
                path.display(),
                compiled.operations,
                if compiled.operations == 1 { "" } else { "s" },
                compiled.copiers,
                if compiled.copiers == 1 { "" } else { "s" },
                compiled.value
            );
            for (v, d) in &compiled.gradient {
                println!("  expected price of {v} = df/d{v} = {d}");
            }
            println!("run it: pricegrad run {}", path.display());
            EXIT_PASS
        }
    }
}

/// The error as the terminal shows it: what is wrong, for a parse error the expression's line
/// with the problem marked, and how to fix it (`src` is the expression that was compiled):
///
/// ```text
/// error: in the expression: expected an operator between 'x' and 'y'
///  --> column 3
///   |
///   | x y
///   |   ^
///   = help: to multiply, write 'x * y'; the other operators are + - / ^
/// ```
fn render(src: &str, e: &CompileError) -> String {
    let mut out = format!("error: {e}");
    if let CompileError::Expression(err) = e {
        let x = err.excerpt(src);
        let line: String = x
            .line
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        out.push_str(&format!(
            "\n --> {}\n  |\n  | {line}\n  | {}{}",
            x.position,
            " ".repeat(x.before),
            "^".repeat(x.width)
        ));
    }
    out.push_str(&format!("\n  = help: {}", e.help()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rendered(src: &str, at: &[(&str, f64)]) -> String {
        let at: Vec<(String, f64)> = at.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        render(src, &compile(src, &at, &Options::default()).unwrap_err())
    }

    #[test]
    fn a_parse_error_points_at_the_problem() {
        assert_eq!(
            rendered("sqrt(x", &[("x", 1.0)]),
            "error: in the expression: expected ')' to close the call 'sqrt(' at column 1, found end of \
             expression\n --> column 7\n  |\n  | sqrt(x\n  |       ^\n  = help: add ')' at the end"
        );
        let r = rendered("sqrt(x) * y z", &[]);
        assert!(
            r.starts_with("error: in the expression: expected an operator between 'y' and 'z'"),
            "{r}"
        );
        assert!(r.contains("  | sqrt(x) * y z\n  |             ^\n"), "{r}");
        assert!(r.contains("help: to multiply"), "{r}");
        // several lines: the line of the problem, tabs shown as spaces
        let r = rendered("x +\n\ty z", &[]);
        assert!(r.contains(" --> line 2, column 4\n  |\n  |  y z\n  |    ^\n"), "{r}");
        // a character of several bytes is one caret
        let r = rendered("x + caf\u{e9}", &[]);
        assert!(r.contains("  | x + caf\u{e9}\n  |        ^\n"), "{r}");
    }

    #[test]
    fn other_errors_are_a_message_and_a_fix() {
        assert_eq!(
            rendered("sqrt(x)", &[]),
            "error: no value for x (give every input a value)\n  = help: add --at x=VALUE"
        );
    }

    proptest! {
        #[test]
        fn any_parse_error_renders(src in "\\PC{0,40}") {
            if let Err(e) = crate::production::Expr::parse(&src) {
                let r = render(&src, &CompileError::Expression(e));
                prop_assert!(r.starts_with("error: in the expression: ") && r.contains("\n  = help: "), "{}", r);
            }
        }
    }
}
