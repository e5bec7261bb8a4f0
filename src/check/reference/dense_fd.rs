//! dV/ds_g by finite differences of the optimal value with the dense solver (the envelope
//! check `p_g = dV/ds_g` of [`super::envelope_for`], whose docs give the method): the
//! equilibrium's active set and factorised KKT matrix, each perturbed programme solved from
//! the equilibrium by Newton steps with that frozen matrix (a chord method), then by the
//! polish, then cold. The dual solver's counterpart is `dual_fd.rs`.

use super::kkt::lagrangian;
use super::newton::NewtonFactors;
use super::problem::{Priced, Problem};
use super::trace::{self, Trace};
use super::{Equilibrium, ReferenceError, FD_STEP, FD_STEP_MAX, NONE};
use crate::economy::Economy;

/// [`super::envelope_for`] by the dense path.
pub(super) fn envelope_dense(
    economy: &Economy,
    eq: &Equilibrium,
    goods: &[usize],
    trace: &mut Trace,
) -> Result<Vec<Option<f64>>, ReferenceError> {
    use rayon::prelude::*;
    let prob = Problem::new(economy)?;
    let ng = economy.goods.len();
    if eq.prices.len() != ng || eq.x.len() != economy.firms.edges() || eq.y.len() != economy.firms.len() {
        return Err(ReferenceError::Unsupported(
            "the equilibrium passed to envelope() does not belong to this economy (sizes differ)".into(),
        ));
    }
    let mut ks: Vec<usize> = goods
        .iter()
        .filter(|&&g| g < ng && prob.con_of[g] != NONE)
        .map(|&g| prob.con_of[g])
        .collect();
    ks.sort_unstable();
    ks.dedup();
    let mut out = vec![None; ng];
    if ks.is_empty() {
        return Ok(out);
    }
    let base = prob.fd_base(eq);
    let on = trace.on();
    let results: Vec<(Result<f64, ReferenceError>, Vec<String>)> = ks
        .par_iter()
        .map(|&k| {
            let mut local = prob.clone();
            trace::kept(on, |t| local.fd_derivative(k, eq, &base, t))
        })
        .collect();
    for (&k, (r, lines)) in ks.iter().zip(results) {
        for line in lines {
            trace.line(|| line);
        }
        out[prob.con_good[k]] = Some(r?);
    }
    Ok(out)
}

/// Relative KKT residual below which a perturbed solve is accepted.
const FD_ACCEPT: f64 = 1e-12;
/// Frozen-matrix Newton steps allowed per perturbed solve.
const FD_CHORD_STEPS: usize = 30;

/// The unperturbed optimum as the finite differences need it: its active set, the
/// factorised KKT matrix there, and V (as the Lagrangian).
struct FdBase {
    x0: Vec<f64>,
    p0: Vec<f64>,
    var_on: Vec<bool>,
    con_on: Vec<bool>,
    factors: Option<NewtonFactors>,
    value: f64,
    /// Gross value of the flows (the scale of V's rounding error).
    gross: f64,
}

