//! pricegrad: competitive markets compute gradients.
//!
//! Firms that see only their own input and output prices, and markets that move prices
//! against excess demand, settle on prices equal to the derivatives of final value with
//! respect to each good: the numbers reverse-mode automatic differentiation (backprop)
//! gives. This crate simulates such markets and checks that claim on every run.

// Numeric kernels index several parallel arrays at once; index loops read best there.
#![allow(clippy::needless_range_loop)]

// Layers, low to high: numeric, production and economy (the model); scenario (files into an
// economy); sim (the market dynamics); check (comparison with theory); run (a simulation and
// its checks); output and plot (files); generate, compile, run_dir and sweep (producers and
// drivers: run_dir records one run in its directory);
// cli (the command line). Nothing imports a module above its own layer.
pub mod numeric;

pub mod economy;
pub mod production;

pub mod scenario;

pub mod sim;

pub mod check;

pub mod run;

pub mod output;
pub mod plot;

pub mod compile;
pub mod generate;
pub mod run_dir;
pub mod sweep;

pub mod cli;
