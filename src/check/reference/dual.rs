//! The reference equilibrium of large economies: damped Newton on the dual potential
//! `Phi(p) = sum_f pi*_f(p) + sum_g p_g s_g` (docs/MODEL.md, "The reference equilibrium") over the prices of the
//! constrained goods, with the Newton systems solved by preconditioned conjugate gradients
//! that only ever multiply by the Hessian, firm by firm.
//!
//! # Why the dual, and why matrix-free
//!
//! `Phi` is convex, its gradient is the excess supply at the firms' best responses
//! (`dPhi/dp_g = s_g + sum_f w_fg y*_f - sum_f x*_fg`) and its minimum is the planner's value
//! V (strong duality), so its minimiser is the equilibrium. Its Hessian is the goods' Schur
//! complement `sum_f B_f^T J_f^T M_f^-1 J_f B_f` (see [`super::firm`]): each firm couples its
//! inputs and its output. On random layered supply graphs that matrix has little sparsity to
//! keep under elimination: faer's symbolic Cholesky with approximate minimum degree ordering
//! gives the factor of the generated 1e5-firm economy (`--layers 10 --width 10000 --inputs 3`,
//! 1e5 goods, 6.7e5 nonzeros in the upper triangle) 1.31e9 nonzeros (26% of a dense lower
//! triangle, 10.5 GB of f64; 1e4 firms: 1.16e7, 23%), so a direct factorisation is out of
//! reach at 1e5 firms and beyond. A Hessian-vector product, on the other hand, costs one
//! small dense product per firm and a sum per good, so conjugate gradients (Jacobi
//! preconditioned) scale with the number of edges.
//!
//! # The iteration
//!
//! 1. *Start*: the forward pass (each good's supply split equally between its users) gives
//!    every good a supply and every firm an output; then, users before producers, each
//!    firm's output value is paid out to its inputs in proportion to their output
//!    elasticities (floored at a tenth of their mean), and a good is priced at what is paid
//!    for it over its supply (exact cost shares for Cobb-Douglas; a rough guess for
//!    complements, which the damped phase then repairs).
//! 2. *Newton step in log prices*: best responses at p (closed forms or per-firm Newton, in
//!    parallel over firms), the gradient per good (in parallel over goods, each summed in the
//!    economy's order); then `(P H P + diag(max(p grad, 0))) dlog p = -p grad` by Jacobi-
//!    preconditioned conjugate gradients. The diagonal term (kept where positive so the
//!    matrix stays positive definite) is the exact second derivative of Phi in log prices for
//!    goods in excess supply, where Newton in p would overshoot below 0; near the answer
//!    grad -> 0 and this is Newton's method. Far from the answer (relative excess above
//!    1e-2) the solve is truncated at a residual of 0.1 of the right-hand side (its steps
//!    are better than an exact solve's, which the line search cut to 1e-3); near it the
//!    solve runs until each good's linearised excess supply is within
//!    `max(0.1 tol, min(0.1 rg, 0.01 rg^2))` of its flow (quadratic convergence).
//! 3. *Line search*: each log price moves by at most 1 (components clipped when that keeps
//!    a descent direction, else the whole step scaled), then halving until Armijo's
//!    condition holds on the change of Phi summed firm by firm (whose rounding is far
//!    below Phi's own near the answer), with the rounding of that sum as slack.
//! 4. *Stop* when every good's excess supply is below 1e-14 of its gross flow (or below
//!    1e-11 when a full Newton step no longer moves any price by more than 1e-13).
//!
//! Every sum is taken in a fixed order (per good in the economy's CSR order; totals over
//! fixed chunks added in sequence), so the answer is bit-identical for any number of
//! threads.

use rayon::prelude::*;

use super::firm::{self, Fail, Kind, Scratch};
use super::trace::Trace;
use super::{Equilibrium, ReferenceError};
use crate::economy::Economy;

const NONE: u32 = u32::MAX;
/// Firms per parallel work item (and per partial sum of the totals).
const CHUNK: usize = 1024;
/// Newton steps at most.
const MAX_NEWTON: usize = 200;
/// Conjugate-gradient steps at most per Newton step.
const MAX_CG: usize = 5000;
/// Largest change of a log price in one Newton step.
const CAP: f64 = 1.0;
/// Relative excess supply above which the Newton systems are solved loosely.
const FAR: f64 = 1e-2;
/// Relative excess supply at which the answer is accepted.
pub(super) const TOL: f64 = 1e-14;

