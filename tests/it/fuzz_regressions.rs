//! Inputs found by the fuzz targets in `fuzz/` (see docs/FUZZING.md), fed to the same entry
//! points, with the same checks the targets make. CI runs these; it does not run the fuzzer.

use pricegrad::scenario::{self, InputError, Location};

const LABEL: &str = "fuzz.toml";

/// The scenario target's checks on an error: it renders, every problem has a message and a
/// fix, and a position lies inside the file and is printed as file:line:col (for the 20
/// problems printed).
fn check_error(e: &InputError, text: &str) -> String {
    let rendered = e.to_string();
    assert!(rendered.starts_with("error: "), "{rendered}");
    for (i, p) in e.problems.iter().enumerate() {
        assert!(!p.message.trim().is_empty(), "empty message: {p:?}");
        assert!(!p.help.trim().is_empty(), "no fix hint: {p:?}");
        if let Location::Span(r) = &p.location {
            assert!(
                r.start <= r.end && r.end <= text.len(),
                "span {r:?} outside the file: {p:?}"
            );
            // the first 20 problems are printed
            if i < 20 {
                let (line, col) = e.line_col(r.start);
                assert!(rendered.contains(&format!("{LABEL}:{line}:{col}")), "{rendered}");
            }
        }
    }
    rendered
}

fn load_err(text: &str) -> (InputError, String) {
    let e = scenario::load_str(LABEL, text, &[], None).expect_err("the input is invalid");
    let rendered = check_error(&e, text);
    (e, rendered)
}

/// The text the first problem of `e` points at, after checking that its message starts with
/// `message` (an unknown name in a production expression).
fn first_unknown_name<'a>(e: &InputError, text: &'a str, message: &str, rendered: &str) -> &'a str {
    let p = &e.problems[0];
    assert!(p.message.starts_with(message), "{rendered}");
    let Location::Span(r) = &p.location else {
        panic!("{rendered}")
    };
    &text[r.clone()]
}

/// A small valid scenario whose production is `production` (inputs a and b, output y).
fn with_production(production: &str) -> String {
    format!(
        "name = \"t\"\n[goods.a]\nendowment = 1.0\n[goods.b]\nendowment = 1.0\n[goods.y]\nprice = 1.0\n\n\
         [[firms]]\nname = \"F\"\noutput = \"y\"\nproduction = {production}\n"
    )
}

/// scenario target, first minute: a control character in a comment made toml report a syntax
/// error with an empty message, so the user saw "error: " and nothing else.
#[test]
fn control_character_in_a_comment_is_named() {
    let text = "# a\u{1}b\nname = \"x\"\n";
    let (e, rendered) = load_err(text);
    assert_eq!(e.problems[0].location, Location::Span(3..4), "{rendered}");
    assert!(rendered.contains("control character U+0001"), "{rendered}");
    assert!(rendered.contains("fuzz.toml:1:4"), "{rendered}");
    assert!(rendered.contains("help: remove it"), "{rendered}");
}

/// The parsed expression differs from the file's text when the string has escapes or starts
/// on a new line. The `scenario` fuzz target checks that an unknown name is still pointed at
/// (main maps positions through escapes, `StringMap`); these are the cases it started from.
#[test]
fn unknown_name_in_an_escaped_or_multiline_expression_is_pointed_at() {
    for production in [
        "\"sqrt(a) + zz\"",
        "\"\\u0073qrt(a) + zz\"",
        "\"\"\"\nsqrt(a) + zz\"\"\"",
        "\"\"\"\r\nsqrt(a) + zz\"\"\"",
        "'''\nsqrt(a) + zz'''",
        "\"sqrt(a)\\t+ zz\"",
    ] {
        let text = with_production(production);
        let (e, rendered) = load_err(&text);
        let shown = first_unknown_name(&e, &text, "'zz' in the production of firm 'F'", &rendered);
        assert_eq!(shown, "zz", "{production}: {rendered}");
    }
}

/// chunked target, first seconds on the merged code: the unknown name is itself written with
/// an escape (`\u0073q` is `sq`). The error points at the name as written, escape included;
/// the harness expected the unescaped name or the whole string and was fixed to unescape
/// what the span shows. Both loaders must point there.
#[test]
fn an_unknown_name_written_with_an_escape_is_pointed_at_as_written() {
    let text = "name = \"t\"\n[goods.a]\nendowment = 1.0\n[goods.b]\nprice = 1.0\n[[firms]]\nname = \"A\"\n\
                output = \"b\"\nproduction = \"\\u0073q + zz\"\n";
    for e in [
        scenario::load_whole(LABEL, text, &[], None).expect_err("invalid"),
        scenario::chunked::load(LABEL, text, &[], None, 16)
            .expect("no fallback")
            .expect_err("invalid"),
    ] {
        let rendered = check_error(&e, text);
        let shown = first_unknown_name(&e, text, "'sq' in the production of firm 'A'", &rendered);
        assert_eq!(shown, "\\u0073q", "{rendered}");
        assert!(rendered.contains("fuzz.toml:9:15"), "{rendered}");
    }
}

/// A scenario with `n` endowed goods g0.. and one firm whose production is `production(names)`.
fn wide(n: usize, production: impl Fn(&[String]) -> String) -> String {
    let names: Vec<String> = (0..n).map(|i| format!("g{i}")).collect();
    let mut text = String::from("name = \"wide\"\n[goods.y]\nprice = 1.0\n");
    for g in &names {
        text.push_str(&format!("[goods.{g}]\nendowment = 1.0\n"));
    }
    text.push_str(&format!(
        "[[firms]]\nname = \"F\"\noutput = \"y\"\nproduction = \"{}\"\n",
        production(&names)
    ));
    text
}

