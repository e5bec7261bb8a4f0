//! Starting prices for Newton's method on the dual potential ([`super::dual`]), from one
//! forward and one backward pass over the supply graph.

use crate::economy::Economy;

/// The starting prices: the forward pass (each good's supply split equally between its
/// users) gives every good a supply S_g and every firm its output; then, users before
/// producers, the value of a firm's output is paid out to its inputs in proportion to
/// their output elasticities `x_i dF/dx_i / F` (the equilibrium's cost shares for
/// Cobb-Douglas, where this is the quantity-weighted mean of the users' marginal values),
/// floored at a tenth of their mean, and a good is priced at the value paid for it over
/// its supply. The equal split leaves firms with unbalanced inputs, so these prices can be
/// far off (a factor e^-1.3 at the median, e^-12 at worst, on the 1e5-firm Cobb-Douglas
/// economy; worse with CES complements): the damped log-price Newton steps repair that.
pub(super) fn start_prices(eco: &Economy, con_good: &[u32]) -> Vec<f64> {
    let goods = &eco.goods;
    let firms = &eco.firms;
    let mut avail: Vec<f64> = goods.endowment.clone();
    let mut x = vec![0.0; firms.edges()];
    let mut y = vec![0.0; firms.len()];
    for &f in &firms.topo_order {
        let f = f as usize;
        for e in firms.inputs(f) {
            let h = firms.input_good[e] as usize;
            x[e] = if goods.fixed[h] {
                1.0
            } else {
                (avail[h] / goods.uses(h).len() as f64).max(1e-300)
            };
        }
        // (a good's supply is complete when its first user runs: producers come first)
        y[f] = eco.output(f, &x[firms.inputs(f)]);
        for k in firms.outputs(f) {
            let g = firms.output_good[k] as usize;
            avail[g] += firms.output_weight[k] * y[f].max(0.0);
        }
    }
    let mut price: Vec<f64> = (0..goods.len())
        .map(|g| if goods.fixed[g] { goods.price[g] } else { f64::NAN })
        .collect();
    let mut paid = vec![0.0; goods.len()];
    let set = |price: &mut Vec<f64>, paid: &[f64], g: usize| {
        if price[g].is_nan() {
            let p = paid[g] / avail[g];
            price[g] = if p > 0.0 && p.is_finite() { p } else { 0.0 };
        }
    };
    let mut grad = Vec::new();
    let mut shares = Vec::new();
    for &f in firms.topo_order.iter().rev() {
        let f = f as usize;
        let mut value = 0.0;
        for k in firms.outputs(f) {
            let g = firms.output_good[k] as usize;
            set(&mut price, &paid, g);
            value += firms.output_weight[k] * price[g] * y[f];
        }
        let ins = firms.inputs(f);
        grad.clear();
        grad.resize(ins.len(), 0.0);
        let fv = eco
            .technology(f)
            .gradient(&x[ins.clone()], &firms.input_param[ins.clone()], &mut grad);
        let fixed_cost: f64 = ins
            .clone()
            .filter(|&e| goods.fixed[firms.input_good[e] as usize])
            .map(|e| x[e] * goods.price[firms.input_good[e] as usize])
            .sum();
        let value = (value - fixed_cost).max(0.0);
        let total: f64 = ins
            .clone()
            .enumerate()
            .filter(|&(_, e)| !goods.fixed[firms.input_good[e] as usize])
            .map(|(i, e)| (x[e] * grad[i]).max(0.0))
            .sum();
        // output elasticities x dF/dx / F (normalised to sum 1 when F <= 0 or not
        // finite), each at least a tenth of their mean: with complements (CES rho < 0) an
        // unbalanced forward allocation gives the abundant inputs almost no share, and
        // their prices (and everything upstream) would start orders of magnitude too low
        shares.clear();
        for (i, e) in ins.clone().enumerate() {
            let h = firms.input_good[e] as usize;
            let share = if goods.fixed[h] {
                0.0
            } else if fv > 0.0 && fv.is_finite() {
                (x[e] * grad[i] / fv).max(0.0)
            } else if total > 0.0 {
                (x[e] * grad[i]).max(0.0) / total
            } else {
                0.0
            };
            shares.push(if share.is_finite() { share } else { 0.0 });
        }
        let endog = ins
            .clone()
            .filter(|&e| !goods.fixed[firms.input_good[e] as usize])
            .count();
        let sum: f64 = shares.iter().sum();
        if endog > 0 && sum > 0.0 {
            let floor = 0.1 * sum / endog as f64;
            let floored: f64 = ins
                .clone()
                .zip(&shares)
                .filter(|(e, _)| !goods.fixed[firms.input_good[*e] as usize])
                .map(|(_, s)| s.max(floor))
                .sum();
            for (e, s) in ins.zip(&shares) {
                let h = firms.input_good[e] as usize;
                if !goods.fixed[h] {
                    paid[h] += s.max(floor) * sum / floored * value;
                }
            }
        }
    }
    con_good
        .iter()
        .map(|&g| {
            let g = g as usize;
            set(&mut price, &paid, g);
            if price[g] > 0.0 && price[g].is_finite() {
                price[g]
            } else {
                1.0
            }
        })
        .collect()
}
