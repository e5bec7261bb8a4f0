//! Tick throughput: the full tick (firm phase + market phase) on the essay's chain and on
//! competitive versions of it with many replicas per stage; the backprop pass; a whole run.
//!
//! cargo bench --bench tick

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pricegrad::backprop;
use pricegrad::engine::Engine;
use pricegrad::run::{self, Discard};
use pricegrad::scenario;
use std::sync::atomic::AtomicBool;

/// The tupperware chain with `n` replicas of each firm (productivity spread 0.1).
fn replicated(n: usize) -> pricegrad::economy::Economy {
    let text = scenario::TUPPERWARE.replace(
        "production = \"",
        &format!(
            "count = {n}\nproductivity_spread = {}\nproduction = \"",
            if n > 1 { 0.1 } else { 0.0 }
        ),
    );
    scenario::load_str("bench.toml", &text, &[], None).expect("valid")
}

fn ticks(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    for n in [1usize, 1_000, 100_000] {
        let economy = replicated(n);
        let edges = economy.firms.edges() as u64;
        group.throughput(Throughput::Elements(edges));
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut engine = Engine::new(economy.clone());
            group.bench_with_input(BenchmarkId::new(format!("{threads}-threads"), 3 * n), &n, |b, _| {
                pool.install(|| {
                    b.iter(|| {
                        let step = engine.step();
                        engine.finish_tick(&step);
                        black_box(step.max_rel_excess)
                    })
                })
            });
        }
    }
    group.finish();
}

fn backprop_pass(c: &mut Criterion) {
    let mut group = c.benchmark_group("backprop");
    for n in [1usize, 100_000] {
        let economy = replicated(n);
        let engine = Engine::new(economy.clone());
        group.throughput(Throughput::Elements(economy.firms.edges() as u64));
        let mut out = backprop::Adjoints::default();
        group.bench_function(BenchmarkId::from_parameter(3 * n), |b| {
            b.iter(|| {
                backprop::backprop_into(&economy, &economy.goods.price, &engine.x, &mut out);
                black_box(out.good[0])
            })
        });
    }
    group.finish();
}

fn whole_run(c: &mut Criterion) {
    let economy = replicated(1);
    c.bench_function("run/tupperware", |b| {
        b.iter(|| {
            let r = run::execute(economy.clone(), &mut Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap();
            black_box(r.ticks)
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = ticks, backprop_pass, whole_run
}
criterion_main!(benches);
