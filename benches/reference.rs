//! The reference equilibrium solver on generated economies (10 layers, 3 inputs per firm,
//! Cobb-Douglas unless said): the solve at 1e4 and 1e5 firms and the finite-difference
//! check (`envelope_for`) of 4 goods at 1e5 (ten samples each); single timed runs of the
//! 40-good check at 1e5 (as a run samples them) and of CES and expression solves at 1e4. The 1e6-firm solve (minutes, and its
//! peak memory) is measured with `examples/reference_solve` under `/usr/bin/time -v`; see
//! docs/PERFORMANCE.md ("Reference solver").
//!
//! cargo bench --bench reference

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use pricegrad::check::reference;
use pricegrad::economy::Economy;
use pricegrad::generate::{self, Family, Spec};
use pricegrad::scenario;
use std::time::Instant;

fn generated(width: usize, family: Family) -> Economy {
    let mut spec = Spec::new(10, width, 3);
    spec.family = family;
    let plan = generate::plan(&spec).expect("valid spec");
    let mut out = Vec::new();
    generate::write(&plan, &mut out).expect("in memory");
    scenario::load_str("bench.toml", &String::from_utf8(out).expect("UTF-8"), &[], None).expect("valid")
}

/// 40 goods spread evenly over the constrained goods.
fn sample(e: &Economy) -> Vec<usize> {
    let cons: Vec<usize> = e.goods.endogenous().filter(|&g| !e.goods.uses(g).is_empty()).collect();
    (0..40).map(|i| cons[i * (cons.len() - 1) / 39]).collect()
}

fn solve(c: &mut Criterion) {
    for family in [Family::Ces, Family::Expression] {
        let e = generated(1000, family);
        let t = Instant::now();
        let eq = reference::solve(&e).expect("solved");
        println!(
            "reference solve, 1e4 firms, {}: {:.3} s, {} Newton steps, KKT residual {:.1e}",
            family.name(),
            t.elapsed().as_secs_f64(),
            eq.iterations,
            eq.kkt_residual
        );
    }
    let mut group = c.benchmark_group("reference");
    group.sample_size(10);
    let e4 = generated(1000, Family::CobbDouglas);
    group.bench_function("solve-1e4-firms", |b| {
        b.iter(|| black_box(reference::solve(&e4).expect("solved").iterations))
    });
    drop(e4);
    let e5 = generated(10_000, Family::CobbDouglas);
    group.sample_size(10);
    group.bench_function("solve-1e5-firms", |b| {
        b.iter(|| black_box(reference::solve(&e5).expect("solved").iterations))
    });
    let eq = reference::solve(&e5).expect("solved");
    let goods = sample(&e5);
    let t = Instant::now();
    let d = reference::envelope_for(&e5, &eq, &goods).expect("finite differences");
    let worst = goods
        .iter()
        .map(|&g| (d[g].expect("derivative") - eq.prices[g]).abs() / eq.prices[g])
        .fold(0.0f64, f64::max);
    println!(
        "finite differences, 1e5 firms, 40 goods: {:.1} s, largest relative |dV/ds - p| {worst:.1e}",
        t.elapsed().as_secs_f64()
    );
    // criterion's ten samples of four of them (a tenth of the 40-good check)
    let four: Vec<usize> = goods.iter().copied().step_by(10).collect();
    group.bench_function("envelope-4-goods-1e5-firms", |b| {
        b.iter(|| {
            black_box(
                reference::envelope_for(&e5, &eq, &four)
                    .expect("finite differences")
                    .len(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, solve);
criterion_main!(benches);
