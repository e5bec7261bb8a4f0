//! How far a point is from the planner's optimum: the relative KKT residual reported as
//! [`super::Equilibrium::kkt_residual`] (with the worst violated condition, for error
//! messages), and the Lagrangian, V's estimate at a nearly optimal point.

use super::problem::{Eval, Problem};
use super::NONE;

impl Problem<'_> {
    /// The KKT residual (mu = 0) at (x, p): see [`super::Equilibrium::kkt_residual`].
    pub(super) fn kkt_residual(&self, x: &[f64], p: &[f64], ev: &Eval) -> f64 {
        self.kkt_worst(x, p, ev).0
    }

    /// The KKT residual and which condition is worst (for messages).
    pub(super) fn kkt_worst(&self, x: &[f64], p: &[f64], ev: &Eval) -> (f64, String) {
        let pr = self.price_at(p, ev);
        let scale = self.value_scale(x, &pr, ev);
        let m = self.m();
        let mut res: f64 = 0.0;
        let mut worst = String::new();
        let mut note = |r: f64, what: &dyn Fn() -> String| {
            if r > res || r.is_nan() {
                res = if r.is_nan() { f64::INFINITY } else { r };
                worst = what();
            }
        };
        let mut pscale = vec![0.0f64; m];
        for v in 0..self.n() {
            let g = pr.mv[v] - pr.cost[v];
            let d = (pr.mv[v].abs() + pr.cost[v]).max(f64::MIN_POSITIVE);
            let var = || {
                let names: Vec<&str> = self.uses(v).map(|(h, _)| self.good_name(h)).collect();
                format!(
                    "firm '{}', input '{}' (x = {:.6e})",
                    self.eco.firm_name(self.var_firm[v]),
                    names.join("', '"),
                    x[v]
                )
            };
            note(g.max(0.0) / d, &|| {
                format!(
                    "{}: marginal value {:.6e} exceeds cost {:.6e}",
                    var(),
                    pr.mv[v],
                    pr.cost[v]
                )
            });
            note((g.abs() / d).min(x[v].abs() * d / scale), &|| {
                format!(
                    "{}: in use but marginal value {:.6e} differs from cost {:.6e}",
                    var(),
                    pr.mv[v],
                    pr.cost[v]
                )
            });
            if x[v] < 0.0 {
                note(-x[v] * d / scale, &|| format!("{}: negative quantity", var()));
            }
            for (h, a) in self.uses(v) {
                let k = self.con_of[h];
                if k != NONE {
                    pscale[k] = pscale[k].max(d / a);
                }
            }
        }
        let flow = self.flows(x, ev);
        for k in 0..m {
            let fl = flow[k].max(f64::MIN_POSITIVE);
            let ps = pscale[k].max(p[k].abs()).max(f64::MIN_POSITIVE);
            let c = ev.c[k];
            let name = self.good_name(self.con_good[k]);
            note((-c).max(0.0) / fl, &|| {
                format!("good '{name}': demand exceeds supply by {:.6e}", -c)
            });
            note((-p[k]).max(0.0) / ps, &|| {
                format!("good '{name}': negative price {:.6e}", p[k])
            });
            note((c.max(0.0) / fl).min(p[k].max(0.0) / ps), &|| {
                format!("good '{name}': excess supply {c:.6e} at a positive price {:.6e}", p[k])
            });
        }
        (res, worst)
    }
}

/// The Lagrangian V(x) + p.c(x) at an evaluated point: equal to V at a KKT point, and
/// stationary there, so its error is second order in that of (x, p).
pub(super) fn lagrangian(p: &[f64], ev: &Eval) -> f64 {
    ev.value + p.iter().zip(&ev.c).map(|(p, c)| p * c).sum::<f64>()
}
