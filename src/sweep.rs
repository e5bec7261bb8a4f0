//! Parameter sweeps (placeholder: being written).
