//! The simulation: firm agents and markets stepped tick by tick by the [`engine`]. Everything
//! here sees only local price signals; nothing here knows the equilibrium (that is
//! [`crate::check`]).
//!
//! - [`engine`]: the [`engine::Engine`], its state and its tick loop;
//! - `firm_phase`, `market_phase`, [`shocks`]: the three parts of a tick; `fused_demand`:
//!   the demand the firm phase sums as it makes the plans;
//! - [`agents`]: the firm rules; [`cobb_douglas`]: their vectorised fast path for
//!   Cobb–Douglas firms;
//! - [`market`]: the price rules; `tick_stats`: the statistics of a market phase;
//! - [`firm_totals`]: what each firm group buys, makes and earns (for `firms.csv`);
//! - `faults`: what went wrong when a tick left the finite range;
//! - [`reference_tick`]: the tick written plainly, the definition the fast code is tested
//!   against.

pub mod agents;
pub mod cobb_douglas;
pub mod engine;
mod faults;
mod firm_phase;
pub mod firm_totals;
mod fused_demand;
pub mod market;
mod market_phase;
pub mod reference_tick;
pub mod shocks;
mod tick_stats;
