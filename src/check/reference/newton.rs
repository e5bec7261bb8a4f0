//! The Newton system of the KKT equations, shared by the interior point, the polish and the
//! finite differences: assembled per firm, firms with a well-conditioned, substantially
//! curved Hessian block eliminated by Cholesky into a Schur complement on goods, the others
//! kept in a dense system that is equilibrated and factorised by LU (step 3 of the algorithm
//! in the module docs of `mod.rs`).

use super::problem::{Eval, Priced, Problem};
use super::{MAX_DENSE, NONE};
use crate::numeric::linalg;

/// Why a Newton system could not be solved: singular, or its dense block too large (rows).
pub(super) enum SolveFail {
    Singular,
    TooLarge(usize),
}

/// One firm's part of a factorised Newton system.
struct Block {
    f: usize,
    /// Active variables (indices into the firm's variables) and constraints touched.
    av: Vec<usize>,
    lc: Vec<usize>,
    a: Vec<f64>,
    /// eliminated: Y = M^-1 A (na x kc); kept: M (na x na).
    y: Vec<f64>,
    /// eliminated: the Cholesky factor of M.
    chol: Vec<f64>,
    kept: bool,
}

/// A factorised Newton system ([`Problem::factor_newton`]): solving it again for another
/// right-hand side costs two triangular solves, not a factorisation.
pub(super) struct NewtonFactors {
    blocks: Vec<Block>,
    con_row: Vec<usize>,
    kept_row: Vec<usize>,
    dim: usize,
    /// LU factors of the equilibrated dense system, its pivots and the equilibration passes.
    lu: Vec<f64>,
    piv: Vec<usize>,
    scaling: Vec<Vec<f64>>,
}

impl NewtonFactors {
    pub(super) fn solve(&self, prob: &Problem, b1: &[f64], b2: &[f64]) -> Result<(Vec<f64>, Vec<f64>), SolveFail> {
        let m = prob.m();
        let dim = self.dim;
        let mut rhs = vec![0.0; dim];
        for k in 0..m {
            if self.con_row[k] != NONE {
                rhs[self.con_row[k]] += b2[k];
            }
        }
        let mut us: Vec<Vec<f64>> = Vec::with_capacity(self.blocks.len());
        for (bi, b) in self.blocks.iter().enumerate() {
            let na = b.av.len();
            let kc = b.lc.len();
            let r0 = prob.var_start[b.f];
            if b.kept {
                let base = self.kept_row[bi];
                for i in 0..na {
                    rhs[base + i] = b1[r0 + b.av[i]];
                }
                us.push(Vec::new());
            } else {
                let mut u: Vec<f64> = b.av.iter().map(|&i| b1[r0 + i]).collect();
                linalg::cholesky_substitute(&b.chol, na, &mut u);
                for i in 0..kc {
                    let ri = self.con_row[b.lc[i]];
                    let s: f64 = (0..na).map(|v| b.a[v * kc + i] * u[v]).sum();
                    rhs[ri] += s;
                }
                us.push(u);
            }
        }
        if dim > 0 && !equilibrated_substitute(&self.lu, &self.piv, &self.scaling, &mut rhs, dim) {
            return Err(SolveFail::Singular);
        }
        let mut dp = vec![0.0; m];
        for k in 0..m {
            if self.con_row[k] != NONE {
                dp[k] = rhs[self.con_row[k]];
            }
        }
        let mut dx = vec![0.0; prob.n()];
        for (bi, b) in self.blocks.iter().enumerate() {
            let na = b.av.len();
            let kc = b.lc.len();
            let r0 = prob.var_start[b.f];
            if b.kept {
                for i in 0..na {
                    dx[r0 + b.av[i]] = rhs[self.kept_row[bi] + i];
                }
            } else {
                let u = &us[bi];
                for i in 0..na {
                    let s: f64 = (0..kc).map(|j| b.y[i * kc + j] * dp[b.lc[j]]).sum();
                    dx[r0 + b.av[i]] = s - u[i];
                }
            }
        }
        if dx.iter().chain(&dp).all(|v| v.is_finite()) {
            Ok((dx, dp))
        } else {
            Err(SolveFail::Singular)
        }
    }
}

