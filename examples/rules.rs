//! How often the Lyapunov function W rises, per rule pair and shipped scenario, and at which
//! step sizes it stops falling (docs/OUT_OF_EQUILIBRIUM.md).
//!
//! cargo run --release --example rules -- [--scenarios scenarios] [--out docs]
//!
//! Part 1: every firm rule x market rule at one setting each (below), on every scenario file in
//! `scenarios/` with `agents.rule`, `agents.form`, `agents.rate`, `market.rule` and
//! `market.step` set by `--set` (logged every tick): the outcome, the ticks, and the share of
//! logged steps in which W rose (above the noise floor `lyapunov::NOISE`; a step from a shock's
//! tick is not counted). Part 2: on the essay's chain, each rule pair with rate = step = s for
//! s from 0.005 to 2: the same share, to see where W stops falling.
//!
//! Writes OUT/rules.csv (part 1) and OUT/rules_steps.csv (part 2), and prints both as Markdown.

use pricegrad::check::diagnostics::{GoodSample, TickSample};
use pricegrad::check::lyapunov;
use pricegrad::economy::Economy;
use pricegrad::run::{self, Sink};
use pricegrad::scenario;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

/// (label, agents.rule, agents.form, market.rule, rate, step)
const PAIRS: [(&str, &str, &str, &str, f64, f64); 10] = [
    (
        "gradient relative / multiplicative",
        "gradient",
        "relative",
        "multiplicative",
        0.5,
        0.5,
    ),
    (
        "gradient relative / additive",
        "gradient",
        "relative",
        "additive",
        0.2,
        0.05,
    ),
    (
        "gradient additive / multiplicative",
        "gradient",
        "additive",
        "multiplicative",
        0.05,
        0.5,
    ),
    (
        "gradient additive / additive",
        "gradient",
        "additive",
        "additive",
        0.05,
        0.05,
    ),
    (
        "optimistic relative / multiplicative",
        "optimistic",
        "relative",
        "multiplicative",
        0.2,
        0.5,
    ),
    (
        "optimistic relative / additive",
        "optimistic",
        "relative",
        "additive",
        0.05,
        0.05,
    ),
    (
        "optimistic additive / multiplicative",
        "optimistic",
        "additive",
        "multiplicative",
        0.05,
        0.5,
    ),
    (
        "optimistic additive / additive",
        "optimistic",
        "additive",
        "additive",
        0.05,
        0.05,
    ),
    (
        "best_response / multiplicative",
        "best_response",
        "relative",
        "multiplicative",
        0.5,
        0.5,
    ),
    (
        "best_response / additive",
        "best_response",
        "relative",
        "additive",
        0.5,
        0.01,
    ),
];

const STEPS: [f64; 9] = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0];

/// Keeps (W, shock at this tick) per logged tick.
#[derive(Default)]
struct Lyapunov {
    w: Vec<(Option<f64>, bool)>,
}

impl Sink for Lyapunov {
    fn record(&mut self, _: &Economy, m: &TickSample, _: &[GoodSample]) -> std::io::Result<()> {
        self.w.push((m.lyapunov, !m.shock.is_empty()));
        Ok(())
    }
}

/// One run: outcome (`converged`, or `wrong` when it stopped but failed the checks,
/// `max_ticks`, `diverged`), ticks, (rises, steps), W last / W first.
fn run(label: &str, text: &str, sets: &[String]) -> Result<(String, u64, (usize, usize), f64), String> {
    let mut sets = sets.to_vec();
    sets.push("log.every=1".to_string());
    let economy = scenario::load_str(label, text, &sets, None).map_err(|e| {
        let e = e.to_string();
        // the first line says what is wrong (e.g. best_response for constant returns)
        e.lines().find(|l| l.starts_with("error")).unwrap_or(&e).to_string()
    })?;
    let mut sink = Lyapunov::default();
    let report = run::execute(economy, &mut sink, &mut |_| {}, &AtomicBool::new(false)).map_err(|e| e.to_string())?;
    let rises = lyapunov::rises(sink.w.iter().copied());
    let values: Vec<f64> = sink.w.iter().filter_map(|w| w.0).collect();
    let ratio = match (values.first(), values.last()) {
        (Some(a), Some(b)) if *a > 0.0 => b / a,
        _ => f64::NAN,
    };
    let outcome = if report.outcome == "converged" && !report.pass {
        "wrong".to_string()
    } else {
        report.outcome.to_string()
    };
    Ok((outcome, report.ticks, rises, ratio))
}

