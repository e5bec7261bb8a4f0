//! The gradient of final value, computed centrally (what `pricegrad gradient` prints and the
//! Python package's `gradient` returns): per good, what the planner's allocation supplies and
//! uses, and the backprop adjoint at that allocation.
//!
//! The planner's allocation comes from the forward pass when every endogenous good has at
//! most one user and no firm buys a fixed-price good (chains and trees: the allocation is
//! forced); otherwise the planner has to choose (how to split a good, how much of a
//! fixed-price input to buy), and the allocation is the reference solver's optimum. Backprop
//! then runs at that allocation. [`Gradient::method`] says which was used.

use super::{backprop, reference};
use crate::economy::Economy;

/// One good's row of the gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct GoodGradient {
    pub good: String,
    pub fixed_price: bool,
    /// Endowment plus the planner's output of the good.
    pub supplied: f64,
    /// What the planner's firms buy of the good (a fixed-price input at its price).
    pub used: f64,
    /// The backprop adjoint: the derivative of final value with respect to the good, the
    /// price the markets should find.
    pub adjoint: f64,
}

/// The gradient of an economy's final value at the planner's allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient {
    pub scenario: String,
    /// "forward" or "reference".
    pub method: &'static str,
    /// How the allocation was found, in one line for people.
    pub how: String,
    /// The planner's value V.
    pub value: f64,
    /// Every good, in the economy's order.
    pub goods: Vec<GoodGradient>,
}

/// The planner's allocation and how it was found.
struct Plan {
    method: &'static str,
    how: String,
    x: Vec<f64>,
    supply: Vec<f64>,
    value: f64,
}

fn plan(economy: &Economy, prices: &[f64]) -> Result<Plan, String> {
    let why = match backprop::forward(economy, prices) {
        Ok(f) => {
            return Ok(Plan {
                method: "forward",
                how: "forward pass (every good has at most one user, so the planner's allocation is forced), then \
                      backprop"
                    .into(),
                x: f.x,
                supply: f.supply,
                value: f.value,
            })
        }
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

/// The gradient of `economy`'s final value at its fixed prices, or why it cannot be
/// computed (the forward pass does not apply and the reference solver failed).
pub fn gradient(economy: &Economy) -> Result<Gradient, String> {
    let prices = economy.goods.price.clone();
    let plan = plan(economy, &prices)?;
    let adj = backprop::backprop(economy, &prices, &plan.x);
    let goods = &economy.goods;
    let mut used = vec![0.0; goods.len()];
    for (e, &g) in economy.firms.input_good.iter().enumerate() {
        used[g as usize] += plan.x[e];
    }
    Ok(Gradient {
        scenario: economy.name.clone(),
        method: plan.method,
        how: plan.how,
        value: plan.value,
        goods: (0..goods.len())
            .map(|g| GoodGradient {
                good: goods.name[g].to_string(),
                fixed_price: goods.fixed[g],
                supplied: plan.supply[g],
                used: used[g],
                adjoint: adj.good[g],
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The essay's chain by hand: natgas 4 -> ethylene sqrt(4) = 2 -> polyethylene
    /// 1 - 1/3 = 2/3 -> tupperware ln(2/3) at price 1, so polyethylene 1/(2/3) = 3/2,
    /// ethylene 3/2 * 1/(2+1)^2 = 1/6, natgas 1/6 * 1/(2 sqrt 4) = 1/24.
    #[test]
    fn the_essays_chain() {
        let e = crate::scenario::load_str("t", crate::scenario::TUPPERWARE, &[], None).unwrap();
        let g = gradient(&e).unwrap();
        assert_eq!(g.method, "forward");
        let adj = |name: &str| g.goods.iter().find(|r| r.good == name).unwrap().adjoint;
        for (name, want) in [("natgas", 1.0 / 24.0), ("ethylene", 1.0 / 6.0), ("polyethylene", 1.5)] {
            assert!((adj(name) - want).abs() < 1e-12, "{name}: {} vs {want}", adj(name));
        }
        // natgas: the endowment, all of it bought by firm A
        let natgas = g.goods.iter().find(|r| r.good == "natgas").unwrap();
        assert_eq!((natgas.supplied, natgas.used), (4.0, 4.0));
    }
}
