//! The primal-dual interior-point method on the planner's programme (step 2 of the algorithm
//! in the module docs of `mod.rs`): Newton steps on the perturbed KKT system with slacks, a
//! fraction-to-the-boundary rule and backtracking, mu driven down to where the polish
//! (`polish.rs`) takes over; and what it reports when it fails (an unbounded programme found
//! by a probe on the primal barrier function, a system too large, no convergence).

use super::newton::SolveFail;
use super::problem::{Answer, Eval, Problem};
use super::trace::Trace;
use super::{Equilibrium, ReferenceError, ACCEPT_RESIDUAL, MAX_DENSE};

/// Newton steps of the interior point before it gives up.
const MAX_NEWTON: usize = 400;
/// Relative mu (mu / value scale) below which the interior point hands over to the polish.
const MU_POLISH: f64 = 1e-9;
/// Relative mu floor when the polish fails and the interior point goes on alone.
const MU_FLOOR: f64 = 1e-14;
/// Growth over the starting scale taken as proof of an unbounded programme.
const UNBOUNDED_GROWTH: f64 = 1e15;
/// Safeguard on multipliers: they stay within this factor of the central path.
const KAPPA_SIGMA: f64 = 1e10;

/// One iterate of the interior point.
#[derive(Clone)]
pub(super) struct State {
    pub(super) x: Vec<f64>,
    pub(super) z: Vec<f64>,
    pub(super) p: Vec<f64>,
    pub(super) t: Vec<f64>,
    pub(super) mu: f64,
}

