//! `pricegrad gradient FILE`: the planner's quantities and the backprop adjoints
//! ([`crate::check::gradient`] computes them), as a table or as JSON.

use super::{load, GradientArgs, EXIT_FAIL, EXIT_PASS};
use crate::check::gradient::gradient;

pub fn run(args: &GradientArgs) -> u8 {
    let economy = match load(&args.scenario) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let g = match gradient(&economy) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAIL;
        }
    };
    if args.json {
        let rows: Vec<serde_json::Value> = g
            .goods
            .iter()
            .map(|r| {
                serde_json::json!({
                    "good": r.good,
                    "fixed_price": r.fixed_price,
                    "quantity": r.supplied,
                    "supplied": r.supplied,
                    "used": r.used,
                    "adjoint": r.adjoint,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "scenario": g.scenario,
            "method": g.method,
            "value": g.value,
            "goods": rows,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON of finite numbers")
        );
    } else {
        println!("{}: the gradient of final value", g.scenario);
        println!("method: {}", g.how);
        println!(
            "{:<16} {:>10} {:>18} {:>18} {:>18}",
            "good", "kind", "supplied", "used", "adjoint (price)"
        );
        for r in &g.goods {
            println!(
                "{:<16} {:>10} {:>18.10} {:>18.10} {:>18.10}",
                r.good,
                if r.fixed_price { "fixed" } else { "market" },
                r.supplied,
                r.used,
                r.adjoint
            );
        }
        println!(
            "supplied = endowment + output; used = bought by firms (a fixed-price good is bought from \
             or sold to the outside at its price)"
        );
        println!("value V = {:.10}", g.value);
    }
    EXIT_PASS
}
