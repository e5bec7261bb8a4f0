//! `pricegrad generate` (placeholder: being written).
use clap::Args;

#[derive(Debug, Args)]
pub struct GenerateArgs {}

pub fn run(_args: &GenerateArgs) -> u8 {
    eprintln!("generate is not built yet");
    super::EXIT_FAIL
}