impl Problem<'_> {
    /// The active set of a solved point (the larger side of each complementarity pair), the
    /// KKT matrix there factorised, and V there (for [`super::envelope_for`]).
    fn fd_base(&self, eq: &Equilibrium) -> FdBase {
        let (x0, p0) = self.state_from(eq);
        let mut ev = self.new_eval();
        let mut base = FdBase {
            var_on: vec![false; self.n()],
            con_on: vec![false; self.m()],
            factors: None,
            value: eq.value,
            gross: eq.value.abs(),
            x0,
            p0,
        };
        if !self.eval(&base.x0, true, &mut ev) {
            return base;
        }
        let (x0, p0) = (&base.x0, &base.p0);
        let pr = self.price_at(p0, &ev);
        let scale = self.value_scale(x0, &pr, &ev);
        base.var_on = (0..self.n())
            .map(|v| {
                let d = (pr.mv[v].abs() + pr.cost[v]).max(f64::MIN_POSITIVE);
                x0[v] > 0.0 && x0[v] * d / scale >= (pr.mv[v] - pr.cost[v]).abs() / d
            })
            .collect();
        let flow = self.flows(x0, &ev);
        base.con_on = (0..self.m())
            .map(|k| {
                p0[k] > 0.0
                    && p0[k] / (p0[k] + pr_users(self, &pr, k)) >= ev.c[k].abs() / flow[k].max(f64::MIN_POSITIVE)
            })
            .collect();
        base.value = lagrangian(p0, &ev);
        base.gross = scale;
        let zeros_n = vec![0.0; self.n()];
        let zeros_m = vec![0.0; self.m()];
        base.factors = self
            .factor_newton(x0, &ev, &pr, &zeros_n, &zeros_m, &base.var_on, &base.con_on)
            .ok();
        base
    }

    /// dV/ds for constraint k (see [`super::envelope_for`]). `self.supply` is perturbed in
    /// place and restored.
    fn fd_derivative(
        &mut self,
        k: usize,
        eq: &Equilibrium,
        base: &FdBase,
        trace: &mut Trace,
    ) -> Result<f64, ReferenceError> {
        let g = self.con_good[k];
        let goods = &self.eco.goods;
        let mut production = 0.0;
        for &slot in goods.producers(g) {
            let slot = slot as usize;
            production += self.eco.firms.output_weight[slot] * eq.y[self.firm_of_slot[slot]].abs();
        }
        let s = self.supply[k];
        let price = base.p0[k];
        let flow = s.abs() + production;
        let mut scale = if flow > 0.0 { flow } else { 1.0 };
        // the supply change that would move the price by 100%: p / |dp/ds| from the tangent
        if let (Some(fac), true) = (&base.factors, base.con_on[k] && price > 0.0) {
            let b1 = vec![0.0; self.n()];
            let mut b2 = vec![0.0; self.m()];
            b2[k] = -1.0;
            if let Ok((_, dp)) = fac.solve(self, &b1, &b2) {
                let reach = price / dp[k].abs();
                if reach.is_finite() && reach > 0.0 {
                    scale = scale.min(reach);
                }
            }
        }
        // Rounding in V (about 1e-16 of the gross value) divided by h p, against the
        // truncation error of the extrapolated differences, about 0.05 (h / scale)^4: the
        // step that balances them, within [FD_STEP, FD_STEP_MAX].
        let rounding = 1e-16 * base.gross / (scale * price);
        let step = if rounding.is_finite() && rounding > 0.0 {
            (5.0 * rounding).powf(0.2).clamp(FD_STEP, FD_STEP_MAX)
        } else {
            FD_STEP
        };
        let h = step * scale;
        // V at s + delta, and whether the frozen-matrix solve (same active set) sufficed
        let value = |p: &mut Self, trace: &mut Trace, delta: f64| -> Result<(f64, bool), ReferenceError> {
            p.supply[k] = s + delta;
            let r = p.fd_value(base, trace);
            p.supply[k] = s;
            r
        };
        let name = self.good_name(g).to_string();
        let report = |trace: &mut Trace, d: f64, h: f64, how: &str| {
            trace.line(|| format!("reference: dV/ds '{name}' = {d:.15e} (price {price:.15e}, h {h:.3e}, {how})"));
        };
        if price > 0.0 {
            // central differences at h and h/2, extrapolated; a step that changes the active
            // set (V may have a kink within it) is cut tenfold, twice
            'steps: for h in [h, 0.1 * h, 0.01 * h] {
                let mut v = [0.0; 4];
                let mut smooth = true;
                for (i, delta) in [h, -h, 0.5 * h, -0.5 * h].into_iter().enumerate() {
                    match value(self, trace, delta) {
                        Ok((val, chord)) => {
                            v[i] = val;
                            smooth &= chord;
                        }
                        Err(_) => break 'steps,
                    }
                }
                let d1 = (v[0] - v[1]) / (2.0 * h);
                let d2 = (v[2] - v[3]) / h;
                let d = d2 + (d2 - d1) / 3.0;
                trace.line(|| format!("reference:   D(h) {d1:.15e} D(h/2) {d2:.15e} R {d:.15e}"));
                if smooth {
                    report(trace, d, h, "central");
                    return Ok(d);
                }
            }
        }
        // A free good, a kink at s (a good priced at the lower end of its range, the value
        // of one more unit), or s - h cannot be solved: the one-sided differences from
        // above at h and h/2, extrapolated.
        let (vp, _) = value(self, trace, h)?;
        let (vp2, _) = value(self, trace, 0.5 * h)?;
        let (v2, _) = value(self, trace, 2.0 * h)?;
        let v0 = base.value;
        let d1 = (-3.0 * v0 + 4.0 * vp - v2) / (2.0 * h);
        let d2 = (-3.0 * v0 + 4.0 * vp2 - vp) / h;
        let d = d2 + (d2 - d1) / 3.0;
        report(trace, d, h, "from above");
        Ok(d)
    }

    /// V (as the Lagrangian) of the programme with the current (perturbed) supplies: Newton
    /// with the frozen KKT matrix of `base`, or when that does not reach an accurate KKT
    /// point, Newton with active-set corrections from `base`, then a cold solve. The flag
    /// says whether the frozen-matrix solve succeeded (so the active set did not change).
    fn fd_value(&self, base: &FdBase, trace: &mut Trace) -> Result<(f64, bool), ReferenceError> {
        if let Some(fac) = &base.factors {
            if let Some(v) = self.chord(base, fac, trace) {
                return Ok((v, true));
            }
        }
        if let Some(ans) = self.polish_active(&base.x0, &base.p0, &base.var_on, &base.con_on, trace) {
            if ans.residual <= FD_ACCEPT {
                return Ok((lagrangian(&ans.p, &ans.ev), false));
            }
        }
        self.interior_point(trace).map(|a| (lagrangian(&a.p, &a.ev), false))
    }

    /// Newton's method on the KKT equations of `base`'s active set with `base`'s factorised
    /// matrix (a chord method: linear convergence at a rate of the order of the
    /// perturbation). Some(V) when the full KKT residual ends below [`FD_ACCEPT`].
    fn chord(&self, base: &FdBase, fac: &NewtonFactors, trace: &mut Trace) -> Option<f64> {
        let (n, m) = (self.n(), self.m());
        let mut x = base.x0.clone();
        let mut p = base.p0.clone();
        let mut ev = self.new_eval();
        let mut last = f64::INFINITY;
        let mut b1 = vec![0.0; n];
        let mut b2 = vec![0.0; m];
        for step in 0..=FD_CHORD_STEPS {
            if !self.eval(&x, true, &mut ev) {
                return None;
            }
            let pr = self.price_at(&p, &ev);
            let flow = self.flows(&x, &ev);
            let mut res: f64 = 0.0;
            for v in 0..n {
                b1[v] = 0.0;
                if base.var_on[v] {
                    let (mv, cost) = (pr.mv[v], pr.cost[v]);
                    res = res.max((mv - cost).abs() / (mv.abs() + cost).max(f64::MIN_POSITIVE));
                    b1[v] = cost - mv;
                }
            }
            for k in 0..m {
                b2[k] = 0.0;
                if base.con_on[k] {
                    res = res.max(ev.c[k].abs() / flow[k].max(f64::MIN_POSITIVE));
                    b2[k] = -ev.c[k];
                }
            }
            trace.line(|| format!("reference:   chord step {step}: residual {res:.3e}"));
            if !res.is_finite() {
                return None;
            }
            // converged, or no longer gaining (rounding): stop
            if res <= 1e-15 || (step > 0 && res > 0.5 * last) || step == FD_CHORD_STEPS {
                break;
            }
            last = res;
            let (dx, dp) = fac.solve(self, &b1, &b2).ok()?;
            for v in 0..n {
                if base.var_on[v] {
                    x[v] += dx[v];
                    if x[v] <= 0.0 {
                        return None;
                    }
                }
            }
            for k in 0..m {
                if base.con_on[k] {
                    p[k] += dp[k];
                    if p[k] <= 0.0 {
                        return None;
                    }
                }
            }
        }
        let (residual, worst) = self.kkt_worst(&x, &p, &ev);
        trace.line(|| format!("reference:   chord: KKT residual {residual:.3e}: {worst}"));
        (residual <= FD_ACCEPT).then(|| lagrangian(&p, &ev))
    }
}

/// The largest marginal value among the users of constraint k's good (a price scale).
fn pr_users(prob: &Problem, pr: &Priced, k: usize) -> f64 {
    let g = prob.con_good[k];
    let mut s: f64 = 0.0;
    for v in 0..prob.n() {
        for (h, a) in prob.uses(v) {
            if h == g {
                s = s.max((pr.mv[v].abs() + pr.cost[v]) / a);
            }
        }
    }
    s
}
