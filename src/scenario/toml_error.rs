//! TOML errors as problems: the `toml` crate's message at its place in the file, with a
//! help line that says how to fix it (the closest allowed key for an unknown one, an example
//! for a missing one, the expected form for a value of the wrong type, ...).

use super::error::{self, Problem};

/// Turn a toml error into a located problem with a fix.
pub(crate) fn toml_problem(e: &toml::de::Error, text: &str) -> Problem {
    let msg = e.message().trim().to_string();
    let span = e.span().unwrap_or(0..0);
    let found = text.get(span.start..).and_then(|t| t.chars().next());
    if msg.is_empty() {
        // toml gives no message for some syntax errors, e.g. a control character in a comment
        return unexplained_toml_problem(span, found);
    }
    let help = if let Some(rest) = msg.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        format!(
            "{}unknown keys are errors so that a typo is never silently ignored; allowed here: {}",
            error::did_you_mean(field, expected.iter().copied()),
            expected.join(", ")
        )
    } else if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let field = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let what = if expected.contains(&"parquet") {
            "the formats are"
        } else {
            "production families are"
        };
        format!(
            "{}{what}: {}",
            error::did_you_mean(field, expected.iter().copied()),
            expected.join(", ")
        )
    } else if msg.starts_with("the production table names") {
        "write exactly one family, e.g. production = { cobb_douglas = { exponents = { labor = 0.3, capital = 0.6 } } }, \
         or an expression, e.g. production = \"sqrt(labor)\""
            .to_string()
    } else if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or("");
        let example = match field {
            "name" => "name = \"tupperware\" at the top of the file",
            "goods" => "[goods.natgas] with endowment = 4.0, and [goods.tupperware] with price = 1.0",
            "production" => "production = \"sqrt(natgas)\" in this [[firms]] entry",
            "tick" => "tick = 5000 in this [[shocks]] entry",
            _ => "see the scenario format in README.md",
        };
        format!("add `{field}`, e.g. {example}")
    } else if msg.starts_with("invalid type") && msg.ends_with("expected a borrowed string") {
        // a table written as a [header] where pricegrad keeps its place in the file (the toml
        // crate gives no place for header tables inside [[firms]])
        "write this table inline, on the line of its key, e.g. production = { cobb_douglas = { exponents = \
         { labor = 0.5 } } } or outputs = { a = 1.0, b = 1.0 }: inside [[firms]], pricegrad reads the \
         production and outputs tables in that form only, not as [firms.production...] headers"
            .to_string()
    } else if msg.starts_with("invalid type") {
        type_help(&msg).to_string()
    } else if msg.contains("number too large") || msg.contains("number too small") {
        "whole numbers are at most 9223372036854775807 in size; use a smaller value".to_string()
    } else if msg.contains("recursion limit") {
        "values are nested too deeply: arrays and inline tables in a scenario need only a few levels; remove the extra brackets".to_string()
    } else if ["`firms`", "`\"firms\"`", "`shocks`", "`\"shocks\"`"]
        .iter()
        .any(|k| msg.contains(&format!("duplicate key {k}")))
    {
        "firms and shocks are lists: write each entry as [[firms]] or [[shocks]], with double brackets".to_string()
    } else if msg.contains("duplicate key") {
        "each key, good and table may appear once; remove or rename the repeated one".to_string()
    } else if let Some(c) = found.filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        format!(
            "the file holds a control character (U+{:04X}) here; remove it (is this a text file?)",
            c as u32
        )
    } else if msg.starts_with("invalid floating-point number") {
        "write a decimal number such as 0.5, 2e-3 or 1e6; a number must fit in a double (at most about 1.8e308)"
            .to_string()
    } else if msg.starts_with("invalid table header") && msg.contains("expected `.`, `]`") {
        "close the table header with ']', e.g. [goods.natgas]".to_string()
    } else if msg.starts_with("invalid string") {
        "a value is missing or not quoted: text is written in quotes (rule = \"gradient\"), numbers without (rate = 0.5)"
            .to_string()
    } else if msg.starts_with("invalid basic string") || msg.starts_with("invalid literal string") {
        "close the string with its quote on the same line (use triple quotes \"\"\" for text over several lines)"
            .to_string()
    } else {
        "fix the TOML syntax at this place (see https://toml.io for the format)".to_string()
    };
    let msg = if msg.starts_with("invalid type") && msg.ends_with("expected a borrowed string") {
        "this table of a [[firms]] entry is written as a [header]; pricegrad reads it only inline".to_string()
    } else {
        msg
    };
    Problem::at(span, msg, help)
}

/// A problem for a toml syntax error that came without a message: say what is at the place.
fn unexplained_toml_problem(span: std::ops::Range<usize>, found: Option<char>) -> Problem {
    match found {
        Some(c) if c.is_control() && !matches!(c, '\n' | '\r' | '\t') => Problem::at(
            span,
            format!("control character U+{:04X} is not allowed in TOML text", u32::from(c)),
            "remove it (is this a text file?): TOML allows no control characters except tab, even in comments; \
             inside a string write it as an escape, e.g. \\u0001",
        ),
        Some(c) => Problem::at(
            span,
            format!("invalid TOML syntax at {c:?}"),
            "fix the TOML syntax at this place (see https://toml.io for the format)",
        ),
        None => Problem::at(
            span,
            "invalid TOML syntax at the end of the file",
            "the file ends in the middle of something; complete or remove the last line",
        ),
    }
}

/// How to fix a value of the wrong type, from serde's "expected ..." part of the message.
fn type_help(msg: &str) -> &'static str {
    let expected = msg.rsplit("expected ").next().unwrap_or("");
    if expected.starts_with("an expression string") {
        "write the production function as an expression in quotes, e.g. production = \"sqrt(natgas)\", or as a family table, e.g. production = { power = { exponent = 0.5, input = \"natgas\" } }"
    } else if expected.starts_with("i64") || expected.starts_with("u64") {
        "this key takes a whole number, written without a decimal point, exponent or quotes, e.g. max_ticks = 20000"
    } else if expected.starts_with("f64") {
        "this key takes a number, written without quotes, e.g. step = 0.5"
    } else if expected.contains("string") {
        "this key takes text in quotes, e.g. output = \"ethylene\""
    } else if expected.starts_with("struct GoodSpec") {
        "a good is a table: [goods.NAME] with its keys on the following lines, or NAME = { endowment = 1.0 } under [goods]"
    } else if expected.starts_with("a sequence") {
        "this key takes an array, e.g. goods = [\"natgas\"]; firms and shocks are written as [[firms]] and [[shocks]] tables"
    } else if expected.starts_with("struct") || expected.starts_with("a map") {
        "this key takes a table, e.g. [market] followed by step = 0.5 on the next line, or market = { step = 0.5 }"
    } else {
        "check the value's type: numbers are written without quotes (step = 0.5), names with quotes (output = \"ethylene\")"
    }
}
