//! `pricegrad run` and `pricegrad check`: simulate, check prices against the gradient, and
//! (for `run`) write the results.

use super::{report_input_error, RunArgs, EXIT_BAD_INPUT, EXIT_FAIL, EXIT_PASS};
use crate::output::RunWriter;
use crate::run::{self, Discard, Report};
use crate::scenario;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `run` (write = true) or `check` (write = false).
pub fn run(args: &RunArgs, write: bool) -> u8 {
    let (economy, label, _) = match scenario::load(args.file.as_deref(), &args.sets, args.seed) {
        Ok(x) => x,
        Err(e) => return report_input_error(e),
    };
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot start {} threads: {e}", args.threads.unwrap_or(0));
            return EXIT_BAD_INPUT;
        }
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(&economy.name));
    let max_ticks = economy.run.max_ticks;
    let names = economy.goods.name.clone();
    let stop: &'static AtomicBool = &STOP;
    install_signal_handler();

    // progress bar on stderr, shown only for runs longer than a second on a terminal
    let started = Instant::now();
    let bar = ProgressBar::with_draw_target(Some(max_ticks), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{spinner} tick {pos}/{len} [{elapsed_precise}] {per_sec} {msg}")
            .expect("valid template"),
    );
    let mut shown = false;
    let quiet = args.quiet;
    let mut progress = |tick: u64| {
        if !quiet && !shown && started.elapsed() > Duration::from_secs(1) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            shown = true;
        }
        bar.set_position(tick);
    };

    let result: std::io::Result<(Report, Option<RunWriter>)> = pool.install(|| {
        if write {
            let mut writer = RunWriter::create(&dir, &names)?;
            let report = run::execute(economy, &mut writer, &mut progress, stop)?;
            Ok((report, Some(writer)))
        } else {
            let report = run::execute(economy, &mut Discard, &mut progress, stop)?;
            Ok((report, None))
        }
    });
    bar.finish_and_clear();
    let (report, writer) = match result {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: cannot write results to {}: {e}", dir.display());
            eprintln!("  = help: check that the directory is writable and the disk has space, or choose another with --out DIR");
            return EXIT_FAIL;
        }
    };
    if let Some(w) = writer {
        if let Err(e) = w.finish(&report, !args.no_timing) {
            eprintln!("error: cannot write results to {}: {e}", dir.display());
            return EXIT_FAIL;
        }
        if let Err(e) = super::plot::render_run(&dir, &report.scenario, args.chart_size) {
            eprintln!("error: cannot draw the convergence chart: {e}");
            return EXIT_FAIL;
        }
    }
    if write {
        print_table(&report, &label);
        println!(
            "wrote {}/ (summary.json, trajectory.csv, metrics.csv, convergence.png)",
            dir.display()
        );
    } else {
        println!(
            "{}: {} ({})",
            label,
            if report.pass { "PASS" } else { "FAIL" },
            report.outcome_detail
        );
    }
    if report.outcome == "interrupted" {
        eprintln!(
            "interrupted: stopped after {} ticks; the files hold the run so far",
            report.ticks
        );
        EXIT_INTERRUPTED
    } else if report.pass {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

/// Exit code after SIGINT or SIGTERM (128 + SIGINT), as shells expect.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Set by SIGINT/SIGTERM; the run stops at the end of the current tick.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_signal_handler() {
    // A second installation attempt (tests calling run twice in one process) is harmless.
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));
}

fn fmt(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && (v == 0.0 || (1e-4..1e6).contains(&v.abs())) => format!("{v:.10}"),
        Some(v) if v.is_finite() => format!("{v:.9e}"),
        _ => "-".to_string(),
    }
}

fn fmt_err(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.1e}"),
        _ => "-".to_string(),
    }
}

/// The summary table: one line per good, then the verdict.
pub fn print_table(r: &Report, label: &str) {
    println!(
        "{label}: {} after {} ticks ({:.3} s)",
        r.outcome_detail, r.ticks, r.timings.total_seconds
    );
    println!(
        "{:<16} {:>16} {:>16} {:>16} {:>16} {:>9} {:>9} {:>9}  check",
        "good", "price", "adjoint", "reference", "dV/ds (FD)", "err adj", "err ref", "err FD"
    );
    for g in r.goods.iter().filter(|g| !g.fixed_price) {
        println!(
            "{:<16} {:>16} {:>16} {:>16} {:>16} {:>9} {:>9} {:>9}  {}",
            g.good,
            fmt(Some(g.price)),
            fmt(Some(g.adjoint)),
            fmt(g.reference),
            fmt(g.envelope),
            fmt_err(g.error_adjoint),
            fmt_err(g.error_reference),
            fmt_err(g.error_envelope),
            if r.converged_at.is_none() {
                "-"
            } else if g.pass {
                "ok"
            } else {
                "MISMATCH"
            }
        );
    }
    if let Some(note) = &r.reference_note {
        println!("note: no reference check: {note}");
    }
    let worst = [Some(r.max_error_adjoint), r.max_error_reference, r.max_error_envelope]
        .into_iter()
        .flatten()
        .fold(0.0, f64::max);
    if r.pass {
        println!(
            "PASS: every market price equals its derivative within {:e} (largest relative error {worst:.1e})",
            r.check_tolerance
        );
    } else if r.converged_at.is_some() {
        println!(
            "FAIL: a price differs from its derivative by more than {:e} (largest relative error {worst:.1e})",
            r.check_tolerance
        );
    } else {
        println!("FAIL: {}", r.outcome_detail);
    }
}
