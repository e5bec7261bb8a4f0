//! Small dense linear algebra for Newton steps (per-firm best responses, the reference
//! solver). Row-major `n x n` matrices in flat slices.

/// Solve `A x = b` in place (b becomes x) by LU with partial pivoting. `a` is overwritten.
/// Returns false when A is singular to working precision.
pub fn lu_solve(a: &mut [f64], b: &mut [f64], n: usize) -> bool {
    debug_assert_eq!(a.len(), n * n);
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if !(scale.is_finite() && scale > 0.0) {
        return false;
    }
    for k in 0..n {
        // pivot
        let (mut piv, mut best) = (k, a[k * n + k].abs());
        for i in k + 1..n {
            let v = a[i * n + k].abs();
            if v > best {
                piv = i;
                best = v;
            }
        }
        if best <= scale * 1e-15 {
            return false;
        }
        if piv != k {
            for j in 0..n {
                a.swap(k * n + j, piv * n + j);
            }
            b.swap(k, piv);
        }
        let d = a[k * n + k];
        for i in k + 1..n {
            let m = a[i * n + k] / d;
            if m != 0.0 {
                a[i * n + k] = 0.0;
                for j in k + 1..n {
                    a[i * n + j] -= m * a[k * n + j];
                }
                b[i] -= m * b[k];
            }
        }
    }
    for k in (0..n).rev() {
        let mut s = b[k];
        for j in k + 1..n {
            s -= a[k * n + j] * b[j];
        }
        b[k] = s / a[k * n + k];
    }
    b.iter().all(|v| v.is_finite())
}

/// Factor `P A = L U` in place by partial pivoting, keeping the factors for several
/// right-hand sides ([`lu_substitute`]): U in the upper triangle, the multipliers of L below
/// it, and the pivot row of each column in `piv`. The operations are those of [`lu_solve`],
/// so factor-then-substitute gives bit-identical answers. False when A is singular to
/// working precision.
pub fn lu_factor(a: &mut [f64], piv: &mut Vec<usize>, n: usize) -> bool {
    debug_assert_eq!(a.len(), n * n);
    piv.clear();
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if !(scale.is_finite() && scale > 0.0) {
        return false;
    }
    for k in 0..n {
        let (mut p, mut best) = (k, a[k * n + k].abs());
        for i in k + 1..n {
            let v = a[i * n + k].abs();
            if v > best {
                p = i;
                best = v;
            }
        }
        if best <= scale * 1e-15 {
            return false;
        }
        piv.push(p);
        if p != k {
            for j in 0..n {
                a.swap(k * n + j, p * n + j);
            }
        }
        let d = a[k * n + k];
        for i in k + 1..n {
            let m = a[i * n + k] / d;
            a[i * n + k] = m;
            if m != 0.0 {
                for j in k + 1..n {
                    a[i * n + j] -= m * a[k * n + j];
                }
            }
        }
    }
    true
}

/// Solve `A x = b` in place with the factors from [`lu_factor`]. False when the answer is
/// not finite.
pub fn lu_substitute(lu: &[f64], piv: &[usize], b: &mut [f64], n: usize) -> bool {
    // the rows of L were swapped along with those of U: permute b first
    for k in 0..n {
        if piv[k] != k {
            b.swap(k, piv[k]);
        }
    }
    for k in 0..n {
        let bk = b[k];
        for i in k + 1..n {
            let m = lu[i * n + k];
            if m != 0.0 {
                b[i] -= m * bk;
            }
        }
    }
    for k in (0..n).rev() {
        let mut s = b[k];
        for j in k + 1..n {
            s -= lu[k * n + j] * b[j];
        }
        b[k] = s / lu[k * n + k];
    }
    b.iter().all(|v| v.is_finite())
}

/// Factor a symmetric positive definite A = L L^T in place (L in the lower triangle).
/// Returns false when A is not positive definite (or not finite).
pub fn cholesky(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d.is_nan() || d <= 0.0 || d.is_infinite() {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    true
}

/// Solve `L L^T x = b` in place with a factor from [`cholesky`].
pub fn cholesky_substitute(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

/// Solve `A x = b` for symmetric positive definite A by Cholesky, in place.
/// Returns false when A is not positive definite.
pub fn cholesky_solve(a: &mut [f64], b: &mut [f64], n: usize) -> bool {
    if !cholesky(a, n) {
        return false;
    }
    cholesky_substitute(a, n, b);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_small_systems() {
        // A = [[4, 1], [1, 3]], b = [1, 2] -> x = [1/11, 7/11]
        let mut a = [4.0, 1.0, 1.0, 3.0];
        let mut b = [1.0, 2.0];
        assert!(cholesky_solve(&mut a, &mut b, 2));
        assert!((b[0] - 1.0 / 11.0).abs() < 1e-15 && (b[1] - 7.0 / 11.0).abs() < 1e-15);
        // needs pivoting: [[0, 1], [1, 0]] x = [2, 3] -> x = [3, 2]
        let mut a = [0.0, 1.0, 1.0, 0.0];
        let mut b = [2.0, 3.0];
        assert!(lu_solve(&mut a, &mut b, 2));
        assert_eq!(b, [3.0, 2.0]);
        let mut a = [1.0, 2.0, 2.0, 4.0];
        let mut b = [1.0, 1.0];
        assert!(!lu_solve(&mut a, &mut b, 2));
        let mut piv = Vec::new();
        assert!(!lu_factor(&mut [1.0, 2.0, 2.0, 4.0], &mut piv, 2));
        let mut a = [1.0, 2.0, 2.0, 1.0];
        let mut b = [1.0, 1.0];
        assert!(!cholesky_solve(&mut a, &mut b, 2));
    }

    #[test]
    fn factor_then_substitute_matches_lu_solve() {
        let n = 7;
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let a: Vec<f64> = (0..n * n).map(|_| next()).collect();
        let b: Vec<f64> = (0..n).map(|_| next()).collect();
        let (mut a1, mut b1) = (a.clone(), b.clone());
        assert!(lu_solve(&mut a1, &mut b1, n));
        let (mut lu, mut piv, mut b2) = (a.clone(), Vec::new(), b.clone());
        assert!(lu_factor(&mut lu, &mut piv, n));
        assert!(lu_substitute(&lu, &piv, &mut b2, n));
        assert_eq!(b1, b2, "same operations, same answer");
        let mut b3 = b.clone();
        assert!(lu_substitute(&lu, &piv, &mut b3, n));
        assert_eq!(b1, b3, "the factors can be reused");
    }
}
