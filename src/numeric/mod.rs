//! Numerical building blocks with no knowledge of markets: a fast `exp` ([`fastmath`]), small
//! dense linear algebra ([`linalg`]) and seeded random streams ([`random`]).

pub mod fastmath;
pub mod float_text;
pub mod linalg;
pub mod random;
