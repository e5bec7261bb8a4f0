//! Everything that compares a run with theory: backprop adjoints ([`backprop`]), the
//! independent reference equilibrium ([`mod@reference`]), the per-tick diagnostics of the
//! out-of-equilibrium trajectory ([`diagnostics`]), the Lyapunov function of the dynamics
//! ([`lyapunov`]) and the travel of shocks through the chain ([`propagation`]).

pub mod backprop;
pub mod diagnostics;
pub mod lyapunov;
pub mod propagation;
pub mod reference;