impl Problem<'_> {
    /// Solve the (reduced) Newton system
    ///   -M dx + A dp = b1   (active variables; M = diag(sigma) - W)
    ///   A^T dx + D dp = b2  (active constraints)
    /// eliminating firms whose Hessian is well conditioned and keeping the others dense.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn newton(
        &self,
        x: &[f64],
        ev: &Eval,
        pr: &Priced,
        sigma: &[f64],
        dcon: &[f64],
        b1: &[f64],
        b2: &[f64],
        var_on: &[bool],
        con_on: &[bool],
    ) -> Result<(Vec<f64>, Vec<f64>), SolveFail> {
        self.factor_newton(x, ev, pr, sigma, dcon, var_on, con_on)?
            .solve(self, b1, b2)
    }

    /// Factorise the Newton system of [`Problem::newton`] (the matrix only), for one or
    /// several right-hand sides ([`NewtonFactors::solve`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn factor_newton(
        &self,
        x: &[f64],
        ev: &Eval,
        pr: &Priced,
        sigma: &[f64],
        dcon: &[f64],
        var_on: &[bool],
        con_on: &[bool],
    ) -> Result<NewtonFactors, SolveFail> {
        let m = self.m();
        let mut con_row = vec![NONE; m];
        let mut rows = 0;
        for k in 0..m {
            if con_on[k] {
                con_row[k] = rows;
                rows += 1;
            }
        }
        let mut blocks: Vec<Block> = Vec::new();
        let mut a_full = Vec::new();
        for f in 0..self.nf {
            let r = self.vars(f);
            let nv = r.len();
            let av: Vec<usize> = (0..nv).filter(|&i| var_on[r.start + i]).collect();
            let na = av.len();
            if na == 0 {
                continue;
            }
            let lc_all = &self.loc_con[self.loc_start[f]..self.loc_start[f + 1]];
            let lj: Vec<usize> = (0..lc_all.len()).filter(|&j| con_on[lc_all[j]]).collect();
            let kc = lj.len();
            self.local_a(f, ev, &mut a_full);
            let kall = lc_all.len();
            let mut a = vec![0.0; na * kc];
            for (ii, &i) in av.iter().enumerate() {
                for (jj, &j) in lj.iter().enumerate() {
                    a[ii * kc + jj] = a_full[i * kall + j];
                }
            }
            let h = &ev.hess[self.hess_start[f]..self.hess_start[f + 1]];
            let mut nmat = vec![0.0; na * na];
            for (ii, &i) in av.iter().enumerate() {
                for (jj, &j) in av.iter().enumerate() {
                    nmat[ii * na + jj] = -pr.rf[f] * h[i * nv + j];
                }
            }
            // Eliminate only blocks whose curvature is substantial next to the firm's value
            // flows (x^2 |F''| vs x F'): a nearly flat direction (constant returns, or an
            // input whose marginal product has all but vanished) would put huge entries
            // into the Schur complement and drown the other goods' prices in rounding.
            let value: f64 = av
                .iter()
                .map(|&i| x[r.start + i] * (pr.mv[r.start + i].abs() + pr.cost[r.start + i]))
                .sum();
            let curved = av
                .iter()
                .enumerate()
                .all(|(ii, &i)| x[r.start + i] * x[r.start + i] * nmat[ii * na + ii] >= 1e-10 * value);
            let eliminate = curved && well_conditioned(&nmat, na);
            let mut mmat = nmat;
            for (ii, &i) in av.iter().enumerate() {
                mmat[ii * na + ii] += sigma[r.start + i];
            }
            let lc: Vec<usize> = lj.iter().map(|&j| lc_all[j]).collect();
            if eliminate && linalg::cholesky(&mut mmat, na) {
                let mut y = vec![0.0; na * kc];
                let mut col = vec![0.0; na];
                for j in 0..kc {
                    for i in 0..na {
                        col[i] = a[i * kc + j];
                    }
                    linalg::cholesky_substitute(&mmat, na, &mut col);
                    for i in 0..na {
                        y[i * kc + j] = col[i];
                    }
                }
                blocks.push(Block {
                    f,
                    av,
                    lc,
                    a,
                    y,
                    chol: mmat,
                    kept: false,
                });
            } else {
                let mut mmat = mmat;
                // the failed Cholesky may have overwritten it: rebuild
                if eliminate {
                    mmat = vec![0.0; na * na];
                    for (ii, &i) in av.iter().enumerate() {
                        for (jj, &j) in av.iter().enumerate() {
                            mmat[ii * na + jj] = -pr.rf[f] * h[i * nv + j];
                        }
                        mmat[ii * na + ii] += sigma[r.start + i];
                    }
                }
                blocks.push(Block {
                    f,
                    av,
                    lc,
                    a,
                    y: mmat,
                    chol: Vec::new(),
                    kept: true,
                });
                rows += na;
            }
        }
        let dim = rows;
        if dim > 2 * MAX_DENSE {
            return Err(SolveFail::TooLarge(dim));
        }
        let mut jm = vec![0.0; dim * dim];
        for k in 0..m {
            if con_on[k] {
                let r = con_row[k];
                jm[r * dim + r] += dcon[k];
            }
        }
        let mut next_row = con_row.iter().filter(|&&r| r != NONE).count();
        let mut kept_row = vec![NONE; blocks.len()];
        for (bi, b) in blocks.iter().enumerate() {
            let na = b.av.len();
            let kc = b.lc.len();
            if b.kept {
                let base = next_row;
                kept_row[bi] = base;
                next_row += na;
                for i in 0..na {
                    for j in 0..na {
                        jm[(base + i) * dim + base + j] = -b.y[i * na + j];
                    }
                    for j in 0..kc {
                        let cr = con_row[b.lc[j]];
                        jm[(base + i) * dim + cr] += b.a[i * kc + j];
                        jm[cr * dim + base + i] += b.a[i * kc + j];
                    }
                }
            } else {
                for i in 0..kc {
                    let ri = con_row[b.lc[i]];
                    for j in 0..kc {
                        let rj = con_row[b.lc[j]];
                        let s: f64 = (0..na).map(|v| b.a[v * kc + i] * b.y[v * kc + j]).sum();
                        jm[ri * dim + rj] += s;
                    }
                }
            }
        }
        let mut fac = NewtonFactors {
            blocks,
            con_row,
            kept_row,
            dim,
            lu: jm,
            piv: Vec::new(),
            scaling: Vec::new(),
        };
        if dim > 0 && !equilibrated_factor(&mut fac.lu, &mut fac.piv, &mut fac.scaling, dim) {
            return Err(SolveFail::Singular);
        }
        Ok(fac)
    }
}

