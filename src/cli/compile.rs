//! `pricegrad compile` (placeholder: being written).
use clap::Args;

#[derive(Debug, Args)]
pub struct CompileArgs {}

pub fn run(_args: &CompileArgs) -> u8 {
    eprintln!("compile is not built yet");
    super::EXIT_FAIL
}
