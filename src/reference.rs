//! The independent reference equilibrium (placeholder; being written).
