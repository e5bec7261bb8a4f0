//! `pricegrad sweep` and `pricegrad merge` (placeholder: being written).
use clap::Args;

#[derive(Debug, Args)]
pub struct SweepArgs {}

#[derive(Debug, Args)]
pub struct MergeArgs {}

pub fn run(_args: &SweepArgs) -> u8 {
    eprintln!("sweep is not built yet");
    super::EXIT_FAIL
}

pub fn merge(_args: &MergeArgs) -> u8 {
    eprintln!("merge is not built yet");
    super::EXIT_FAIL
}
