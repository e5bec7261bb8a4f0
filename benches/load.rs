//! Loading and validating a generated economy of 100,000 firms (10 layers of 10,000,
//! Cobb-Douglas, 3 inputs: about 19 MB of text): the chunked loader that large files use,
//! and the whole-document parse for comparison. Prints firms per second.
//!
//! cargo bench --bench load

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use pricegrad::generate::{self, Spec};
use pricegrad::scenario;
use std::time::Instant;

fn generated() -> String {
    let plan = generate::plan(&Spec::new(10, 10_000, 3)).expect("valid spec");
    let mut out = Vec::new();
    generate::write(&plan, &mut out).expect("in memory");
    String::from_utf8(out).expect("UTF-8")
}

fn load(c: &mut Criterion) {
    let text = generated();
    let firms = 100_000u64;
    // one timed load, printed as firms per second
    let t = Instant::now();
    let e = scenario::load_str("bench.toml", &text, &[], None).expect("valid");
    let s = t.elapsed().as_secs_f64();
    assert_eq!(e.firms.len() as u64, firms);
    println!(
        "load+validate {firms} firms ({} MB): {:.3} s, {:.0} firms/s ({} threads)",
        text.len() / 1_000_000,
        s,
        firms as f64 / s,
        rayon::current_num_threads()
    );
    drop(e);

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
}

criterion_group!(benches, load);
criterion_main!(benches);
