//! `pricegrad run` and `pricegrad check`: simulate, check prices against the gradient, and
//! (for `run`) write the results.

use super::{report_input_error, thousands, RunArgs, EXIT_BAD_INPUT, EXIT_FAIL, EXIT_PASS};
use crate::output::atomic;
use crate::run::{self, CheckRun, Discard, GoodCheck, Provenance, Report};
use crate::run_dir::{self, RunDirError, RunDirSettings};
use crate::scenario;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `run` (write = true) or `check` (write = false).
pub fn run(args: &RunArgs, write: bool) -> u8 {
    let (economy, label, source) = match scenario::load(args.file.as_deref(), &args.sets, args.seed) {
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
    let stop: &'static AtomicBool = &STOP;
    install_signal_handler();

    // progress bar on stderr, shown only for runs longer than a second on a terminal
    let started = Instant::now();
    let bar = ProgressBar::with_draw_target(Some(max_ticks), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} tick {human_pos}/{human_len} [{elapsed_precise}] {rate} ETA {eta} {msg}",
        )
        .expect("valid template")
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{} ticks/s", thousands(s.per_sec() as usize));
        }),
    );
    let mut shown = false;
    let quiet = args.quiet;
    let mut progress = |p: run::Progress| {
        if !quiet && !shown && started.elapsed() > Duration::from_secs(1) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            shown = true;
        }
        bar.set_position(p.tick);
        bar.set_message(format!("worst excess demand {:.1e}", p.max_rel_excess));
    };

    let optimistic = economy
        .agents
        .iter()
        .any(|a| a.rule == crate::economy::agent_settings::Rule::Optimistic);
    let not_written = |e: &dyn std::error::Error, help: &str| {
        eprint!("{}", super::render(e, help));
        eprintln!(
            "  = note: no result of this run was written: {} keeps its earlier files, if any, and no temporary file",
            dir.display()
        );
        EXIT_FAIL
    };
    let format_of_scenario = economy.log.format.map(crate::output::format::Format::from);
    let (report, mut chart_error, nothing_to_draw) = if write {
        let settings = RunDirSettings {
            dir: dir.clone(),
            force: args.force,
            chart_size: args.chart_size,
            timings: !args.no_timing,
            require: args.require,
            provenance: provenance(args, &label, &source),
            effective: scenario::effective::of_text(&label, &source, &args.sets, &economy),
            format: args.format.or(format_of_scenario).unwrap_or_default(),
        };
        drop(source);
        let recorded = pool.install(|| run_dir::record(economy, settings, &mut progress, stop));
        bar.finish_and_clear();
        let r = match recorded {
            Ok(r) => r,
            Err(RunDirError::Dir(e)) => {
                eprint!("{}", super::render(&e, e.help()));
                return EXIT_BAD_INPUT;
            }
            Err(RunDirError::Write(e)) => return not_written(&e, atomic::io_help(&e)),
        };
        if let Some(before) = &r.replaced {
            eprintln!(
                "note: {} held a run of {before}; its files are replaced by this run's (--out DIR keeps runs apart)",
                dir.display()
            );
        }
        print_table(&r.report, &label, Some((&dir, &r.written.join(", "))));
        (r.report, r.chart_error, r.nothing_to_draw)
    } else {
        drop(source);
        let result = pool.install(|| run::execute(economy, &mut Discard, &mut progress, stop));
        bar.finish_and_clear();
        let mut report = match result {
            Ok(r) => r,
            Err(e) => return not_written(&e, atomic::io_help(&e)),
        };
        report.set_require(args.require);
        if report.settled() {
            println!("{label}: {} ({})", verdict(&report), report.outcome_detail);
        } else {
            println!("{label}: {}", verdict(&report));
        }
        (report, None, false)
    };
    if nothing_to_draw {
        chart_error = None;
        if write {
            eprintln!("note: no convergence.png: the run diverged in its first tick, so no tick was logged");
        }
    }
    if let Some(e) = &chart_error {
        eprintln!("error: cannot draw the convergence chart: {e}");
        eprintln!("  = note: the other files are written");
    }
    outcome_help(&report, optimistic);
    if report.outcome == "interrupted" {
        eprintln!(
            "interrupted: stopped after {} ticks; the files hold the run so far",
            report.ticks
        );
        EXIT_INTERRUPTED
    } else if report.pass && chart_error.is_none() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

