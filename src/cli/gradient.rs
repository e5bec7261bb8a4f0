//! `pricegrad gradient FILE`: the planner's quantities and the backprop adjoints.
//!
//! The planner's allocation comes from the forward pass when every endogenous good has at
//! most one user and no firm buys a fixed-price good (chains and trees: the allocation is
//! forced); otherwise the planner has to choose (how to split a good, how much of a
//! fixed-price input to buy), and the allocation is the reference solver's optimum. Backprop
//! then runs at that allocation. The output says which method was used.

use super::{load, GradientArgs, EXIT_FAIL, EXIT_PASS};
use crate::check::backprop;
use crate::check::reference;
use crate::economy::Economy;

/// The planner's allocation and how it was found.
struct Plan {
    /// "forward" or "reference".
    method: &'static str,
    /// One line for people.
    how: String,
    x: Vec<f64>,
    supply: Vec<f64>,
    value: f64,
}

fn plan(economy: &Economy, prices: &[f64]) -> Result<Plan, String> {
    let why = match backprop::forward(economy, prices) {
        Ok(f) => return Ok(Plan {
            method: "forward",
            how: "forward pass (every good has at most one user, so the planner's allocation is forced), then backprop"
                .into(),
            x: f.x,
            supply: f.supply,
            value: f.value,
        }),
        Err(e) => e,
    };
    let eq = reference::solve(economy)
        .map_err(|e| format!("the forward pass does not apply ({why}), and the reference solver failed: {e}"))?;
    let goods = &economy.goods;
    let firms = &economy.firms;
    let mut supply = goods.endowment.clone();
    for f in 0..firms.len() {
        for k in firms.outputs(f) {
            supply[firms.output_good[k] as usize] += firms.output_weight[k] * eq.y[f];
        }
    }
    Ok(Plan {
        method: "reference",
        how: format!("the planner's optimum from the reference solver, then backprop at it (no forward pass: {why})"),
        x: eq.x,
        supply,
        value: eq.value,
    })
}

pub fn run(args: &GradientArgs) -> u8 {
    let economy = match load(&args.scenario) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let prices = economy.goods.price.clone();
    let plan = match plan(&economy, &prices) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAIL;
        }
    };
    let adj = backprop::backprop(&economy, &prices, &plan.x);
    let goods = &economy.goods;
    // what the planner's firms use of each good (a fixed-price input is bought at its price)
    let mut used = vec![0.0; goods.len()];
    for (e, &g) in economy.firms.input_good.iter().enumerate() {
        used[g as usize] += plan.x[e];
    }
    if args.json {
        let rows: Vec<serde_json::Value> = (0..goods.len())
            .map(|g| {
                serde_json::json!({
                    "good": goods.name[g],
                    "fixed_price": goods.fixed[g],
                    "quantity": plan.supply[g],
                    "supplied": plan.supply[g],
                    "used": used[g],
                    "adjoint": adj.good[g],
                })
            })
            .collect();
        let doc = serde_json::json!({
            "scenario": economy.name,
            "method": plan.method,
            "value": plan.value,
            "goods": rows,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON of finite numbers")
        );
    } else {
        println!("{}: the gradient of final value", economy.name);
        println!("method: {}", plan.how);
        println!(
            "{:<16} {:>10} {:>18} {:>18} {:>18}",
            "good", "kind", "supplied", "used", "adjoint (price)"
        );
        for g in 0..goods.len() {
            println!(
                "{:<16} {:>10} {:>18.10} {:>18.10} {:>18.10}",
                &goods.name[g],
                if goods.fixed[g] { "fixed" } else { "market" },
                plan.supply[g],
                used[g],
                adj.good[g]
            );
        }
        println!(
            "supplied = endowment + output; used = bought by firms (a fixed-price good is bought from \
             or sold to the outside at its price)"
        );
        println!("value V = {:.10}", plan.value);
    }
    EXIT_PASS
}
