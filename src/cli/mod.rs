//! The command line: argument definitions (clap) and one small module per command.

mod compile;
mod generate;
mod gradient;
mod plot;
mod run;
mod sweep;
mod validate;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::scenario::{self, InputError};

/// Exit code for a run that passed its checks.
pub const EXIT_PASS: u8 = 0;
/// Exit code for a run that failed (mismatch, diverged, did not converge).
pub const EXIT_FAIL: u8 = 1;
/// Exit code for bad input (scenario file, arguments).
pub const EXIT_BAD_INPUT: u8 = 2;

const ABOUT: &str = "Competitive markets compute gradients: simulate firms and markets, and check \
that prices converge to the backprop derivatives of final value.";

const LONG_ABOUT: &str = "\
Competitive markets compute gradients: simulate firms and markets, and check that prices
converge to the backprop derivatives of final value.

With no command, pricegrad runs the built-in scenario (the essay's tupperware chain) and
writes its results under output/tupperware/.";

const AFTER_HELP: &str = "\
Examples:
  pricegrad                                          run the built-in tupperware chain
  pricegrad run scenarios/diamond.toml               simulate, check, write output/diamond/
  pricegrad check scenarios/diamond.toml --set market.step=0.2
  pricegrad gradient scenarios/tupperware.toml --set goods.natgas.endowment=9 --json
  pricegrad sweep scenarios/sweep_stability.toml     a market.step x agents.rate stability map
  pricegrad compile \"sqrt(x) + ln(1 + x)\" --at x=4 --out f.toml && pricegrad run f.toml

Exit codes: 0 pass, 1 fail (mismatch, diverged, not converged, results not written),
2 bad input (including an unusable --out DIR), 130 interrupted (the files hold the run so far).";

const RUN_AFTER_HELP: &str = "\
Examples:
  pricegrad run scenarios/tupperware.toml
  pricegrad run scenarios/tupperware.toml --set agents.rule=best_response --set market.step=0.2
  pricegrad run scenarios/competitive_industry.toml --seed 7 --out runs/seed7 --threads 2
  pricegrad run scenarios/tupperware.toml --format parquet   # tables for pandas/polars/pyarrow
  pricegrad run scenarios/tupperware.toml --set agents.noise=0.02   (noisy firms: docs/NOISE.md)

--set paths: market.rule|step|initial_price, agents.rule|rate|form|noise|activation,
run.max_ticks|tolerance|patience|seed|check_tolerance, log.every|format,
goods.NAME.price|endowment|initial_price, firms.NAME.rate|rule|count|productivity|...,
firms.NAME.production.scale|exponents.GOOD|..., shocks.N.tick|price|endowment|productivity.

Writes summary.json, trajectory.csv, metrics.csv and convergence.png (see README.md; with
--format parquet, trajectory.parquet, metrics.parquet and firms.parquet for the CSV files) into
DIR (--out, default output/<name>), each under a temporary name, renamed into place together
at the end: a run that fails to write leaves the previous results and no temporary file.
pricegrad marks the directories it creates with a .pricegrad file and refuses an existing,
non-empty directory without one unless --force (a directory holding only pricegrad's own
file names, as earlier versions wrote them, counts as its own).

Exit codes: 0 pass; 1 fail (a price differs from its derivative, the run diverged, a
production function left its domain, max_ticks ran out) or the results could not be written
(disk full); 2 bad input: the scenario, an argument, or an --out DIR that cannot be used (not
writable, a file, someone else's directory), found before anything runs or is written;
130 interrupted (the files hold the run so far). A run with noisy or intermittent firms ends
`stationary` and is judged by its mean prices: 0 when every mean price's 95% interval comes
within check_tolerance of its derivative, 1 when a bias lies beyond it or an interval is
wider than 10% of its price.";

#[derive(Debug, Parser)]
#[command(name = "pricegrad", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a scenario file and describe the economy it builds.
    Validate(ScenarioArgs),
    /// Simulate the market, check the converged prices against backprop, the reference
    /// equilibrium and finite differences, and write the results and charts.
    #[command(after_help = RUN_AFTER_HELP)]
    Run(RunArgs),
    /// Simulate and check like `run`, print only the verdict, write nothing.
    Check(RunArgs),
    /// Run a scenario over a grid of parameter values or a design table, in parallel.
    Sweep(sweep::SweepArgs),
    /// Combine the outputs of sweep shards into one sweep.csv.
    Merge(sweep::MergeArgs),
    /// Write a random layered economy (a valid scenario file) for research and benchmarks.
    Generate(generate::GenerateArgs),
    /// Write a scenario whose market computes the gradient of an expression.
    Compile(compile::CompileArgs),
    /// Re-draw the chart of an earlier run (convergence.png) or sweep (sweep.png) from its
    /// CSV or Parquet files, without re-running anything.
    Plot(PlotArgs),
    /// Compute the gradient centrally: per good, the planner's quantity and the backprop
    /// adjoint (the price that the markets should find). The planner's allocation comes
    /// from a forward pass for chains and trees, from the reference solver otherwise.
    Gradient(GradientArgs),
}

/// A scenario file and overrides of its fields.
#[derive(Debug, Clone, Args)]
pub struct ScenarioArgs {
    /// Scenario file (TOML, format version 1). See README.md for the format.
    pub file: PathBuf,
    /// Override a field by its dotted path; repeatable. E.g. --set market.step=0.2
    /// --set goods.natgas.endowment=5 --set firms.B.rate=0.1
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Scenario file (TOML). Omit it to use the built-in tupperware scenario.
    pub file: Option<PathBuf>,
    /// Override a field by its dotted path; repeatable. E.g. --set market.step=0.2
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Random seed (overrides run.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory [default: output/<scenario name>]. Created if missing; an existing
    /// directory is used only if pricegrad made it (or it is empty), else see --force.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into an existing --out DIR that pricegrad did not create (only pricegrad's own
    /// file names in it are replaced; nothing else is touched).
    #[arg(long)]
    pub force: bool,
    /// Worker threads [default: all cores]. Results are identical for any number.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Leave wall-clock times and the command line out of summary.json (then it is bit-identical
    /// across runs).
    #[arg(long)]
    pub no_timing: bool,
    /// Size of convergence.png in pixels.
    #[arg(long, value_name = "WxH", default_value = "1600x1200", value_parser = plot::parse_size)]
    pub chart_size: crate::plot::ChartSize,
    /// Checks that must run for a PASS: 'all' (adjoint, reference and dV/ds; a check that
    /// could not run fails the run, with its reason) or 'adjoint' (price = backprop
    /// derivative; the other two count where they ran and are reported as skipped where
    /// they did not).
    #[arg(long, value_name = "all|adjoint", default_value = "all")]
    pub require: crate::run::Require,
    /// Format of the tables: 'csv' (trajectory.csv, metrics.csv, firms.csv) or 'parquet'
    /// (trajectory.parquet, metrics.parquet, firms.parquet instead, same columns)
    /// [default: the scenario's `[log] format`, else csv].
    #[arg(long, value_name = "csv|parquet")]
    pub format: Option<crate::output::format::Format>,
}

impl RunArgs {
    /// The arguments of `pricegrad` with no command: run the built-in scenario.
    pub fn builtin() -> RunArgs {
        RunArgs {
            file: None,
            sets: vec![],
            seed: None,
            out: None,
            force: false,
            threads: None,
            quiet: false,
            no_timing: false,
            chart_size: crate::plot::ChartSize::default(),
            require: crate::run::Require::All,
            format: None,
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = plot::AFTER_HELP)]
pub struct PlotArgs {
    /// Output directory of a run (trajectory.csv, metrics.csv) or of a sweep (sweep.csv).
    pub dir: PathBuf,
    /// Chart title [default: the scenario name from summary.json, else the directory name].
    #[arg(long)]
    pub title: Option<String>,
    /// Size of the chart in pixels (of the PNG; of the SVG's canvas).
    #[arg(long, value_name = "WxH", default_value = "1600x1200", value_parser = plot::parse_size)]
    pub chart_size: crate::plot::ChartSize,
    /// Only these goods' series, by their names in the run, separated by commas (e.g.
    /// --goods natgas,ethylene). The metrics over all goods (excess demand, W, the split) stay.
    #[arg(long, value_name = "GOOD,...", value_delimiter = ',')]
    pub goods: Vec<String>,
    /// Only the logged ticks from A to B, both included; 'A:' and ':B' leave an end open
    /// (e.g. --ticks 100:400, --ticks 1000:).
    #[arg(long, value_name = "A:B")]
    pub ticks: Option<crate::plot::TickRange>,
    /// Chart format [default: the --out FILE's extension, .png or .svg; else png].
    #[arg(long, value_name = "png|svg")]
    pub format: Option<crate::plot::Format>,
    /// Write the chart to FILE [default: DIR/convergence.png, DIR/convergence.svg for
    /// --format svg; sweep.png, sweep.svg for a sweep].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GradientArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Parse arguments, run the command, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Validate(a)) => validate::run(&a),
        Some(Command::Gradient(a)) => gradient::run(&a),
        Some(Command::Run(a)) => run::run(&a, true),
        Some(Command::Check(a)) => run::run(&a, false),
        Some(Command::Plot(a)) => plot::run(&a),
        Some(Command::Sweep(a)) => sweep::run(&a),
        Some(Command::Generate(a)) => generate::run(&a),
        Some(Command::Compile(a)) => compile::run(&a),
        Some(Command::Merge(a)) => sweep::merge(&a),
        None => run::run(&RunArgs::builtin(), true),
    };
    ExitCode::from(code)
}

/// Load the scenario of a command, or print the input error and return exit code 2.
pub(crate) fn load(args: &ScenarioArgs) -> Result<crate::economy::Economy, u8> {
    scenario::load(Some(&args.file), &args.sets, None)
        .map(|(e, _, _)| e)
        .map_err(report_input_error)
}

/// 5000 as "5,000".
/// `n` things, with thousands separators: "1 point", "16,384 points".
pub(crate) fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {one}s", thousands(n as usize))
    }
}

pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// An error as the terminal shows it: `error: MESSAGE` and `  = help: HELP` lines.
pub(crate) fn render(message: impl std::fmt::Display, help: impl std::fmt::Display) -> String {
    format!("error: {message}\n  = help: {help}\n")
}

pub(crate) fn report_input_error(e: InputError) -> u8 {
    eprint!("{e}");
    EXIT_BAD_INPUT
}
