//! The chunked loader (large files) gives exactly what the whole-document parse gives: the
//! same economy, or the same errors at the same places, for any chunk size.

use crate::common::generated_text;
use pricegrad::economy::Economy;
use pricegrad::generate::Family;
use pricegrad::scenario::{self, chunked, InputError};

fn render(r: &Result<Economy, InputError>) -> String {
    match r {
        Ok(e) => format!("{e:?}"),
        Err(e) => format!("error:\n{e}"),
    }
}

const CHUNKS: [usize; 4] = [1, 200, 4096, 1 << 20];

/// Both paths agree for every chunk size; returns whether the chunked path decided (rather
/// than falling back to the whole-document parse) for the smallest chunks.
fn same(text: &str, sets: &[&str]) -> bool {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let whole = render(&scenario::load_whole("t.toml", text, &sets, None));
    let mut decided = false;
    for (i, chunk) in CHUNKS.into_iter().enumerate() {
        let r = chunked::load("t.toml", text, &sets, None, chunk);
        if i == 0 {
            decided = r.is_some();
        }
        if let Some(r) = r {
            let got = render(&r);
            if got != whole {
                let at = got.bytes().zip(whole.bytes()).position(|(a, b)| a != b).unwrap_or(0);
                panic!(
                    "chunk size {chunk}: chunked and whole-document loads differ at byte {at}:\n--- chunked:\n{}\n--- whole:\n{}",
                    &got[at.saturating_sub(300)..(at + 300).min(got.len())],
                    &whole[at.saturating_sub(300)..(at + 300).min(whole.len())]
                );
            }
        }
    }
    decided
}

fn assert_chunked(text: &str, sets: &[&str]) {
    assert!(
        same(text, sets),
        "the chunked loader fell back to the whole-document parse, which gives:\n{}",
        render(&scenario::load_whole(
            "t.toml",
            text,
            &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            None
        ))
    );
}

#[test]
fn generated_economies_are_identical() {
    for family in [Family::CobbDouglas, Family::Ces, Family::Expression] {
        assert_chunked(&generated_text(3, 12, 3, 1, family), &[]);
    }
    assert_chunked(&generated_text(3, 12, 1, 1, Family::Power), &[]);
}

#[test]
fn shipped_scenarios_are_identical() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        same(&text, &[]);
        same(&text, &["market.step=0.2", "run.seed=7"]);
    }
}

#[test]
fn hand_written_forms_are_identical() {
    // sub-tables, comments, CRLF, joint outputs, per-firm settings, counts
    let text = "name = \"hand\" # comment\n\n[goods]\n# raw\na = { endowment = 2 }\nb = {}\nc = { price = 1.5e0 }\r\nd = { price = 3, initial_price = 2 }\n\n\
        [[firms]]\nname = \"F\"  \nproduction = \"sqrt(a)\" # inline comment\noutput = \"b\"\ncount = 3\nproductivity_spread = 0.1\n\n\
        [[firms]]\r\nname = \"G\"\r\nproduction = { cobb_douglas = { scale = 1.0, exponents = { b = 0.25 } } }\r\nrule = \"optimistic\"\r\n[firms.outputs]\r\nc = 1\r\nd = 0.5\r\n\
        [market]\nstep = 0.25\n\n[[firms]]\nname = \"H\"\noutput = \"d\"\nproduction = { leontief = { requirements = { b = 2.0 } } }\nrate = 0.1\nnoise = 0.01\nactivation = 0.9\nform = \"additive\"\n\
        [[shocks]]\ntick = 10\ngood = \"c\"\nprice = 2.0\n\n[log]\ngoods = [\n  \"a\", # first\n  \"b\",\n]\n";
    assert_chunked(text, &[]);
    assert_chunked(text, &["firms.G.rate=0.2", "goods.a.endowment=3", "agents.rate=0.3"]);
    // a production written as a sub-table (which the format rejects) gives the same error
    let sub = text.replace(
        "production = { cobb_douglas = { scale = 1.0, exponents = { b = 0.25 } } }\r\n",
        "[firms.production.cobb_douglas]\r\nscale = 1.0\r\nexponents = { b = 0.25 }\r\n",
    );
    same(&sub, &[]);
}

