//! Tests that run the `pricegrad` binary as a child process and measure its peak memory
//! ([`child`]): the bad-scenario corpus ([`bad_scenarios`]) and the memory bound of long runs
//! ([`long_runs`]), and the cost of an error in a big file ([`big_errors`]).
//!
//! A crate of its own, apart from `tests/it/`: on Linux a child's peak counts its parent's
//! peak at the spawn, so the parent must be a small process, not one that also runs the large
//! economies of the other tests.

mod bad_scenarios;
mod big_errors;
mod child;
mod long_runs;
