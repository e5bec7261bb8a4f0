//! Every shipped scenario (every file in `scenarios/`), with its own settings, either passes
//! with all three checks run (prices equal the backprop adjoints, the reference solver's
//! prices and the finite-difference dV/ds within 1e-6, with no misallocation), or says in
//! its comments, on a line `# check: FAIL: WHY`, that it fails on purpose and why, and does
//! fail. The README's table of shipped scenarios is made from the files and compared here, so
//! it cannot drift from `scenarios/`.

use crate::common::shipped;
use pricegrad::run::{self, Discard};
use pricegrad::scenario;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The reason a scenario gives for failing its check on purpose (`# check: FAIL: WHY`).
fn declared_failure(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("# check: FAIL: "))
        .map(|why| why.trim().to_string())
}

#[test]
fn shipped_scenarios_pass_their_checks_or_say_why_not_and_the_readme_lists_them() {
    let mut table = vec![
        "| scenario | what it shows | `pricegrad check` |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut measured = Vec::new();
    for name in shipped() {
        let path = format!("scenarios/{name}.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let (economy, _, _) = scenario::load(Some(Path::new(&path)), &[], None).unwrap_or_else(|e| panic!("{e}"));
        let description = economy.description.clone();
        assert!(!description.is_empty(), "{name}: give it a description");
        let r = run::execute(economy, &mut Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap();
        let verdict = match declared_failure(&text) {
            Some(why) => {
                assert!(
                    !r.pass,
                    "{name} says it fails on purpose ({why}) but passes: drop the line"
                );
                format!("FAIL on purpose: {why}")
            }
            None => {
                assert!(r.converged_at.is_some(), "{name}: {}", r.outcome_detail);
                for c in &r.checks {
                    assert!(c.ran, "{name}: the {} check did not run: {:?}", c.check, c.reason);
                    assert!(
                        c.pass,
                        "{name}: the {} check failed: {:?} at {:?}",
                        c.check, c.max_error, c.worst_good
                    );
                    assert!(
                        c.max_error.unwrap() <= 1e-6,
                        "{name}: {} error {:?}",
                        c.check,
                        c.max_error
                    );
                }
                assert!(r.max_spread <= 1e-6, "{name}: per-use spread {:e}", r.max_spread);
                assert!(r.pass, "{name}");
                measured.push(format!(
                    "| {name} | {} | {:.1e} | {:.1e} | {:.1e} | {:.1e} |",
                    r.ticks,
                    r.max_error_adjoint,
                    r.max_error_reference.unwrap(),
                    r.max_error_envelope.unwrap(),
                    r.max_spread
                ));
                "PASS (adjoint, reference, dV/ds)".to_string()
            }
        };
        table.push(format!(
            "| [`{name}`](scenarios/{name}.toml) | {description} | {verdict} |"
        ));
    }
    println!(
        "| scenario | ticks | vs adjoint | vs reference | vs dV/ds | spread |\n|---|---|---|---|---|---|\n{}",
        measured.join("\n")
    );
    let table = table.join("\n");
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(
        readme.contains(&table),
        "README.md's table of shipped scenarios differs from scenarios/; put this table in it:\n{table}"
    );
}