/// The dual programme laid out for the solver.
pub(super) struct Dual<'a> {
    eco: &'a Economy,
    /// Per technology.
    kinds: Vec<Kind>,
    /// Constraint of each good (endogenous with users), NONE otherwise.
    con_of: Vec<u32>,
    con_good: Vec<u32>,
    /// s per constraint (perturbed by the finite differences).
    pub supply: Vec<f64>,
    /// Firm ranges of the work items.
    chunks: Vec<std::ops::Range<usize>>,
    /// Start of each firm's M^-1 block (k^2 entries).
    mat_start: Vec<usize>,
    /// The constraint of each input edge's good (NONE for fixed-price goods).
    edge_con: Vec<u32>,
}

/// Best responses at a price vector, and what follows from them.
#[derive(Clone)]
pub(super) struct State {
    /// Per constraint.
    pub p: Vec<f64>,
    /// Per edge.
    pub x: Vec<f64>,
    g: Vec<f64>,
    /// Per firm.
    pub y: Vec<f64>,
    pub profit: Vec<f64>,
    /// The firms' value flows R y + q.x (a scale for rounding).
    gross: Vec<f64>,
    minv: Vec<f64>,
    /// Per constraint: dPhi/dp (excess supply) and gross flow.
    pub grad: Vec<f64>,
    pub flow: Vec<f64>,
    pub phi: f64,
}

impl State {
    /// Become a copy of `o` without allocating.
    pub(super) fn copy_from(&mut self, o: &State) {
        self.p.copy_from_slice(&o.p);
        self.x.copy_from_slice(&o.x);
        self.g.copy_from_slice(&o.g);
        self.y.copy_from_slice(&o.y);
        self.profit.copy_from_slice(&o.profit);
        self.gross.copy_from_slice(&o.gross);
        self.minv.copy_from_slice(&o.minv);
        self.grad.copy_from_slice(&o.grad);
        self.flow.copy_from_slice(&o.flow);
        self.phi = o.phi;
    }
}

/// Why the dual path does not apply to an economy (None: it does).
pub(super) fn unsuitable(eco: &Economy) -> Option<String> {
    let firms = &eco.firms;
    let why = |f: usize, why: &str| {
        format!(
            "firm '{}': {why}; the large-economy solver (Newton on the dual potential) needs every firm smooth and \
             strictly concave (decreasing returns), so that its best response is unique",
            eco.firm_name(f)
        )
    };
    // expressions (no parameters) once per technology; the families' returns depend on each
    // firm's parameters (exponents), so every firm
    let first = first_firms(eco);
    let bad = first.par_iter().enumerate().find_first(|&(t, f)| {
        let Some(f) = *f else { return false };
        let params = &firms.input_param[firms.inputs(f)];
        firm::kind(&eco.technologies[t], params, params.len()).is_err()
    });
    if let Some((_, Some(f))) = bad {
        let params = &firms.input_param[firms.inputs(*f)];
        return Some(why(
            *f,
            firm::kind(eco.technology(*f), params, params.len())
                .err()
                .unwrap_or("unsupported"),
        ));
    }
    let bad = (0..firms.len()).into_par_iter().find_first(|&f| {
        let tech = eco.technology(f);
        let params = &firms.input_param[firms.inputs(f)];
        !matches!(tech, crate::production::Technology::Expression(_)) && firm::kind(tech, params, params.len()).is_err()
    });
    bad.map(|f| {
        let params = &firms.input_param[firms.inputs(f)];
        why(
            f,
            firm::kind(eco.technology(f), params, params.len())
                .err()
                .unwrap_or("unsupported"),
        )
    })
}

impl<'a> Dual<'a> {
    pub(super) fn new(eco: &'a Economy) -> Result<Self, ReferenceError> {
        if let Some(why) = unsuitable(eco) {
            return Err(ReferenceError::Unsupported(why));
        }
        let goods = &eco.goods;
        let firms = &eco.firms;
        let first = first_firms(eco);
        let kinds = eco
            .technologies
            .iter()
            .zip(&first)
            .map(|(tech, &f)| match f {
                Some(f) => {
                    let params = &firms.input_param[firms.inputs(f)];
                    firm::kind(tech, params, params.len()).unwrap_or(Kind::Newton)
                }
                None => Kind::Newton,
            })
            .collect();
        let mut con_of = vec![NONE; goods.len()];
        let mut con_good = Vec::new();
        let mut supply = Vec::new();
        for g in goods.endogenous() {
            if !goods.uses(g).is_empty() {
                con_of[g] = con_good.len() as u32;
                con_good.push(g as u32);
                supply.push(goods.endowment[g]);
                if (goods.endowment[g].is_nan() || goods.endowment[g] <= 0.0) && goods.producers(g).is_empty() {
                    return Err(ReferenceError::Infeasible(format!(
                        "good '{}' is used by firms but has no positive endowment and no producer: its users cannot \
                         operate and its price is not determined",
                        &goods.name[g]
                    )));
                }
            }
        }
        let nf = firms.len();
        let mut mat_start = Vec::with_capacity(nf + 1);
        mat_start.push(0);
        for f in 0..nf {
            let k = firms.inputs(f).len();
            mat_start.push(mat_start[f] + k * k);
        }
        let chunks = (0..nf.div_ceil(CHUNK))
            .map(|c| c * CHUNK..((c + 1) * CHUNK).min(nf))
            .collect();
        let edge_con = firms.input_good.iter().map(|&g| con_of[g as usize]).collect();
        Ok(Dual {
            edge_con,
            eco,
            kinds,
            con_of,
            con_good,
            supply,
            chunks,
            mat_start,
        })
    }

