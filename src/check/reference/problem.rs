//! The planner's programme (docs/MODEL.md, "The reference equilibrium") laid out for the dense
//! interior point: one variable per input edge (one activity level per Leontief firm), one
//! constraint per constrained good (endogenous, with users), and the evaluation of outputs,
//! V, the constraints and their derivatives at a point; also the conversion of a solved point
//! to an [`Equilibrium`] and back.

use super::{Equilibrium, ReferenceError, MAX_DENSE, MAX_FIRM_INPUTS, MAX_VARIABLES, NONE};
use crate::economy::Economy;
use crate::production::Technology;

/// The planner's programme laid out for the solver.
#[derive(Clone)]
pub(super) struct Problem<'a> {
    pub(super) eco: &'a Economy,
    pub(super) nf: usize,
    /// Variables of firm f: `var_start[f]..var_start[f+1]`.
    pub(super) var_start: Vec<usize>,
    pub(super) var_firm: Vec<usize>,
    /// Some(scale) for Leontief firms (one activity variable).
    leontief: Vec<Option<f64>>,
    /// Goods used by each variable, with units per unit of the variable.
    use_start: Vec<usize>,
    use_good: Vec<usize>,
    use_coef: Vec<f64>,
    /// Constrained goods (endogenous, with users): constraint k is good `con_good[k]`.
    pub(super) con_good: Vec<usize>,
    pub(super) con_of: Vec<usize>,
    /// s_k per constraint (the endowment, perturbed by `envelope`).
    pub(super) supply: Vec<f64>,
    /// Constraints touched by firm f: `loc_con[loc_start[f]..loc_start[f+1]]`.
    pub(super) loc_start: Vec<usize>,
    pub(super) loc_con: Vec<usize>,
    pub(super) hess_start: Vec<usize>,
    /// The firm of each output slot.
    pub(super) firm_of_slot: Vec<usize>,
}

/// F and its derivatives at one point, for all firms.
#[derive(Clone, Default)]
pub(super) struct Eval {
    pub(super) y: Vec<f64>,
    /// productivity * dG/dv per variable.
    pub(super) grad: Vec<f64>,
    /// productivity * Hessian of G, per firm block (row-major).
    pub(super) hess: Vec<f64>,
    /// c_k per constraint.
    pub(super) c: Vec<f64>,
    pub(super) value: f64,
}

/// Prices and the quantities derived from them.
pub(super) struct Priced {
    /// Revenue per unit of y per firm.
    pub(super) rf: Vec<f64>,
    /// Marginal value rf * grad per variable.
    pub(super) mv: Vec<f64>,
    /// Cost per unit of the variable (sum of coef * pi over its uses).
    pub(super) cost: Vec<f64>,
}

/// A solved point, before conversion to an [`Equilibrium`].
pub(super) struct Answer {
    pub(super) x: Vec<f64>,
    pub(super) p: Vec<f64>,
    pub(super) ev: Eval,
    pub(super) residual: f64,
    pub(super) iterations: usize,
}

