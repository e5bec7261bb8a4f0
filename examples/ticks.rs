//! Time bare ticks (firm phase + market phase, no logging) on a scenario file, for profiling:
//!
//! cargo run --release --example ticks -- FILE [TICKS] [THREADS]
//! valgrind --tool=callgrind target/release/examples/ticks FILE 20 1

use pricegrad::engine::Engine;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: ticks FILE [TICKS] [THREADS]");
        std::process::exit(2);
    };
    let ticks: u64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(100);
    let threads: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(0);
    let t = Instant::now();
    let economy = match pricegrad::scenario::load(Some(std::path::Path::new(path)), &[], None) {
        Ok((e, _, _)) => e,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let load = t.elapsed().as_secs_f64();
    let edges = economy.firms.edges();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let mut engine = Engine::new(economy);
    let t = Instant::now();
    let excess = pool.install(|| {
        let mut excess = 0.0;
        for _ in 0..ticks {
            let step = engine.step();
            engine.finish_tick(&step);
            excess = step.max_rel_excess;
        }
        excess
    });
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{edges} edges, {ticks} ticks on {} threads: {:.3} s ({:.1} M edge-updates/s); load {load:.2} s; last max relative excess {excess:.3e}",
        pool.current_num_threads(),
        secs,
        edges as f64 * ticks as f64 / secs / 1e6
    );
}
