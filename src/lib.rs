//! pricegrad: competitive markets compute gradients.
//!
//! Firms that see only their own input and output prices, and markets that move prices
//! against excess demand, settle on prices equal to the derivatives of final value with
//! respect to each good: the numbers reverse-mode automatic differentiation (backprop)
//! gives. This crate simulates such markets and checks that claim on every run.

// Numeric kernels index several parallel arrays at once; index loops read best there.
#![allow(clippy::needless_range_loop)]

pub mod agents;
pub mod backprop;
pub mod cli;
pub mod compile;
pub mod diagnostics;
pub mod economy;
pub mod engine;
pub mod fastmath;
pub mod generate;
pub mod linalg;
pub mod lyapunov;
pub mod market;
pub mod output;
pub mod plot;
pub mod production;
pub mod propagation;
pub mod random;
pub mod reference;
pub mod run;
pub mod scenario;
pub mod sweep;