/// Factorise a symmetric (indefinite) system by LU after symmetric equilibration: rows and
/// columns are scaled by 1/sqrt of their largest entry (twice), so that the huge barrier
/// terms of unused inputs and slack goods do not swamp the pivot threshold of the rest.
/// `scaling` receives the two passes, for [`equilibrated_substitute`].
fn equilibrated_factor(a: &mut [f64], piv: &mut Vec<usize>, scaling: &mut Vec<Vec<f64>>, n: usize) -> bool {
    scaling.clear();
    for _ in 0..2 {
        let mut d = vec![1.0; n];
        for i in 0..n {
            let mx = a[i * n..(i + 1) * n].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            d[i] = if mx > 0.0 && mx.is_finite() {
                1.0 / mx.sqrt()
            } else {
                1.0
            };
        }
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] *= d[i] * d[j];
            }
        }
        scaling.push(d);
    }
    linalg::lu_factor(a, piv, n)
}

/// Solve with the factors of [`equilibrated_factor`], in place.
fn equilibrated_substitute(lu: &[f64], piv: &[usize], scaling: &[Vec<f64>], b: &mut [f64], n: usize) -> bool {
    let mut total = vec![1.0; n];
    for d in scaling {
        for i in 0..n {
            b[i] *= d[i];
            total[i] *= d[i];
        }
    }
    if !linalg::lu_substitute(lu, piv, b, n) {
        return false;
    }
    for i in 0..n {
        b[i] *= total[i];
    }
    true
}

/// Whether a symmetric positive semi-definite block is safely positive definite after
/// Jacobi scaling (so that eliminating it does not amplify rounding).
fn well_conditioned(a: &[f64], n: usize) -> bool {
    let mut s = vec![0.0; n];
    for i in 0..n {
        let d = a[i * n + i];
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        s[i] = 1.0 / d.sqrt();
    }
    let mut b = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            b[i * n + j] = a[i * n + j] * s[i] * s[j];
        }
    }
    if !linalg::cholesky(&mut b, n) {
        return false;
    }
    (0..n).all(|i| b[i * n + i] * b[i * n + i] >= 1e-8)
}
