//! Using pricegrad as a library: load a scenario, run the market, and compare its prices with
//! the gradient.
//!
//! cargo run --release --example quickstart [-- scenarios/two_finals.toml]
//!
//! The same steps `pricegrad run` takes, without writing files: [`scenario::load`] validates the
//! file into an economy, [`run::execute`] simulates it tick by tick and checks the final prices
//! against backprop, the reference equilibrium and finite differences, and the report holds one
//! check per good (the numbers `summary.json` shows).

use pricegrad::run::{self, Discard};
use pricegrad::scenario;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

fn main() {
    let file = PathBuf::from(std::env::args().nth(1).unwrap_or("scenarios/tupperware.toml".into()));
    let (economy, _, _) = match scenario::load(Some(&file), &[], None) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprint!("{e}");
            std::process::exit(2);
        }
    };
    // `Discard` keeps nothing of the trajectory; `pricegrad run` passes a writer of its files.
    let report =
        run::execute(economy, &mut Discard, &mut |_progress| {}, &AtomicBool::new(false)).expect("Discard does no I/O");
    println!("{}: {} after {} ticks", report.scenario, report.outcome, report.ticks);
    println!("{:<14} {:>12} {:>12} {:>12}", "good", "price", "backprop", "reference");
    for check in report.goods.checks.iter().filter(|c| !c.fixed_price) {
        let reference = check.reference.map_or("-".to_string(), |r| format!("{r:.9}"));
        let name = report.goods.name(check.good);
        println!(
            "{name:<14} {:>12.9} {:>12.9} {reference:>12}",
            check.price, check.adjoint
        );
    }
    println!("prices equal the gradient: {}", if report.pass { "yes" } else { "no" });
}
