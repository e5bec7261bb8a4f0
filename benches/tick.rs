//! Tick throughput (issue 7).
//!
//! * `tick/*`: the full tick (firm phase + market phase + the default logging of a run) on
//!   generated layered economies (10 layers, 3 inputs per firm, Cobb-Douglas, gradient rule,
//!   default settings) of 1e3 to 1e6 firms, at 1 and 2 threads. An iteration is `log.every`
//!   ticks (every 100th tick is logged above 10,000 edges), so it holds one logged tick.
//!   Throughput is in input edges (one edge = one firm input, updated once per tick).
//! * `tick-bare/*`: the same without logging, to measure what logging costs.
//! * `tick-expr/*`: the essay's chain replicated, firms with expression production functions.
//! * `backprop/*`: one backprop pass.
//! * `run/tupperware`: a whole run with every check (one run of a sweep).
//!
//! cargo bench --bench tick
//! PRICEGRAD_BENCH_MAX_FIRMS=100000 cargo bench --bench tick   # skip the 1e6-firm economy

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use pricegrad::check::backprop;
use pricegrad::check::diagnostics::{Diagnostics, GoodSample};
use pricegrad::economy::Economy;
use pricegrad::generate::{self, Spec};
use pricegrad::run::{self, Discard};
use pricegrad::scenario;
use pricegrad::sim::engine::Engine;
use std::sync::atomic::AtomicBool;

/// A generated layered Cobb-Douglas economy with `firms` firms (10 layers, 3 inputs each).
fn layered(firms: usize) -> Economy {
    let spec = Spec::new(10, firms / 10, 3);
    let plan = generate::plan(&spec).expect("valid spec");
    let mut text = Vec::new();
    generate::write(&plan, &mut text).expect("in memory");
    let text = String::from_utf8(text).expect("utf-8");
    scenario::load_str("generated.toml", &text, &[], None).expect("valid")
}

/// The tupperware chain with `n` replicas of each firm (productivity spread 0.1).
fn replicated(n: usize) -> Economy {
    let text = scenario::TUPPERWARE.replace(
        "production = \"",
        &format!(
            "count = {n}\nproductivity_spread = {}\nproduction = \"",
            if n > 1 { 0.1 } else { 0.0 }
        ),
    );
    scenario::load_str("bench.toml", &text, &[], None).expect("valid")
}

fn sizes() -> Vec<usize> {
    let max: usize = std::env::var("PRICEGRAD_BENCH_MAX_FIRMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    [1_000, 10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= max)
        .collect()
}

/// One tick as `run::execute` does it, with the economy's own logging cadence.
fn logged_tick(engine: &mut Engine, diagnostics: &mut Diagnostics, rows: &mut Vec<GoodSample>) -> f64 {
    let step = engine.step();
    if step.tick.is_multiple_of(engine.economy.log.every.max(1)) {
        rows.clear();
        let goods = engine.economy.log.goods.clone();
        black_box(diagnostics.measure(engine, &step, &goods, rows));
    }
    engine.finish_tick(&step);
    step.max_rel_excess
}

fn ticks(c: &mut Criterion) {
    for n in sizes() {
        let economy = layered(n);
        let edges = economy.firms.edges() as u64;
        for (name, logged) in [("tick", true), ("tick-bare", false)] {
            // `tick/*` times `log.every` ticks per iteration, so that every iteration holds
            // exactly one logged tick and the figure is the average tick of a run; criterion
            // reports it per edge update
            let per_iteration = if logged { economy.log.every.max(1) } else { 1 };
            let mut group = c.benchmark_group(name);
            group.throughput(Throughput::Elements(edges * per_iteration));
            if n >= 100_000 || per_iteration > 1 {
                group.sample_size(10).sampling_mode(SamplingMode::Flat);
            }
            for threads in [1usize, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut engine = Engine::new(economy.clone());
                let mut diagnostics = Diagnostics::without_reference(&economy, "benchmark");
                let mut rows = Vec::new();
                group.bench_with_input(BenchmarkId::new(format!("{threads}-threads"), n), &n, |b, _| {
                    b.iter(|| {
                        pool.install(|| {
                            let mut excess = 0.0;
                            for _ in 0..per_iteration {
                                excess = if logged {
                                    logged_tick(&mut engine, &mut diagnostics, &mut rows)
                                } else {
                                    let step = engine.step();
                                    engine.finish_tick(&step);
                                    step.max_rel_excess
                                };
                            }
                            black_box(excess)
                        })
                    })
                });
            }
            group.finish();
        }
    }
}

fn expression_ticks(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick-expr");
    for n in [1usize, 100_000] {
        let economy = replicated(n);
        group.throughput(Throughput::Elements(economy.firms.edges() as u64));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let mut engine = Engine::new(economy.clone());
        group.bench_with_input(BenchmarkId::new("2-threads", 3 * n), &n, |b, _| {
            pool.install(|| {
                b.iter(|| {
                    let step = engine.step();
                    engine.finish_tick(&step);
                    black_box(step.max_rel_excess)
                })
            })
        });
    }
    group.finish();
}

fn backprop_pass(c: &mut Criterion) {
    let mut group = c.benchmark_group("backprop");
    for n in sizes() {
        let economy = layered(n);
        let engine = Engine::new(economy.clone());
        group.throughput(Throughput::Elements(economy.firms.edges() as u64));
        let mut out = backprop::Adjoints::default();
        let schedule = backprop::Schedule::new(&economy);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                backprop::backprop_into(&economy, &schedule, &economy.goods.price, &engine.x, &mut out);
                black_box(out.good[0])
            })
        });
    }
    group.finish();
}

fn whole_run(c: &mut Criterion) {
    let economy = replicated(1);
    let mut group = c.benchmark_group("run");
    group.throughput(Throughput::Elements(1));
    group.bench_function("tupperware", |b| {
        b.iter(|| {
            let r = run::execute(economy.clone(), &mut Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap();
            black_box(r.ticks)
        })
    });
    group.finish();
}

/// The computation of `pricegrad sweep scenarios/tupperware.toml --param market.step=0.5
/// --replicates 1000`: 1,000 whole runs with every check, in parallel over runs as the sweep
/// does it (writing sweep.csv and the chart is not included; see docs/PERFORMANCE.md).
fn sweep_1000(c: &mut Criterion) {
    use pricegrad::sweep::{self, Request};
    let plan = sweep::prepare(&Request {
        file: "scenarios/tupperware.toml".into(),
        params: vec!["market.step=0.5".into()],
        replicates: Some(1000),
        ..Request::default()
    })
    .expect("valid sweep");
    let runs = plan.runs();
    let stop = AtomicBool::new(false);
    let mut group = c.benchmark_group("sweep");
    group.throughput(Throughput::Elements(runs.len() as u64));
    group.sample_size(10);
    group.bench_function("tupperware-1000-runs", |b| {
        b.iter(|| {
            use rayon::prelude::*;
            let done: usize = runs
                .par_iter()
                .map(|&(p, r)| sweep::run_point(&plan, p, r, &stop).expect("runs").is_some() as usize)
                .sum();
            black_box(done)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = ticks, expression_ticks, backprop_pass, whole_run, sweep_1000
}
criterion_main!(benches);