/// What produced this run: the scenario file as given (`label`) and its SHA-256, the `--set`
/// overrides, and the command line.
fn provenance(args: &RunArgs, label: &str, text: &str) -> Provenance {
    let scenario_sha256 = match &args.file {
        // read again, streamed (hashing the mapped file would keep all of it in memory); the
        // file was read a moment ago: should it have gone, say so in the hash's place
        Some(p) => scenario::sha256_file(p).unwrap_or_else(|e| format!("unreadable: {e}")),
        None => scenario::sha256_hex(scenario::TUPPERWARE.as_bytes()),
    };
    Provenance {
        command: Some(std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect()),
        effective_scenario: String::new(),
        scenario_file: label.to_string(),
        scenario_sha256,
        sets: args.sets.clone(),
        tables: crate::run_dir::table_hashes(label, text),
    }
}

/// What to try after a run that diverged or ran out of ticks (on standard error). For a run
/// out of ticks the advice follows what its last ticks did ([`crate::check::stall`]).
fn outcome_help(r: &Report, optimistic: bool) {
    use crate::check::stall::StallKind;
    let help =
        match r.outcome {
            "diverged" if r.outcome_detail.contains(crate::sim::engine::DOMAIN_FAULT) => {
                "write the production function to be finite for every input > 0 (e.g. ln(1 + x) instead of ln(x - 1)); \
             the plans firms choose are not limited to the values the scenario starts from"
                    .to_string()
            }
            "diverged" => "prices or plans ran away: a smaller market.step or agents.rate usually keeps them in range \
             (README.md, Stable settings), e.g. --set market.step=0.1"
                .to_string(),
            "stationary" if r.pass => return,
            "stationary" if r.stationary.as_ref().is_some_and(|w| !w.judgeable()) => {
                "the prices wander so far that their means are not known well enough to compare with the gradient: \
                 take smaller steps (a smaller market.step or agents.rate), or less noise or more activation \
                 (docs/NOISE.md)"
                    .to_string()
            }
            "stationary" => match stationary_failure(r) {
                Some(_) => format!(
                    "the mean prices are biased: noisy or intermittent firms misjudge prices by an amount of second \
                     order in agents.noise (docs/NOISE.md derives it); this is a finding, not an error. To accept a \
                     bias of this size, --set run.check_tolerance={:.0e}",
                    suggested_tolerance(r)
                ),
                None => return,
            },
            "max_ticks" => match r.stall.as_ref().map(|s| (s.kind, s.more_ticks)) {
                Some((StallKind::StillConverging, more)) => format!(
                    "the excess demand was still falling{}: give the run more ticks (--set run.max_ticks=N) or take \
                 larger steps (a larger market.step or agents.rate; README.md, Stable settings)",
                    more.map_or(String::new(), |m| format!(
                        " (at the pace of its last ticks it needs about {} more)",
                        thousands(m as usize)
                    ))
                ),
                Some((StallKind::NotConverging, _)) => {
                    format!(
                "the excess demand stopped falling: the steps are too large and the prices cycle; take smaller \
                 steps (a smaller market.step or agents.rate{}; README.md, Stable settings)",
                if optimistic { ", and agents.rate <= 0.2 for the optimistic rule" } else { "" }
            )
                }
                Some((StallKind::Noisy, _)) => format!(
                    "noisy or intermittent firms (agents.noise, agents.activation) keep prices moving, so they never \
                     meet run.tolerance, and {}; give the run more ticks (--set run.max_ticks=N) or smaller steps \
                     (a smaller market.step or agents.rate) so that the price process settles (docs/NOISE.md)",
                    r.stall
                        .as_ref()
                        .and_then(|s| s.detail.clone())
                        .unwrap_or_else(|| "no stationary window was found".to_string())
                ),
                None => "give the run more ticks (--set run.max_ticks=N), loosen run.tolerance, or change market.step \
                 or agents.rate (README.md, Stable settings)"
                    .to_string(),
            },
            _ => return,
        };
    eprintln!("help: {help}");
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

/// Economies with at most this many market-priced goods get the full table on stdout;
/// larger ones the goods with the largest errors (the rest is in summary.json).
pub const FULL_TABLE_UP_TO: usize = 40;
/// Rows of the short table.
pub const WORST_SHOWN: usize = 15;

/// The summary: a table of goods (all of them for small economies, else the worst
/// [`WORST_SHOWN`]), one line per check, where the files went (`written`: the directory
/// and the list of files), then the verdict, always last.
pub fn print_table(r: &Report, label: &str, written: Option<(&std::path::Path, &str)>) {
    let dir = written.map(|(d, _)| d);
    println!(
        "{label}: {} after {} ticks ({:.3} s)",
        r.outcome_detail,
        r.ticks,
        r.timings.as_ref().map_or(0.0, |t| t.total_seconds)
    );
    let market: Vec<&GoodCheck> = r.goods.iter().filter(|g| !g.fixed_price).collect();
    let rows: Vec<&GoodCheck> = if market.len() <= FULL_TABLE_UP_TO {
        market.clone()
    } else {
        let mut by_error = market.clone();
        by_error.sort_by(|a, b| a.pass.cmp(&b.pass).then(worst(b).total_cmp(&worst(a))));
        by_error.truncate(WORST_SHOWN);
        println!(
            "{} market goods; the {} with the largest errors{}:",
            market.len(),
            by_error.len(),
            match dir {
                Some(d) => format!(" (every good: {}/summary.json)", d.display()),
                None => String::new(),
            }
        );
        by_error
    };
    if let Some(w) = &r.stationary {
        print_stationary_table(r, w, &rows);
        if let Some((d, files)) = written {
            println!("wrote {}/ ({files})", d.display());
        }
        println!("{}", verdict(r));
        return;
    }
    println!(
        "{:<16} {:>16} {:>16} {:>16} {:>16} {:>9} {:>9} {:>9}  check",
        "good", "price", "adjoint", "reference", "dV/ds (FD)", "err adj", "err ref", "err FD"
    );
    for g in rows {
        println!(
            "{:<16} {:>16} {:>16} {:>16} {:>16} {:>9} {:>9} {:>9}  {}",
            r.goods.name(g.good),
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
    for c in &r.checks {
        let name = match c.check {
            "adjoint" => "adjoint (backprop at the final allocation)",
            "reference" => "reference (independent equilibrium solver)",
            _ => "dV/ds (finite differences of V)",
        };
        match (c.ran, c.max_error) {
            (true, Some(e)) => {
                let of = if c.goods < c.of {
                    format!(" of {}", thousands(c.of))
                } else {
                    String::new()
                };
                println!(
                    "{name}: largest relative error {e:.1e} over {}{of} goods",
                    thousands(c.goods)
                );
                if let Some(how) = &c.reason {
                    println!("  sampled: {how}");
                }
            }
            _ => println!(
                "{name}: not run: {}",
                c.reason.as_deref().unwrap_or("no reason recorded")
            ),
        }
    }
    if let Some((d, files)) = written {
        println!("wrote {}/ ({files})", d.display());
    }
    println!("{}", verdict(r));
}

/// The table of a stationary run: per good the mean price over the window with its interval,
/// backprop at the mean plans, the reference, dV/ds and the bias with its interval; the window;
/// one line per check.
fn print_stationary_table(r: &Report, w: &crate::check::stationary::Window, rows: &[&GoodCheck]) {
    let level = format!("{:.0}%", 100.0 * w.confidence);
    println!(
        "{:<16} {:>14} {:>9} {:>14} {:>14} {:>14} {:>9} {:>21}  check",
        "good",
        "mean price",
        format!("± ({level})"),
        "adjoint (mean)",
        "reference",
        "dV/ds (FD)",
        "bias",
        format!("bias {level} interval"),
    );
    for g in rows {
        let a = g.adjoint.abs().max(f64::MIN_POSITIVE);
        let half = g
            .mean_price_ci
            .map(|[lo, hi]| 0.5 * (hi - lo) / g.mean_price.unwrap_or(1.0).abs());
        println!(
            "{:<16} {:>14} {:>9} {:>14} {:>14} {:>14} {:>9} {:>21}  {}",
            r.goods.name(g.good),
            short(g.mean_price),
            half.map_or("-".to_string(), |h| pct(h).replacen('+', "", 1)),
            short(Some(g.adjoint)),
            short(g.reference),
            short(g.envelope),
            g.bias.map_or("-".to_string(), |b| pct(b / a)),
            g.bias_ci.map_or("-".to_string(), |[lo, hi]| format!(
                "[{}, {}]",
                pct(lo / a),
                pct(hi / a)
            )),
            if g.mean_price.is_none() {
                "-"
            } else if g.pass {
                "ok"
            } else {
                "BIASED"
            }
        );
    }
    println!(
        "stationary window: ticks {}–{} ({} ticks: {} batches of {}; longest autocorrelation time {:.1} ticks); \
         {level} intervals from the batch means (docs/NOISE.md)",
        w.first_tick,
        w.last_tick,
        thousands((w.last_tick + 1 - w.first_tick) as usize),
        w.batches,
        thousands(w.batch_ticks as usize),
        w.autocorrelation_ticks
    );
    for c in &r.checks {
        let name = match c.check {
            "adjoint" => "adjoint (backprop at the mean plans over the window)",
            "reference" => "reference (independent equilibrium solver)",
            _ => "dV/ds (finite differences of V)",
        };
        match (c.ran, c.max_error) {
            (true, Some(e)) => println!(
                "{name}: largest relative difference from the mean price {e:.1e} over {} goods",
                thousands(c.goods)
            ),
            _ => println!(
                "{name}: not run: {}",
                c.reason.as_deref().unwrap_or("no reason recorded")
            ),
        }
    }
}

/// A number for the stationary table (7 significant digits).
fn short(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && (v == 0.0 || (1e-4..1e6).contains(&v.abs())) => {
            let digits = (6 - v.abs().log10().floor() as i32).clamp(0, 10) as usize;
            format!("{v:.digits$}")
        }
        Some(v) if v.is_finite() => format!("{v:.6e}"),
        _ => "-".to_string(),
    }
}

/// A signed relative difference in percent, with 2 or 3 significant digits.
fn pct(v: f64) -> String {
    let p = 100.0 * v;
    if !p.is_finite() {
        "-".to_string()
    } else if p.abs() >= 1.0 {
        format!("{p:+.2}%")
    } else if p.abs() >= 0.01 || p == 0.0 {
        format!("{p:+.3}%")
    } else {
        format!("{p:+.1e}%")
    }
}

/// For each market good of a stationary run and each check that ran: the check's label, the
/// good, the value compared with (the gradient), and the interval of the difference (mean
/// price minus the value), relative to the value; with the judged error (the distance from 0
/// to that interval, relative).
fn stationary_rows(r: &Report) -> Vec<(&'static str, &GoodCheck, [f64; 2], f64, f64)> {
    let mut out = Vec::new();
    for g in r.goods.iter().filter(|g| g.mean_price.is_some()) {
        let (Some(mean), Some([lo, hi]), Some([blo, bhi]), Some(bias)) =
            (g.mean_price, g.mean_price_ci, g.bias_ci, g.bias)
        else {
            continue;
        };
        for (i, c) in r.checks.iter().enumerate().filter(|(_, c)| c.ran) {
            let (q, d) = match c.check {
                "adjoint" => (Some(g.adjoint), Some(([blo, bhi], bias))),
                "reference" => (g.reference, g.reference.map(|q| ([lo - q, hi - q], mean - q))),
                _ => (g.envelope, g.envelope.map(|q| ([lo - q, hi - q], mean - q))),
            };
            if let (Some(q), Some((ci, d)), Some(judged)) = (q, d, g.judged[i]) {
                let a = q.abs().max(f64::MIN_POSITIVE);
                out.push((c.label(), g, [ci[0] / a, ci[1] / a], d / a, judged));
            }
        }
    }
    out
}

/// The first failing check's worst good of a stationary run (by the distance from 0 to its
/// interval): the check, the good, the relative difference and its interval.
fn stationary_failure(r: &Report) -> Option<(&'static str, String, f64, [f64; 2])> {
    let failing = r.checks.iter().find(|c| c.ran && !c.pass)?;
    stationary_rows(r)
        .into_iter()
        .filter(|row| row.0 == failing.label())
        .max_by(|a, b| a.4.total_cmp(&b.4))
        .map(|(label, g, ci, d, _)| (label, r.goods.name(g.good).to_string(), d, ci))
}

/// A check_tolerance (one significant digit, rounded up) under which a stationary run would
/// pass: the largest distance from a derivative to a good's interval.
fn suggested_tolerance(r: &Report) -> f64 {
    let e = stationary_rows(r).iter().map(|row| row.4).fold(0.0, f64::max);
    if e <= 0.0 {
        return r.check_tolerance;
    }
    let mag = 10f64.powf(e.log10().floor());
    (e / mag).ceil() * mag
}

/// The verdict of a stationary run whose intervals are too wide to judge by (None for other
/// runs): the good with the widest interval.
fn too_noisy(r: &Report) -> Option<String> {
    let w = r.stationary.as_ref().filter(|w| !w.judgeable())?;
    let widest = r
        .goods
        .iter()
        .filter_map(|g| {
            let ([lo, hi], m) = (g.mean_price_ci?, g.mean_price?);
            let h = 0.5 * (hi - lo) / m.abs();
            Some((if h.is_nan() { f64::INFINITY } else { h }, r.goods.name(g.good)))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    Some(format!(
        "STATIONARY, TOO NOISY TO JUDGE: the mean price of {} is known only within ±{} ({:.0}% CI; judging price = \
         gradient needs every interval within ±{:.0}% of its price)",
        widest.1,
        pct(widest.0).replacen('+', "", 1),
        100.0 * w.confidence,
        100.0 * crate::check::stationary::JUDGEABLE
    ))
}

/// The verdict of a stationary run: whether the mean prices equal the gradient within their
/// intervals (and `check_tolerance`), or which good's bias is the finding.
fn stationary_verdict(r: &Report, which: &str) -> String {
    let rows = stationary_rows(r);
    let level = format!(
        "{:.0}% CI",
        100.0 * r.stationary.as_ref().map_or(0.95, |w| w.confidence)
    );
    let biases: Vec<_> = rows.iter().filter(|row| row.0 == "adjoint").collect();
    let largest = biases.iter().max_by(|a, b| a.3.abs().total_cmp(&b.3.abs()));
    let bias_text = |(_, g, ci, d, _): &(&str, &GoodCheck, [f64; 2], f64, f64)| {
        format!(
            "bias {} on {} ({level} {} to {})",
            pct(*d),
            r.goods.name(g.good),
            pct(ci[0]),
            pct(ci[1])
        )
    };
    if r.pass {
        let within = rows
            .iter()
            .map(|row| row.2[0].abs().max(row.2[1].abs()))
            .fold(0.0, f64::max);
        let largest = largest.map_or(String::new(), |row| format!("; largest {}", bias_text(row)));
        let tolerance = if rows.iter().any(|row| row.2[0] > 0.0 || row.2[1] < 0.0) {
            format!(
                "; where an interval excludes the gradient, the difference is within check_tolerance {:e}",
                r.check_tolerance
            )
        } else {
            String::new()
        };
        return format!(
            "STATIONARY PASS ({which}): the mean prices equal the gradient within {} ({level}){largest}{tolerance}",
            pct(within).replacen('+', "", 1)
        );
    }
    match stationary_failure(r) {
        Some((label, good, d, ci)) => {
            let off = rows
                .iter()
                .filter(|row| row.0 == label && row.4 > r.check_tolerance)
                .count();
            let against = match label {
                "adjoint" => "backprop at the mean plans",
                "reference" => "the reference price",
                _ => "dV/ds",
            };
            format!(
                "STATIONARY, BIASED: the mean price of {good} is {} off {against} ({level} {} to {}), beyond \
                 check_tolerance {:e}; {off} of {} goods biased (checks: {which})",
                pct(d),
                pct(ci[0]),
                pct(ci[1]),
                r.check_tolerance,
                biases.len()
            )
        }
        None => format!("STATIONARY FAIL ({which})"),
    }
}

/// The verdict in one line: PASS or FAIL, the checks that ran (and on how many goods where
/// that is a sample) and, for a FAIL, its cause: the run did not converge, a check that had
/// to run did not (and why), or which check failed at which good by how much. A stationary run
/// says whether its mean prices equal the gradient ([`stationary_verdict`]).
pub fn verdict(r: &Report) -> String {
    let ran: Vec<&CheckRun> = r.checks.iter().filter(|c| c.ran).collect();
    let skipped: Vec<&CheckRun> = r.checks.iter().filter(|c| !c.ran).collect();
    let names = ran
        .iter()
        .map(|c| {
            if c.goods < c.of {
                format!("{} on {} of {} goods", c.label(), thousands(c.goods), thousands(c.of))
            } else {
                c.label().to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let reason = |c: &CheckRun| c.reason.clone().unwrap_or_else(|| "no reason recorded".to_string());
    // dV/ds skipped for want of the reference is said once, with the reference's reason
    let skipped_text = match skipped.as_slice() {
        [a, b] if a.check == "reference" && b.reason.as_deref() == Some(run::NEEDS_REFERENCE) => {
            format!("reference and dV/ds skipped: {}", reason(a))
        }
        _ => skipped
            .iter()
            .map(|c| format!("{} skipped: {}", c.label(), reason(c)))
            .collect::<Vec<_>>()
            .join("; "),
    };
    if let Some(text) = too_noisy(r) {
        return text;
    }
    if r.stationary.is_some() && (r.pass || ran.iter().any(|c| !c.pass)) {
        let which = if skipped.is_empty() {
            names
        } else {
            format!("{names} only; {skipped_text}")
        };
        return stationary_verdict(r, &which);
    }
    if r.pass {
        let worst = ran.iter().filter_map(|c| c.max_error).fold(0.0, f64::max);
        let which = if skipped.is_empty() {
            names
        } else {
            format!("{names} only; {skipped_text}")
        };
        return format!(
            "PASS ({which}): every market price equals its derivative within {:e} (largest relative error {worst:.1e})",
            r.check_tolerance
        );
    }
    if !r.settled() {
        return format!("FAIL: {}", r.outcome_detail);
    }
    if let Some(c) = ran.iter().find(|c| !c.pass) {
        let also: Vec<&str> = ran
            .iter()
            .filter(|o| !o.pass && o.check != c.check)
            .map(|o| o.label())
            .collect();
        let also = if also.is_empty() {
            String::new()
        } else {
            format!(
                "; the {} check{} failed too",
                also.join(" and "),
                if also.len() > 1 { "s" } else { "" }
            )
        };
        return format!("FAIL: {}{also}", mismatch(r, c));
    }
    format!("FAIL ({names} only; --require all needs every check, --require adjoint accepts the adjoint check alone): {skipped_text}")
}

/// A failed check's worst good: its price, the value it was compared with, and the error.
fn mismatch(r: &Report, c: &CheckRun) -> String {
    let good = c.worst_good.as_deref().unwrap_or("?");
    let g = r.goods.get(good);
    let (what, value) = match (c.check, g) {
        ("adjoint", Some(g)) => ("its backprop adjoint", Some(g.adjoint)),
        ("reference", Some(g)) => ("the reference price", g.reference),
        (_, Some(g)) => ("dV/ds", g.envelope),
        _ => ("its derivative", None),
    };
    format!(
        "{} check: the price of {good}, {}, differs from {what}, {}, by {} relative (check_tolerance {:e}){}",
        c.label(),
        fmt(g.map(|g| g.price)),
        fmt(value),
        fmt_err(c.max_error),
        r.check_tolerance,
        if c.goods > 1 {
            let bad = r
                .goods
                .iter()
                .filter(|g| {
                    let e = match c.check {
                        "adjoint" => g.error_adjoint,
                        "reference" => g.error_reference,
                        _ => g.error_envelope,
                    };
                    e.is_some_and(|e| e.is_nan() || e > r.check_tolerance)
                })
                .count();
            format!("; {} of {} goods are off", thousands(bad), thousands(c.goods))
        } else {
            String::new()
        }
    )
}

/// The largest of a good's relative errors (for ranking).
fn worst(g: &GoodCheck) -> f64 {
    [g.error_adjoint, g.error_reference, g.error_envelope]
        .into_iter()
        .flatten()
        .fold(0.0, f64::max)
}