#[test]
fn errors_in_firm_chunks_are_identical() {
    let text = generated_text(2, 10, 2, 1, Family::CobbDouglas);
    let edits: [(&str, &str); 6] = [
        // unknown good in a production, and as an output
        ("exponents = { g0_3 =", "exponents = { g0_x3 ="),
        ("output = \"g2_4\"", "output = \"g2_44\""),
        // duplicate firm name across chunks
        ("name = \"f2_7\"", "name = \"f1_2\""),
        // a bad number, an unknown rule
        ("name = \"f1_5\"", "name = \"f1_5\"\nrate = -1"),
        ("name = \"f2_1\"", "name = \"f2_1\"\nrule = \"gradiant\""),
        // a good with no source
        ("g0_2 = { endowment", "g0_2 = { price = 1, endowment"),
    ];
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        let bad = text.replacen(from, to, 1);
        let r = scenario::load_whole("t.toml", &bad, &[], None);
        assert!(r.is_err(), "{to}: expected an error");
        assert_chunked(&bad, &[]);
    }
    // several at once: errors come in file order
    let mut bad = text.clone();
    for (from, to) in edits.iter().take(5) {
        bad = bad.replacen(from, to, 1);
    }
    assert_chunked(&bad, &[]);
}

#[test]
fn many_problems_and_the_firm_cap_are_identical() {
    let text = generated_text(2, 30, 2, 1, Family::CobbDouglas);
    // more misspelled goods than problems shown: the first ones get a suggestion
    let mut bad = text.clone();
    for i in 0..30 {
        bad = bad.replacen(&format!("output = \"g2_{i}\""), &format!("output = \"g2x_{i}\""), 1);
        bad = bad.replacen(
            &format!("name = \"f1_{i}\""),
            &format!("name = \"f1_{i}\"\nrule = \"gradiant\""),
            1,
        );
    }
    assert_chunked(&bad, &[]);
    // a count beyond the cap, and no fixed price at all
    assert_chunked(
        &text.replacen("name = \"f1_4\"", "name = \"f1_4\"\ncount = 99999999999", 1),
        &[],
    );
    let mut unpriced = text.clone();
    while let Some(i) = unpriced.find("{ price = ") {
        let j = i + unpriced[i..].find('}').unwrap();
        unpriced.replace_range(i..=j, "{ endowment = 1.0 }");
    }
    assert_chunked(&unpriced, &[]);
}

#[test]
fn syntax_and_type_errors_are_identical() {
    let text = generated_text(2, 10, 2, 1, Family::CobbDouglas);
    for (from, to) in [
        ("name = \"f1_3\"", "name = \"f1_3"),
        ("name = \"f1_3\"", "name = \"f1_3\"\nrate = \"fast\""),
        ("name = \"f1_3\"", "name = \"f1_3\"\nrat = 0.5"),
        ("name = \"f1_3\"", "name = \"f1_3\"\nname = \"again\""),
        ("name = \"f2_9\"", "name = 5"),
        ("g0_1 = {", "g0_1 = { endowment = 1 }\ng0_1 = {"),
        ("[log]", "[log]\nevery = 2.5"),
        ("[log]", "[firms]\n[log]"),
        ("[[firms]]", "firms = 3\n[[firms]]"),
    ] {
        let bad = text.replacen(from, to, 1);
        same(&bad, &[]);
    }
}