impl Problem<'_> {
    pub(super) fn solve_cold(&self, trace: &mut Trace) -> Result<Equilibrium, ReferenceError> {
        let ans = self.interior_point(trace)?;
        if ans.residual > ACCEPT_RESIDUAL {
            let (r, worst) = self.kkt_worst(&ans.x, &ans.p, &ans.ev);
            return Err(ReferenceError::NoConvergence(format!(
                "the best point found violates the equilibrium conditions by {r:.2e} (relative), more than {ACCEPT_RESIDUAL:.0e}; worst: {worst}. This happens in nearly degenerate economies (a price that all but vanishes, a firm that all but shuts down)"
            )));
        }
        Ok(self.equilibrium(ans))
    }

    pub(super) fn interior_point(&self, trace: &mut Trace) -> Result<Answer, ReferenceError> {
        let n = self.n();
        let m = self.m();
        let x0 = self.start()?;
        let mut ev = self.new_eval();
        if !self.eval(&x0, true, &mut ev) {
            return Err(ReferenceError::Infeasible(
                "the production functions are not finite (or their derivatives are not) at the solver's starting point"
                    .into(),
            ));
        }
        // price guess for the scale: backprop-style adjoints at the start
        let adj = self.start_adjoints(&x0, &ev);
        let pr0 = self.price_at(&adj, &ev);
        let scale0 = self.value_scale(&x0, &pr0, &ev);
        let value0 = ev.value;
        let terms = (n + m).max(1) as f64;
        let mu0 = scale0 / terms;
        let mut st = State {
            z: x0.iter().map(|&xv| mu0 / xv).collect(),
            p: ev.c.iter().map(|&c| mu0 / c).collect(),
            t: ev.c.clone(),
            x: x0.clone(),
            mu: mu0,
        };
        if n == 0 {
            let residual = self.kkt_residual(&st.x, &vec![0.0; m], &ev);
            return Ok(Answer {
                x: st.x,
                p: vec![0.0; m],
                ev,
                residual,
                iterations: 0,
            });
        }
        let mut prev: Option<State> = None;
        let mut iterations = 0;
        let mut scale = scale0;
        let mut trial = self.new_eval();
        let mut best: Option<(f64, State)> = None;
        let var_on = vec![true; n];
        let con_on = vec![true; m];
        loop {
            // ev holds F and its derivatives at st.x
            let pr = self.price_at(&st.p, &ev);
            let mu = st.mu;
            let flow = self.flows(&st.x, &ev);
            // distance from the centre of the current barrier problem
            let mut stat: f64 = 0.0;
            let mut cent: f64 = 0.0;
            let mut infeas: f64 = 0.0;
            for v in 0..n {
                let r = pr.mv[v] - pr.cost[v] + st.z[v];
                stat = stat.max(r.abs() / (pr.mv[v].abs() + pr.cost[v] + st.z[v]));
                cent = cent.max((st.x[v] * st.z[v] / mu - 1.0).abs());
            }
            for k in 0..m {
                cent = cent.max((st.p[k] * st.t[k] / mu - 1.0).abs());
                infeas = infeas.max((ev.c[k] - st.t[k]).abs() / flow[k].max(f64::MIN_POSITIVE));
            }
            let mu_rel = mu / scale;
            trace.line(|| {
                format!(
                    "reference: step {iterations} mu/scale {mu_rel:.3e} stationarity {stat:.3e} centrality {cent:.3e} \
                     infeasibility {infeas:.3e} V {:.12e}",
                    ev.value
                )
            });
            let tol = (10.0 * mu_rel).max(1e-13);
            if stat <= tol && infeas <= tol && cent <= 0.5 {
                if mu_rel <= MU_POLISH {
                    let ipm_res = self.kkt_residual(&st.x, &st.p, &ev);
                    if best.as_ref().is_none_or(|(r, _)| ipm_res <= *r) {
                        best = Some((ipm_res, st.clone()));
                    }
                    if let Some(pv) = &prev {
                        if let Some(ans) = self.polish_after_ipm(pv, &st, iterations, trace) {
                            trace.line(|| {
                                format!(
                                    "reference: polish -> KKT residual {:.3e} (interior point {ipm_res:.3e}); worst: {}",
                                    ans.residual,
                                    self.kkt_worst(&ans.x, &ans.p, &ans.ev).1
                                )
                            });
                            if ans.residual <= ipm_res {
                                return Ok(ans);
                            }
                        }
                    }
                    if mu_rel <= MU_FLOOR * 1.0001 {
                        break;
                    }
                }
                // next barrier parameter: linear, then superlinear decrease
                scale = self.value_scale(&st.x, &pr, &ev);
                let mr = mu / scale;
                let factor = if mr > 1e-6 { 0.1 } else { 0.1f64.min(mr.sqrt()) };
                prev = Some(st.clone());
                st.mu = (mu * factor).max(MU_FLOOR * scale);
                continue;
            }
            if iterations >= MAX_NEWTON {
                break;
            }
            iterations += 1;
            // Newton step on the perturbed KKT system
            let sigma: Vec<f64> = (0..n).map(|v| st.z[v] / st.x[v]).collect();
            let dcon: Vec<f64> = (0..m).map(|k| st.t[k] / st.p[k]).collect();
            let b1: Vec<f64> = (0..n).map(|v| -(pr.mv[v] - pr.cost[v]) - mu / st.x[v]).collect();
            let b2: Vec<f64> = (0..m).map(|k| mu / st.p[k] - ev.c[k]).collect();
            let (dx, dp) = match self.newton(&st.x, &ev, &pr, &sigma, &dcon, &b1, &b2, &var_on, &con_on) {
                Ok(d) => d,
                Err(SolveFail::TooLarge(dim)) => return Err(self.too_large(dim)),
                Err(SolveFail::Singular) => {
                    return self.give_up(
                        trace,
                        &x0,
                        mu0,
                        best,
                        iterations,
                        format!("the Newton system became singular at mu = {mu:.3e}"),
                    );
                }
            };
            let dz: Vec<f64> = (0..n)
                .map(|v| (mu - st.x[v] * st.z[v] - st.z[v] * dx[v]) / st.x[v])
                .collect();
            let dt: Vec<f64> = (0..m)
                .map(|k| (mu - st.p[k] * st.t[k] - st.t[k] * dp[k]) / st.p[k])
                .collect();
            let tau = (1.0 - mu_rel).clamp(0.99, 1.0 - 1e-12);
            let ap = max_step(&st.x, &dx, tau).min(max_step(&st.t, &dt, tau));
            let ad = max_step(&st.z, &dz, tau).min(max_step(&st.p, &dp, tau));
            // Backtracking on the norm of the perturbed KKT residual (the Newton direction
            // decreases it at rate 1), each block weighted to value units at the current point:
            // stationarity times x, complementarity, market clearing times p.
            let wx: Vec<f64> = st.x.clone();
            let wp: Vec<f64> = st.p.clone();
            let resid = |e: &Eval, x: &[f64], t: &[f64], p: &[f64], z: &[f64]| -> f64 {
                let pr = self.price_at(p, e);
                let mut r = 0.0;
                for v in 0..n {
                    let a = wx[v] * (pr.mv[v] - pr.cost[v] + z[v]);
                    let b = x[v] * z[v] - mu;
                    r += a * a + b * b;
                }
                for k in 0..m {
                    let a = wp[k] * (e.c[k] - t[k]);
                    let b = p[k] * t[k] - mu;
                    r += a * a + b * b;
                }
                r.sqrt() / scale
            };
            let r0 = resid(&ev, &st.x, &st.t, &st.p, &st.z);
            let mut alpha = ap.min(ad);
            let amax = alpha;
            let mut xn = vec![0.0; n];
            let mut tn = vec![0.0; m];
            let mut pn = vec![0.0; m];
            let mut zn = vec![0.0; n];
            let mut accepted = false;
            for _ in 0..60 {
                for v in 0..n {
                    xn[v] = st.x[v] + alpha * dx[v];
                    zn[v] = st.z[v] + alpha * dz[v];
                }
                for k in 0..m {
                    tn[k] = st.t[k] + alpha * dt[k];
                    pn[k] = st.p[k] + alpha * dp[k];
                }
                if xn.iter().chain(&tn).all(|&v| v > 0.0) && self.eval(&xn, true, &mut trial) {
                    let r1 = resid(&trial, &xn, &tn, &pn, &zn);
                    if r1.is_finite()
                        && (r1 <= (1.0 - 0.01 * alpha) * r0 || r1 <= 1e-15 * (1.0 + ev.value.abs() / scale))
                    {
                        accepted = true;
                        break;
                    }
                }
                alpha *= 0.5;
            }
            trace.line(|| format!("reference:   step length {alpha:.3e} (max {amax:.3e})"));
            if !accepted {
                return self.give_up(
                    trace,
                    &x0,
                    mu0,
                    best,
                    iterations,
                    format!("the line search failed at mu = {mu:.3e} (relative {:.3e})", mu / scale),
                );
            }
            st.x.copy_from_slice(&xn);
            st.t.copy_from_slice(&tn);
            std::mem::swap(&mut ev, &mut trial);
            for v in 0..n {
                let c = mu / st.x[v];
                st.z[v] = zn[v].clamp(c / KAPPA_SIGMA, c * KAPPA_SIGMA);
            }
            for k in 0..m {
                let c = mu / st.t[k];
                st.p[k] = pn[k].clamp(c / KAPPA_SIGMA, c * KAPPA_SIGMA);
            }
            // unbounded?
            let mut worst = (0.0, 0);
            for v in 0..n {
                let g = st.x[v] / x0[v];
                if g > worst.0 {
                    worst = (g, v);
                }
            }
            if worst.0 > UNBOUNDED_GROWTH || ev.value - value0 > UNBOUNDED_GROWTH * scale0 {
                return Err(self.unbounded(worst.1, x0[worst.1], st.x[worst.1], ev.value));
            }
        }
        self.give_up(
            trace,
            &x0,
            mu0,
            best,
            iterations,
            format!("no accurate KKT point (mu = {:.3e})", st.mu),
        )
    }

    /// After a failure: is the programme unbounded? Damped Newton on the primal log-barrier
    /// function V + mu0 (sum ln c + sum ln x), keeping c > 0 and x > 0: it has a maximiser
    /// when the programme is bounded, and runs away (x and V growing without limit) when not.
    fn probe_unbounded(&self, x0: &[f64], mu: f64, trace: &mut Trace) -> Option<ReferenceError> {
        let n = self.n();
        let m = self.m();
        let mut x = x0.to_vec();
        let mut ev = self.new_eval();
        let mut trial = self.new_eval();
        if n == 0 || !self.eval(&x, true, &mut ev) {
            return None;
        }
        let value0 = ev.value;
        let scale0 = {
            let p: Vec<f64> = ev.c.iter().map(|c| mu / c).collect();
            self.value_scale(&x, &self.price_at(&p, &ev), &ev)
        };
        let var_on = vec![true; n];
        let con_on = vec![true; m];
        let barrier = |e: &Eval, x: &[f64]| -> f64 {
            let s: f64 =
                e.c.iter()
                    .chain(x.iter())
                    .map(|v| if *v > 0.0 { v.ln() } else { f64::NAN })
                    .sum();
            e.value + mu * s
        };
        for _ in 0..300 {
            let p: Vec<f64> = ev.c.iter().map(|c| mu / c).collect();
            let pr = self.price_at(&p, &ev);
            let sigma: Vec<f64> = x.iter().map(|xv| mu / (xv * xv)).collect();
            let dcon: Vec<f64> = ev.c.iter().map(|c| c * c / mu).collect();
            let b1: Vec<f64> = (0..n).map(|v| -(pr.mv[v] - pr.cost[v]) - mu / x[v]).collect();
            let b2 = vec![0.0; m];
            let runaway = |x: &[f64], value: f64, limit: f64| {
                let (g, v) = (0..n)
                    .map(|v| (x[v] / x0[v], v))
                    .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
                (g > limit && value - value0 > limit * scale0).then(|| self.unbounded(v, x0[v], x[v], value))
            };
            let Ok((dx, _)) = self.newton(&x, &ev, &pr, &sigma, &dcon, &b1, &b2, &var_on, &con_on) else {
                // the Newton system broke down: only a runaway already well under way counts
                return runaway(&x, ev.value, 1e4);
            };
            let slope: f64 = (0..n).map(|v| -b1[v] * dx[v]).sum();
            trace.line(|| {
                format!(
                    "reference: unbounded probe: V {:.6e} slope {slope:.3e} x {:?}",
                    ev.value,
                    &x[..n.min(6)]
                )
            });
            if slope.is_nan() || slope <= 1e-14 * scale0 {
                return None; // at the barrier maximiser: bounded
            }
            let phi = barrier(&ev, &x);
            let mut alpha = max_step(&x, &dx, 0.99);
            let mut xn = vec![0.0; n];
            let mut ok = false;
            for _ in 0..60 {
                for v in 0..n {
                    xn[v] = x[v] + alpha * dx[v];
                }
                if self.eval(&xn, true, &mut trial) && trial.c.iter().all(|&c| c > 0.0) {
                    let phin = barrier(&trial, &xn);
                    if phin >= phi + 1e-4 * alpha * slope {
                        ok = true;
                        break;
                    }
                }
                alpha *= 0.5;
            }
            if !ok {
                return runaway(&x, ev.value, 1e4);
            }
            x.copy_from_slice(&xn);
            std::mem::swap(&mut ev, &mut trial);
            if let Some(e) = runaway(&x, ev.value, UNBOUNDED_GROWTH) {
                return Some(e);
            }
        }
        None
    }

    fn give_up(
        &self,
        trace: &mut Trace,
        x0: &[f64],
        mu0: f64,
        best: Option<(f64, State)>,
        iterations: usize,
        why: String,
    ) -> Result<Answer, ReferenceError> {
        if let Some(e) = self.probe_unbounded(x0, mu0, trace) {
            return Err(e);
        }
        if let Some((res, st)) = best {
            if res <= ACCEPT_RESIDUAL {
                let mut ev = self.new_eval();
                if self.eval(&st.x, true, &mut ev) {
                    return Ok(Answer {
                        x: st.x,
                        p: st.p,
                        ev,
                        residual: res,
                        iterations,
                    });
                }
            }
        }
        Err(ReferenceError::NoConvergence(format!(
            "{why} after {iterations} Newton steps; the interior-point method could not reach a KKT point (a \
             badly scaled or nearly degenerate economy?)"
        )))
    }

    fn too_large(&self, dim: usize) -> ReferenceError {
        ReferenceError::TooLarge {
            endogenous_goods: self.m(),
            variables: self.n(),
            reason: format!(
                "the Newton system needed a dense block of {dim} rows (constrained goods plus variables of firms \
                 whose Hessian is singular), more than {}",
                2 * MAX_DENSE
            ),
        }
    }

    fn unbounded(&self, v: usize, from: f64, to: f64, value: f64) -> ReferenceError {
        let f = self.var_firm[v];
        let firms = &self.eco.firms;
        let inputs: Vec<&str> = self.uses(v).map(|(h, _)| self.good_name(h)).collect();
        let outputs: Vec<&str> = firms
            .outputs(f)
            .map(|k| self.good_name(firms.output_good[k] as usize))
            .collect();
        ReferenceError::Unbounded(format!(
            "the planner's value grows without limit (V = {value:.4e}): firm '{}' would use ever more '{}' \
             (from {from:.3e} to {to:.3e}) to make '{}'; at the fixed prices its output is worth more than the inputs \
             it needs, with returns that do not diminish. Lower the output's price, raise the inputs' prices, or \
             give the firm decreasing returns (e.g. exponents summing to less than 1)",
            self.eco.firm_name(f),
            inputs.join("', '"),
            outputs.join("', '")
        ))
    }
}

/// Largest step in [0, 1] keeping v + alpha dv >= (1 - tau) v.
fn max_step(v: &[f64], dv: &[f64], tau: f64) -> f64 {
    let mut a: f64 = 1.0;
    for (x, d) in v.iter().zip(dv) {
        if *d < 0.0 {
            a = a.min(-tau * x / d);
        }
    }
    a
}
