//! Time the reference equilibrium solver (and its finite-difference check) on a scenario
//! file, for docs/PERFORMANCE.md; measure peak memory with `/usr/bin/time -v`.
//!
//! cargo run --release --example reference_solve -- FILE [--method auto|dense|dual] [--fd N] [--good NAME]... [--threads N] [--trace]
//!
//! Prints one line each for the load, the solve (Newton steps, KKT residual) and, with
//! `--fd N`, `envelope_for` on N goods spread evenly over the constrained goods, with the
//! largest relative difference between dV/ds and the price (`--good NAME`: those goods, with
//! `--fd 1`). `--trace` prints the solver's progress on stderr (`reference::solve_traced`).

use pricegrad::check::reference::{self, Method};
use pricegrad::scenario;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    let mut method = Method::Auto;
    let mut fd = 0usize;
    let mut threads = 0usize;
    let mut only: Vec<String> = Vec::new();
    let mut trace = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--method" => {
                method = match args.next().as_deref() {
                    Some("dense") => Method::Dense,
                    Some("dual") => Method::Dual,
                    _ => Method::Auto,
                }
            }
            "--fd" => fd = args.next().and_then(|v| v.parse().ok()).unwrap_or(40),
            "--threads" => threads = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--good" => only.extend(args.next()),
            "--trace" => trace = true,
            f => file = Some(std::path::PathBuf::from(f)),
        }
    }
    let Some(file) = file else {
        eprintln!("usage: reference_solve FILE [--method auto|dense|dual] [--fd N] [--threads N] [--trace]");
        std::process::exit(2);
    };
    if threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .expect("thread pool");
    }
    let t = Instant::now();
    let (eco, _, _) = scenario::load(Some(&file), &[], None).unwrap_or_else(|e| panic!("{e:?}"));
    println!(
        "load: {:.3} s ({} firms, {} edges, {} goods)",
        t.elapsed().as_secs_f64(),
        eco.firms.len(),
        eco.firms.edges(),
        eco.goods.len()
    );
    // with --trace only: building the progress lines costs time
    let mut progress = |line: &str| eprintln!("{line}");
    let t = Instant::now();
    let solved = if trace {
        reference::solve_traced(&eco, method, &mut progress)
    } else {
        reference::solve_by(&eco, method)
    };
    let eq = match solved {
        Ok(eq) => eq,
        Err(e) => {
            println!("solve: failed after {:.3} s: {e}", t.elapsed().as_secs_f64());
            std::process::exit(1);
        }
    };
    println!(
        "solve: {:.3} s, {} Newton steps, KKT residual {:.2e}, V = {:.15e}",
        t.elapsed().as_secs_f64(),
        eq.iterations,
        eq.kkt_residual,
        eq.value
    );
    if fd > 0 {
        let cons: Vec<usize> = eco
            .goods
            .endogenous()
            .filter(|&g| !eco.goods.uses(g).is_empty())
            .collect();
        let n = fd.min(cons.len());
        let goods: Vec<usize> = if only.is_empty() {
            (0..n).map(|i| cons[i * (cons.len() - 1) / (n - 1).max(1)]).collect()
        } else {
            only.iter().filter_map(|g| eco.goods.index(g)).collect()
        };
        let t = Instant::now();
        let derivatives = if trace {
            reference::envelope_for_traced(&eco, &eq, &goods, method, &mut progress)
        } else {
            reference::envelope_for_by(&eco, &eq, &goods, method)
        };
        match derivatives {
            Ok(d) => {
                let worst = goods
                    .iter()
                    .map(|&g| (d[g].unwrap_or(f64::NAN) - eq.prices[g]).abs() / eq.prices[g])
                    .fold(0.0f64, f64::max);
                println!(
                    "envelope: {:.3} s for {} goods, largest relative |dV/ds - p| {worst:.2e}",
                    t.elapsed().as_secs_f64(),
                    goods.len()
                );
            }
            Err(e) => println!("envelope: failed after {:.3} s: {e}", t.elapsed().as_secs_f64()),
        }
    }
    // a digest of the prices (bit-identity across thread counts)
    let digest = eq.prices.iter().fold(0u64, |h, p| h.rotate_left(5) ^ p.to_bits());
    println!("price digest: {digest:016x}");
}
