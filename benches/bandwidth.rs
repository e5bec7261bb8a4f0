//! The memory-bandwidth ceiling: STREAM-style copy (a = b) and triad (a = b + s c) on f64
//! arrays of 256 MB each (far larger than any cache), at 1 and 2 threads (rayon).
//!
//! cargo bench --bench bandwidth
//!
//! Throughput counts the bytes read plus written, as STREAM does: 16 bytes per element for
//! copy, 24 for triad (the write-allocate read of `a` is not counted). criterion prints GiB/s
//! (2^30 bytes); multiply by 1.074 for GB/s.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;

/// 256 MB of f64 per array.
const N: usize = 32 * 1024 * 1024;
/// Elements per parallel task (8 MB): large enough that scheduling costs nothing.
const CHUNK: usize = 1 << 20;

fn copy(a: &mut [f64], b: &[f64]) {
    a.par_chunks_mut(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .for_each(|(a, b)| a.copy_from_slice(b));
}

fn triad(a: &mut [f64], b: &[f64], c: &[f64], s: f64) {
    a.par_chunks_mut(CHUNK)
        .zip(b.par_chunks(CHUNK).zip(c.par_chunks(CHUNK)))
        .for_each(|(a, (b, c))| {
            for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                *a = b + s * c;
            }
        });
}

fn bandwidth(cr: &mut Criterion) {
    // first touch in parallel, so pages are spread like the work that uses them
    let mut a = vec![0.0f64; N];
    let mut b = vec![0.0f64; N];
    let mut c = vec![0.0f64; N];
    b.par_iter_mut().enumerate().for_each(|(i, v)| *v = i as f64);
    c.par_iter_mut().enumerate().for_each(|(i, v)| *v = 0.5 * i as f64);
    a.par_iter_mut().for_each(|v| *v = 1.0);
    let mut group = cr.benchmark_group("bandwidth");
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        group.throughput(Throughput::Bytes(16 * N as u64));
        group.bench_function(BenchmarkId::new("copy", format!("{threads}-threads")), |bench| {
            pool.install(|| bench.iter(|| copy(black_box(&mut a), black_box(&b))))
        });
        group.throughput(Throughput::Bytes(24 * N as u64));
        group.bench_function(BenchmarkId::new("triad", format!("{threads}-threads")), |bench| {
            pool.install(|| bench.iter(|| triad(black_box(&mut a), black_box(&b), black_box(&c), black_box(3.0))))
        });
    }
    group.finish();
    black_box(a[N / 2]);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bandwidth
}
criterion_main!(benches);
