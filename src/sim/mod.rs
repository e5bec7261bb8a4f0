//! The simulation: firm agents ([`agents`]) and markets ([`market`]) stepped tick by tick by
//! the [`engine`]. Everything here sees only local price signals; nothing here knows the
//! equilibrium (that is [`crate::check`]).

pub mod agents;
pub mod engine;
pub mod market;
