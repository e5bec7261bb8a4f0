//! Every shipped scenario, with its default settings, converges to prices that equal the
//! reference solver's and the finite-difference dV/ds within 1e-6, with no misallocation.

use pricegrad::run::{self, Discard};
use pricegrad::scenario;
use std::path::Path;
use std::sync::atomic::AtomicBool;

#[test]
fn shipped_scenarios_converge_to_the_gradient() {
    let mut table = Vec::new();
    for name in [
        "tupperware",
        "tupperware_shock",
        "diamond",
        "two_finals",
        "competitive_industry",
        "copy_fanout",
        "ces_economy",
        "labour_wage",
        "constant_returns",
        "leontief",
    ] {
        let path = format!("scenarios/{name}.toml");
        let (economy, _, _) = scenario::load(Some(Path::new(&path)), &[], None).unwrap_or_else(|e| panic!("{e}"));
        let r = run::execute(economy, &mut Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap();
        assert!(r.converged_at.is_some(), "{name}: {}", r.outcome_detail);
        let reference = r
            .max_error_reference
            .unwrap_or_else(|| panic!("{name}: no reference: {:?}", r.reference_note));
        let envelope = r
            .max_error_envelope
            .unwrap_or_else(|| panic!("{name}: no finite differences"));
        assert!(
            reference <= 1e-6,
            "{name}: max relative error vs reference {reference:e}"
        );
        assert!(envelope <= 1e-6, "{name}: max relative error vs dV/ds {envelope:e}");
        assert!(
            r.max_error_adjoint <= 1e-6,
            "{name}: max relative error vs adjoint {:e}",
            r.max_error_adjoint
        );
        assert!(r.max_spread <= 1e-6, "{name}: per-use spread {:e}", r.max_spread);
        assert!(r.pass, "{name}");
        table.push(format!(
            "| {name} | {} | {:.1e} | {:.1e} | {:.1e} |",
            r.ticks, reference, envelope, r.max_spread
        ));
    }
    println!(
        "| scenario | ticks | vs reference | vs dV/ds | spread |\n|---|---|---|---|---|\n{}",
        table.join("\n")
    );
}
