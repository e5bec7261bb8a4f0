//! `firms.csv`: one row per firm group and good it buys or makes, at the end of a run
//! (docs/MODEL.md, "Outputs").

use super::num;
use crate::sim::firm_totals::{Flow, GroupTotals};
use serde::{Deserialize, Serialize};

/// One row of `firms.csv`: one good that one firm group (a `[[firms]]` entry of `count`
/// firms) buys (`role = input`) or makes (`role = output`) at the end of the run, summed
/// over the group's firms. The group's profit and productivity repeat on each of its rows,
/// so that any row can be read alone (e.g. `df.groupby("firm").first()` gives one per
/// group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirmRow {
    pub firm: String,
    pub count: u32,
    /// `input` or `output`.
    pub role: String,
    pub good: String,
    #[serde(serialize_with = "num")]
    pub quantity: f64,
    /// The good's final price.
    #[serde(serialize_with = "num")]
    pub price: f64,
    /// `price * quantity`.
    #[serde(serialize_with = "num")]
    pub value: f64,
    /// The group's revenue minus cost at the final prices.
    #[serde(serialize_with = "num")]
    pub profit: f64,
    /// The mean productivity (the multiplier on F) over the group's firms, and the smallest
    /// and largest (they differ when `productivity_spread` is set).
    #[serde(serialize_with = "num")]
    pub productivity: f64,
    #[serde(serialize_with = "num")]
    pub productivity_min: f64,
    #[serde(serialize_with = "num")]
    pub productivity_max: f64,
}

impl FirmRow {
    /// The row of flow `f` of group totals `t`, named `firm`, with the good named `good` at
    /// price `price`.
    pub fn new(t: &GroupTotals, f: &Flow, firm: &str, good: &str, price: f64) -> FirmRow {
        FirmRow {
            firm: firm.to_string(),
            count: t.count,
            role: f.role.name().to_string(),
            good: good.to_string(),
            quantity: f.quantity,
            price,
            value: price * f.quantity,
            profit: t.profit,
            productivity: t.productivity_mean,
            productivity_min: t.productivity_min,
            productivity_max: t.productivity_max,
        }
    }
}
