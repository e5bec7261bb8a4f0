//! Inputs found by the fuzz targets in `fuzz/` (see docs/FUZZING.md), fed to the same entry
//! points, with the same checks the targets make. CI runs these; it does not run the fuzzer.

use pricegrad::scenario::{self, InputError, Location};

const LABEL: &str = "fuzz.toml";

/// The scenario target's checks on an error: it renders, every problem has a message and a
/// fix, and a position lies inside the file and is printed as file:line:col.
fn check_error(e: &InputError, text: &str) -> String {
    let rendered = e.to_string();
    assert!(rendered.starts_with("error: "), "{rendered}");
    for p in &e.problems {
        assert!(!p.message.trim().is_empty(), "empty message: {p:?}");
        assert!(!p.help.trim().is_empty(), "no fix hint: {p:?}");
        if let Location::Span(r) = &p.location {
            assert!(
                r.start <= r.end && r.end <= text.len(),
                "span {r:?} outside the file: {p:?}"
            );
            let (line, col) = e.line_col(r.start);
            assert!(rendered.contains(&format!("{LABEL}:{line}:{col}")), "{rendered}");
        }
    }
    rendered
}

fn load_err(text: &str) -> (InputError, String) {
    let e = scenario::load_str(LABEL, text, &[], None).expect_err("the input is invalid");
    let rendered = check_error(&e, text);
    (e, rendered)
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
