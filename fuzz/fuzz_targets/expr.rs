//! Expression text -> `Expr::parse`. An error must point inside the source and give an excerpt to render; an
//! expression must evaluate at a few positive points without panicking, with eval, gradient and
//! Hessian agreeing on the value and gradient, and a variable reordering changing nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pricegrad::production::expr::MAX_NODES;
use pricegrad::production::Expr;

/// Same number, or both NaN.
fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Hessians cost n tape sweeps and n*n memory; keep them to small n.
const HESSIAN_MAX_VARS: usize = 8;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let e = match Expr::parse(src) {
        Ok(e) => e,
        Err(err) => {
            assert!(err.offset <= src.len() && err.offset + err.len <= src.len(), "{err:?}");
            assert!(
                src.is_char_boundary(err.offset) && src.is_char_boundary(err.offset + err.len),
                "{err:?}"
            );
            assert!(err.len > 0 || err.offset == src.len(), "{err:?}");
            assert!(!err.message.is_empty() && !err.help.is_empty(), "{err:?}");
            // the excerpt the CLI renders lies on one line of the source
            let x = err.excerpt(src);
            assert!(x.before <= x.line.chars().count() && x.width >= 1 && !x.line.contains('\n'), "{err:?}");
            return;
        }
    };
    assert!(!e.is_empty() && e.len() <= MAX_NODES);
    assert!(e.root() < e.len());
    let vars = e.variables().to_vec();
    let n = vars.len();
    for (i, v) in vars.iter().enumerate() {
        let (off, len) = e.variable_span(i);
        assert_eq!(src.get(off..off + len), Some(v.as_str()), "span of variable {i}");
    }
    // the same function with its variables in reverse order
    let rev_order: Vec<String> = vars.iter().rev().cloned().collect();
    let rev = e
        .with_variable_order(&rev_order)
        .expect("a permutation of its own variables");

    let mut g = vec![0.0; n];
    let mut g2 = vec![0.0; n];
    let mut gr = vec![0.0; n];
    let mut h = vec![0.0; if n <= HESSIAN_MAX_VARS { n * n } else { 0 }];
    let points: [&dyn Fn(usize) -> f64; 5] = [&|_| 1.0, &|_| 0.5, &|_| 3.0, &|i| 0.25 + i as f64, &|i| {
        10f64.powi(i as i32 % 5 - 2)
    }];
    for p in points {
        let x: Vec<f64> = (0..n).map(p).collect();
        let xr: Vec<f64> = x.iter().rev().copied().collect();
        let v = e.eval(&x);
        let vg = e.gradient(&x, &mut g);
        assert!(same(v, vg), "eval {v} vs gradient's value {vg} at {x:?}");
        let vr = rev.gradient(&xr, &mut gr);
        assert!(same(v, vr), "reordered value {vr} vs {v}");
        for i in 0..n {
            assert!(same(g[i], gr[n - 1 - i]), "reordered gradient differs");
        }
        if n <= HESSIAN_MAX_VARS {
            let vh = e.hessian(&x, &mut g2, &mut h);
            assert!(same(v, vh), "eval {v} vs hessian's value {vh}");
            for i in 0..n {
                assert!(
                    same(g[i], g2[i]),
                    "gradient {g:?} vs hessian's gradient {g2:?} at {x:?}"
                );
                for j in 0..n {
                    assert!(same(h[i * n + j], h[j * n + i]), "hessian not symmetric");
                }
            }
        }
    }
});
