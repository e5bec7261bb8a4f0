//! Loading and validating a generated economy of 100,000 firms (10 layers of 10,000,
//! Cobb-Douglas, 3 inputs: about 19 MB of text): the chunked loader that large files use,
//! and the whole-document parse for comparison; and a file of 1,000,000 firms (198 MB) read
//! as `pricegrad validate` reads it (mapped, its pages given back as they are parsed), and the
//! same economy as CSV tables and as Parquet tables (README.md, Tables). Prints firms per second.
//!
//! cargo bench --bench load

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use pricegrad::economy::Economy;
use pricegrad::generate::{self, Spec};
use pricegrad::scenario;
use std::time::Instant;

fn generated(width: usize) -> String {
    let plan = generate::plan(&Spec::new(10, width, 3)).expect("valid spec");
    let mut out = Vec::new();
    generate::write(&plan, &mut out).expect("in memory");
    String::from_utf8(out).expect("UTF-8")
}

/// One timed load of `firms` firms, printed as firms per second.
fn timed(what: &str, firms: u64, load: impl FnOnce() -> Economy) {
    let t = Instant::now();
    let e = load();
    let s = t.elapsed().as_secs_f64();
    assert_eq!(e.firms.len() as u64, firms);
    println!(
        "load+validate {firms} firms ({what}): {s:.3} s, {:.0} firms/s ({} threads)",
        firms as f64 / s,
        rayon::current_num_threads()
    );
}

fn load(c: &mut Criterion) {
    let text = generated(10_000);
    let firms = 100_000u64;
    timed(&format!("{} MB", text.len() / 1_000_000), firms, || {
        scenario::load_str("bench.toml", &text, &[], None).expect("valid")
    });

    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.throughput(Throughput::Elements(firms));
    group.bench_function("chunked-1e5-firms", |b| {
        b.iter(|| {
            black_box(
                scenario::load_str("bench.toml", &text, &[], None)
                    .expect("valid")
                    .firms
                    .len(),
            )
        })
    });
    group.bench_function("whole-document-1e5-firms", |b| {
        b.iter(|| {
            black_box(
                scenario::load_whole("bench.toml", &text, &[], None)
                    .expect("valid")
                    .firms
                    .len(),
            )
        })
    });
    group.finish();
    drop(text);

    // the 1e6-firm file, loaded from disk as the commands load it
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("generated-1e6.toml");
    std::fs::write(&path, generated(100_000)).expect("written");
    let firms = 1_000_000u64;
    timed("from a file", firms, || {
        scenario::load(Some(&path), &[], None).expect("valid").0
    });
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.throughput(Throughput::Elements(firms));
    group.bench_function("file-1e6-firms", |b| {
        b.iter(|| black_box(scenario::load(Some(&path), &[], None).expect("valid").0.firms.len()))
    });
    // the same economy as tables (`generate --format tables`)
    let plan = generate::plan(&Spec::new(10, 100_000, 3)).expect("valid spec");
    generate::write_tables(&plan, &dir.path().join("tables")).expect("written");
    let tables = dir.path().join("tables/scenario.toml");
    timed("tables", firms, || {
        scenario::load(Some(&tables), &[], None).expect("valid").0
    });
    group.bench_function("tables-1e6-firms", |b| {
        b.iter(|| black_box(scenario::load(Some(&tables), &[], None).expect("valid").0.firms.len()))
    });
    // the same economy as Parquet tables (`--tables-format parquet`)
    generate::write_parquet_tables(&plan, &dir.path().join("parquet")).expect("written");
    let parquet = dir.path().join("parquet/scenario.toml");
    timed("Parquet tables", firms, || {
        scenario::load(Some(&parquet), &[], None).expect("valid").0
    });
    group.bench_function("parquet-tables-1e6-firms", |b| {
        b.iter(|| black_box(scenario::load(Some(&parquet), &[], None).expect("valid").0.firms.len()))
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