impl<'a> Problem<'a> {
    pub(super) fn new(eco: &'a Economy) -> Result<Self, ReferenceError> {
        let goods = &eco.goods;
        let firms = &eco.firms;
        let nf = firms.len();
        let mut var_start = Vec::with_capacity(nf + 1);
        let mut var_firm = Vec::new();
        let mut leontief = Vec::with_capacity(nf);
        let mut use_start = vec![0];
        let mut use_good = Vec::new();
        let mut use_coef = Vec::new();
        var_start.push(0);
        for f in 0..nf {
            let tech = eco.technology(f);
            let inputs = firms.inputs(f);
            if inputs.len() > MAX_FIRM_INPUTS {
                return Err(ReferenceError::TooLarge {
                    endogenous_goods: 0,
                    variables: firms.edges(),
                    reason: format!(
                        "firm '{}' has {} inputs; the solver factorises each firm's Hessian densely and takes at most {MAX_FIRM_INPUTS}",
                        eco.firm_name(f),
                        inputs.len()
                    ),
                });
            }
            match *tech {
                Technology::Leontief { scale } => {
                    leontief.push(Some(scale));
                    for e in inputs {
                        let r = firms.input_param[e];
                        if !(r > 0.0 && r.is_finite()) {
                            return Err(ReferenceError::Unsupported(format!(
                                "firm '{}' is Leontief with requirement {r} for '{}'; requirements must be positive",
                                eco.firm_name(f),
                                &goods.name[firms.input_good[e] as usize]
                            )));
                        }
                        use_good.push(firms.input_good[e] as usize);
                        use_coef.push(r);
                    }
                    use_start.push(use_good.len());
                    var_firm.push(f);
                }
                _ => {
                    if !tech.is_smooth() {
                        return Err(ReferenceError::Unsupported(format!(
                            "firm '{}' has a production function that is not smooth (an expression using min or max): \
                             its derivatives are only subgradients, and the Newton-based reference solver needs \
                             second derivatives; write it as a Leontief family (which the solver handles exactly) \
                             or smooth it (e.g. a CES with a very negative rho)",
                            eco.firm_name(f)
                        )));
                    }
                    leontief.push(None);
                    for e in inputs {
                        use_good.push(firms.input_good[e] as usize);
                        use_coef.push(1.0);
                        use_start.push(use_good.len());
                        var_firm.push(f);
                    }
                }
            }
            var_start.push(var_firm.len());
        }
        let n = var_firm.len();
        let mut con_of = vec![NONE; goods.len()];
        let mut con_good = Vec::new();
        let mut supply = Vec::new();
        let mut used = vec![false; goods.len()];
        for &g in &use_good {
            used[g] = true;
        }
        for g in goods.endogenous() {
            if used[g] {
                con_of[g] = con_good.len();
                con_good.push(g);
                supply.push(goods.endowment[g]);
            }
        }
        let m = con_good.len();
        if n > MAX_VARIABLES {
            return Err(ReferenceError::TooLarge {
                endogenous_goods: m,
                variables: n,
                reason: format!("more than {MAX_VARIABLES} variables"),
            });
        }
        let mut firm_of_slot = vec![0; firms.output_good.len()];
        let mut loc_start = vec![0];
        let mut loc_con = Vec::new();
        let mut hess_start = vec![0];
        let mut dense_estimate = m;
        for f in 0..nf {
            let first = loc_con.len();
            for k in firms.outputs(f) {
                firm_of_slot[k] = f;
                let c = con_of[firms.output_good[k] as usize];
                if c != NONE && !loc_con[first..].contains(&c) {
                    loc_con.push(c);
                }
            }
            for v in var_start[f]..var_start[f + 1] {
                for u in use_start[v]..use_start[v + 1] {
                    let c = con_of[use_good[u]];
                    if c != NONE && !loc_con[first..].contains(&c) {
                        loc_con.push(c);
                    }
                }
            }
            loc_start.push(loc_con.len());
            let nv = var_start[f + 1] - var_start[f];
            hess_start.push(hess_start[f] + nv * nv);
            let params = &firms.input_param[firms.inputs(f)];
            if leontief[f].is_some() || eco.technology(f).returns(params) == crate::production::Returns::Constant {
                dense_estimate += nv;
            }
        }
        if dense_estimate > MAX_DENSE {
            return Err(ReferenceError::TooLarge {
                endogenous_goods: m,
                variables: n,
                reason: format!(
                    "the dense system would have {dense_estimate} rows (one per constrained good plus one per input of \
                     each constant-returns firm), more than {MAX_DENSE}; the reference solver is meant as a check on \
                     small and medium economies"
                ),
            });
        }
        Ok(Problem {
            eco,
            nf,
            var_start,
            var_firm,
            leontief,
            use_start,
            use_good,
            use_coef,
            con_good,
            con_of,
            supply,
            loc_start,
            loc_con,
            hess_start,
            firm_of_slot,
        })
    }

    pub(super) fn n(&self) -> usize {
        self.var_firm.len()
    }
    pub(super) fn m(&self) -> usize {
        self.con_good.len()
    }
    pub(super) fn vars(&self, f: usize) -> std::ops::Range<usize> {
        self.var_start[f]..self.var_start[f + 1]
    }
    pub(super) fn uses(&self, v: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        (self.use_start[v]..self.use_start[v + 1]).map(move |u| (self.use_good[u], self.use_coef[u]))
    }
    pub(super) fn good_name(&self, g: usize) -> &str {
        &self.eco.goods.name[g]
    }

