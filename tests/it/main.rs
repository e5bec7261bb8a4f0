//! The integration tests, as one test crate (one binary to build and link instead of one per
//! area). Each module is one area; [`common`] holds the helpers they share. Run one area with
//! `cargo test --test it AREA::` (e.g. `cargo test --test it reference::`).
//!
//! `tests/measured/` stays a crate of its own: it measures the peak memory of each child
//! process it spawns, and on Linux a child's peak counts its parent's peak at the spawn, so its
//! parent must be a small process, not one that also runs the large economies of these tests.

mod common;

mod backprop;
mod checks;
mod chunked;
mod cli;
mod compile;
mod engine;
mod fuzz_regressions;
mod generate;
mod methods;
mod noisy;
mod out_of_equilibrium;
mod parquet;
mod peer;
mod plot_options;
mod records;
mod reference;
mod reliability;
mod scenario_keys;
mod scenarios;
mod snapshots;
mod sweep;
mod sweep_design;
mod tables;
