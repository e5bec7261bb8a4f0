//! The second-order (small-noise) prediction of a noisy run's mean prices (docs/NOISE.md,
//! "Why the bias"), computed from the economy alone, sharing no code with the engine:
//!
//! The state of a tick is s = (ln x per input edge, ln p per market good); one tick maps it
//! to G_b(s, e): firms whose activation draw b_f is 1 see their revenue and input prices
//! multiplied by exp(noise e) and step `x <- x exp(rate clip(R~ dF/dx / p~ - 1, -1, 1))`,
//! markets step `ln p <- ln p + step ln(D / S)` (the multiplicative rule
//! `step (D - S) / max(S, D)` is ln(D / S) plus an odd term of third order: the same mean to
//! second order). The equilibrium s* is a fixed point of every G_b. With A_b = dG_b/ds and
//! B_b = dG_b/de at s*, the stationary covariance of the state solves
//! `Sigma = E_b[A_b Sigma A_b' + B_b B_b']`, and its mean s* + m solves
//! `(I - E_b A_b) m = E_b[tr(H_b Sigma) + tr(H^ee_b)] / 2` (H the second derivatives; the
//! cross term vanishes because e is drawn after s). Activation patterns b are enumerated with
//! their probabilities. Then `E[p] = p* exp(m + Sigma_pp / 2)` and `E[x] = x* exp(m +
//! Sigma_xx / 2)` to second order.

use pricegrad::check::backprop;
use pricegrad::check::reference;
use pricegrad::economy::agent_settings::{Form, Rule};
use pricegrad::economy::market_settings::Rule as MarketRule;
use pricegrad::economy::Economy;

/// The predicted moments of a noisy run, per good (NaN for goods without a market).
pub struct Prediction {
    /// E[p] / p* - 1: the mean price against the reference.
    pub vs_reference: Vec<f64>,
    /// (E[p] - a(E[x])) / a(E[x]): against backprop at the mean plans.
    pub bias: Vec<f64>,
    /// The standard deviation of ln p: about the price's relative spread.
    pub spread: Vec<f64>,
}

/// The tick map of an economy whose firms all use the relative gradient rule.
struct Model<'a> {
    e: &'a Economy,
    traded: Vec<usize>,
    noise: f64,
}

impl Model<'_> {
    fn edges(&self) -> usize {
        self.e.firms.edges()
    }
    fn dim(&self) -> usize {
        self.edges() + self.traded.len()
    }
    /// Noise draws: one per firm (its revenue), one per input edge (its price).
    fn noise_dim(&self) -> usize {
        self.e.firms.len() + self.edges()
    }

    /// One tick from state `s` with standard normal draws `eps` and activation pattern `active`.
    fn map(&self, s: &[f64], eps: &[f64], active: &[bool]) -> Vec<f64> {
        let (e, n_e) = (self.e, self.edges());
        let firms = &e.firms;
        let mut prices = e.goods.price.clone();
        for (i, &g) in self.traded.iter().enumerate() {
            prices[g] = s[n_e + i].exp();
        }
        let x: Vec<f64> = s[..n_e].iter().map(|v| v.exp()).collect();
        let mut out = s.to_vec();
        let mut grad = Vec::new();
        for f in 0..firms.len() {
            if !active[f] {
                continue;
            }
            let r = firms.inputs(f);
            grad.resize(r.len(), 0.0);
            e.technology(f)
                .gradient(&x[r.clone()], &firms.input_param[r.clone()], &mut grad);
            let revenue = e.revenue(f, &prices) * firms.productivity[f] * (self.noise * eps[f]).exp();
            let rate = e.agent(f).rate;
            for (i, k) in r.enumerate() {
                let seen = prices[firms.input_good[k] as usize] * (self.noise * eps[firms.len() + k]).exp();
                let rel = if seen > 0.0 {
                    (revenue * grad[i] / seen - 1.0).clamp(-1.0, 1.0)
                } else {
                    1.0
                };
                out[k] = s[k] + rate * rel;
            }
        }
        let x_new: Vec<f64> = out[..n_e].iter().map(|v| v.exp()).collect();
        let y: Vec<f64> = (0..firms.len()).map(|f| e.output(f, &x_new[firms.inputs(f)])).collect();
        for (i, &g) in self.traded.iter().enumerate() {
            let mut supply = e.goods.endowment[g];
            for &k in e.goods.producers(g) {
                supply += firms.output_weight[k as usize] * y[firms.output_firm[k as usize] as usize];
            }
            let demand: f64 = e.goods.uses(g).iter().map(|&k| x_new[k as usize]).sum();
            out[n_e + i] = s[n_e + i] + e.market.step * (demand / supply).ln();
        }
        out
    }
}

