//! Re-spell a file written by `pricegrad generate` (the same economy, other TOML spelling), so
//! that loading can be measured per spelling (docs/PERFORMANCE.md, "Loading and memory"):
//!
//! ```sh
//! cargo run --release --example respell -- IN.toml OUT.toml SPELLING
//! ```
//!
//! SPELLING is one of
//! - `readme`: the README's style: a `[goods.NAME]` table per good with `key = value` lines,
//!   every float with 16 decimals, a blank line before every `[[firms]]` entry;
//! - `tables`: `[goods.NAME]` tables only;
//! - `long-floats`: every float with 16 decimals (the same f64: the same decimal value);
//! - `blank-lines`: a blank line before every `[[firms]]` entry;
//! - `comments`: a comment line before every `[[firms]]` entry and a comment after every key.
//!
//! It knows only generate's own layout (one `[goods]` table of inline tables, then the firms).

use std::io::{BufRead, BufWriter, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output, spelling] = &args[..] else {
        eprintln!("usage: respell IN.toml OUT.toml readme|tables|long-floats|blank-lines|comments");
        std::process::exit(2);
    };
    let (tables, long, blank, comments) = match spelling.as_str() {
        "readme" => (true, true, true, false),
        "tables" => (true, false, false, false),
        "long-floats" => (false, true, false, false),
        "blank-lines" => (false, false, true, false),
        "comments" => (false, false, false, true),
        other => {
            eprintln!("unknown spelling '{other}'");
            std::process::exit(2);
        }
    };
    let reader = std::io::BufReader::new(std::fs::File::open(input).expect("open input"));
    let mut out = BufWriter::new(std::fs::File::create(output).expect("create output"));
    let mut in_goods = false;
    for line in reader.lines() {
        let line = line.expect("read");
        let line = if long { long_floats(&line) } else { line };
        if line.starts_with('[') {
            in_goods = line == "[goods]";
            if line == "[[firms]]" {
                if blank {
                    writeln!(out).unwrap();
                }
                if comments {
                    writeln!(out, "# a firm").unwrap();
                }
            }
            if in_goods && tables {
                continue;
            }
            writeln!(out, "{line}").unwrap();
            continue;
        }
        if in_goods && tables && !line.is_empty() && !line.starts_with('#') {
            // NAME = { k = v, k2 = v2 } -> [goods.NAME] then one line per key
            let (name, rest) = line.split_once(" = ").expect("a good line");
            writeln!(out, "[goods.{name}]").unwrap();
            let inner = rest.trim().trim_start_matches('{').trim_end_matches('}').trim();
            for kv in inner.split(", ").filter(|kv| !kv.is_empty()) {
                writeln!(out, "{}", kv.trim()).unwrap();
            }
            continue;
        }
        if comments && line.contains(" = ") && !line.starts_with('#') {
            writeln!(out, "{line}  # a comment").unwrap();
        } else {
            writeln!(out, "{line}").unwrap();
        }
    }
    out.flush().unwrap();
}

/// Every decimal float of `line` outside strings written with 16 decimals.
fn long_floats(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len() + 64);
    let (mut i, mut in_string) = (0, false);
    while i < b.len() {
        let c = b[i];
        if c == b'"' {
            in_string = !in_string;
        }
        let starts_number = !in_string
            && (c.is_ascii_digit() || c == b'-')
            && (i == 0 || matches!(b[i - 1], b' ' | b'=' | b'{' | b','));
        if starts_number {
            let end = (i..b.len())
                .find(|&j| !(b[j].is_ascii_digit() || matches!(b[j], b'.' | b'-' | b'e' | b'E' | b'+')))
                .unwrap_or(b.len());
            let text = &line[i..end];
            match text.parse::<f64>() {
                Ok(v) if text.contains('.') => out.push_str(&format!("{v:.16}")),
                _ => out.push_str(text),
            }
            i = end;
            continue;
        }
        out.push(c as char);
        i += 1;
    }
    out
}