    pub(super) fn m(&self) -> usize {
        self.con_good.len()
    }

    /// Whether every firm's plan is a closed form (so [`Dual::phi_change_accurate`] has no
    /// difference of separately rounded profits).
    pub(super) fn closed_forms(&self) -> bool {
        !self.kinds.iter().any(|k| matches!(k, Kind::Newton))
    }

    /// The constraint of good g (None for fixed-price and free goods).
    pub(super) fn constraint(&self, g: usize) -> Option<usize> {
        (self.con_of[g] != NONE).then_some(self.con_of[g] as usize)
    }

    pub(super) fn good_of(&self, k: usize) -> usize {
        self.con_good[k] as usize
    }

    pub(super) fn good_name(&self, k: usize) -> &str {
        &self.eco.goods.name[self.good_of(k)]
    }

    /// The constrained goods' prices out of all goods' prices.
    pub(super) fn constrained_prices(&self, prices: &[f64]) -> Vec<f64> {
        self.con_good.iter().map(|&g| prices[g as usize]).collect()
    }

    /// sqrt(sum_f (value flow of f)^2): the scale of the rounding in a sum of per-firm values.
    pub(super) fn gross_norm(&self, st: &State) -> f64 {
        chunked_sum(&st.gross, |v| v * v).sqrt()
    }

    /// Endowment plus production of constraint k's good.
    pub(super) fn gross_supply(&self, st: &State, k: usize) -> f64 {
        let firms = &self.eco.firms;
        let g = self.good_of(k);
        let mut s = self.supply[k].abs();
        for &slot in self.eco.goods.producers(g) {
            let slot = slot as usize;
            s += (firms.output_weight[slot] * st.y[firms.output_firm[slot] as usize]).abs();
        }
        s
    }

    pub(super) fn new_state(&self) -> State {
        let (nf, ne, m) = (self.eco.firms.len(), self.eco.firms.edges(), self.m());
        State {
            p: vec![0.0; m],
            x: vec![0.0; ne],
            g: vec![0.0; ne],
            y: vec![0.0; nf],
            profit: vec![0.0; nf],
            gross: vec![0.0; nf],
            minv: vec![0.0; self.mat_start[nf]],
            grad: vec![0.0; m],
            flow: vec![0.0; m],
            phi: 0.0,
        }
    }

