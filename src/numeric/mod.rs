//! Numerical building blocks with no knowledge of markets: a fast `exp` ([`fastmath`]), small
//! dense linear algebra ([`linalg`]), seeded random streams ([`random`]) and the choice of
//! vector instruction set for the tick's loops ([`vector_level`]).

pub mod fastmath;
pub mod float_text;
pub mod linalg;
pub mod random;
pub mod vector_level;