    pub(super) fn new_eval(&self) -> Eval {
        Eval {
            y: vec![0.0; self.nf],
            grad: vec![0.0; self.n()],
            hess: vec![0.0; self.hess_start[self.nf]],
            c: vec![0.0; self.m()],
            value: 0.0,
        }
    }

    /// G_f (before productivity) and optionally its derivatives (times productivity).
    pub(super) fn firm_eval(&self, f: usize, x: &[f64], ev: &mut Eval, derivs: bool) -> f64 {
        let firms = &self.eco.firms;
        let r = self.vars(f);
        let prod = firms.productivity[f];
        let xs = &x[r.clone()];
        let hs = self.hess_start[f]..self.hess_start[f + 1];
        if let Some(scale) = self.leontief[f] {
            if derivs {
                ev.grad[r.start] = prod * scale;
                ev.hess[hs].fill(0.0);
            }
            return scale * xs[0];
        }
        let tech = self.eco.technology(f);
        let params = &firms.input_param[firms.inputs(f)];
        if derivs {
            let grad = &mut ev.grad[r];
            let hess = &mut ev.hess[hs];
            grad.fill(0.0);
            hess.fill(0.0);
            let v = tech.hessian(xs, params, grad, hess);
            grad.iter_mut().for_each(|g| *g *= prod);
            hess.iter_mut().for_each(|h| *h *= prod);
            if xs.contains(&0.0) {
                // an unused input (polish, residuals): an infinite or undefined marginal
                // product at 0 (sqrt, Cobb-Douglas) is "infinitely valuable"; the curvature
                // of unused inputs is never needed
                for (i, g) in grad.iter_mut().enumerate() {
                    if !g.is_finite() && xs[i] == 0.0 {
                        *g = f64::MAX;
                    }
                }
                hess.iter_mut().for_each(|h| {
                    if !h.is_finite() {
                        *h = 0.0;
                    }
                });
            }
            v
        } else {
            tech.value(xs, params)
        }
    }

    /// Evaluate outputs, V and c (and derivatives). False when something is not finite.
    pub(super) fn eval(&self, x: &[f64], derivs: bool, ev: &mut Eval) -> bool {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        ev.c.copy_from_slice(&self.supply);
        let mut value = 0.0;
        for f in 0..self.nf {
            let y = firms.productivity[f] * self.firm_eval(f, x, ev, derivs);
            if !y.is_finite() {
                return false;
            }
            ev.y[f] = y;
            for k in firms.outputs(f) {
                let g = firms.output_good[k] as usize;
                let w = firms.output_weight[k];
                if goods.fixed[g] {
                    value += goods.price[g] * w * y;
                } else if self.con_of[g] != NONE {
                    ev.c[self.con_of[g]] += w * y;
                }
            }
            for v in self.vars(f) {
                for (h, a) in self.uses(v) {
                    if goods.fixed[h] {
                        value -= goods.price[h] * a * x[v];
                    } else {
                        ev.c[self.con_of[h]] -= a * x[v];
                    }
                }
            }
        }
        ev.value = value;
        if derivs && !(ev.grad.iter().all(|g| g.is_finite()) && ev.hess.iter().all(|h| h.is_finite())) {
            return false;
        }
        value.is_finite() && ev.c.iter().all(|c| c.is_finite())
    }

    pub(super) fn price(&self, p: &[f64]) -> Priced {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        let mut pi = vec![0.0; goods.len()];
        for g in 0..goods.len() {
            if goods.fixed[g] {
                pi[g] = goods.price[g];
            } else if self.con_of[g] != NONE {
                pi[g] = p[self.con_of[g]];
            }
        }
        let mut rf = vec![0.0; self.nf];
        for f in 0..self.nf {
            for k in firms.outputs(f) {
                rf[f] += firms.output_weight[k] * pi[firms.output_good[k] as usize];
            }
        }
        let n = self.n();
        let mut cost = vec![0.0; n];
        for v in 0..n {
            for (h, a) in self.uses(v) {
                cost[v] += a * pi[h];
            }
        }
        Priced {
            rf,
            mv: vec![0.0; n],
            cost,
        }
    }

    pub(super) fn price_at(&self, p: &[f64], ev: &Eval) -> Priced {
        let mut pr = self.price(p);
        for v in 0..self.n() {
            pr.mv[v] = pr.rf[self.var_firm[v]] * ev.grad[v];
        }
        pr
    }