    /// Price of every good: fixed prices, p for constrained goods, 0 for free goods.
    fn prices(&self, p: &[f64]) -> Vec<f64> {
        let goods = &self.eco.goods;
        (0..goods.len())
            .map(|g| {
                if goods.fixed[g] {
                    goods.price[g]
                } else if self.con_of[g] != NONE {
                    p[self.con_of[g] as usize]
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Best responses at `st.p` (`st.x` holds the warm starts), then the gradient and Phi.
    pub(super) fn evaluate(&self, st: &mut State) -> Result<(), ReferenceError> {
        let eco = self.eco;
        let firms = &eco.firms;
        let price = self.prices(&st.p);
        let e_end: Vec<usize> = self.chunks.iter().map(|c| firms.input_start[c.end] as usize).collect();
        let m_end: Vec<usize> = self.chunks.iter().map(|c| self.mat_start[c.end]).collect();
        let f_end: Vec<usize> = self.chunks.iter().map(|c| c.end).collect();
        let xs = split(&mut st.x, &e_end);
        let gs = split(&mut st.g, &e_end);
        let ms = split(&mut st.minv, &m_end);
        let ys = split(&mut st.y, &f_end);
        let ps = split(&mut st.profit, &f_end);
        let grs = split(&mut st.gross, &f_end);
        let work: Vec<_> = self
            .chunks
            .iter()
            .zip(xs)
            .zip(gs)
            .zip(ms)
            .zip(ys)
            .zip(ps)
            .zip(grs)
            .map(|((((((c, x), g), m), y), p), gr)| (c.clone(), x, g, m, y, p, gr))
            .collect();
        let results: Vec<Result<(), (usize, Fail)>> = work
            .into_par_iter()
            .map_init(
                || (Scratch::default(), Vec::new()),
                |(sc, q), (c, x, g, m, y, p, gr)| {
                    let e0 = firms.input_start[c.start] as usize;
                    let m0 = self.mat_start[c.start];
                    for f in c.clone() {
                        let r = eco.revenue(f, &price);
                        let ins = firms.inputs(f);
                        q.clear();
                        q.extend(ins.clone().map(|e| price[firms.input_good[e] as usize]));
                        let (a, b) = (ins.start - e0, ins.end - e0);
                        let (ma, mb) = (self.mat_start[f] - m0, self.mat_start[f + 1] - m0);
                        let tech = eco.technology(f);
                        let kind = self.kinds[eco.groups[firms.group[f] as usize].technology as usize];
                        let resp = firm::respond(
                            kind,
                            tech,
                            &firms.input_param[ins.clone()],
                            firms.productivity[f],
                            r,
                            q,
                            &mut x[a..b],
                            &mut g[a..b],
                            &mut m[ma..mb],
                            sc,
                        )
                        .map_err(|e| (f, e))?;
                        y[f - c.start] = resp.y;
                        p[f - c.start] = resp.profit;
                        gr[f - c.start] = r * resp.y.abs() + q.iter().zip(&x[a..b]).map(|(u, v)| u * v).sum::<f64>();
                    }
                    Ok(())
                },
            )
            .collect();
        if let Some(Err((f, fail))) = results.into_iter().find(|r| r.is_err()) {
            return Err(self.firm_error(f, fail, &price));
        }
        // gradient (excess supply) and gross flow per constraint, in CSR order
        let goods = &eco.goods;
        let (x, y) = (&st.x, &st.y);
        st.grad
            .par_iter_mut()
            .zip(st.flow.par_iter_mut())
            .enumerate()
            .for_each(|(k, (gk, fk))| {
                let g = self.con_good[k] as usize;
                let s = self.supply[k];
                let (mut net, mut flow) = (s, s.abs());
                for &slot in goods.producers(g) {
                    let slot = slot as usize;
                    let v = firms.output_weight[slot] * y[firms.output_firm[slot] as usize];
                    net += v;
                    flow += v.abs();
                }
                for &e in goods.uses(g) {
                    let v = x[e as usize];
                    net -= v;
                    flow += v.abs();
                }
                *gk = net;
                *fk = flow;
            });
        let profit = chunked_sum(&st.profit, |v| *v);
        let ps: f64 = st.p.iter().zip(&self.supply).map(|(p, s)| p * s).sum();
        st.phi = profit + ps;
        Ok(())
    }

    fn firm_error(&self, f: usize, fail: Fail, price: &[f64]) -> ReferenceError {
        let eco = self.eco;
        let name = eco.firm_name(f);
        match fail {
            Fail::FreeInput(i) => {
                let e = eco.firms.inputs(f).start + i;
                let g = eco.firms.input_good[e] as usize;
                ReferenceError::Unbounded(format!(
                    "firm '{name}' would buy unlimited '{}' at its price {}: the planner's value has no maximum",
                    &eco.goods.name[g], price[g]
                ))
            }
            Fail::NotConcave => ReferenceError::Unsupported(format!(
                "firm '{name}' is not strictly concave at its best response (its Hessian is singular there); the \
                 large-economy solver needs unique best responses"
            )),
            Fail::NoOptimum => ReferenceError::Unsupported(format!(
                "firm '{name}' has no interior profit maximum at the prices the solver reached (an input it would \
                 not use at all, or no maximum); the large-economy solver needs every firm to use every input"
            )),
        }
    }

    /// Phi(b) - Phi(a), summed firm by firm and good by good (each term carries only its
    /// own rounding).
    pub(super) fn phi_change(&self, a: &State, b: &State) -> f64 {
        let firms: Vec<f64> = a
            .profit
            .par_chunks(4096)
            .zip(b.profit.par_chunks(4096))
            .map(|(a, b)| a.iter().zip(b).map(|(x, y)| y - x).sum::<f64>())
            .collect();
        let goods: f64 = (0..self.m()).map(|k| (b.p[k] - a.p[k]) * self.supply[k]).sum();
        firms.iter().sum::<f64>() + goods
    }

    /// Phi(b) - Phi(a) summed firm by firm, each closed-form firm's change computed from
    /// its price changes ([`firm::profit_change`]), the others' as differences of profits.
    pub(super) fn phi_change_accurate(&self, a: &State, b: &State) -> f64 {
        let eco = self.eco;
        let firms = &eco.firms;
        let (pa, pb) = (self.prices(&a.p), self.prices(&b.p));
        let parts: Vec<f64> = self
            .chunks
            .par_iter()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(qa, qb), c| {
                    let mut sum = 0.0;
                    for f in c.clone() {
                        let ins = firms.inputs(f);
                        let kind = self.kinds[eco.groups[firms.group[f] as usize].technology as usize];
                        qa.clear();
                        qb.clear();
                        qa.extend(ins.clone().map(|e| pa[firms.input_good[e] as usize]));
                        qb.extend(ins.clone().map(|e| pb[firms.input_good[e] as usize]));
                        let (ra, rb) = (eco.revenue(f, &pa), eco.revenue(f, &pb));
                        let exact = ra == rb && qa == qb;
                        sum += if exact {
                            0.0
                        } else {
                            firm::profit_change(kind, &firms.input_param[ins], a.profit[f], ra, qa, rb, qb)
                                .unwrap_or(b.profit[f] - a.profit[f])
                        };
                    }
                    sum
                },
            )
            .collect();
        let goods: f64 = (0..self.m()).map(|k| (b.p[k] - a.p[k]) * self.supply[k]).sum();
        parts.iter().sum::<f64>() + goods
    }

    /// The relative excess supply: max over goods of |grad| / flow.
    fn rel_grad(&self, st: &State) -> f64 {
        st.grad
            .iter()
            .zip(&st.flow)
            .fold(0.0f64, |m, (g, f)| m.max(g.abs() / f.max(f64::MIN_POSITIVE)))
    }

    /// H d for the Hessian of Phi at `st` (per firm: u = M^-1 (dq - g dR) per input, and
    /// -g.u for its output; summed per good in CSR order).
    fn hess_vec(&self, st: &State, d: &[f64], u: &mut [f64], yv: &mut [f64], out: &mut [f64]) {
        let eco = self.eco;
        let firms = &eco.firms;
        let e_end: Vec<usize> = self.chunks.iter().map(|c| firms.input_start[c.end] as usize).collect();
        let f_end: Vec<usize> = self.chunks.iter().map(|c| c.end).collect();
        let us = split(u, &e_end);
        let ys = split(yv, &f_end);
        let work: Vec<_> = self.chunks.iter().zip(us).zip(ys).collect();
        work.into_par_iter().for_each_init(Vec::new, |v, ((c, u), yv)| {
            let e0 = firms.input_start[c.start] as usize;
            for f in c.clone() {
                let mut dr = 0.0;
                for k in firms.outputs(f) {
                    let ck = self.con_of[firms.output_good[k] as usize];
                    if ck != NONE {
                        dr += firms.output_weight[k] * d[ck as usize];
                    }
                }
                let (a, b) = (firms.input_start[f] as usize, firms.input_start[f + 1] as usize);
                let n = b - a;
                let g = &st.g[a..b];
                v.clear();
                for (&ck, &gi) in self.edge_con[a..b].iter().zip(g) {
                    let dq = if ck != NONE { d[ck as usize] } else { 0.0 };
                    v.push(dq - gi * dr);
                }
                let m = &st.minv[self.mat_start[f]..self.mat_start[f + 1]];
                let uf = &mut u[a - e0..b - e0];
                let mut gu = 0.0;
                for i in 0..n {
                    let row = &m[i * n..(i + 1) * n];
                    let s: f64 = row.iter().zip(v.iter()).map(|(x, y)| x * y).sum();
                    uf[i] = s;
                    gu += g[i] * s;
                }
                yv[f - c.start] = -gu;
            }
        });
        self.reduce(u, yv, out);
    }

    /// out_k = sum over the uses of good k of `per_edge` + sum over its producers of
    /// w * `per_firm`.
    fn reduce(&self, per_edge: &[f64], per_firm: &[f64], out: &mut [f64]) {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        out.par_iter_mut().enumerate().for_each(|(k, o)| {
            let g = self.con_good[k] as usize;
            let mut s = 0.0;
            for &e in goods.uses(g) {
                s += per_edge[e as usize];
            }
            for &slot in goods.producers(g) {
                let slot = slot as usize;
                s += firms.output_weight[slot] * per_firm[firms.output_firm[slot] as usize];
            }
            *o = s;
        });
    }

    /// The diagonal of the Hessian (Jacobi preconditioner).
    fn hess_diag(&self, st: &State, out: &mut [f64]) {
        let firms = &self.eco.firms;
        let mut de = vec![0.0; firms.edges()];
        let mut df = vec![0.0; firms.len()];
        de.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
            for (i, v) in chunk.iter_mut().enumerate() {
                let e = c * CHUNK + i;
                let f = firms.edge_firm[e] as usize;
                let ins = firms.inputs(f);
                let n = ins.len();
                let j = e - ins.start;
                *v = st.minv[self.mat_start[f] + j * n + j];
            }
        });
        df.par_iter_mut().enumerate().for_each(|(f, v)| {
            let ins = firms.inputs(f);
            let n = ins.len();
            let m = &st.minv[self.mat_start[f]..self.mat_start[f + 1]];
            let g = &st.g[ins];
            let mut s = 0.0;
            for i in 0..n {
                for j in 0..n {
                    s += g[i] * m[i * n + j] * g[j];
                }
            }
            *v = s;
        });
        // the output's diagonal entry is w^2 g.M^-1.g: scale per producer slot
        let goods = &self.eco.goods;
        out.par_iter_mut().enumerate().for_each(|(k, o)| {
            let g = self.con_good[k] as usize;
            let mut s = 0.0;
            for &e in goods.uses(g) {
                s += de[e as usize];
            }
            for &slot in goods.producers(g) {
                let slot = slot as usize;
                let w = firms.output_weight[slot];
                s += w * w * df[firms.output_firm[slot] as usize];
            }
            *o = if s > 0.0 && s.is_finite() { s } else { 1.0 };
        });
    }

    /// Solve `A d = b` by Jacobi-preconditioned conjugate gradients until every residual is
    /// within `target` times its weight (`max_k |r_k| / w_k <= target`, the measure the
    /// Newton iteration stops on), where A is the Hessian H of Phi at `st`, or with
    /// `log = Some((p, shift))` the matrix `P H P + diag(shift)` of the step in log prices
    /// (P = diag(p)). Returns the steps taken.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn cg(
        &self,
        st: &State,
        b: &[f64],
        target: f64,
        w: &[f64],
        loose: Option<f64>,
        log: Option<(&[f64], &[f64])>,
        d: &mut [f64],
    ) -> usize {
        let m = self.m();
        let firms = &self.eco.firms;
        let mut diag = vec![0.0; m];
        self.hess_diag(st, &mut diag);
        if let Some((p, shift)) = log {
            for k in 0..m {
                diag[k] = diag[k] * p[k] * p[k] + shift[k];
            }
        }
        let mut u = vec![0.0; firms.edges()];
        let mut yv = vec![0.0; firms.len()];
        let mut ps = vec![0.0; if log.is_some() { m } else { 0 }];
        d.fill(0.0);
        let mut r = b.to_vec();
        let mut z: Vec<f64> = r.iter().zip(&diag).map(|(r, d)| r / d).collect();
        let mut s = z.clone();
        let mut hs = vec![0.0; m];
        let reached = |r: &[f64]| {
            let parts: Vec<f64> = r
                .par_chunks(4096)
                .zip(w.par_chunks(4096))
                .map(|(r, w)| r.iter().zip(w).fold(0.0f64, |m, (r, w)| m.max(r.abs() / w)))
                .collect();
            parts.iter().fold(0.0f64, |a, b| a.max(*b)) <= target
        };
        if reached(b) {
            return 0;
        }
        let bnorm = dot(b, b).sqrt();
        let mut rz = dot(&r, &z);
        for it in 0..MAX_CG {
            match log {
                None => self.hess_vec(st, &s, &mut u, &mut yv, &mut hs),
                Some((p, shift)) => {
                    ps.par_iter_mut().zip(&s).zip(p).for_each(|((o, s), p)| *o = s * p);
                    self.hess_vec(st, &ps, &mut u, &mut yv, &mut hs);
                    hs.par_iter_mut()
                        .zip(&s)
                        .zip(p)
                        .zip(shift)
                        .for_each(|(((h, s), p), sh)| *h = *h * p + sh * s);
                }
            }
            let shs = dot(&s, &hs);
            if shs.is_nan() || shs <= 0.0 {
                return it;
            }
            let alpha = rz / shs;
            d.par_iter_mut().zip(&s).for_each(|(d, s)| *d += alpha * s);
            r.par_iter_mut().zip(&hs).for_each(|(r, h)| *r -= alpha * h);
            if reached(&r) || loose.is_some_and(|eta| dot(&r, &r).sqrt() <= eta * bnorm) {
                return it + 1;
            }
            z.par_iter_mut().zip(&r).zip(&diag).for_each(|((z, r), d)| *z = r / d);
            let rz_new = dot(&r, &z);
            let beta = rz_new / rz;
            rz = rz_new;
            s.par_iter_mut().zip(&z).for_each(|(s, z)| *s = z + beta * *s);
        }
        MAX_CG
    }

