//! Time exactly the tick (firm phase + market phase) of a scenario file, and optionally dump
//! the state after N ticks at full precision (the numpy peer's reference).
//!
//! cargo run --release --example tick_bench -- FILE [--ticks N] [--threads 1,2] [--logged] [--dump STATE.json]
//!     [--levels portable,avx2,avx512] [--rounds R]
//!
//! Timing: for each thread count, a fresh engine (`Engine::new`, not timed) runs one warm-up
//! tick, then N timed ticks (`step` + `finish_tick`). One JSON line per thread count goes to
//! standard output: threads, ticks, firms, edges, seconds (wall), cpu_seconds (process CPU
//! time, all threads), edge_updates_per_s (edges x ticks / wall seconds).
//!
//! `--logged`: the tick as a run does it, with the scenario's logging (by default every
//! tick up to 10,000 edges, every 100th beyond): `Diagnostics::measure` on logged ticks.
//!
//! `--levels`: run the tick's loops on each of these vector instruction sets in turn
//! (`numeric::vector_level::Level::limit`; default: the widest the CPU has), `--rounds R`
//! times over, interleaved, so that the levels are compared under the same machine load. The
//! JSON lines then carry the level.
//!
//! `--dump FILE`: run N ticks (no warm-up) on the default pool and write the prices, supply,
//! demand, plans (per input edge, in file order) and outputs as JSON; serde_json writes
//! every f64 with round-trip precision.

use pricegrad::check::diagnostics::{Diagnostics, GoodSample};
use pricegrad::economy::Economy;
use pricegrad::numeric::vector_level::Level;
use pricegrad::scenario;
use pricegrad::sim::engine::Engine;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    file: PathBuf,
    ticks: u64,
    threads: Vec<usize>,
    dump: Option<PathBuf>,
    logged: bool,
    levels: Vec<Option<Level>>,
    rounds: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut file = None;
    let mut ticks = 10;
    let mut threads = vec![1, 2];
    let mut dump = None;
    let mut logged = false;
    let mut levels = vec![None];
    let mut rounds = 1;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--ticks" => ticks = value("--ticks")?.parse().map_err(|e| format!("--ticks: {e}"))?,
            "--threads" => {
                threads = value("--threads")?
                    .split(',')
                    .map(|t| t.parse().map_err(|e| format!("--threads: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--dump" => dump = Some(PathBuf::from(value("--dump")?)),
            "--logged" => logged = true,
            "--levels" => {
                levels = value("--levels")?
                    .split(',')
                    .map(|l| {
                        Level::parse(l)
                            .map(Some)
                            .ok_or(format!("--levels: unknown level {l:?}"))
                    })
                    .collect::<Result<_, _>>()?;
                if let Some(l) = levels.iter().flatten().find(|l| **l > Level::detected()) {
                    return Err(format!("--levels: this CPU does not support {l:?}"));
                }
            }
            "--rounds" => rounds = value("--rounds")?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "-h" | "--help" => return Err(String::new()),
            _ if file.is_none() && !a.starts_with('-') => file = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    Ok(Args {
        file: file.ok_or("give a scenario FILE")?,
        ticks,
        threads,
        dump,
        logged,
        levels,
        rounds,
    })
}

/// CPU time of the whole process (all threads), in seconds: on a loaded machine a steadier
/// measure of one thread's work than wall time.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn run_ticks(engine: &mut Engine, n: u64) {
    for _ in 0..n {
        let step = engine.step();
        engine.finish_tick(&step);
    }
}

/// As [`run_ticks`], measuring the logged ticks as a run does (`log.every`, `log.goods`).
fn run_logged_ticks(engine: &mut Engine, diagnostics: &mut Diagnostics, n: u64) {
    let goods = engine.economy.log.goods.clone();
    let every = engine.economy.log.every.max(1);
    let mut rows: Vec<GoodSample> = Vec::new();
    for _ in 0..n {
        let step = engine.step();
        if step.tick.is_multiple_of(every) {
            rows.clear();
            std::hint::black_box(diagnostics.measure(engine, &step, &goods, &mut rows));
        }
        engine.finish_tick(&step);
    }
}

fn dump(economy: Economy, ticks: u64, path: &PathBuf) -> std::io::Result<()> {
    let mut engine = Engine::new(economy);
    run_ticks(&mut engine, ticks);
    let state = serde_json::json!({
        "ticks": ticks,
        "goods": engine.economy.goods.name,
        "prices": engine.prices,
        "supply": engine.supply,
        "demand": engine.demand,
        "x": engine.x,
        "y": engine.y,
    });
    std::fs::write(path, serde_json::to_vec(&state)?)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: tick_bench FILE [--ticks N] [--threads 1,2] [--logged] [--dump STATE.json] [--levels portable,avx2,avx512] [--rounds R]");
            return ExitCode::from(2);
        }
    };
    let t0 = Instant::now();
    let economy = match scenario::load(Some(&args.file), &[], None) {
        Ok((e, _, _)) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "loaded {} ({} firms, {} edges) in {:.2} s",
        args.file.display(),
        economy.firms.len(),
        economy.firms.edges(),
        t0.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.dump {
        if let Err(e) = dump(economy, args.ticks, path) {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
        return ExitCode::SUCCESS;
    }
    for _ in 0..args.rounds {
        for &threads in &args.threads {
            for &level in &args.levels {
                Level::limit(level);
                bench(&args, &economy, threads, level);
            }
        }
    }
    Level::limit(None);
    ExitCode::SUCCESS
}

/// Time `args.ticks` ticks of a fresh engine on `threads` threads and print the JSON line.
fn bench(args: &Args, economy: &Economy, threads: usize, level: Option<Level>) {
    let (firms, edges) = (economy.firms.len(), economy.firms.edges());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let mut engine = Engine::new(economy.clone());
    let mut diagnostics = Diagnostics::without_reference(economy, "tick_bench");
    let (seconds, cpu) = pool.install(|| {
        let mut ticks = |engine: &mut Engine, n| {
            if args.logged {
                run_logged_ticks(engine, &mut diagnostics, n)
            } else {
                run_ticks(engine, n)
            }
        };
        // tick 0 (logged, with --logged): the warm-up
        ticks(&mut engine, 1);
        let (t, c) = (Instant::now(), cpu_seconds());
        ticks(&mut engine, args.ticks);
        (t.elapsed().as_secs_f64(), cpu_seconds() - c)
    });
    let mut line = serde_json::json!({
        "impl": "rust",
        "logged": args.logged,
        "threads": threads,
        "ticks": args.ticks,
        "firms": firms,
        "edges": edges,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "edge_updates_per_s": (edges as f64 * args.ticks as f64) / seconds,
    });
    if let Some(level) = level {
        line["level"] = format!("{level:?}").to_lowercase().into();
    }
    println!("{line}");
}
