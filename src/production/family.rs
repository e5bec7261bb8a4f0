//! The closed-form production families: values, exact derivatives and profit-maximising
//! input plans. Per-input parameters (exponents, weights, coefficients, requirements) are
//! passed as `params`, aligned with the firm's inputs.

/// F = scale * prod x_i^a_i (a_i = params).
pub fn cobb_douglas(scale: f64, a: &[f64], x: &[f64], grad: Option<&mut [f64]>, hess: Option<&mut [f64]>) -> f64 {
    let n = x.len();
    // exp(sum a_i ln x_i): one `ln` per input instead of a `powf` (about 3x cheaper)
    let f = scale * x.iter().zip(a).map(|(xi, ai)| ai * xi.ln()).sum::<f64>().exp();
    if let Some(g) = grad {
        for i in 0..n {
            g[i] = a[i] * f / x[i];
        }
    }
    if let Some(h) = hess {
        for i in 0..n {
            for j in 0..n {
                let mut v = f * a[i] * a[j] / (x[i] * x[j]);
                if i == j {
                    v -= a[i] * f / (x[i] * x[i]);
                }
                h[i * n + j] = v;
            }
        }
    }
    f
}

/// F = scale * (sum w_i x_i^rho)^(nu/rho) (w = params).
pub fn ces(
    scale: f64,
    rho: f64,
    nu: f64,
    w: &[f64],
    x: &[f64],
    grad: Option<&mut [f64]>,
    hess: Option<&mut [f64]>,
) -> f64 {
    let n = x.len();
    let s: f64 = x.iter().zip(w).map(|(xi, wi)| wi * xi.powf(rho)).sum();
    let f = scale * s.powf(nu / rho);
    let k = nu / rho - 1.0;
    if grad.is_some() || hess.is_some() {
        let sk = s.powf(k);
        let gi = |i: usize| scale * nu * w[i] * x[i].powf(rho - 1.0) * sk;
        if let Some(g) = grad {
            for (i, gv) in g.iter_mut().enumerate().take(n) {
                *gv = gi(i);
            }
        }
        if let Some(h) = hess {
            for i in 0..n {
                for j in 0..n {
                    let mut v = gi(i) * k * rho * w[j] * x[j].powf(rho - 1.0) / s;
                    if i == j {
                        v += scale * nu * w[i] * (rho - 1.0) * x[i].powf(rho - 2.0) * sk;
                    }
                    h[i * n + j] = v;
                }
            }
        }
    }
    f
}

/// F = scale * x^e (one input).
pub fn power(scale: f64, e: f64, x: &[f64], grad: Option<&mut [f64]>, hess: Option<&mut [f64]>) -> f64 {
    let x0 = x[0];
    if let Some(g) = grad {
        g[0] = scale * e * x0.powf(e - 1.0);
    }
    if let Some(h) = hess {
        h[0] = scale * e * (e - 1.0) * x0.powf(e - 2.0);
    }
    scale * x0.powf(e)
}

/// F = sum c_i x_i (c = params).
pub fn linear(c: &[f64], x: &[f64], grad: Option<&mut [f64]>, hess: Option<&mut [f64]>) -> f64 {
    if let Some(g) = grad {
        g.copy_from_slice(c);
    }
    if let Some(h) = hess {
        h.fill(0.0);
    }
    c.iter().zip(x).map(|(c, x)| c * x).sum()
}

/// F = scale * min_i x_i / r_i (r = params: input needed per unit of output). Not smooth:
/// the gradient returned is the subgradient that puts all weight on the first binding input.
pub fn leontief(scale: f64, r: &[f64], x: &[f64], grad: Option<&mut [f64]>, hess: Option<&mut [f64]>) -> f64 {
    let (mut arg, mut m) = (0, f64::INFINITY);
    for i in 0..x.len() {
        let v = x[i] / r[i];
        if v < m {
            m = v;
            arg = i;
        }
    }
    if let Some(g) = grad {
        g.fill(0.0);
        g[arg] = scale / r[arg];
    }
    if let Some(h) = hess {
        h.fill(0.0);
    }
    scale * m
}

/// Profit-maximising plan of R * F(x) - p . x for Cobb–Douglas with decreasing returns.
pub fn cobb_douglas_optimum(scale: f64, a: &[f64], revenue: f64, p: &[f64], x: &mut [f64]) {
    let s: f64 = a.iter().sum();
    let log_y = (scale.ln()
        + a.iter()
            .zip(p)
            .map(|(ai, pi)| ai * (ai * revenue / pi).ln())
            .sum::<f64>())
        / (1.0 - s);
    let y = log_y.exp();
    for i in 0..a.len() {
        x[i] = a[i] * revenue * y / p[i];
    }
}

/// Profit-maximising plan for CES with decreasing returns (nu < 1).
pub fn ces_optimum(scale: f64, rho: f64, nu: f64, w: &[f64], revenue: f64, p: &[f64], x: &mut [f64]) {
    let sigma = 1.0 / (1.0 - rho);
    // unit cost of the aggregate Q = (sum w x^rho)^(1/rho)
    let c = w
        .iter()
        .zip(p)
        .map(|(wi, pi)| wi.powf(sigma) * pi.powf(1.0 - sigma))
        .sum::<f64>()
        .powf(1.0 / (1.0 - sigma));
    // F = scale * Q^nu: maximise revenue * scale * Q^nu - c Q
    let q = (nu * revenue * scale / c).powf(1.0 / (1.0 - nu));
    for i in 0..w.len() {
        x[i] = q * (w[i] * c / p[i]).powf(sigma);
    }
}

/// Profit-maximising input of R * scale * x^e - p x, 0 < e < 1.
pub fn power_optimum(scale: f64, e: f64, revenue: f64, p: f64) -> f64 {
    (e * scale * revenue / p).powf(1.0 / (1.0 - e))
}
