//! Reverse-mode differentiation over the supply chain ("backprop", DESIGN.md section 2).
//!
//! Given an allocation (every firm's input plan), the adjoint of a good is the marginal
//! value of one more unit of it, in units of the fixed prices:
//!
//! - a fixed-price good's adjoint is its price: `a_g = p_g`;
//! - walking firms from the final goods back to the raw ones, a firm's adjoint revenue is
//!   `P^_f = sum_g w_fg a_g` over its outputs, and each of its inputs h gets a per-use adjoint
//!   `u_fh = P^_f * dF_f/dx_fh` (the chain rule, one link per firm);
//! - an endogenous good's adjoint is the quantity-weighted mean of its per-use adjoints,
//!   `a_h = sum_f x_fh u_fh / sum_f x_fh`: a good bought by several firms is *split* between
//!   them, so the adjoints of its uses are averaged, not summed. When the allocation is
//!   efficient every use has the same marginal value (the spread `max_f |u_fh - a_h|` is 0).
//!
//! A *copy* (one value read twice, as in a program) is a joint-production firm
//! (`outputs = { x1 = 1, x2 = 1 }`, F = input); its `P^_f` sums the adjoints of both copies,
//! which is exactly reverse-mode AD's fan-out rule.
//!
//! For chains and trees (every endogenous good has at most one user), [`forward`] computes
//! the planner's allocation directly from the endowments, and backprop there gives dV/ds.

use crate::economy::Economy;

/// Adjoints at one allocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adjoints {
    /// a_g per good.
    pub good: Vec<f64>,
    /// P^_f per firm (adjoint revenue per unit of F, before productivity).
    pub revenue: Vec<f64>,
    /// u_e per input edge.
    pub per_use: Vec<f64>,
    /// max over uses |u_e - a_g| per good (0 for goods with fewer than two uses).
    pub spread: Vec<f64>,
    /// The adjoint as an interval per good, [low, high]: where a non-smooth firm (Leontief)
    /// sits at a kink, every subgradient is a valid derivative, and the interval holds the
    /// adjoints of all of them (low = good = high where everything downstream is smooth).
    pub low: Vec<f64>,
    pub high: Vec<f64>,
    per_use_low: Vec<f64>,
    per_use_high: Vec<f64>,
}

impl Adjoints {
    /// The point of good g's adjoint interval nearest to `price` (the adjoint itself where
    /// the interval is a point).
    pub fn nearest(&self, g: usize, price: f64) -> f64 {
        if self.low[g] < self.high[g] {
            price.clamp(self.low[g], self.high[g])
        } else {
            self.good[g]
        }
    }

    /// Whether good g's adjoint is an interval (a kink of a non-smooth firm downstream).
    pub fn is_interval(&self, g: usize) -> bool {
        self.low[g] < self.high[g]
    }
}

/// Run backprop at the allocation `x` (one quantity per input edge). Fixed-price goods take
/// their adjoint from `prices` (the current fixed prices, shocks included).
pub fn backprop(economy: &Economy, prices: &[f64], x: &[f64]) -> Adjoints {
    let mut out = Adjoints::default();
    backprop_into(economy, prices, x, &mut out);
    out
}

/// [`backprop`] into reused buffers (no allocation after the first call, except scratch).
pub fn backprop_into(economy: &Economy, prices: &[f64], x: &[f64], out: &mut Adjoints) {
    let goods = &economy.goods;
    let firms = &economy.firms;
    out.good.clear();
    out.good.resize(goods.len(), f64::NAN);
    out.revenue.clear();
    out.revenue.resize(firms.len(), 0.0);
    out.per_use.clear();
    out.per_use.resize(firms.edges(), 0.0);
    out.spread.clear();
    out.spread.resize(goods.len(), 0.0);
    for v in [&mut out.low, &mut out.high] {
        v.clear();
        v.resize(goods.len(), 0.0);
    }
    for v in [&mut out.per_use_low, &mut out.per_use_high] {
        v.clear();
        v.resize(firms.edges(), 0.0);
    }
    for g in 0..goods.len() {
        if goods.fixed[g] {
            out.good[g] = prices[g];
            out.low[g] = prices[g];
            out.high[g] = prices[g];
        }
    }
    let (mut grad, mut grad_low, mut grad_high) = (Vec::new(), Vec::new(), Vec::new());
    for &f in firms.topo_order.iter().rev() {
        let f = f as usize;
        // Every user of this firm's outputs comes later in topological order, so it has
        // already been processed: the outputs' adjoints can be completed now.
        let (mut revenue, mut revenue_low, mut revenue_high) = (0.0, 0.0, 0.0);
        for k in firms.outputs(f) {
            let g = firms.output_good[k] as usize;
            if out.good[g].is_nan() {
                settle_good(economy, g, x, out);
            }
            let w = firms.output_weight[k];
            revenue += w * out.good[g];
            revenue_low += w * out.low[g];
            revenue_high += w * out.high[g];
        }
        out.revenue[f] = revenue;
        let inputs = firms.inputs(f);
        let n = inputs.len();
        for v in [&mut grad, &mut grad_low, &mut grad_high] {
            v.clear();
            v.resize(n, 0.0);
        }
        let (technology, plan, params) = (
            economy.technology(f),
            &x[inputs.clone()],
            &firms.input_param[inputs.clone()],
        );
        technology.gradient(plan, params, &mut grad);
        if technology.is_smooth() {
            grad_low.copy_from_slice(&grad);
            grad_high.copy_from_slice(&grad);
        } else {
            technology.supergradient_range(plan, params, &mut grad_low, &mut grad_high);
        }
        let a = firms.productivity[f];
        for (i, e) in inputs.enumerate() {
            out.per_use[e] = revenue * a * grad[i];
            out.per_use_low[e] = revenue_low * a * grad_low[i];
            out.per_use_high[e] = revenue_high * a * grad_high[i];
        }
    }
    // Goods nobody produces (raw goods with endowments) are settled last.
    for g in 0..goods.len() {
        if out.good[g].is_nan() {
            settle_good(economy, g, x, out);
        }
    }
}