/// A type error in a chunk of firms (the chunk is TOML, of the wrong shape) is reported by
/// the chunked loader itself, without the whole-document tree, and is the whole-document
/// parse's error: the first in file order, and a syntax error anywhere still comes first.
#[test]
fn type_errors_in_firm_chunks_are_decided_in_chunks() {
    let text = generated_text(2, 10, 2, 1, Family::CobbDouglas);
    let type_errors = [
        ("name = \"f1_3\"", "name = \"f1_3\"\nrate = \"fast\""),
        ("name = \"f1_3\"", "name = \"f1_3\"\nrat = 0.5"),
        ("name = \"f2_9\"", "name = 5"),
        ("scale = ", "scale = \"2\", x = "),
    ];
    for (from, to) in type_errors {
        assert!(text.contains(from), "{from}");
        let bad = text.replacen(from, to, 1);
        assert!(scenario::load_whole("t.toml", &bad, &[], None).is_err(), "{to}");
        assert_chunked(&bad, &[]);
    }
    // two type errors: the first in the file is reported
    let two = text.replacen("name = \"f2_9\"", "name = 5", 1).replacen(
        "name = \"f1_3\"",
        "name = \"f1_3\"\nrate = \"fast\"",
        1,
    );
    assert_chunked(&two, &[]);
    // a type error, then a syntax error further on: the syntax error, as the whole parse says
    let then_syntax = text
        .replacen("name = \"f1_3\"", "name = \"f1_3\"\nrate = \"fast\"", 1)
        .replacen("name = \"f2_9\"", "name = \"f2_9", 1);
    same(&then_syntax, &[]);
    assert!(render(&scenario::load_whole("t.toml", &then_syntax, &[], None)).contains("f2_9"));
}

#[test]
fn set_arguments_are_identical() {
    let text = generated_text(2, 10, 2, 1, Family::CobbDouglas);
    for sets in [
        &["firms.f1_3.rate=0.1", "firms.f2_0.production.scale=1.5"][..],
        &["firms.f1_3.production.exponents.g0_999=0.1"],
        &["firms.nobody.rate=0.1"],
        &["firms.f1_3.rate=abc"],
        &["goods.g0_1.endowment=2", "goods.g0_2.price=3"],
        &["goods.g0_1.endowmnt=2"],
        &["goods.nothing.price=1", "firms.nobody.rate=1"],
        &["firms.nobody.rate=1", "goods.nothing.price=1"],
        &["market.step=abc", "firms.nobody.rate=1"],
        &["agents.rate=-1"],
    ] {
        assert_chunked(&text, sets);
    }
}

/// Single firms and replicas (`count = N`) are named as before (`B#r` for replica r), their
/// groups share settings where they are equal, and both loaders give the same names.
#[test]
fn single_and_replicated_firms_keep_their_names() {
    let text = "name = \"names\"\n[goods]\na = { endowment = 2 }\nb = {}\nc = { price = 1 }\n\
        [[firms]]\nname = \"A\"\noutput = \"b\"\nproduction = \"sqrt(a)\"\n\
        [[firms]]\nname = \"B\"\noutput = \"c\"\nproduction = \"sqrt(b)\"\ncount = 3\nproductivity_spread = 0.1\n\
        [[firms]]\nname = \"C-\u{e9}\"\noutput = \"c\"\nproduction = \"sqrt(b)\"\nrate = 0.25\n\
        [[firms]]\nname = \"D\"\noutput = \"c\"\nproduction = \"sqrt(a)\"\n";
    let whole = scenario::load_whole("t.toml", text, &[], None).unwrap();
    let names: Vec<String> = (0..whole.firms.len()).map(|f| whole.firm_name(f)).collect();
    assert_eq!(names, ["A", "B#1", "B#2", "B#3", "C-\u{e9}", "D"]);
    let groups: Vec<&str> = (0..whole.groups.len()).map(|g| whole.group_name(g)).collect();
    assert_eq!(groups, ["A", "B", "C-\u{e9}", "D"]);
    assert_eq!(whole.groups[1].firms(), 1..4);
    // two distinct agent settings (C's rate), two distinct expressions
    assert_eq!(whole.agents.len(), 2);
    assert_eq!(whole.group_agent(2).rate, 0.25);
    assert_eq!(whole.group_agent(0), whole.group_agent(3));
    assert_eq!(whole.technologies.len(), 2);
    for chunk in CHUNKS {
        let chunked = chunked::load("t.toml", text, &[], None, chunk)
            .expect("decided")
            .unwrap();
        let got: Vec<String> = (0..chunked.firms.len()).map(|f| chunked.firm_name(f)).collect();
        assert_eq!(got, names, "chunk size {chunk}");
        assert_eq!(format!("{chunked:?}"), format!("{whole:?}"), "chunk size {chunk}");
    }
}

