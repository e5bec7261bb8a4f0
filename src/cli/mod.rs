//! The command line: argument definitions (clap) and one small module per command.

mod gradient;
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
  pricegrad validate scenarios/tupperware.toml
  pricegrad gradient scenarios/tupperware.toml
  pricegrad gradient scenarios/tupperware.toml --set goods.natgas.endowment=9 --json

Exit codes: 0 pass, 1 fail (mismatch, diverged, not converged), 2 bad input.";

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
    /// Compute the gradient centrally: per good, the planner's quantity and the backprop
    /// adjoint (the price that the markets should find).
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
        None => gradient::run(&GradientArgs {
            scenario: ScenarioArgs { file: PathBuf::from("scenarios/tupperware.toml"), sets: vec![] },
            json: false,
        }),
    };
    ExitCode::from(code)
}

/// Load the scenario of a command, or print the input error and return exit code 2.
pub(crate) fn load(args: &ScenarioArgs) -> Result<crate::economy::Economy, u8> {
    scenario::load(Some(&args.file), &args.sets, None).map(|(e, _, _)| e).map_err(report_input_error)
}

pub(crate) fn report_input_error(e: InputError) -> u8 {
    eprint!("{e}");
    EXIT_BAD_INPUT
}