/// a_g = quantity-weighted mean of the per-use adjoints of good g, and their spread.
fn settle_good(economy: &Economy, g: usize, x: &[f64], out: &mut Adjoints) {
    let uses = economy.goods.uses(g);
    if uses.is_empty() {
        // Nobody wants it: with free disposal its value is 0.
        out.good[g] = 0.0;
        out.low[g] = 0.0;
        out.high[g] = 0.0;
        return;
    }
    let mean = |u: &[f64]| {
        let (mut num, mut den) = (0.0, 0.0);
        for &e in uses {
            let e = e as usize;
            num += x[e] * u[e];
            den += x[e];
        }
        if den > 0.0 {
            num / den
        } else {
            uses.iter().map(|&e| u[e as usize]).sum::<f64>() / uses.len() as f64
        }
    };
    let a = mean(&out.per_use);
    out.low[g] = mean(&out.per_use_low);
    out.high[g] = mean(&out.per_use_high);
    out.good[g] = a;
    out.spread[g] = uses
        .iter()
        .map(|&e| (out.per_use[e as usize] - a).abs())
        .fold(0.0, f64::max);
}

/// The planner's allocation of a chain or tree, computed forward from the endowments.
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    /// Quantity per input edge.
    pub x: Vec<f64>,
    /// Output of each firm (productivity times F).
    pub y: Vec<f64>,
    /// Total supply of each good (endowment plus production).
    pub supply: Vec<f64>,
    /// V: value of the fixed-price output.
    pub value: f64,
}

/// Why the forward pass does not apply.
#[derive(Debug, Clone, PartialEq)]
pub enum ForwardError {
    /// A good has several users: the split must be solved for (reference solver).
    Split { good: String },
    /// A firm buys a fixed-price input: its quantity must be chosen (reference solver).
    FixedPriceInput { firm: String, good: String },
}

impl std::fmt::Display for ForwardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForwardError::Split { good } => write!(
                f,
                "good '{good}' has several users, so the planner must choose how to split it"
            ),
            ForwardError::FixedPriceInput { firm, good } => write!(
                f,
                "firm '{firm}' buys the fixed-price good '{good}', so the planner must choose how much"
            ),
        }
    }
}

/// Forward pass: each endogenous good goes entirely to its one user (if any).
pub fn forward(economy: &Economy, prices: &[f64]) -> Result<Forward, ForwardError> {
    let goods = &economy.goods;
    let firms = &economy.firms;
    for g in goods.endogenous() {
        if goods.uses(g).len() > 1 {
            return Err(ForwardError::Split {
                good: goods.name[g].to_string(),
            });
        }
    }
    if let Some(e) = (0..firms.edges()).find(|&e| goods.fixed[firms.input_good[e] as usize]) {
        return Err(ForwardError::FixedPriceInput {
            firm: economy.firm_name(firms.edge_firm[e] as usize),
            good: goods.name[firms.input_good[e] as usize].to_string(),
        });
    }
    let mut supply = goods.endowment.clone();
    let mut x = vec![0.0; firms.edges()];
    let mut y = vec![0.0; firms.len()];
    for &f in &firms.topo_order {
        let f = f as usize;
        let inputs = firms.inputs(f);
        for e in inputs.clone() {
            // producers come first in topological order, so the supply is complete
            x[e] = supply[firms.input_good[e] as usize];
        }
        y[f] = economy.output(f, &x[inputs]);
        for k in firms.outputs(f) {
            supply[firms.output_good[k] as usize] += firms.output_weight[k] * y[f];
        }
    }
    let value = (0..goods.len())
        .filter(|&g| goods.fixed[g])
        .map(|g| prices[g] * supply[g])
        .sum();
    Ok(Forward { x, y, supply, value })
}
