//! The memory-bandwidth ceiling: STREAM-style copy (a = b) and triad (a = b + s c) on f64
//! arrays of 256 MB each (far larger than any cache), at 1 and 2 threads (rayon).
//!
//! cargo bench --bench bandwidth
//!
//! Throughput counts the bytes read plus written, as STREAM does: 16 bytes per element for
//! copy, 24 for triad (the write-allocate read of `a` is not counted). criterion prints GiB/s
//! (2^30 bytes); multiply by 1.074 for GB/s.
//!
//! After criterion, a summary line per kernel gives the best of 10 runs in GB/s (1e9 bytes)
//! per wall second, and in GB per CPU second (process CPU time, all threads): the rate one
//! core sustains while it runs. On a shared, loaded machine wall figures include time spent
//! descheduled; the per-CPU-second figure does not (times 2 is the 2-thread aggregate only if
//! both threads ran at once and did not contend).

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;
use std::time::Instant;

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

/// Three arrays of N, touched first in parallel (pages spread like the work that uses them).
fn arrays() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut a = vec![0.0f64; N];
    let mut b = vec![0.0f64; N];
    let mut c = vec![0.0f64; N];
    b.par_iter_mut().enumerate().for_each(|(i, v)| *v = i as f64);
    c.par_iter_mut().enumerate().for_each(|(i, v)| *v = 0.5 * i as f64);
    a.par_iter_mut().for_each(|v| *v = 1.0);
    (a, b, c)
}

fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Best-of-10 GB/s per wall second and GB per CPU second, one line per kernel.
fn summary() {
    let (mut a, b, c) = arrays();
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for (kernel, bytes) in [("copy", 16.0 * N as f64), ("triad", 24.0 * N as f64)] {
            let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
            pool.install(|| {
                for _ in 0..10 {
                    let (t, c0) = (Instant::now(), cpu_seconds());
                    if kernel == "copy" {
                        copy(black_box(&mut a), black_box(&b));
                    } else {
                        triad(black_box(&mut a), black_box(&b), black_box(&c), black_box(3.0));
                    }
                    wall = wall.min(t.elapsed().as_secs_f64());
                    cpu = cpu.min(cpu_seconds() - c0);
                }
            });
            println!(
                "bandwidth summary: {kernel:5} {threads} thread(s): {:6.2} GB/s per wall second, {:6.2} GB per CPU second",
                bytes / wall / 1e9,
                bytes / cpu / 1e9
            );
        }
    }
    black_box(a[N / 2]);
}

fn bandwidth(cr: &mut Criterion) {
    let (mut a, b, c) = arrays();
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
fn main() {
    benches();
    summary();
    Criterion::default().configure_from_args().final_summary();
}
