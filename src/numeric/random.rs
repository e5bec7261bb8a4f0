//! Seeded random streams. Every random number comes from a ChaCha stream keyed by
//! (seed, purpose, index), so results do not depend on how work is split over threads.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a stream is for; distinct purposes never share numbers.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Purpose {
    /// Per-firm productivity draws when the economy is built.
    Productivity = 1,
    /// Per-firm observation noise and activation during a run.
    Agent = 2,
    /// Scenario generators.
    Generate = 3,
}

/// The stream for (seed, purpose, index).
pub fn stream(seed: u64, purpose: Purpose, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (purpose as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream(index);
    rng
}

/// A standard normal draw (Box–Muller; deterministic given the stream).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    use rand::Rng;
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let u2: f64 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