/// One activation pattern's linearised tick: A = dG/ds and B = dG/de (as columns), and its
/// probability.
type System = (Vec<Vec<f64>>, Vec<Vec<f64>>, f64);

/// The prediction for `economy` with every firm's noise `noise` and activation `activation`;
/// None (with why) when the theory does not apply or the noise makes the state's variance grow
/// without bound (a mean-square unstable process).
pub fn predict(economy: &Economy, noise: f64, activation: f64) -> Result<Prediction, String> {
    if economy.market.rule != MarketRule::Multiplicative {
        return Err("the prediction is for multiplicative markets".into());
    }
    for f in 0..economy.firms.len() {
        let a = economy.agent(f);
        let r = economy.firms.inputs(f);
        if a.rule != Rule::Gradient
            || a.form != Form::Relative
            || economy
                .technology(f)
                .constant_returns(&economy.firms.input_param[r.clone()], r.len())
        {
            return Err("the prediction is for the relative gradient rule with decreasing returns".into());
        }
    }
    let n_f = economy.firms.len();
    if activation < 1.0 && n_f > 12 {
        return Err("activation patterns are enumerated: at most 12 firms".into());
    }
    let eq = reference::solve(economy).map_err(|e| e.to_string())?;
    let goods = &economy.goods;
    let traded: Vec<usize> = goods.endogenous().filter(|&g| !goods.uses(g).is_empty()).collect();
    let model = Model {
        e: economy,
        traded,
        noise,
    };
    let (n, n_eps, n_e) = (model.dim(), model.noise_dim(), model.edges());
    let mut s0: Vec<f64> = eq.x.iter().map(|v| v.ln()).collect();
    s0.extend(model.traded.iter().map(|&g| eq.prices[g].ln()));
    let zero = vec![0.0; n_eps];
    // the activation patterns and their probabilities
    let patterns: Vec<(Vec<bool>, f64)> = if activation >= 1.0 {
        vec![(vec![true; n_f], 1.0)]
    } else {
        (0..1u32 << n_f)
            .map(|bits| {
                let b: Vec<bool> = (0..n_f).map(|f| bits >> f & 1 == 1).collect();
                let w = b
                    .iter()
                    .map(|&on| if on { activation } else { 1.0 - activation })
                    .product();
                (b, w)
            })
            .collect()
    };
    let h = 1e-5;
    let jac = |active: &[bool], wrt_state: bool| -> Vec<Vec<f64>> {
        let cols = if wrt_state { n } else { n_eps };
        (0..cols)
            .map(|k| {
                let (mut sp, mut sm, mut ep, mut em) = (s0.clone(), s0.clone(), zero.clone(), zero.clone());
                if wrt_state {
                    sp[k] += h;
                    sm[k] -= h;
                } else {
                    ep[k] += h;
                    em[k] -= h;
                }
                let (a, b) = (model.map(&sp, &ep, active), model.map(&sm, &em, active));
                (0..n).map(|i| (a[i] - b[i]) / (2.0 * h)).collect()
            })
            .collect() // column k
    };
    let systems: Vec<System> = patterns
        .iter()
        .map(|(b, w)| (jac(b, true), jac(b, false), *w))
        .collect();
    // Sigma = E_b[A Sigma A' + B B'], by iteration from 0
    let mut sigma = vec![vec![0.0; n]; n];
    let mut converged = false;
    for _ in 0..200_000 {
        let mut next = vec![vec![0.0; n]; n];
        for (a, b, w) in &systems {
            // (A Sigma A')_ij = sum_kl A_ik Sigma_kl A_jl, A_ik = a[k][i] (columns)
            let mut a_sigma = vec![vec![0.0; n]; n];
            for i in 0..n {
                for l in 0..n {
                    a_sigma[i][l] = (0..n).map(|k| a[k][i] * sigma[k][l]).sum();
                }
            }
            for i in 0..n {
                for j in 0..n {
                    let asa: f64 = (0..n).map(|l| a_sigma[i][l] * a[l][j]).sum();
                    let bb: f64 = b.iter().map(|col| col[i] * col[j]).sum();
                    next[i][j] += w * (asa + bb);
                }
            }
        }
        let change = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| (next[i][j] - sigma[i][j]).abs())
            .fold(0.0, f64::max);
        let size = (0..n).map(|i| next[i][i]).fold(0.0, f64::max);
        sigma = next;
        if !size.is_finite() || size > 1e6 {
            return Err("the state's variance grows without bound (mean-square unstable)".into());
        }
        if change <= 1e-15 * size.max(1e-300) {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err("the covariance did not settle (a mode too close to instability)".into());
    }
    // the right-hand side of the mean: E_b[tr(H Sigma) + tr(H^ee)] / 2, by second differences
    // along Sigma's eigenvectors (scaled by the square roots of its eigenvalues) and the noise
    // axes
    let (values, vectors) = symmetric_eigen(&sigma);
    let dirs: Vec<Vec<f64>> = (0..n)
        .filter(|&k| values[k] > 0.0)
        .map(|k| vectors[k].iter().map(|v| v * values[k].sqrt()).collect())
        .collect();
    let t = 1e-2;
    let mut rhs = vec![0.0; n];
    for ((b, w), _) in patterns.iter().zip(&systems) {
        let g0 = model.map(&s0, &zero, b);
        for d in &dirs {
            let sp: Vec<f64> = s0.iter().zip(d).map(|(s, d)| s + t * d).collect();
            let sm: Vec<f64> = s0.iter().zip(d).map(|(s, d)| s - t * d).collect();
            let (gp, gm) = (model.map(&sp, &zero, b), model.map(&sm, &zero, b));
            for i in 0..n {
                rhs[i] += 0.5 * w * (gp[i] - 2.0 * g0[i] + gm[i]) / (t * t);
            }
        }
        for k in 0..n_eps {
            let (mut ep, mut em) = (zero.clone(), zero.clone());
            ep[k] = t;
            em[k] = -t;
            let (gp, gm) = (model.map(&s0, &ep, b), model.map(&s0, &em, b));
            for i in 0..n {
                rhs[i] += 0.5 * w * (gp[i] - 2.0 * g0[i] + gm[i]) / (t * t);
            }
        }
    }
    // (I - E_b A_b) m = rhs
    let mut m_mat = vec![vec![0.0; n]; n];
    for (a, _, w) in &systems {
        for i in 0..n {
            for k in 0..n {
                m_mat[i][k] -= w * a[k][i];
            }
        }
    }
    for (i, row) in m_mat.iter_mut().enumerate() {
        row[i] += 1.0;
    }
    let m = solve(m_mat, rhs).ok_or("I - E[A] is singular")?;
    let mean_x: Vec<f64> = (0..n_e).map(|k| eq.x[k] * (m[k] + sigma[k][k] / 2.0).exp()).collect();
    let adjoints = backprop::backprop(economy, &goods.price, &mean_x);
    let mut vs_reference = vec![f64::NAN; goods.len()];
    let mut bias = vec![f64::NAN; goods.len()];
    let mut spread = vec![f64::NAN; goods.len()];
    for (i, &g) in model.traded.iter().enumerate() {
        let k = n_e + i;
        let mean_p = eq.prices[g] * (m[k] + sigma[k][k] / 2.0).exp();
        vs_reference[g] = mean_p / eq.prices[g] - 1.0;
        bias[g] = mean_p / adjoints.good[g] - 1.0;
        spread[g] = sigma[k][k].sqrt();
    }
    Ok(Prediction {
        vs_reference,
        bias,
        spread,
    })
}

/// Eigenvalues and eigenvectors (rows) of a symmetric matrix, by cyclic Jacobi rotations.
fn symmetric_eigen(a: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = a.len();
    let mut a = a.to_vec();
    let mut v: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| (i == j) as u8 as f64).collect())
        .collect();
    for _ in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        let scale: f64 = (0..n).map(|i| a[i][i] * a[i][i]).sum();
        if off <= 1e-30 * scale.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for k in 0..n {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vp, vq) = (row[p], row[q]);
                    row[p] = c * vp - s * vq;
                    row[q] = s * vp + c * vq;
                }
            }
        }
    }
    let values = (0..n).map(|i| a[i][i]).collect();
    // v's columns are the eigenvectors: return them as rows
    let vectors = (0..n).map(|k| (0..n).map(|i| v[i][k]).collect()).collect();
    (values, vectors)
}

/// Solve a x = b by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-300 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..n {
            let f = a[r][c] / a[c][c];
            for k in c..n {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for c in (0..n).rev() {
        x[c] = (b[c] - (c + 1..n).map(|k| a[c][k] * x[k]).sum::<f64>()) / a[c][c];
    }
    Some(x)
}