fn sqrt_of_sum(names: &[String]) -> String {
    format!("sqrt({})", names.join(" + "))
}

/// Found while measuring the scenario target's slow inputs: the shape check of one expression
/// over n inputs cost about n^4 (eigenvalue sweeps at 7n points), so a 4.5 kB file with a
/// 128-input expression validated for two minutes. Now an expression has at most 64 inputs
/// and concavity is tested by one Cholesky factorisation per point.
#[test]
fn wide_expressions_validate_quickly_or_are_refused() {
    let t0 = std::time::Instant::now();
    let text = wide(64, sqrt_of_sum);
    let economy = scenario::load_str(LABEL, &text, &[], None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(economy.firms.len(), 1);
    // still not concave when one of 64 inputs enters convexly
    let text = wide(64, |n| format!("sqrt({}) + {}^2", n[..63].join(" + "), n[63]));
    let (_, rendered) = load_err(&text);
    assert!(rendered.contains("is not concave"), "{rendered}");
    let elapsed = t0.elapsed();
    // generous for unoptimised builds on a busy machine; was about 10 s per file
    assert!(elapsed.as_secs_f64() < 5.0, "took {elapsed:?}");

    for n in [65, 128, 1000] {
        let text = wide(n, sqrt_of_sum);
        let t0 = std::time::Instant::now();
        let (e, rendered) = load_err(&text);
        assert!(t0.elapsed().as_secs_f64() < 2.0, "{n} inputs took {:?}", t0.elapsed());
        assert_eq!(e.problems.len(), 1, "{rendered}");
        assert!(
            rendered.contains(&format!("uses {n} input goods, more than the 64")),
            "{rendered}"
        );
        assert!(
            rendered.contains("help: write a technology with many inputs as a family"),
            "{rendered}"
        );
        // it points at the 65th input
        let Location::Span(r) = &e.problems[0].location else {
            panic!("{rendered}")
        };
        assert_eq!(&text[r.clone()], "g64", "{rendered}");
    }
}

/// Found while timing large invalid files through the scenario target: a "did you mean" for
/// every unknown name compares it with every good, quadratic (5,000 names among 5,000 goods:
/// 14 s). Main had meanwhile limited suggestions to the printed problems; this keeps it so.
#[test]
fn many_unknown_names_among_many_goods_fail_quickly() {
    let n = 5000;
    let mut text = String::from("name = \"t\"\n[goods.y]\nprice = 1.0\n");
    for i in 0..n {
        text.push_str(&format!("[goods.good{i}]\nendowment = 1.0\n"));
    }
    text.push_str("[[firms]]\nname = \"F\"\noutput = \"y\"\nproduction = \"sqrt(good0)\"\n[log]\ngoods = [");
    text.push_str(&(0..n).map(|i| format!("\"godo{i}\"")).collect::<Vec<_>>().join(", "));
    text.push_str("]\n");
    let t0 = std::time::Instant::now();
    let (e, rendered) = load_err(&text);
    let elapsed = t0.elapsed();
    assert_eq!(e.problems.len(), n);
    assert!(rendered.contains("unknown good 'godo0' in log.goods"), "{rendered}");
    assert!(rendered.contains("did you mean 'good0'?"), "{rendered}");
    assert!(
        rendered.contains(&format!("... and {} more problems", n - 20)),
        "{rendered}"
    );
    // generous for unoptimised builds on a busy machine
    assert!(elapsed.as_secs_f64() < 5.0, "took {elapsed:?}");
}

/// A scenario of `n` goods and one Cobb-Douglas firm over all of them with `count` replicas.
fn counted(n: usize, count: u64) -> String {
    let names: Vec<String> = (0..n).map(|i| format!("g{i}")).collect();
    let mut text = String::from("name = \"t\"\n[goods.y]\nprice = 1.0\n");
    for g in &names {
        text.push_str(&format!("[goods.{g}]\nendowment = 1.0\n"));
    }
    let exponents: Vec<String> = names.iter().map(|g| format!("{g} = 0.001")).collect();
    text.push_str(&format!(
        "[[firms]]\nname = \"F\"\noutput = \"y\"\ncount = {count}\nproduction = {{ cobb_douglas = {{ exponents = {{ {} }} }} }}\n",
        exponents.join(", ")
    ));
    text
}

/// Found while choosing what the fuzz harness may skip (it lowers large `count`s to keep
/// under libFuzzer's memory limit): a 2.7 kB file with `count = 50000000` and 64 inputs made
/// `pricegrad validate` abort on a failed 25.6 GB allocation. Main had meanwhile refused counts
/// beyond the machine's memory; beyond 2^32 - 1 edges (numbered with 32 bits) the count is now
/// refused on any machine, before the memory is consulted.
#[test]
fn counts_times_inputs_beyond_the_edge_numbering_are_refused() {
    let text = counted(100, 50_000_000);
    let (e, rendered) = load_err(&text);
    assert_eq!(e.problems.len(), 1, "{rendered}");
    assert!(rendered.contains("at most 4294967295 input edges"), "{rendered}");
    assert!(rendered.contains("here 5000000000 and 50000000"), "{rendered}");
    assert!(rendered.contains("lower the `count` of the largest"), "{rendered}");
    // it points at the count
    let Location::Span(r) = &e.problems[0].location else {
        panic!("{rendered}")
    };
    assert_eq!(&text[r.clone()], "50000000", "{rendered}");
    // and the ordinary sizes still load
    let economy = scenario::load_str(LABEL, &counted(100, 10), &[], None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(economy.firms.len(), 10);
    assert_eq!(economy.firms.input_good.len(), 1000);
}
