//! `pricegrad gradient FILE`: the planner's quantities and the backprop adjoints.

use super::{load, GradientArgs, EXIT_FAIL, EXIT_PASS};
use crate::backprop;

pub fn run(args: &GradientArgs) -> u8 {
    let economy = match load(&args.scenario) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let prices = economy.goods.price.clone();
    let fwd = match backprop::forward(&economy, &prices) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: the forward pass does not apply: {e}");
            return EXIT_FAIL;
        }
    };
    let adj = backprop::backprop(&economy, &prices, &fwd.x);
    let goods = &economy.goods;
    if args.json {
        let rows: Vec<serde_json::Value> = (0..goods.len())
            .map(|g| {
                serde_json::json!({
                    "good": goods.name[g],
                    "fixed_price": goods.fixed[g],
                    "quantity": fwd.supply[g],
                    "adjoint": adj.good[g],
                })
            })
            .collect();
        let doc = serde_json::json!({ "scenario": economy.name, "value": fwd.value, "goods": rows });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON of finite numbers")
        );
    } else {
        println!(
            "{}: the gradient of final value (planner's forward pass, then backprop)",
            economy.name
        );
        println!(
            "{:<16} {:>10} {:>18} {:>18}",
            "good", "kind", "quantity", "adjoint (price)"
        );
        for g in 0..goods.len() {
            println!(
                "{:<16} {:>10} {:>18.10} {:>18.10}",
                goods.name[g],
                if goods.fixed[g] { "fixed" } else { "market" },
                fwd.supply[g],
                adj.good[g]
            );
        }
        println!("value V = {:.10}", fwd.value);
    }
    EXIT_PASS
}
