//! Finite differences of the planner's value V(s) = min_p Phi(p; s) for large economies
//! (the envelope check `p_g = dV/ds_g` with the dual solver of [`super::dual`]).
//!
//! - *Tangent.* `dp/ds_g = -H^-1 e_g` at the optimum (one conjugate-gradient solve per good):
//!   it gives the supply change that would move the good's price by 100% (the step's scale,
//!   as in the dense path) and the warm start `p* + delta dp/ds_g` of each perturbed solve,
//!   which is then off only by O(delta^2): a Newton step or two finish it.
//! - *Value differences without cancellation.* V(s + delta) - V(s) is summed firm by firm as
//!   `sum_f (pi*_f(p') - pi*_f(p*)) + sum_g (p'_g - p*_g) s_g + p'_g delta`, not as the
//!   difference of two totals of 1e5 or 1e6 terms: each firm's difference carries only its own
//!   rounding (about 1e-16 of its value flow), so the rounding in the difference is about
//!   `1e-16 sqrt(sum_f flow_f^2)` instead of 1e-16 of the economy's gross value times the
//!   number of terms. Phi at the perturbed minimiser is exact to second order in its error.
//! - *Step and formula* as in the dense path: h = eta times the smaller of the good's gross
//!   supply and the 100% price reach, eta balancing that rounding against the O(eta^4)
//!   truncation of the Richardson-extrapolated central differences at h and h/2, within
//!   [`super::FD_STEP`] and [`super::FD_STEP_MAX`].
//!
//! Goods are done one after another, each perturbed solve in parallel over firms and goods,
//! so the result is bit-identical for any number of threads.

use super::dual::{Dual, State};
use super::trace::Trace;
use super::{Equilibrium, ReferenceError, FD_STEP, FD_STEP_MAX};
use crate::economy::Economy;

/// dV/ds_g for the goods in `goods` (others None), as [`super::envelope_for`].
pub(super) fn envelope_for(
    eco: &Economy,
    eq: &Equilibrium,
    goods: &[usize],
    trace: &mut Trace,
) -> Result<Vec<Option<f64>>, ReferenceError> {
    let ng = eco.goods.len();
    let mut dual = Dual::new(eco)?;
    let mut ks: Vec<usize> = goods
        .iter()
        .filter(|&&g| g < ng)
        .filter_map(|&g| dual.constraint(g))
        .collect();
    ks.sort_unstable();
    ks.dedup();
    let mut out = vec![None; ng];
    if ks.is_empty() {
        return Ok(out);
    }
    // the optimum again from the equilibrium's prices and plans (a step or two at most)
    let mut base = dual.new_state();
    base.p = dual.constrained_prices(&eq.prices);
    base.x.copy_from_slice(&eq.x);
    let mut work = dual.new_state();
    let mut trial = dual.new_state();
    dual.newton(&mut base, &mut trial, super::dual::TOL, 0.0, trace)?;
    // rounding of a firm-by-firm value difference: 1e-16 of each firm's value flow where
    // profits are subtracted (summed in quadrature, with a margin), far less where every
    // change comes from the closed forms' price changes
    let noise = if dual.closed_forms() { 1e-17 } else { 1e-15 } * dual.gross_norm(&base);
    for k in ks {
        let d = derivative(&mut dual, k, &base, &mut work, &mut trial, noise, trace)?;
        out[dual.good_of(k)] = Some(d);
    }
    Ok(out)
}

/// Relative excess supply at which a perturbed solve stops in any case. It usually stops
/// earlier, when the Newton decrement shows Phi within 1e-10 h p of V (see [`derivative`]):
/// a fixed excess supply is not enough, since the error of Phi, about
/// sum_g grad_g (H^-1 grad)_g, grows with the number of goods (1e-9 per good left 5e-14 in V
/// at 1e5 firms, 2e-6 of the derivative of a good priced 1e-6).
const FD_TOL: f64 = 1e-13;

fn derivative(
    dual: &mut Dual,
    k: usize,
    base: &State,
    work: &mut State,
    trial: &mut State,
    noise: f64,
    trace: &mut Trace,
) -> Result<f64, ReferenceError> {
    let m = dual.m();
    let price = base.p[k];
    let s = dual.supply[k];
    // tangent dp/ds_k: H t = -e_k (to 1e-4: it sets the step's scale and the warm starts,
    // whose error the Newton steps remove)
    let mut b = vec![0.0; m];
    b[k] = -1.0;
    let mut t = vec![0.0; m];
    let w: Vec<f64> = base.flow.iter().map(|f| f.max(f64::MIN_POSITIVE)).collect();
    dual.cg(base, &b, 1e-4 / w[k], &w, None, None, &mut t);
    let mut scale = dual.gross_supply(base, k);
    if !(scale > 0.0 && scale.is_finite()) {
        scale = 1.0;
    }
    let reach = price / t[k].abs();
    if reach.is_finite() && reach > 0.0 {
        scale = scale.min(reach);
    }
    let rounding = noise / (scale * price);
    let step = if rounding.is_finite() && rounding > 0.0 {
        (5.0 * rounding).powf(0.2).clamp(FD_STEP, FD_STEP_MAX)
    } else {
        FD_STEP
    };
    let h = step * scale;
    let mut v = [0.0; 4];
    // solved prices at +h and -h, for the warm starts of the later solves
    let mut ph = vec![0.0; m];
    let mut pmh = vec![0.0; m];
    for (i, delta) in [h, -h, 0.5 * h, -0.5 * h].into_iter().enumerate() {
        work.copy_from(base);
        for j in 0..m {
            let p0 = base.p[j];
            // p(delta) to first order from the tangent, then (once p(h) and p(-h) are known)
            // to second order: the parabola through p(-h), p*, p(h)
            let guess = match i {
                0 => p0 + delta * t[j],
                1 => ph[j] - 2.0 * h * t[j],
                _ => {
                    let slope = (ph[j] - pmh[j]) / (2.0 * h);
                    let curve = (ph[j] + pmh[j] - 2.0 * p0) / (2.0 * h * h);
                    p0 + delta * slope + delta * delta * curve
                }
            };
            work.p[j] = if guess > 0.5 * p0 { guess } else { 0.5 * p0 };
        }
        dual.supply[k] = s + delta;
        // V to 1e-10 of h p: far below what the differences need
        let r = dual.newton(work, trial, FD_TOL, 1e-10 * h * price, trace);
        dual.supply[k] = s;
        r?;
        match i {
            0 => ph.copy_from_slice(&work.p),
            1 => pmh.copy_from_slice(&work.p),
            _ => {}
        }
        // Phi(p'; s + delta) - Phi(p*; s), firm by firm
        v[i] = dual.phi_change_accurate(base, work) + work.p[k] * delta;
    }
    let d1 = (v[0] - v[1]) / (2.0 * h);
    let d2 = (v[2] - v[3]) / h;
    let d = d2 + (d2 - d1) / 3.0;
    trace.line(|| {
        format!(
            "reference (dual): dV/ds '{}' = {d:.15e} (price {price:.15e}, h {h:.3e}, D(h) {d1:.15e}, D(h/2) {d2:.15e})",
            dual.good_name(k)
        )
    });
    Ok(d)
}