/// A file large enough to be mapped, its pages given back as it is parsed, loads as the
/// whole-document parse of its text: the same economy, or the same errors at the same
/// file:line:col (read back from the released pages), early and late in the file.
#[test]
fn mapped_files_give_the_same_economy_and_errors() {
    let text = generated_text(4, 2500, 3, 1, Family::CobbDouglas);
    assert!(text.len() >= chunked::CHUNKED_FROM, "{} bytes", text.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    let label = path.display().to_string();
    let load = |t: &str| {
        std::fs::write(&path, t).unwrap();
        let mapped = scenario::load(Some(&path), &[], None).map(|(e, _, _)| e);
        (render(&mapped), render(&scenario::load_whole(&label, t, &[], None)))
    };
    let (mapped, whole) = load(&text);
    assert!(!mapped.starts_with("error"), "{mapped}");
    assert_eq!(mapped, whole);
    for (from, to) in [
        ("exponents = { g0_3 =", "exponents = { g0_x3 ="),
        ("name = \"f4_2400\"", "name = \"f1_2\""),
        ("output = \"g4_2499\"", "output = \"g4_x\""),
    ] {
        assert!(text.contains(from), "{from}");
        let (mapped, whole) = load(&text.replacen(from, to, 1));
        assert!(mapped.starts_with("error"), "{to}");
        assert_eq!(mapped, whole, "{to}");
    }
}

/// A generated file in the README's spelling: one `[goods.NAME]` table per good (names
/// quoted where `quote` says), a `key = value` line per field and a blank line between goods.
fn readme_style(text: &str, quote: impl Fn(usize) -> bool) -> String {
    let mut out = String::new();
    let (mut in_goods, mut k) = (false, 0);
    for line in text.lines() {
        if line.starts_with('[') {
            in_goods = line == "[goods]";
            if in_goods {
                continue;
            }
        } else if in_goods && line.contains(" = {") {
            let (name, rest) = line.split_once(" = ").unwrap();
            let name = if quote(k) {
                format!("\"{name}\"")
            } else {
                name.to_string()
            };
            k += 1;
            out += &format!("\n[goods.{name}]\n");
            let inner = rest.trim().trim_start_matches('{').trim_end_matches('}');
            for kv in inner.split(',').map(str::trim).filter(|kv| !kv.is_empty()) {
                out += &format!("{kv}\n");
            }
            continue;
        }
        out += line;
        out.push('\n');
    }
    out
}

#[test]
fn readme_style_economies_are_identical() {
    for family in [Family::CobbDouglas, Family::Ces, Family::Expression] {
        let text = readme_style(&generated_text(3, 12, 3, 1, family), |k| k % 7 == 3);
        assert!(text.contains("[goods.g0_0]") && text.contains("[goods.\"g0_3\"]"));
        assert!(!text.contains("[goods]"));
        assert_chunked(&text, &[]);
        assert_chunked(&text, &["goods.g0_1.endowment=2", "goods.g0_3.endowment=3"]);
        assert_chunked(&text, &["goods.nothing.price=1"]);
    }
    let text = readme_style(&generated_text(3, 12, 3, 1, Family::CobbDouglas), |_| false);
    // goods tables between and after the firms, comments, CRLF, a [market] table between
    let moved = text.replacen(
        "\n[goods.g1_2]\n",
        "\n[market]\nstep = 0.25\n# goods again\n[goods.g1_2] # c\n",
        1,
    );
    let moved = moved.replacen("\n[goods.g0_5]\nendowment", "\n[goods.g0_5]\r\nendowment", 1);
    let (head, tail) = moved.split_at(moved.find("[goods.g3_0]").unwrap());
    let firms_at = tail.find("[[firms]]").unwrap();
    let moved = format!("{head}{}{}", &tail[firms_at..], &tail[..firms_at]);
    assert!(moved.rfind("[goods.g3_11]") > moved.rfind("[[firms]]"));
    assert_chunked(&moved, &[]);
    // quoted names that are not good names: the same problems at the same places
    assert_chunked(&text.replacen("[goods.g2_4]", "[goods.\"g2 4\"]", 1), &[]);
    assert_chunked(&text.replacen("[goods.g2_4]", "[goods.'g2_4']", 1), &[]);
}

/// Where a `[goods.NAME]` split might not be what a TOML parser sees, the loader gives what
/// the whole-document parse gives (it falls back, or leaves the goods in the rest).
#[test]
fn goods_tables_the_split_refuses_are_identical() {
    let text = readme_style(&generated_text(2, 10, 2, 1, Family::CobbDouglas), |_| false);
    // a [goods] table beside [goods.NAME] tables, with another good (valid TOML)
    let extra = text.replacen("[goods.g0_2]", "[goods]\nextra = { price = 2.0 }\n[goods.g0_2]", 1);
    assert!(scenario::load_whole("t.toml", &extra, &[], None).is_ok());
    same(&extra, &[]);
    for (from, to) in [
        // a [goods] table beside [goods.NAME] tables, with the same good
        ("[goods.g0_2]", "[goods]\ng0_2 = { price = 2.0 }\n[goods.g0_2]"),
        ("[goods.g0_2]", "[goods.g0_2]\n[goods]\ng0_3 = { price = 2.0 }"),
        // dotted and array headers under goods, dotted keys in a good
        ("[goods.g0_2]", "[goods.g0_2.x]\nprice = 1\n[goods.g0_2]"),
        ("[goods.g0_2]", "[[goods.g0_2]]"),
        ("[goods.g0_2]\n", "[goods.g0_2]\nprice.x = 1\n"),
        // the same good twice, near and far
        ("[goods.g0_3]", "[goods.g0_2]"),
        ("[goods.g2_3]", "[goods.g0_2]"),
    ] {
        assert!(text.contains(from), "{from}");
        let bad = text.replacen(from, to, 1);
        same(&bad, &[]);
        assert!(scenario::load_whole("t.toml", &bad, &[], None).is_err(), "{to}");
    }
}

/// Errors inside a `[goods.NAME]` table, of syntax, of type and of value, are reported at the
/// same place (file, line, column) with the same words by both loaders.
#[test]
fn errors_in_goods_tables_are_identical() {
    let text = readme_style(&generated_text(2, 10, 2, 1, Family::CobbDouglas), |k| k == 4);
    let g04 = "[goods.\"g0_4\"]\n";
    let g15 = "[goods.g1_5]\n";
    assert!(text.contains(g04) && text.contains(g15));
    let at = |g: &str, line: &str| text.replacen(g, &format!("{g}{line}\n"), 1);
    // decided by the chunked loader itself: values the validation rejects
    for bad in [
        at(g04, "initial_price = -1.0"),
        at(g15, "price = 0"),
        at(g04, "price = 1.0"),
        text.replacen(g15, "[goods.sqrt]\n", 1),
    ] {
        assert!(scenario::load_whole("t.toml", &bad, &[], None).is_err());
        assert_chunked(&bad, &[]);
    }
    // syntax and type errors
    for bad in [
        at(g04, "prise = 1.0"),
        at(g15, "price = \"1\""),
        at(g15, "price = 1.0 2"),
        at(g04, "endowment = 3.0"),
        at(g15, "price = {}"),
        text.replacen(g15, "[goods.g1_5\n", 1),
    ] {
        let whole = render(&scenario::load_whole("t.toml", &bad, &[], None));
        assert!(whole.contains("t.toml:"), "{whole}");
        same(&bad, &[]);
    }
}
