//! The polish (step 4 of the algorithm in the module docs of `mod.rs`): the active set read
//! off the last two centred iterates of the interior point, then Newton's method on the square
//! KKT system of that active set, correcting the set when the answer contradicts it, which
//! brings the answer to machine precision.

use super::interior_point::State;
use super::problem::{Answer, Problem};
use super::trace::Trace;
use super::NONE;

impl Problem<'_> {
    pub(super) fn polish_after_ipm(
        &self,
        prev: &State,
        last: &State,
        iterations: usize,
        trace: &mut Trace,
    ) -> Option<Answer> {
        // Tapia indicators: along the central path an input in use keeps its quantity while
        // its multiplier shrinks like mu, an unused one the other way round. In a degenerate
        // pair both shrink (like sqrt(mu)); those are classed as unused / slack, whose
        // equations are trivial, and the active-set correction repairs any mistake.
        let clear = |keep: f64, shrink: f64| keep >= shrink && keep >= 0.1;
        let var_on: Vec<bool> = (0..self.n())
            .map(|v| clear(last.x[v] / prev.x[v], last.z[v] / prev.z[v]))
            .collect();
        let con_on: Vec<bool> = (0..self.m())
            .map(|k| clear(last.p[k] / prev.p[k], last.t[k] / prev.t[k]))
            .collect();
        let first = self.polish_active(&last.x, &last.p, &var_on, &con_on, trace);
        if first.as_ref().is_some_and(|a| a.residual <= 1e-13) {
            return first.map(|mut a| {
                a.iterations += iterations;
                a
            });
        }
        // second guess: also class as unused / slack whatever carries a negligible share of
        // the economy's value (degenerate branches that shut down, where both sides of a
        // complementarity pair vanish and the indicators are unreliable)
        let mut ev = self.new_eval();
        if !self.eval(&last.x, true, &mut ev) {
            return first;
        }
        let pr = self.price_at(&last.p, &ev);
        let scale = self.value_scale(&last.x, &pr, &ev);
        let flow = self.flows(&last.x, &ev);
        let var_on: Vec<bool> = (0..self.n())
            .map(|v| var_on[v] && last.x[v] * (pr.mv[v].abs() + pr.cost[v]) >= 1e-6 * scale)
            .collect();
        let con_on: Vec<bool> = (0..self.m())
            .map(|k| con_on[k] && last.p[k] * flow[k] >= 1e-6 * scale)
            .collect();
        let second = self.polish_active(&last.x, &last.p, &var_on, &con_on, trace);
        let best = match (first, second) {
            (Some(a), Some(b)) => Some(if b.residual < a.residual { b } else { a }),
            (a, b) => a.or(b),
        };
        best.map(|mut a| {
            a.iterations += iterations;
            a
        })
    }

    /// Newton's method on the KKT equations of an active set, from (x, p), correcting the
    /// active set when the answer contradicts it: an input in use whose quantity would turn
    /// negative, or a scarce good whose price would, leaves the set; an unused input worth
    /// more than its price, or a slack good that runs short, joins it. The best point found
    /// (smallest KKT residual) is returned.
    pub(super) fn polish_active(
        &self,
        x: &[f64],
        p: &[f64],
        var_on: &[bool],
        con_on: &[bool],
        trace: &mut Trace,
    ) -> Option<Answer> {
        let first = self.polish_rounds(x, p, var_on, con_on, false, trace);
        if first.as_ref().is_some_and(|a| a.residual <= 1e-13) {
            return first;
        }
        let second = self.polish_rounds(x, p, var_on, con_on, true, trace);
        match (first, second) {
            (Some(a), Some(b)) => Some(if b.residual < a.residual { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// The rounds of [`Problem::polish_active`]. Inputs whose marginal product is infinite at
    /// 0 (sqrt, Cobb-Douglas, ...) are always in use unless their firm's output is worthless;
    /// that is decided from the first active set, or (`recheck`) again every round as goods
    /// join the scarce set (once in use they stay, so that rounds cannot cycle).
    fn polish_rounds(
        &self,
        x: &[f64],
        p: &[f64],
        var_on: &[bool],
        con_on: &[bool],
        recheck: bool,
        trace: &mut Trace,
    ) -> Option<Answer> {
        let mut von = var_on.to_vec();
        let mut con = con_on.to_vec();
        let zero_ok: Vec<bool> = (0..self.n()).map(|v| self.can_be_zero(v, x)).collect();
        let mut forced = vec![false; self.n()];
        let mut best: Option<Answer> = None;
        for round in 0..8 {
            let p_on: Vec<f64> = (0..self.m()).map(|k| if con[k] { p[k] } else { 0.0 }).collect();
            let rf = self.price(&p_on).rf;
            for v in 0..self.n() {
                if round == 0 || recheck {
                    forced[v] |= rf[self.var_firm[v]] > 0.0 && !zero_ok[v];
                }
            }
            for v in 0..self.n() {
                von[v] |= forced[v];
            }
            let (ans, var_flips, con_flips) = self.polish(x, p, &von, &con, &forced, trace);
            trace.line(|| {
                let off: Vec<usize> = (0..self.n()).filter(|&v| !von[v]).collect();
                let coff: Vec<usize> = (0..self.m()).filter(|&k| !con[k]).collect();
                format!("reference:   polish round: inactive vars {off:?} goods {coff:?}; flips {var_flips:?} {con_flips:?}")
            });
            let mut changed = !(var_flips.is_empty() && con_flips.is_empty());
            for v in var_flips {
                von[v] = false;
            }
            for k in con_flips {
                con[k] = false;
            }
            if let Some(ans) = ans {
                if !changed {
                    let pr = self.price_at(&ans.p, &ans.ev);
                    let flow = self.flows(&ans.x, &ans.ev);
                    for v in 0..self.n() {
                        if !von[v] && pr.mv[v] - pr.cost[v] > 1e-10 * (pr.mv[v].abs() + pr.cost[v]) {
                            trace.line(|| {
                                format!(
                                    "reference:   var {v} joins: mv {:e} cost {:e} residual {:e}",
                                    pr.mv[v], pr.cost[v], ans.residual
                                )
                            });
                            von[v] = true;
                            changed = true;
                        }
                    }
                    for k in 0..self.m() {
                        if !con[k] && ans.ev.c[k] < -1e-12 * flow[k] {
                            con[k] = true;
                            changed = true;
                        }
                    }
                    // a free good whose users in action still want more is scarce after all
                    // (its price may be tiny, but it is not 0)
                    for v in 0..self.n() {
                        if von[v] && pr.mv[v] - pr.cost[v] > 1e-10 * (pr.mv[v].abs() + pr.cost[v]) {
                            for (h, _) in self.uses(v) {
                                let k = self.con_of[h];
                                if k != NONE && !con[k] {
                                    con[k] = true;
                                    changed = true;
                                }
                            }
                        }
                    }
                }
                let better = best.as_ref().is_none_or(|b| ans.residual < b.residual);
                if better {
                    best = Some(ans);
                }
            }
            if !changed {
                break;
            }
        }
        best
    }

    /// Whether variable v may be exactly 0 (its firm's F and gradient stay finite there).
    fn can_be_zero(&self, v: usize, x: &[f64]) -> bool {
        let f = self.var_firm[v];
        let mut xs = x.to_vec();
        xs[v] = 0.0;
        let mut ev = self.new_eval();
        let g = self.firm_eval(f, &xs, &mut ev, true);
        g.is_finite() && self.vars(f).all(|u| ev.grad[u].is_finite() && ev.grad[u] != f64::MAX)
    }

    /// Newton's method on the KKT equations of the given active set, from (x, p). Also
    /// returns the active inputs and goods whose quantity or price a step would have made
    /// non-positive.
    fn polish(
        &self,
        x: &[f64],
        p: &[f64],
        var_on: &[bool],
        con_on: &[bool],
        forced: &[bool],
        trace: &mut Trace,
    ) -> (Option<Answer>, Vec<usize>, Vec<usize>) {
        let n = self.n();
        let m = self.m();
        let mut x = x.to_vec();
        let mut p = p.to_vec();
        let keep_x = x.clone();
        for v in 0..n {
            if !var_on[v] {
                x[v] = 0.0;
            }
        }
        for k in 0..m {
            if !con_on[k] {
                p[k] = 0.0;
            }
        }
        let mut ev = self.new_eval();
        // a firm whose F is not finite with its unused inputs at 0 (ln x): leave them tiny
        for f in 0..self.nf {
            let r = self.vars(f);
            if r.clone().any(|v| !var_on[v]) && !self.firm_eval(f, &x, &mut ev, true).is_finite() {
                for v in r {
                    if !var_on[v] {
                        x[v] = keep_x[v];
                    }
                }
            }
        }
        if !self.eval(&x, true, &mut ev) {
            return (None, Vec::new(), Vec::new());
        }
        // A scarce good that nothing in use touches (no supply, every producer and user
        // idle) clears trivially and its price is not determined by the equations: any
        // value between its users' marginal value and its producers' unit cost will do.
        // It stays out of the Newton system; its price is set at the end.
        let firms = &self.eco.firms;
        let mut touched: Vec<bool> = self.supply.iter().map(|&s| s != 0.0).collect();
        for f in 0..self.nf {
            for v in self.vars(f) {
                if !var_on[v] {
                    continue;
                }
                for (h, _) in self.uses(v) {
                    if self.con_of[h] != NONE {
                        touched[self.con_of[h]] = true;
                    }
                }
                if ev.grad[v] != 0.0 {
                    for k in firms.outputs(f) {
                        let c = self.con_of[firms.output_good[k] as usize];
                        if c != NONE {
                            touched[c] = true;
                        }
                    }
                }
            }
        }
        let con_eff: Vec<bool> = (0..m).map(|k| con_on[k] && touched[k]).collect();
        let con_on_given = con_on;
        let con_on = &con_eff[..];
        let mut var_flips = Vec::new();
        let mut con_flips = Vec::new();
        let mut stalled = 0;
        let mut clamped_last = false;
        let mut negative = vec![0usize; m];
        let sigma = vec![0.0; n];
        let dcon = vec![0.0; m];
        let mut iterations = 0;
        let mut best: Option<(f64, Vec<f64>, Vec<f64>)> = None;
        loop {
            let pr = self.price_at(&p, &ev);
            let flow = self.flows(&x, &ev);
            // residual of the active-set equations
            let mut res: f64 = 0.0;
            let b1: Vec<f64> = (0..n)
                .map(|v| {
                    if var_on[v] {
                        let (mv, cost) = (pr.mv[v], pr.cost[v]);
                        let g = mv - cost;
                        res = res.max(g.abs() / (mv.abs() + cost).max(f64::MIN_POSITIVE));
                        -g
                    } else {
                        0.0
                    }
                })
                .collect();
            let b2: Vec<f64> = (0..m).map(|k| if con_on[k] { -ev.c[k] } else { 0.0 }).collect();
            for k in 0..m {
                if con_on[k] {
                    res = res.max(ev.c[k].abs() / flow[k].max(f64::MIN_POSITIVE));
                }
            }
            trace.line(|| {
                let w = (0..n)
                    .filter(|&v| var_on[v])
                    .map(|v| ((pr.mv[v] - pr.cost[v]).abs() / (pr.mv[v].abs() + pr.cost[v]), v))
                    .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
                format!(
                    "reference:   polish step {iterations}: active-set residual {res:.3e} (variable {}: x {:.6e}, \
                     marginal value {:.6e}, cost {:.6e})",
                    w.1, x[w.1], pr.mv[w.1], pr.cost[w.1]
                )
            });
            if !res.is_finite() {
                break;
            }
            // quadratic convergence halves the residual at least; allow a few damped steps
            if best.as_ref().is_none_or(|(r, _, _)| res < 0.5 * *r) || clamped_last {
                stalled = 0;
            } else {
                stalled += 1;
            }
            if best.as_ref().is_none_or(|(r, _, _)| res < *r) {
                best = Some((res, x.clone(), p.clone()));
            }
            if res < 1e-15 || stalled >= 6 || iterations >= 60 {
                break;
            }
            let Ok((dx, dp)) = self.newton(&x, &ev, &pr, &sigma, &dcon, &b1, &b2, var_on, con_on) else {
                break;
            };
            iterations += 1;
            var_flips = (0..n)
                .filter(|&v| var_on[v] && !forced[v] && x[v] + dx[v] <= 0.0)
                .collect();
            // A price stepping below 0 suggests the good is not scarce after all; but a
            // vanishing positive price (a nearly satiated use) also overshoots 0 while the
            // quantities settle, so the price is first cut geometrically, and the good
            // leaves the active set only if that keeps happening.
            for k in 0..m {
                if con_on[k] && p[k] + dp[k] <= 0.0 {
                    negative[k] += 1;
                }
            }
            con_flips = (0..m)
                .filter(|&k| con_on[k] && p[k] + dp[k] <= 0.0 && negative[k] > 6)
                .collect();
            if !(var_flips.is_empty() && con_flips.is_empty()) {
                break;
            }
            // inputs that must stay in use (infinite marginal product at 0) take the Newton
            // step in log coordinates (the same linear system, dlog x = dx / x, limited to a
            // factor e^20 per step), which keeps them positive however small their optimum
            let mut clamped = false;
            for v in 0..n {
                if forced[v] {
                    let d = dx[v] / x[v];
                    clamped |= d.abs() > 20.0;
                    x[v] *= d.clamp(-20.0, 20.0).exp();
                } else {
                    x[v] += dx[v];
                }
            }
            clamped_last = clamped || (0..m).any(|k| con_on[k] && p[k] + dp[k] <= 0.0);
            for k in 0..m {
                p[k] = (p[k] + dp[k]).max(if con_on[k] { 1e-3 * p[k] } else { 0.0 });
            }
            if !self.eval(&x, true, &mut ev) {
                break;
            }
        }
        let Some((_, x, mut p)) = best else {
            return (None, var_flips, con_flips);
        };
        if !self.eval(&x, true, &mut ev) {
            return (None, var_flips, con_flips);
        }
        // Untouched goods: the price is any value between what its (idle) users would pay
        // and what its (idle) producers would need; report the lower end, the value of one
        // more unit (dV/ds from above), 0 when nobody wants it.
        for k in 0..m {
            if con_on_given[k] && !con_on[k] {
                p[k] = 0.0;
                let pr = self.price_at(&p, &ev);
                let g = self.con_good[k];
                for v in 0..n {
                    for (h, a) in self.uses(v) {
                        if h == g && pr.mv[v].is_finite() {
                            p[k] = p[k].max((pr.mv[v] - pr.cost[v]) / a);
                        }
                    }
                }
            }
        }
        let residual = self.kkt_residual(&x, &p, &ev);
        (
            Some(Answer {
                x,
                p,
                ev,
                residual,
                iterations,
            }),
            var_flips,
            con_flips,
        )
    }
}
