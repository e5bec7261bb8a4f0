//! The name of every file pricegrad writes, in one place: a run's files, a sweep's files and
//! the marker of an output directory.

/// A run's summary: the verdict and every check (JSON).
pub const SUMMARY: &str = "summary.json";
/// A run's logged ticks, one row per tick and good.
pub const TRAJECTORY: &str = "trajectory.csv";
/// A run's logged ticks, one row per tick.
pub const METRICS: &str = "metrics.csv";
/// What each firm group buys, makes and earns at the end of a run.
pub const FIRMS: &str = "firms.csv";
/// `trajectory.csv`, `metrics.csv` and `firms.csv` as Parquet (`--format parquet`).
pub const TRAJECTORY_PARQUET: &str = "trajectory.parquet";
pub const METRICS_PARQUET: &str = "metrics.parquet";
pub const FIRMS_PARQUET: &str = "firms.parquet";
/// The effective scenario of a run (its file with the `--set` overrides and the defaults
/// written out): running it again reproduces the run.
pub const SCENARIO: &str = "scenario.toml";
/// How a run's shocks travelled, one row per good (runs with a shock only).
pub const PROPAGATION: &str = "propagation.csv";
/// A run's chart.
pub const CONVERGENCE_PNG: &str = "convergence.png";
/// A run's chart as SVG (`pricegrad plot DIR --format svg`).
pub const CONVERGENCE_SVG: &str = "convergence.svg";

/// The files of a run directory, in the order they are renamed into place
/// (`propagation.csv` only for runs with a shock; `scenario.toml` only for scenario files
/// small enough to be parsed whole; the tables in CSV or in Parquet, by `--format`).
pub const RUN_FILES: [&str; 10] = [
    TRAJECTORY,
    METRICS,
    FIRMS,
    TRAJECTORY_PARQUET,
    METRICS_PARQUET,
    FIRMS_PARQUET,
    PROPAGATION,
    SCENARIO,
    CONVERGENCE_PNG,
    SUMMARY,
];

/// A sweep's results table.
pub const SWEEP_CSV: &str = "sweep.csv";
/// A sweep's results table as Parquet, beside `sweep.csv` (`--format parquet`).
pub const SWEEP_PARQUET: &str = "sweep.parquet";
/// A sweep's chart.
pub const SWEEP_PNG: &str = "sweep.png";
/// A sweep's chart as SVG (`pricegrad plot DIR --format svg`).
pub const SWEEP_SVG: &str = "sweep.svg";
/// A sweep's manifest.
pub const SWEEP_MANIFEST: &str = "sweep.json";
/// A sweep's append-only record of finished runs (what `--resume` reads).
pub const SWEEP_JOURNAL: &str = "sweep-journal.csv";

/// The files of a sweep directory.
pub const SWEEP_FILES: [&str; 5] = [SWEEP_CSV, SWEEP_PARQUET, SWEEP_PNG, SWEEP_MANIFEST, SWEEP_JOURNAL];

/// The marker file in every output directory pricegrad creates (or was allowed to write into).
pub const MARKER: &str = ".pricegrad";