fn share((up, of): (usize, usize)) -> String {
    if of == 0 {
        "-".to_string()
    } else {
        format!("{:.1}%", 100.0 * up as f64 / of as f64)
    }
}

fn main() {
    let mut dir = PathBuf::from("scenarios");
    let mut out = PathBuf::from("docs");
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--scenarios" => dir = PathBuf::from(v),
            "--out" => out = PathBuf::from(v),
            _ => panic!("unknown option {k} (use --scenarios, --out)"),
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the scenarios directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();

    // ---- part 1 ----
    let mut csv = String::from(
        "rule_pair,firm_rule,form,market_rule,rate,step,scenario,outcome,ticks,w_rises,w_steps,w_last_over_first\n",
    );
    let mut md = String::from("| rule pair (rate, step) |");
    for n in &names {
        let _ = write!(md, " {n} |");
    }
    md.push_str("\n|---|");
    md.push_str(&"---|".repeat(names.len()));
    md.push('\n');
    for (label, rule, form, market, rate, step) in PAIRS {
        let sets = vec![
            format!("agents.rule={rule}"),
            format!("agents.form={form}"),
            format!("agents.rate={rate}"),
            format!("market.rule={market}"),
            format!("market.step={step}"),
        ];
        let _ = write!(md, "| {label} ({rate}, {step}) |");
        for (file, name) in files.iter().zip(&names) {
            let text = std::fs::read_to_string(file).unwrap();
            match run(&file.to_string_lossy(), &text, &sets) {
                Ok((outcome, ticks, rises, ratio)) => {
                    let _ = writeln!(
                        csv,
                        "{label},{rule},{form},{market},{rate},{step},{name},{outcome},{ticks},{},{},{ratio:e}",
                        rises.0, rises.1
                    );
                    let mark = match outcome.as_str() {
                        "converged" => String::new(),
                        "max_ticks" => " (not converged)".to_string(),
                        "wrong" => " (stopped, checks failed)".to_string(),
                        o => format!(" ({o})"),
                    };
                    let _ = write!(md, " {}{mark} |", share(rises));
                    eprintln!(
                        "{label:40} {name:22} {outcome:10} {ticks:>6} ticks, W rose {}/{}",
                        rises.0, rises.1
                    );
                }
                Err(e) => {
                    let _ = writeln!(
                        csv,
                        "{label},{rule},{form},{market},{rate},{step},{name},rejected,0,0,0,"
                    );
                    let _ = write!(md, " n/a |");
                    eprintln!("{label:40} {name:22} rejected: {e}");
                }
            }
        }
        md.push('\n');
    }
    std::fs::create_dir_all(&out).expect("create the output directory");
    std::fs::write(out.join("rules.csv"), &csv).expect("write rules.csv");
    println!("{md}");

    // ---- part 2 ----
    let chain = std::fs::read_to_string(dir.join("tupperware.toml")).expect("scenarios/tupperware.toml");
    let mut csv = String::from("rule_pair,rate_and_step,outcome,ticks,w_rises,w_steps\n");
    let mut md = String::from("| rule pair | ");
    for s in STEPS {
        let _ = write!(md, "{s} | ");
    }
    md.push_str("\n|---|");
    md.push_str(&"---|".repeat(STEPS.len()));
    md.push('\n');
    for (label, rule, form, market, _, _) in PAIRS {
        let _ = write!(md, "| {label} |");
        for s in STEPS {
            let sets = vec![
                format!("agents.rule={rule}"),
                format!("agents.form={form}"),
                format!("agents.rate={}", if rule == "best_response" { s.min(1.0) } else { s }),
                format!("market.rule={market}"),
                format!("market.step={s}"),
            ];
            match run("tupperware.toml", &chain, &sets) {
                Ok((outcome, ticks, rises, _)) => {
                    let _ = writeln!(csv, "{label},{s},{outcome},{ticks},{},{}", rises.0, rises.1);
                    let mark = match outcome.as_str() {
                        "converged" => String::new(),
                        "max_ticks" => "*".to_string(),
                        "wrong" => "‡".to_string(),
                        _ => "†".to_string(),
                    };
                    let _ = write!(md, " {}{mark} |", share(rises));
                }
                Err(e) => {
                    let _ = write!(md, " n/a |");
                    eprintln!("{label} at {s}: {e}");
                }
            }
        }
        md.push('\n');
    }
    std::fs::write(out.join("rules_steps.csv"), &csv).expect("write rules_steps.csv");
    println!("{md}");
    println!(
        "* did not converge within max_ticks; † diverged; ‡ stopped but failed the checks (not at the equilibrium)"
    );
}
