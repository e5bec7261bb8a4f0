//! Everything that compares a run with theory: backprop adjoints ([`backprop`]), the
//! independent reference equilibrium ([`mod@reference`]), the gradient of final value
//! computed centrally ([`gradient`]), the per-tick diagnostics of the
//! out-of-equilibrium trajectory ([`diagnostics`]), the Lyapunov function of the dynamics
//! ([`lyapunov`]), the travel of shocks through the chain ([`propagation`]), why a run
//! that ran out of ticks did not converge ([`stall`]), and when a noisy run's prices are
//! stationary and what their time averages are ([`stationary`]).

pub mod backprop;
pub mod diagnostics;
pub mod gradient;
pub mod lyapunov;
pub mod propagation;
pub mod reference;
pub mod stall;
pub mod stationary;