    /// Minimise Phi from `st` (its prices and warm starts set), by damped Newton.
    /// Returns the Newton steps taken.
    ///
    /// Stops when the relative excess supply is at most `tol`, or (`vtol > 0`) when Phi is
    /// surely within `vtol` of its minimum: when 100 times the Jacobi estimate of the Newton
    /// decrement, `sum_g grad_g^2 / H_gg` (about twice Phi - min Phi), is at most `vtol`.
    pub(super) fn newton(
        &self,
        st: &mut State,
        trial: &mut State,
        tol: f64,
        vtol: f64,
        trace: &mut Trace,
    ) -> Result<usize, ReferenceError> {
        let m = self.m();
        self.evaluate(st)?;
        let mut d = vec![0.0; m];
        let mut last_step = f64::INFINITY;
        for it in 0..MAX_NEWTON {
            let rg = self.rel_grad(st);
            if rg <= tol || (rg <= 1e-11 && last_step <= 1e-13) {
                return Ok(it);
            }
            if vtol > 0.0 {
                let mut diag = vec![0.0; m];
                self.hess_diag(st, &mut diag);
                let est: f64 = st.grad.iter().zip(&diag).map(|(g, d)| g * g / d).sum();
                if 100.0 * est <= vtol {
                    return Ok(it);
                }
            }
            // inexact Newton: the linear model's residual (relative to each good's flow) is
            // what the step leaves, plus O(rg^2): ask for 0.1 rg far away, 0.01 rg^2 near the
            // answer (quadratic convergence), never below a tenth of tol
            let target = (0.1 * rg).min(0.01 * rg * rg).max(0.1 * tol);
            // Newton's step in log prices: the gradient there is p grad, the Hessian
            // P H P + diag(p grad), whose diagonal term is kept where it is positive (goods in
            // excess supply) and dropped where not (so the matrix stays positive definite);
            // near the answer grad -> 0 and this is Newton's method
            let b: Vec<f64> = st.grad.iter().zip(&st.p).map(|(g, p)| -g * p).collect();
            let shift: Vec<f64> = b.iter().map(|v| (-v).max(0.0)).collect();
            let w: Vec<f64> = st
                .flow
                .iter()
                .zip(&st.p)
                .map(|(f, p)| f.max(f64::MIN_POSITIVE) * p)
                .collect();
            // far from the answer, a truncated solve (residual 0.1 of the gradient's) gives
            // better steps than an accurate one, whose long steps the line search cuts to 1e-3
            let loose = (rg > FAR).then_some(0.1);
            let cg = self.cg(st, &b, target, &w, loose, Some((&st.p, &shift)), &mut d);
            let slope = -dot(&b, &d);
            trace.line(|| {
                format!(
                    "reference (dual): step {it}: Phi {:.15e} relative excess {rg:.3e}, {cg} CG steps, slope {slope:.3e}",
                    st.phi
                )
            });
            if slope.is_nan() || slope >= 0.0 {
                if rg <= 1e-11 {
                    return Ok(it);
                }
                return Err(ReferenceError::NoConvergence(format!(
                    "the Newton direction on the dual potential is not a descent direction (relative excess \
                     supply {rg:.2e} after {it} Newton steps)"
                )));
            }
            // the rounding of a change of Phi summed firm by firm: a decrease predicted below
            // it cannot be checked
            let noise = 1e-15 * self.gross_norm(st);
            // no log price moves by more than CAP in one step: each component is clipped
            // (so that one good's long step does not hold back the others) when that keeps a
            // descent direction, else the whole step is scaled
            let rel = d.iter().fold(0.0f64, |a, d| a.max(d.abs()));
            let mut alpha = 1.0;
            let mut slope = slope;
            if rel > CAP {
                let clipped: f64 = b.iter().zip(&d).map(|(b, d)| -b * d.clamp(-CAP, CAP)).sum();
                if clipped < 0.0 {
                    d.iter_mut().for_each(|v| *v = v.clamp(-CAP, CAP));
                    slope = clipped;
                } else {
                    alpha = CAP / rel;
                }
            }
            let mut accepted = false;
            for _ in 0..60 {
                for k in 0..m {
                    trial.p[k] = st.p[k] * (alpha * d[k]).exp();
                }
                trial.x.copy_from_slice(&st.x);
                let ok = self.evaluate(trial).is_ok() && trial.phi.is_finite();
                // the change of Phi summed firm by firm (near the answer it is far below the
                // rounding of Phi itself)
                if ok && self.phi_change(st, trial) <= 1e-4 * alpha * slope + noise {
                    accepted = true;
                    break;
                }
                alpha *= 0.5;
            }
            if !accepted {
                if rg <= 1e-11 {
                    return Ok(it);
                }
                return Err(ReferenceError::NoConvergence(format!(
                    "the line search on the dual potential failed (relative excess supply {rg:.2e} after {it} \
                     Newton steps)"
                )));
            }
            trace.line(|| format!("reference (dual):   step length {alpha:.3e}"));
            last_step = if alpha == 1.0 { rel } else { f64::INFINITY };
            std::mem::swap(st, trial);
        }
        Err(ReferenceError::NoConvergence(format!(
            "Newton's method on the dual potential did not converge in {MAX_NEWTON} steps (relative excess supply \
             {:.2e})",
            self.rel_grad(st)
        )))
    }