    /// Columns of the constraint Jacobian restricted to firm f: `a[i * kc + j]` = dc_{loc j}/dx_{var i}.
    pub(super) fn local_a(&self, f: usize, ev: &Eval, a: &mut Vec<f64>) {
        let firms = &self.eco.firms;
        let lc = &self.loc_con[self.loc_start[f]..self.loc_start[f + 1]];
        let kc = lc.len();
        let r = self.vars(f);
        a.clear();
        a.resize(r.len() * kc, 0.0);
        for k in firms.outputs(f) {
            let c = self.con_of[firms.output_good[k] as usize];
            if c == NONE {
                continue;
            }
            let j = lc.iter().position(|&q| q == c).unwrap_or(0);
            let w = firms.output_weight[k];
            for (i, v) in r.clone().enumerate() {
                a[i * kc + j] += w * ev.grad[v];
            }
        }
        for (i, v) in r.enumerate() {
            for (h, coef) in self.uses(v) {
                let c = self.con_of[h];
                if c != NONE {
                    let j = lc.iter().position(|&q| q == c).unwrap_or(0);
                    a[i * kc + j] -= coef;
                }
            }
        }
    }

    /// The value scale: gross value of input flows at the given prices.
    pub(super) fn value_scale(&self, x: &[f64], pr: &Priced, ev: &Eval) -> f64 {
        let mut s = 0.0;
        for v in 0..self.n() {
            s += x[v].abs() * (pr.mv[v].abs() + pr.cost[v]);
        }
        for f in 0..self.nf {
            if self.vars(f).is_empty() {
                s += (pr.rf[f] * ev.y[f]).abs();
            }
        }
        if s.is_finite() && s > 0.0 {
            s
        } else {
            1.0
        }
    }

    /// Gross flow through each constrained good: |endowment| + production + uses.
    pub(super) fn flows(&self, x: &[f64], ev: &Eval) -> Vec<f64> {
        let firms = &self.eco.firms;
        let mut flow: Vec<f64> = self.supply.iter().map(|s| s.abs()).collect();
        for f in 0..self.nf {
            for k in firms.outputs(f) {
                let c = self.con_of[firms.output_good[k] as usize];
                if c != NONE {
                    flow[c] += firms.output_weight[k] * ev.y[f].abs();
                }
            }
            for v in self.vars(f) {
                for (h, a) in self.uses(v) {
                    let c = self.con_of[h];
                    if c != NONE {
                        flow[c] += a * x[v].abs();
                    }
                }
            }
        }
        flow
    }

    pub(super) fn equilibrium(&self, ans: Answer) -> Equilibrium {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        let mut prices = vec![0.0; goods.len()];
        for g in 0..goods.len() {
            if goods.fixed[g] {
                prices[g] = goods.price[g];
            } else if self.con_of[g] != NONE {
                prices[g] = ans.p[self.con_of[g]].max(0.0);
            }
        }
        let mut x = vec![0.0; firms.edges()];
        for f in 0..self.nf {
            let r = self.vars(f);
            if self.leontief[f].is_some() {
                let u = ans.x[r.start];
                for e in firms.inputs(f) {
                    x[e] = firms.input_param[e] * u;
                }
            } else {
                for (e, v) in firms.inputs(f).zip(r) {
                    x[e] = ans.x[v];
                }
            }
        }
        Equilibrium {
            prices,
            x,
            y: ans.ev.y.clone(),
            value: ans.ev.value,
            iterations: ans.iterations,
            kkt_residual: ans.residual,
        }
    }

    /// Solver variables and constraint prices from an equilibrium.
    pub(super) fn state_from(&self, eq: &Equilibrium) -> (Vec<f64>, Vec<f64>) {
        let firms = &self.eco.firms;
        let mut x = vec![0.0; self.n()];
        for f in 0..self.nf {
            let r = self.vars(f);
            if self.leontief[f].is_some() {
                x[r.start] = firms
                    .inputs(f)
                    .map(|e| eq.x[e] / firms.input_param[e])
                    .fold(f64::INFINITY, f64::min);
                if !x[r.start].is_finite() {
                    x[r.start] = 0.0;
                }
            } else {
                for (e, v) in firms.inputs(f).zip(r) {
                    x[v] = eq.x[e];
                }
            }
        }
        let p = self.con_good.iter().map(|&g| eq.prices[g]).collect();
        (x, p)
    }
}