    /// Solve from the start.
    pub(super) fn solve(&self, trace: &mut Trace) -> Result<(State, usize), ReferenceError> {
        let mut st = self.new_state();
        st.p = super::dual_start::start_prices(self.eco, &self.con_good);
        let p0 = st.p.clone();
        let mut trial = self.new_state();
        let it = self.newton(&mut st, &mut trial, TOL, 0.0, trace)?;
        trace.line(|| {
            let mut r: Vec<f64> = p0.iter().zip(&st.p).map(|(a, b)| (a / b).ln()).collect();
            r.sort_by(|a, b| a.total_cmp(b));
            let q = |f: f64| r[((r.len() - 1) as f64 * f) as usize];
            format!(
                "reference (dual): ln(start / answer) quantiles 0 {:.3} 0.1 {:.3} 0.5 {:.3} 0.9 {:.3} 1 {:.3}",
                q(0.0),
                q(0.1),
                q(0.5),
                q(0.9),
                q(1.0)
            )
        });
        Ok((st, it))
    }

    /// The equilibrium of a solved state.
    pub(super) fn equilibrium(&self, st: &State, iterations: usize) -> Equilibrium {
        let eco = self.eco;
        let goods = &eco.goods;
        let firms = &eco.firms;
        let prices = self.prices(&st.p);
        // V = value of net fixed-price output
        let per_firm: Vec<f64> = (0..firms.len())
            .into_par_iter()
            .map(|f| {
                let mut v = 0.0;
                for k in firms.outputs(f) {
                    let g = firms.output_good[k] as usize;
                    if goods.fixed[g] {
                        v += goods.price[g] * firms.output_weight[k] * st.y[f];
                    }
                }
                for e in firms.inputs(f) {
                    let h = firms.input_good[e] as usize;
                    if goods.fixed[h] {
                        v -= goods.price[h] * st.x[e];
                    }
                }
                v
            })
            .collect();
        let value = chunked_sum(&per_firm, |v| *v);
        Equilibrium {
            prices,
            x: st.x.clone(),
            y: st.y.clone(),
            value,
            iterations,
            kkt_residual: self.kkt_residual(st),
        }
    }

    /// As [`Equilibrium::kkt_residual`]: stationarity of every input relative to its marginal
    /// value plus cost, market clearing relative to the good's gross flow (every price is
    /// positive, so complementarity is clearing).
    fn kkt_residual(&self, st: &State) -> f64 {
        let eco = self.eco;
        let firms = &eco.firms;
        let price = self.prices(&st.p);
        let stat = (0..firms.len())
            .into_par_iter()
            .map(|f| {
                let r = eco.revenue(f, &price);
                let mut w: f64 = 0.0;
                for e in firms.inputs(f) {
                    let q = price[firms.input_good[e] as usize];
                    let mv = r * st.g[e];
                    if r > 0.0 {
                        w = w.max((mv - q).abs() / (mv.abs() + q).max(f64::MIN_POSITIVE));
                    }
                }
                w
            })
            .reduce(|| 0.0, f64::max);
        stat.max(self.rel_grad(st))
    }
}

/// The first firm of each technology (None for a technology no firm has).
fn first_firms(eco: &Economy) -> Vec<Option<usize>> {
    let mut first = vec![None; eco.technologies.len()];
    for g in eco.groups.iter().rev() {
        if g.count > 0 {
            first[g.technology as usize] = Some(g.first as usize);
        }
    }
    first
}

/// Split `v` into consecutive pieces ending at the given offsets.
fn split<'s, T>(mut v: &'s mut [T], ends: &[usize]) -> Vec<&'s mut [T]> {
    let mut out = Vec::with_capacity(ends.len());
    let mut at = 0;
    for &e in ends {
        let (a, b) = std::mem::take(&mut v).split_at_mut(e - at);
        out.push(a);
        v = b;
        at = e;
    }
    out
}

/// Sum in a fixed order: partial sums of fixed chunks (in parallel), added in sequence.
pub(super) fn chunked_sum<T: Sync>(v: &[T], f: impl Fn(&T) -> f64 + Sync) -> f64 {
    let parts: Vec<f64> = v.par_chunks(4096).map(|c| c.iter().map(&f).sum::<f64>()).collect();
    parts.iter().sum()
}

/// Dot product in a fixed order.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let parts: Vec<f64> = a
        .par_chunks(4096)
        .zip(b.par_chunks(4096))
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>())
        .collect();
    parts.iter().sum()
}
