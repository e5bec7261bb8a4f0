//! Parameter sweeps: run a scenario over a grid of parameter values, with replicates, in
//! parallel, and write one row per run to `sweep.csv`.
//!
//! * **Grid.** Each swept parameter is a `--set` path with a list of values (`0.1,0.2,0.5`,
//!   `lin:A:B:N`, `log:A:B:N`). Points are the Cartesian product, numbered from 0 with the
//!   first parameter varying slowest (row-major), so point `i` of a 2 x 3 grid is
//!   (`i / 3`, `i % 3`).
//! * **Seeds.** Run (point, replicate) uses the seed [`derive_seed`]`(base, point, replicate)`,
//!   where `base` is the point's `run.seed` (or `--seed`). The seed is written in each row, so
//!   `pricegrad run FILE --set PATH=VALUE ... --seed SEED` reproduces any row. The rows do not
//!   depend on the number of threads or on sharding.
//! * **Journal.** Every finished run is appended as one CSV line (one `write`) to
//!   `sweep-journal.csv` in the output directory. `--resume` reads the complete lines, drops a
//!   torn last line, and runs only what is missing; at the end `sweep.csv` is written from the
//!   journal, sorted by (point, replicate), atomically. A sweep killed at any moment, even by
//!   SIGKILL, therefore loses and duplicates nothing.
//! * **Manifest.** `sweep.json` identifies the sweep (scenario SHA-256, `--set`s, seed,
//!   parameters and their values, replicates, shard, version); resume and merge compare it.
//! * **Shards.** `--shard K/N` runs the points with `point % N == K - 1` (round-robin, so
//!   every shard gets a similar mix of cheap and expensive points) into `DIR/shard-K-of-N/`;
//!   [`merge`] combines the shard directories into the `sweep.csv` an unsharded run writes.

use crate::check::diagnostics::{GoodRow, MetricsRow};
use crate::economy::Economy;
use crate::output::atomic::{self, write_atomic, Staged};
use crate::output::directory;
use crate::output::files;
use crate::output::rows::{self, sweep as sweep_rows};
use crate::plot::{self, ChartSize};
use crate::run::{self, Sink};
use crate::scenario::sweep_spec::{parse_spec, split_param};
use crate::scenario::{self, InputError, Problem, ScenarioFile};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Identifies a sweep manifest.
pub const MANIFEST_FORMAT: &str = "pricegrad-sweep/1";
/// How seeds are derived, written into the manifest for readers.
pub const SEED_RULE: &str = "seed = splitmix64(splitmix64(splitmix64(base) ^ point) ^ replicate) & (2^63 - 1), \
base = --seed or the point's run.seed";
/// Most runs (points x replicates) in one sweep.
pub const MAX_RUNS: u64 = 10_000_000;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// What went wrong, already worded for the user (`error: ...` and `= help: ...` lines).
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Bad input: arguments, scenario, grid, a sweep directory that does not match (exit 2).
    Input(String),
    /// The sweep could not finish: I/O, an incomplete merge (exit 1).
    Failed(String),
}

impl Error {
    fn input(message: impl fmt::Display, help: impl fmt::Display) -> Error {
        Error::Input(format!("error: {message}\n  = help: {help}\n"))
    }
    fn failed(message: impl fmt::Display, help: impl fmt::Display) -> Error {
        Error::Failed(format!("error: {message}\n  = help: {help}\n"))
    }
    fn io(what: impl fmt::Display, path: &Path, e: io::Error) -> Error {
        Error::failed(format!("cannot {what} {}: {e}", path.display()), atomic::io_help(&e))
    }
    /// An output directory that cannot be used (nothing was written: exit 2).
    fn dir(e: directory::DirError) -> Error {
        Error::Input(e.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(s) | Error::Failed(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for Error {}

// ---------------------------------------------------------------------------
// Grid
// ---------------------------------------------------------------------------

/// One swept parameter: its `--set` path, the spec as written, and its values (as strings,
/// exactly as they are applied and written to `sweep.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub path: String,
    pub spec: String,
    pub values: Vec<String>,
}

/// The grid: parameters (first varies slowest) and replicates per point.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub params: Vec<Param>,
    pub replicates: u64,
}

impl Grid {
    /// Number of points (product of the value counts).
    pub fn points(&self) -> u64 {
        self.params.iter().map(|p| p.values.len() as u64).product()
    }

    /// Number of runs (points x replicates).
    pub fn runs(&self) -> u64 {
        self.points() * self.replicates
    }

    /// The value index of every parameter at `point` (row-major: the last parameter varies fastest).
    pub fn indices(&self, point: u64) -> Vec<usize> {
        let mut rest = point;
        let mut idx = vec![0; self.params.len()];
        for (i, p) in self.params.iter().enumerate().rev() {
            let n = p.values.len() as u64;
            idx[i] = (rest % n) as usize;
            rest /= n;
        }
        idx
    }

    /// The parameter values at `point`.
    pub fn values(&self, point: u64) -> Vec<&str> {
        self.indices(point)
            .into_iter()
            .zip(&self.params)
            .map(|(i, p)| p.values[i].as_str())
            .collect()
    }

    /// The `PATH=VALUE` assignments of `point`.
    pub fn assignments(&self, point: u64) -> Vec<String> {
        self.values(point)
            .into_iter()
            .zip(&self.params)
            .map(|(v, p)| format!("{}={v}", p.path))
            .collect()
    }

    /// `market.step=0.5, agents.rate=0.1` for messages.
    pub fn describe(&self, point: u64) -> String {
        self.assignments(point).join(", ")
    }
}

// ---------------------------------------------------------------------------
// Seeds and shards
// ---------------------------------------------------------------------------

fn splitmix64(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of run (point, replicate): a hash of the base seed, the point index and the
/// replicate, below 2^63 so that it can also be written as `run.seed` in a scenario file.
pub fn derive_seed(base: u64, point: u64, replicate: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(base) ^ point) ^ replicate) & (i64::MAX as u64)
}

/// One slice of a sweep: points with `point % count == index - 1` (index from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parse `K/N`, or `auto` (from the Slurm array variables in `env`).
    pub fn parse(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let s = s.trim();
        if s == "auto" {
            return Shard::from_slurm(env);
        }
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard '{s}' is not K/N (e.g. --shard 2/8 runs the 2nd of 8 slices) or auto"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("--shard '{s}': '{k}' is not a whole number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard '{s}': '{n}' is not a whole number"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!(
                "--shard {s}: K must be between 1 and N (shards are numbered 1..N), e.g. --shard 1/{}",
                n.max(1)
            ));
        }
        Ok(Shard { index: k, count: n })
    }

    /// The shard of this Slurm array task: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT
    /// (SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_STEP when set, so `--array=0-7`, `1-8` and
    /// `0-14:2` all work).
    pub fn from_slurm(env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let get = |name: &str| -> Result<Option<u64>, String> {
            match env(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| format!("--shard auto: {name}='{v}' is not a whole number")),
            }
        };
        let missing = |name: &str| {
            format!(
                "--shard auto reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, but {name} is not set: \
                 this is not a Slurm array task. Submit with `sbatch --array=1-N ...`, or give the slice \
                 yourself, e.g. --shard 1/4"
            )
        };
        let id = get("SLURM_ARRAY_TASK_ID")?.ok_or_else(|| missing("SLURM_ARRAY_TASK_ID"))?;
        let count = get("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| missing("SLURM_ARRAY_TASK_COUNT"))?;
        let min = get("SLURM_ARRAY_TASK_MIN")?.unwrap_or(if id < count { 0 } else { 1 });
        let step = get("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        if count == 0 || id < min || (id - min) % step != 0 || (id - min) / step >= count {
            return Err(format!(
                "--shard auto: SLURM_ARRAY_TASK_ID={id} does not fit an array of SLURM_ARRAY_TASK_COUNT={count} \
                 tasks starting at {min} with step {step}; submit a plain range such as --array=1-{}",
                count.max(1)
            ));
        }
        Ok(Shard {
            index: (id - min) / step + 1,
            count,
        })
    }

    /// Whether this shard runs `point`.
    pub fn owns(&self, point: u64) -> bool {
        point % self.count == self.index - 1
    }

    /// `shard-K-of-N`, the shard's directory under the sweep's output directory.
    pub fn dir_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

// ---------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------

pub use crate::output::rows::{Outcome, SweepRow as Row};

/// A row of a sweep file this sweep wrote: `record` under `header` (the parameter columns,
/// `n_params` of them, after `point,replicate`). Every number is finite, every parameter has a
/// value, and a file with the `wall_seconds` column has the run's time.
fn parse_row(record: &csv::StringRecord, header: &csv::StringRecord, n_params: usize) -> Result<Row, String> {
    if record.len() != header.len() {
        return Err(format!("{} fields, expected {}", record.len(), header.len()));
    }
    let row = Row::read(record, header, 2..2 + n_params).map_err(|e| rows::describe(&e, header, record))?;
    if row.params.iter().any(String::is_empty) {
        return Err("empty parameter value".into());
    }
    let numbers = [
        ("max_rel_error", row.max_rel_error),
        ("max_rel_excess", row.max_rel_excess),
        ("mean_cosine", row.mean_cosine),
        ("wall_seconds", row.wall_seconds),
    ];
    if let Some((column, v)) = numbers.iter().find(|n| n.1.is_some_and(|v| !v.is_finite())) {
        return Err(format!(
            "column `{column}`: {} is not a finite number",
            v.unwrap_or_default()
        ));
    }
    if row.wall_seconds.is_none() && header.iter().any(|h| h == "wall_seconds") {
        return Err("column `wall_seconds` is empty".into());
    }
    Ok(row)
}

/// Write the header of a journal (the sweep's `sweep.csv` header, with `wall_seconds`).
fn write_journal_header(journal: &mut fs::File, paths: &[String]) -> io::Result<()> {
    let mut w = rows::writer(journal);
    w.write_record(sweep_rows::header(paths, true))
        .map_err(rows::io_error)?;
    w.flush()
}

// ---------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------

/// `sweep.json`: what this sweep is. Everything but `scenario_file`, `shard` and `complete`
/// identifies the sweep (resume and merge compare it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: String,
    pub scenario: String,
    pub scenario_file: String,
    /// SHA-256 of the scenario file's bytes (as `sha256sum` prints it).
    pub scenario_sha256: String,
    /// `--set` overrides applied to every point.
    pub sets: Vec<String>,
    /// `--seed`, when given (otherwise each point's `run.seed` is the base).
    pub seed: Option<u64>,
    pub seed_rule: String,
    /// `--log-every`, when given (diagnostics measured every K ticks instead of `log.every`).
    pub log_every: Option<u64>,
    pub parameters: Vec<Param>,
    pub replicates: u64,
    pub points: u64,
    pub runs: u64,
    /// The slice this directory holds (absent for a whole sweep).
    pub shard: Option<Shard>,
    /// Every run of the slice (or of the sweep) is in `sweep.csv`.
    pub complete: bool,
}

impl Manifest {
    /// How `other` differs from `self` in what identifies the sweep (`what: was -> now`).
    pub fn differences(&self, other: &Manifest, compare_shard: bool) -> Vec<String> {
        let mut d = Vec::new();
        let mut cmp = |what: &str, a: String, b: String| {
            if a != b {
                d.push(format!("{what}: {a} -> {b}"));
            }
        };
        cmp("format", self.format.clone(), other.format.clone());
        cmp("pricegrad version", self.version.clone(), other.version.clone());
        cmp(
            "scenario (SHA-256 of the file)",
            format!("{} {}", self.scenario, self.scenario_sha256),
            format!("{} {}", other.scenario, other.scenario_sha256),
        );
        cmp("--set", format!("{:?}", self.sets), format!("{:?}", other.sets));
        cmp("--seed", format!("{:?}", self.seed), format!("{:?}", other.seed));
        cmp(
            "--log-every",
            format!("{:?}", self.log_every),
            format!("{:?}", other.log_every),
        );
        let paths = |m: &Manifest| m.parameters.iter().map(|p| p.path.clone()).collect::<Vec<_>>();
        if paths(self) != paths(other) {
            cmp("parameters", paths(self).join(" x "), paths(other).join(" x "));
        } else {
            for (a, b) in self.parameters.iter().zip(&other.parameters) {
                cmp(&format!("values of {}", a.path), a.values.join(","), b.values.join(","));
            }
        }
        cmp("replicates", self.replicates.to_string(), other.replicates.to_string());
        if compare_shard {
            let s = |m: &Manifest| m.shard.map_or("none (whole sweep)".to_string(), |s| s.to_string());
            cmp("shard", s(self), s(other));
        }
        d
    }

    fn grid(&self) -> Grid {
        Grid {
            params: self.parameters.clone(),
            replicates: self.replicates,
        }
    }

    fn param_paths(&self) -> Vec<String> {
        self.parameters.iter().map(|p| p.path.clone()).collect()
    }

    fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("manifest serialises");
        s.push('\n');
        s
    }
}

fn read_manifest(path: &Path) -> Result<Manifest, Error> {
    let bytes = fs::read(path).map_err(|e| {
        Error::input(
            format!("cannot read {}: {e}", path.display()),
            "give a directory written by `pricegrad sweep`",
        )
    })?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        Error::input(
            format!("{} is not a sweep manifest: {e}", path.display()),
            "it is written by `pricegrad sweep`; if it was damaged, re-run the sweep (with --resume it keeps the finished runs)",
        )
    })?;
    if m.format != MANIFEST_FORMAT {
        return Err(Error::input(
            format!("{}: format '{}' is not {MANIFEST_FORMAT}", path.display(), m.format),
            "it was written by another pricegrad version; re-run the sweep with this one",
        ));
    }
    Ok(m)
}

/// SHA-256 of `data`, as lowercase hex (the same as `sha256sum`): the scenario hash in the
/// manifest.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// Preparing a sweep: the grid, validated at every point
// ---------------------------------------------------------------------------

/// What `pricegrad sweep` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub file: PathBuf,
    /// `--param PATH=SPEC` (when any is given, the file's `[sweep] params` are not used).
    pub params: Vec<String>,
    pub sets: Vec<String>,
    pub replicates: Option<u64>,
    pub seed: Option<u64>,
    pub shard: Option<Shard>,
    pub log_every: Option<u64>,
}

/// A validated sweep, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub label: String,
    pub text: String,
    /// The parsed scenario with the `--set`s applied.
    pub base: ScenarioFile,
    pub grid: Grid,
    /// Base seed of every point (`--seed`, or the point's `run.seed`).
    pub base_seeds: Vec<u64>,
    pub shard: Option<Shard>,
    pub log_every: Option<u64>,
    pub manifest: Manifest,
}

impl Plan {
    /// The scenario name.
    pub fn name(&self) -> &str {
        &self.manifest.scenario
    }

    /// The runs of this shard (or all), as (point, replicate), in order.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        let reps = self.grid.replicates;
        (0..self.grid.points())
            .filter(|&p| self.shard.is_none_or(|s| s.owns(p)))
            .flat_map(|p| (0..reps).map(move |r| (p, r)))
            .collect()
    }

    /// Where the results go: `out` (default `output/<name>-sweep`), plus `shard-K-of-N` for a shard.
    pub fn dir(&self, out: Option<&Path>) -> PathBuf {
        let base = out
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("output").join(format!("{}-sweep", self.name())));
        match self.shard {
            Some(s) => base.join(s.dir_name()),
            None => base,
        }
    }

    /// Parse, override and validate the economy of (point, replicate).
    pub fn economy(&self, point: u64, replicate: u64) -> Result<crate::economy::Economy, InputError> {
        let mut file = self.base.clone();
        let sets = self.grid.assignments(point);
        scenario::apply_overrides(&mut file, &self.label, &self.text, &sets)?;
        let seed = derive_seed(self.base_seeds[point as usize], point, replicate);
        let mut economy = scenario::validate(&file, &self.text, Some(seed))
            .map_err(|p| InputError::new(&self.label, &self.text, p))?;
        if let Some(k) = self.log_every {
            economy.log.every = k;
        }
        // a sweep keeps no per-good rows
        economy.log.goods.clear();
        Ok(economy)
    }
}

/// Render an input error about the sweep value(s) `what` (`market.step=5` at point 3).
fn value_error(e: InputError, note: String) -> Error {
    Error::Input(format!("{e}  = note: {note}; sweep values are applied like --set\n"))
}

/// Read the scenario, build the grid and validate every point. Nothing is written.
pub fn prepare(req: &Request) -> Result<Plan, Error> {
    let label = req.file.display().to_string();
    let text = scenario::read(&req.file).map_err(|e| Error::Input(e.to_string()))?;
    let mut base = scenario::parse(&label, &text).map_err(|e| Error::Input(e.to_string()))?;
    scenario::apply_overrides(&mut base, &label, &text, &req.sets).map_err(|e| Error::Input(e.to_string()))?;
    let base_economy = scenario::validate(&base, &text, req.seed)
        .map_err(|p| Error::Input(InputError::new(&label, &text, p).to_string()))?;
    let name = base_economy.name.clone();

    // parameters: the command line, else the file's [sweep] table
    let table = base.sweep.clone().unwrap_or_default();
    let mut params: Vec<Param> = Vec::new();
    if !req.params.is_empty() {
        for arg in &req.params {
            let (path, spec) = split_param(arg).map_err(|m| {
                Error::input(
                    m,
                    "each --param is PATH=SPEC; the paths are those of --set (`pricegrad run --help`)",
                )
            })?;
            let values = parse_spec(&spec).map_err(|m| {
                Error::input(
                    format!("--param {arg}: {m}"),
                    "SPEC is a list 0.1,0.2,0.5, or lin:A:B:N (N values from A to B), or log:A:B:N (N values evenly spaced in log)",
                )
            })?;
            params.push(Param { path, spec, values });
        }
    } else {
        for (path, spec) in &table.params {
            let values = parse_spec(spec.get_ref()).map_err(|m| {
                Error::Input(
                    InputError::new(
                        &label,
                        &text,
                        vec![Problem::at(
                            spec.span(),
                            format!("[sweep] params \"{path}\": {m}"),
                            "a spec is a list \"0.1,0.2,0.5\", or \"lin:A:B:N\", or \"log:A:B:N\"",
                        )],
                    )
                    .to_string(),
                )
            })?;
            params.push(Param {
                path: path.clone(),
                spec: spec.get_ref().clone(),
                values,
            });
        }
    }
    if params.is_empty() {
        return Err(Error::input(
            format!("{label}: nothing to sweep"),
            "give parameters with --param PATH=SPEC, e.g. --param market.step=log:0.05:2:8 --param agents.rate=0.1,0.5, \
             or add a [sweep] table to the scenario: [sweep] params = { \"market.step\" = \"log:0.05:2:8\" }",
        ));
    }
    let mut seen = Vec::new();
    for p in &params {
        if seen.contains(&p.path) {
            return Err(Error::input(
                format!("the parameter {} is swept twice", p.path),
                "give each path once, with all its values in one spec, e.g. --param market.step=0.1,0.2,0.5",
            ));
        }
        seen.push(p.path.clone());
    }
    let replicates = match req.replicates {
        Some(r) => r,
        None => match &table.replicates {
            Some(r) if r.value < 1 => {
                let span = match &r.origin {
                    scenario::Origin::File(s) => s.clone(),
                    _ => 0..0,
                };
                return Err(Error::Input(
                    InputError::new(
                        &label,
                        &text,
                        vec![Problem::at(
                            span,
                            format!("[sweep] replicates = {} must be at least 1", r.value),
                            "replicates is the number of runs (with different seeds) per grid point, e.g. replicates = 3",
                        )],
                    )
                    .to_string(),
                ));
            }
            Some(r) => r.value as u64,
            None => 1,
        },
    };
    if replicates < 1 {
        return Err(Error::input(
            "--replicates 0: a sweep needs at least one run per point",
            "use --replicates 1 (the default) or more",
        ));
    }
    let grid = Grid { params, replicates };
    let points = grid
        .params
        .iter()
        .try_fold(1u64, |acc, p| acc.checked_mul(p.values.len() as u64));
    let runs = points.and_then(|p| p.checked_mul(replicates));
    if runs.is_none_or(|r| r > MAX_RUNS) {
        return Err(Error::input(
            format!(
                "the grid has too many runs ({} x {} replicates; at most {MAX_RUNS})",
                grid.params
                    .iter()
                    .map(|p| p.values.len().to_string())
                    .collect::<Vec<_>>()
                    .join(" x "),
                replicates
            ),
            "use fewer values per parameter, or split the study into several sweeps",
        ));
    }
    if let Some(0) = req.log_every {
        return Err(Error::input(
            "--log-every 0",
            "give a number of ticks >= 1, e.g. --log-every 10",
        ));
    }

    // every value of every parameter on its own (the clearest message) ...
    for p in &grid.params {
        for v in &p.values {
            let set = format!("{}={v}", p.path);
            let mut file = base.clone();
            let r = scenario::apply_overrides(&mut file, &label, &text, std::slice::from_ref(&set)).and_then(|_| {
                scenario::validate(&file, &text, req.seed).map_err(|pr| InputError::new(&label, &text, pr))
            });
            if let Err(e) = r {
                return Err(value_error(
                    e,
                    format!("the sweep sets {set} (parameter {} = {})", p.path, p.spec),
                ));
            }
        }
    }
    // ... then every point, in parallel; each point's run.seed is its base seed
    let n = grid.points();
    let checked: Vec<Result<u64, Error>> = (0..n)
        .into_par_iter()
        .map(|point| {
            let mut file = base.clone();
            let sets = grid.assignments(point);
            scenario::apply_overrides(&mut file, &label, &text, &sets)
                .and_then(|_| {
                    scenario::validate(&file, &text, req.seed).map_err(|pr| InputError::new(&label, &text, pr))
                })
                .map(|e| e.run.seed)
                .map_err(|e| value_error(e, format!("at grid point {point} of {n}: {}", grid.describe(point))))
        })
        .collect();
    let mut base_seeds = Vec::with_capacity(n as usize);
    for c in checked {
        base_seeds.push(c?);
    }

    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: name,
        scenario_file: label.clone(),
        scenario_sha256: sha256_hex(text.as_bytes()),
        sets: req.sets.clone(),
        seed: req.seed,
        seed_rule: SEED_RULE.to_string(),
        log_every: req.log_every,
        parameters: grid.params.clone(),
        replicates,
        points: n,
        runs: n * replicates,
        shard: req.shard,
        complete: false,
    };
    Ok(Plan {
        label,
        text,
        base,
        grid,
        base_seeds,
        shard: req.shard,
        log_every: req.log_every,
        manifest,
    })
}

// ---------------------------------------------------------------------------
// Running one point
// ---------------------------------------------------------------------------

/// Keeps what a sweep row needs from the logged metrics: the last excess, the mean cosine.
#[derive(Default)]
struct RowSink {
    last_excess: Option<f64>,
    cosine_sum: f64,
    cosine_n: u64,
}

impl Sink for RowSink {
    fn record(&mut self, _: &Economy, m: &MetricsRow, _: &[GoodRow]) -> io::Result<()> {
        self.last_excess = Some(m.max_rel_excess);
        if let Some(c) = m.cosine.filter(|c| c.is_finite()) {
            self.cosine_sum += c;
            self.cosine_n += 1;
        }
        Ok(())
    }
}

/// Run (point, replicate) and make its row; None when `stop` interrupted it.
pub fn run_point(plan: &Plan, point: u64, replicate: u64, stop: &AtomicBool) -> Result<Option<Row>, Error> {
    let start = Instant::now();
    let economy = plan.economy(point, replicate).map_err(|e| {
        Error::failed(
            format!("grid point {point} no longer validates: {e}"),
            "this is a bug in pricegrad: every point was validated before the sweep started",
        )
    })?;
    let seed = economy.run.seed;
    let mut sink = RowSink::default();
    let report = run::execute(economy, &mut sink, &mut |_| {}, stop)
        .map_err(|e| Error::failed(format!("run of grid point {point} failed: {e}"), "re-run with --resume"))?;
    let Some(outcome) = Outcome::of_report(report.outcome) else {
        return Ok(None);
    };
    let diverged = outcome == Outcome::Diverged;
    let max_rel_error = (!diverged).then(|| {
        [
            Some(report.max_error_adjoint),
            report.max_error_reference,
            report.max_error_envelope,
        ]
        .into_iter()
        .flatten()
        .fold(0.0f64, f64::max)
    });
    Ok(Some(Row {
        point,
        replicate,
        params: plan.grid.values(point).into_iter().map(str::to_string).collect(),
        seed,
        outcome,
        ticks: report.ticks,
        max_rel_error,
        max_rel_excess: sink.last_excess,
        mean_cosine: (sink.cosine_n > 0).then(|| sink.cosine_sum / sink.cosine_n as f64),
        wall_seconds: Some(start.elapsed().as_secs_f64()),
    }))
}

// ---------------------------------------------------------------------------
// The journal
// ---------------------------------------------------------------------------

/// The finished runs found in a journal.
struct JournalRead {
    rows: Vec<Row>,
    /// Bytes of complete, valid lines (the rest is a torn last line, to cut off).
    valid_len: u64,
    /// Lines ignored: a torn or damaged last line.
    dropped: u64,
}

/// Read a journal's rows. Only lines that end in a newline count; a damaged last line is
/// dropped (a crash can tear the last write); a damaged line before it is an error.
fn read_journal_bytes(bytes: &[u8], path: &Path, grid: &Grid, seeds: Option<&[u64]>) -> Result<JournalRead, Error> {
    let paths: Vec<String> = grid.params.iter().map(|p| p.path.clone()).collect();
    let head = csv::StringRecord::from(sweep_rows::header(&paths, true));
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    let mut dropped = u64::from(complete < bytes.len());
    let mut out = JournalRead {
        rows: Vec::new(),
        valid_len: 0,
        dropped: 0,
    };
    let mut lines = sweep_rows::lines(&bytes[..complete]).peekable();
    let Some((_, mut offset, first)) = lines.next() else {
        out.dropped = dropped;
        return Ok(out);
    };
    if !first.is_ok_and(|h| h.iter().eq(head.iter())) {
        let first_line = bytes[..complete].split(|&b| b == b'\n').next().unwrap_or_default();
        return Err(Error::input(
            format!(
                "{} does not belong to this sweep: its header is `{}`, expected `{}`",
                path.display(),
                String::from_utf8_lossy(first_line),
                head.iter().collect::<Vec<_>>().join(",")
            ),
            "use another --out DIR, or run without --resume to start over",
        ));
    }
    let mut have = std::collections::HashSet::new();
    let (points, reps) = (grid.points(), grid.replicates);
    while let Some((line, end, fields)) = lines.next() {
        let check = fields
            .and_then(|record| parse_row(&record, &head, paths.len()))
            .and_then(|r| {
                if r.point >= points || r.replicate >= reps {
                    return Err(format!("run ({}, {}) is outside the grid", r.point, r.replicate));
                }
                let want: Vec<&str> = grid.values(r.point);
                if r.params.iter().map(String::as_str).ne(want.iter().copied()) {
                    return Err(format!(
                        "point {} has values {:?}, the grid has {:?}",
                        r.point, r.params, want
                    ));
                }
                if let Some(seeds) = seeds {
                    let s = derive_seed(seeds[r.point as usize], r.point, r.replicate);
                    if r.seed != s {
                        return Err(format!(
                            "run ({}, {}) has seed {}, expected {s}",
                            r.point, r.replicate, r.seed
                        ));
                    }
                }
                Ok(r)
            });
        match check {
            Ok(r) => {
                if have.insert((r.point, r.replicate)) {
                    out.rows.push(r);
                }
            }
            Err(_) if lines.peek().is_none() => {
                dropped += 1;
                break;
            }
            Err(m) => {
                return Err(Error::input(
                    format!("{} line {line}: {m}", path.display()),
                    "the journal was changed by hand or belongs to another sweep; remove the line (the run is \
                     then redone), or run without --resume to start over",
                ))
            }
        }
        offset = end;
    }
    out.valid_len = offset;
    out.dropped = dropped;
    Ok(out)
}

// ---------------------------------------------------------------------------
// Running a sweep
// ---------------------------------------------------------------------------

/// How to run a prepared sweep.
#[derive(Debug, Clone)]
pub struct Options {
    pub out: Option<PathBuf>,
    pub resume: bool,
    pub timing: bool,
    pub chart_size: ChartSize,
    /// Write into an existing directory that pricegrad did not create.
    pub force: bool,
}

/// What a sweep did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub dir: PathBuf,
    /// Runs in this sweep (or shard).
    pub total: u64,
    /// Runs found finished in the journal (resume).
    pub resumed: u64,
    /// Runs done now.
    pub ran: u64,
    pub converged: u64,
    pub diverged: u64,
    pub max_ticks: u64,
    pub seconds: f64,
    /// Notes for the user (resume details).
    pub notes: Vec<String>,
    /// Files written.
    pub files: Vec<&'static str>,
    /// Stopped by `stop` (a signal): the journal holds the finished runs, no sweep.csv was written.
    pub interrupted: bool,
}

/// Progress callbacks: `start(total, already_done)`, then `done(row)` per finished run
/// (from worker threads).
pub trait Progress: Sync {
    fn start(&self, total: u64, done: u64, diverged: u64);
    fn done(&self, row: &Row);
}

/// Run a prepared sweep: open (or resume) the output directory, run what is missing in
/// parallel on the current rayon pool (`pool.install(|| execute(..))` sets the number of
/// threads), and write `sweep.csv`, `sweep.json` and (unsharded) `sweep.png`.
///
/// When `stop` becomes true (SIGINT/SIGTERM), no new run starts, runs in flight are
/// abandoned (not journaled), and the summary says `interrupted`; `--resume` continues.
pub fn execute(plan: &Plan, opts: &Options, progress: &dyn Progress, stop: &AtomicBool) -> Result<Summary, Error> {
    let started = Instant::now();
    let dir = plan.dir(opts.out.as_deref());
    if plan.shard.is_some() {
        // the directory that will hold every shard (and the merged sweep): marked when this
        // shard creates it, so that `merge` recognises it
        if let Some(base) = dir.parent().filter(|b| !b.as_os_str().is_empty() && !b.exists()) {
            directory::prepare_dir(base, false, "sweep").map_err(Error::dir)?;
        }
    }
    directory::prepare_dir(&dir, opts.force, "sweep").map_err(Error::dir)?;
    let journal_path = dir.join(files::SWEEP_JOURNAL);
    let manifest_path = dir.join(files::SWEEP_MANIFEST);
    let mut notes = Vec::new();

    let mut journal = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&journal_path)
        .map_err(|e| Error::io("open", &journal_path, e))?;
    match journal.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            return Err(Error::input(
                format!("another pricegrad sweep is writing to {}", dir.display()),
                "wait for it to finish, or give this sweep another --out DIR",
            ))
        }
        Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", &journal_path, e)),
    }
    let paths = plan.manifest.param_paths();
    let mut done: Vec<Row> = Vec::new();
    let previous = manifest_path.exists();
    if opts.resume && previous {
        let old = read_manifest(&manifest_path)?;
        let diffs = old.differences(&plan.manifest, true);
        if !diffs.is_empty() {
            return Err(Error::input(
                format!(
                    "refusing to resume: {} holds a different sweep\n{}",
                    dir.display(),
                    diffs.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
                ),
                "resume with exactly the scenario, --set, --seed, --param and --replicates of the first run; or \
                 give another --out DIR; or run without --resume to start over (discarding the finished runs)",
            ));
        }
        let mut bytes = Vec::new();
        journal
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", &journal_path, e))?;
        let read = read_journal_bytes(&bytes, &journal_path, &plan.grid, Some(&plan.base_seeds))?;
        let keep = if bytes.is_empty() { 0 } else { read.valid_len };
        if read.dropped > 0 {
            notes.push(format!(
                "dropped a torn last line of {} (that run is done again)",
                journal_path.display()
            ));
        }
        if keep != bytes.len() as u64 || bytes.is_empty() {
            journal
                .set_len(keep)
                .map_err(|e| Error::io("repair", &journal_path, e))?;
            if keep == 0 {
                write_journal_header(&mut journal, &paths).map_err(|e| Error::io("write", &journal_path, e))?;
            }
        }
        // only this slice's runs
        done = read
            .rows
            .into_iter()
            .filter(|r| plan.shard.is_none_or(|s| s.owns(r.point)))
            .collect();
        notes.push(format!("resumed: {} runs were already done", done.len()));
    } else {
        if opts.resume {
            notes.push(format!("nothing to resume in {}: starting the sweep", dir.display()));
        } else if previous {
            let mut bytes = Vec::new();
            let _ = journal.read_to_end(&mut bytes);
            let lines = bytes.iter().filter(|&&b| b == b'\n').count().saturating_sub(1);
            if lines > 0 {
                notes.push(format!(
                    "started over: discarded {lines} finished runs of the earlier sweep in {} (--resume keeps them)",
                    dir.display()
                ));
            }
        }
        journal
            .set_len(0)
            .map_err(|e| Error::io("truncate", &journal_path, e))?;
        for stale in [files::SWEEP_CSV, files::SWEEP_PNG] {
            let p = dir.join(stale);
            if p.exists() {
                fs::remove_file(&p).map_err(|e| Error::io("remove", &p, e))?;
            }
        }
        write_atomic(&manifest_path, plan.manifest.to_json().as_bytes())
            .map_err(|e| Error::io("write", &manifest_path, e))?;
        write_journal_header(&mut journal, &paths).map_err(|e| Error::io("write", &journal_path, e))?;
    }

    let all = plan.runs();
    let finished: std::collections::HashSet<(u64, u64)> = done.iter().map(|r| (r.point, r.replicate)).collect();
    let pending: Vec<(u64, u64)> = all.iter().copied().filter(|k| !finished.contains(k)).collect();
    let resumed = done.len() as u64;
    progress.start(
        all.len() as u64,
        resumed,
        done.iter().filter(|r| r.outcome == Outcome::Diverged).count() as u64,
    );

    // one run per task, spread over the threads of the current rayon pool
    // the journal with its length in whole lines: a failed append is cut back to that length,
    // so a full disk leaves no torn line
    let journal_len = journal
        .metadata()
        .map_err(|e| Error::io("read", &journal_path, e))?
        .len();
    let journal = Mutex::new((journal, journal_len));
    let new_rows = Mutex::new(Vec::with_capacity(pending.len()));
    pending
        .par_iter()
        .with_max_len(1)
        .try_for_each(|&(p, r)| -> Result<(), Error> {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let Some(row) = run_point(plan, p, r, stop)? else {
                return Ok(());
            };
            let line = row
                .journal_line()
                .map_err(|e| Error::io("append to", &journal_path, e))?;
            {
                // one write per line: a kill leaves whole lines and at most one torn last line
                let mut j = journal.lock().unwrap_or_else(|e| e.into_inner());
                let (file, len) = &mut *j;
                if let Err(e) = file.write_all(&line) {
                    let _ = file.set_len(*len);
                    return Err(Error::io("append to", &journal_path, e));
                }
                *len += line.len() as u64;
            }
            progress.done(&row);
            new_rows.lock().unwrap_or_else(|e| e.into_inner()).push(row);
            Ok(())
        })?;
    let mut rows = done;
    let new_rows = new_rows.into_inner().unwrap_or_else(|e| e.into_inner());
    let ran = new_rows.len() as u64;
    rows.extend(new_rows);
    rows.sort_by_key(|r| (r.point, r.replicate));
    let (journal, _) = journal.into_inner().unwrap_or_else(|e| e.into_inner());
    journal.sync_all().map_err(|e| Error::io("sync", &journal_path, e))?;
    let count = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count() as u64;
    let interrupted = rows.len() < all.len();
    if interrupted {
        return Ok(Summary {
            dir,
            total: all.len() as u64,
            resumed,
            ran,
            converged: count(Outcome::Converged),
            diverged: count(Outcome::Diverged),
            max_ticks: count(Outcome::MaxTicks),
            seconds: started.elapsed().as_secs_f64(),
            notes,
            files: vec![files::SWEEP_JOURNAL],
            interrupted,
        });
    }

    let files = write_outputs(
        &dir,
        plan.name(),
        &plan.manifest,
        &paths,
        &rows,
        opts.timing,
        opts.chart_size,
        plan.shard.is_none(),
    )?;
    drop(journal);
    Ok(Summary {
        dir,
        total: all.len() as u64,
        resumed,
        ran,
        converged: count(Outcome::Converged),
        diverged: count(Outcome::Diverged),
        max_ticks: count(Outcome::MaxTicks),
        seconds: started.elapsed().as_secs_f64(),
        notes,
        files,
        interrupted,
    })
}

/// Write `sweep.csv`, the completed `sweep.json`, and `sweep.png` when `chart` is set: each
/// under a temporary name, renamed into place together once all are written (so a failure
/// leaves the directory as it was, and no temporary file).
#[allow(clippy::too_many_arguments)]
fn write_outputs(
    dir: &Path,
    name: &str,
    manifest: &Manifest,
    paths: &[String],
    rows: &[Row],
    timing: bool,
    size: ChartSize,
    chart: bool,
) -> Result<Vec<&'static str>, Error> {
    let mut stage = Staged::default();
    let csv_path = dir.join(files::SWEEP_CSV);
    stage
        .write_with(&csv_path, |out| sweep_rows::write(out, paths, rows, timing))
        .map_err(|e| Error::io("write", &csv_path, e))?;
    let mut files = vec![files::SWEEP_CSV, files::SWEEP_MANIFEST];
    if chart && !rows.is_empty() {
        let csv_tmp = atomic::temp_name(&csv_path);
        let data = plot::read_sweep(&csv_tmp).map_err(|e| {
            Error::failed(
                format!("cannot read back {}: {e}", csv_path.display()),
                "re-run the sweep",
            )
        })?;
        let png = plot::render_sweep(&data, name, size).map_err(|e| {
            Error::failed(
                format!("cannot draw the sweep chart: {e}"),
                "try `--chart-size 1600x1200`; nothing was written (a sweep keeps its finished runs: `--resume` \
                 writes the files without running them again)",
            )
        })?;
        let png_path = dir.join(files::SWEEP_PNG);
        stage
            .write(&png_path, &png)
            .map_err(|e| Error::io("write", &png_path, e))?;
        files.push(files::SWEEP_PNG);
    }
    // the manifest last: `complete` says the other files are in place
    let mut m = manifest.clone();
    m.complete = true;
    let manifest_path = dir.join(files::SWEEP_MANIFEST);
    stage
        .write(&manifest_path, m.to_json().as_bytes())
        .map_err(|e| Error::io("write", &manifest_path, e))?;
    stage
        .commit()
        .map_err(|e| Error::io("move the results into place in", dir, e))?;
    Ok(files)
}

// ---------------------------------------------------------------------------
// Merging shards
// ---------------------------------------------------------------------------

/// What a merge did.
#[derive(Debug, Clone)]
pub struct MergeSummary {
    pub dir: PathBuf,
    pub shards: Vec<PathBuf>,
    pub rows: u64,
    pub converged: u64,
    pub diverged: u64,
    pub max_ticks: u64,
    pub files: Vec<&'static str>,
}

/// The sweep directories named by `dirs`: a directory with `shard-*` subdirectories stands
/// for those; otherwise a directory with a `sweep.json` is one.
pub fn find_shards(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut found = Vec::new();
    for d in dirs {
        if !d.is_dir() {
            return Err(Error::input(
                format!("{} is not a directory", d.display()),
                "give sweep output directories: the shard directories (DIR/shard-K-of-N), or the DIR that holds them",
            ));
        }
        let mut subs: Vec<PathBuf> = fs::read_dir(d)
            .map_err(|e| Error::input(format!("cannot list {}: {e}", d.display()), "check the path"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("shard-"))
                    && p.join(files::SWEEP_MANIFEST).exists()
            })
            .collect();
        subs.sort();
        if !subs.is_empty() {
            found.extend(subs);
        } else if d.join(files::SWEEP_MANIFEST).exists() {
            found.push(d.clone());
        } else {
            return Err(Error::input(
                format!(
                    "{} holds no sweep: no {}, and no shard-K-of-N directories with one",
                    d.display(),
                    files::SWEEP_MANIFEST
                ),
                "give the --out DIR of the shards (pricegrad sweep --shard K/N writes DIR/shard-K-of-N/)",
            ));
        }
    }
    found.dedup();
    Ok(found)
}

/// Read a shard directory's rows: `sweep.csv` when the shard finished, else its journal.
fn shard_rows(dir: &Path, m: &Manifest) -> Result<(Vec<Row>, bool), Error> {
    let grid = m.grid();
    let paths = m.param_paths();
    let csv = dir.join(files::SWEEP_CSV);
    if m.complete && csv.exists() {
        let text = fs::read_to_string(&csv)
            .map_err(|e| Error::input(format!("cannot read {}: {e}", csv.display()), "check the file"))?;
        let mut lines = sweep_rows::lines(text.as_bytes());
        let head = match lines.next() {
            Some((_, _, Ok(head))) => head,
            _ => csv::StringRecord::new(),
        };
        let is = |timing: bool| head.iter().eq(sweep_rows::header(&paths, timing));
        let timing = if is(true) {
            true
        } else if is(false) {
            false
        } else {
            return Err(Error::input(
                format!(
                    "{}: header `{}` does not match its {}",
                    csv.display(),
                    text.lines().next().unwrap_or(""),
                    files::SWEEP_MANIFEST
                ),
                "re-run that shard with --resume",
            ));
        };
        let mut rows = Vec::new();
        for (line, _, fields) in lines {
            let r = fields
                .and_then(|record| parse_row(&record, &head, paths.len()))
                .ok()
                .filter(|r| r.point < grid.points() && r.replicate < grid.replicates)
                .filter(|r| r.params.iter().map(String::as_str).eq(grid.values(r.point)))
                .ok_or_else(|| {
                    Error::input(
                        format!("{} line {line}: not a row of this sweep", csv.display()),
                        "re-run that shard with --resume",
                    )
                })?;
            rows.push(r);
        }
        return Ok((rows, timing));
    }
    let journal = dir.join(files::SWEEP_JOURNAL);
    if !journal.exists() {
        return Ok((Vec::new(), true));
    }
    let bytes = fs::read(&journal)
        .map_err(|e| Error::input(format!("cannot read {}: {e}", journal.display()), "check the file"))?;
    let read = read_journal_bytes(&bytes, &journal, &grid, None)?;
    Ok((read.rows, true))
}

/// Combine shard directories into one sweep in `out` (default: the directory that holds the
/// shards). Fails, writing nothing, when the shards disagree or runs are missing.
pub fn merge(
    dirs: &[PathBuf],
    out: Option<&Path>,
    timing: bool,
    size: ChartSize,
    force: bool,
) -> Result<MergeSummary, Error> {
    let shards = find_shards(dirs)?;
    let mut manifests = Vec::new();
    for d in &shards {
        manifests.push(read_manifest(&d.join(files::SWEEP_MANIFEST))?);
    }
    let first = manifests[0].clone();
    for (d, m) in shards.iter().zip(&manifests).skip(1) {
        let diffs = first.differences(m, false);
        if !diffs.is_empty() {
            return Err(Error::input(
                format!(
                    "{} and {} are not shards of the same sweep:\n{}",
                    shards[0].display(),
                    d.display(),
                    diffs.iter().map(|x| format!("  - {x}")).collect::<Vec<_>>().join("\n")
                ),
                "merge the shards of one sweep only (same scenario, --set, --seed, --param, --replicates, version)",
            ));
        }
    }
    let counts: Vec<u64> = manifests.iter().map(|m| m.shard.map_or(1, |s| s.count)).collect();
    if counts.iter().any(|&c| c != counts[0]) {
        return Err(Error::input(
            format!(
                "the directories are slices of different shardings: {}",
                shards
                    .iter()
                    .zip(&manifests)
                    .map(|(d, m)| format!(
                        "{} ({})",
                        d.display(),
                        m.shard.map_or("whole sweep".into(), |s| s.to_string())
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "merge the shards of one --shard K/N run (the same N)",
        ));
    }
    let grid = first.grid();
    let paths = first.param_paths();
    let mut all: BTreeMap<(u64, u64), Row> = BTreeMap::new();
    let mut every_timed = timing;
    for (d, m) in shards.iter().zip(&manifests) {
        let (rows, timed) = shard_rows(d, m)?;
        every_timed &= timed;
        for r in rows {
            if let Some(s) = m.shard {
                if !s.owns(r.point) {
                    continue;
                }
            }
            all.entry((r.point, r.replicate)).or_insert(r);
        }
    }
    // what is missing, by shard
    let n_shards = counts[0];
    let mut missing: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut n_missing = 0u64;
    for p in 0..grid.points() {
        for r in 0..grid.replicates {
            if !all.contains_key(&(p, r)) {
                n_missing += 1;
                let v = missing.entry(p % n_shards + 1).or_default();
                if v.last() != Some(&p) {
                    v.push(p);
                }
            }
        }
    }
    if n_missing > 0 {
        let present: Vec<u64> = manifests.iter().filter_map(|m| m.shard.map(|s| s.index)).collect();
        let mut lines = Vec::new();
        for (k, pts) in &missing {
            let shown: Vec<String> = pts.iter().take(20).map(|p| p.to_string()).collect();
            let more = if pts.len() > 20 {
                format!(" and {} more", pts.len() - 20)
            } else {
                String::new()
            };
            let state = if n_shards == 1 || present.contains(k) {
                "incomplete"
            } else {
                "not given"
            };
            lines.push(format!(
                "  - shard {k}/{n_shards} ({state}): points {}{more}",
                shown.join(", ")
            ));
        }
        return Err(Error::failed(
            format!(
                "the sweep is incomplete: {n_missing} of {} runs are missing\n{}",
                grid.runs(),
                lines.join("\n")
            ),
            format!(
                "finish those shards (re-run `pricegrad sweep ... --shard K/{n_shards} --resume` with the same --out), \
                 or add their directories to the merge; nothing was written"
            ),
        ));
    }
    let out = match out {
        Some(o) => o.to_path_buf(),
        None => {
            let parents: Vec<Option<&Path>> = shards.iter().map(|d| d.parent()).collect();
            match parents[0] {
                Some(p) if shards.len() > 1 || first.shard.is_some() => {
                    if parents.iter().all(|q| *q == Some(p)) {
                        p.to_path_buf()
                    } else {
                        PathBuf::from("output").join(format!("{}-sweep", first.scenario))
                    }
                }
                _ => PathBuf::from("output").join(format!("{}-sweep", first.scenario)),
            }
        }
    };
    directory::prepare_dir(&out, force, "merge").map_err(Error::dir)?;
    let rows: Vec<Row> = all.into_values().collect();
    let mut m = first.clone();
    m.shard = None;
    let files = write_outputs(&out, &first.scenario, &m, &paths, &rows, every_timed, size, true)?;
    let count = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count() as u64;
    Ok(MergeSummary {
        dir: out,
        shards,
        rows: rows.len() as u64,
        converged: count(Outcome::Converged),
        diverged: count(Outcome::Diverged),
        max_ticks: count(Outcome::MaxTicks),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_row_major() {
        let g = Grid {
            params: vec![
                Param {
                    path: "a".into(),
                    spec: String::new(),
                    values: vec!["1".into(), "2".into()],
                },
                Param {
                    path: "b".into(),
                    spec: String::new(),
                    values: vec!["x".into(), "y".into(), "z".into()],
                },
            ],
            replicates: 2,
        };
        assert_eq!(g.points(), 6);
        assert_eq!(g.runs(), 12);
        assert_eq!(g.values(0), ["1", "x"]);
        assert_eq!(g.values(4), ["2", "y"]);
        assert_eq!(g.assignments(5), ["a=2", "b=z"]);
    }

    #[test]
    fn shards_partition_points() {
        let env = |_: &str| None;
        let shards: Vec<Shard> = (1..=3).map(|k| Shard::parse(&format!("{k}/3"), env).unwrap()).collect();
        for p in 0..100 {
            assert_eq!(shards.iter().filter(|s| s.owns(p)).count(), 1);
        }
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "auto"] {
            assert!(Shard::parse(bad, env).is_err(), "{bad}");
        }
    }

    #[test]
    fn slurm_shards() {
        let slurm = |id: &str, count: &str, min: Option<&str>| {
            let (id, count, min) = (id.to_string(), count.to_string(), min.map(str::to_string));
            move |k: &str| match k {
                "SLURM_ARRAY_TASK_ID" => Some(id.clone()),
                "SLURM_ARRAY_TASK_COUNT" => Some(count.clone()),
                "SLURM_ARRAY_TASK_MIN" => min.clone(),
                _ => None,
            }
        };
        assert_eq!(
            Shard::parse("auto", slurm("0", "4", Some("0"))).unwrap(),
            Shard { index: 1, count: 4 }
        );
        assert_eq!(
            Shard::parse("auto", slurm("4", "4", Some("1"))).unwrap(),
            Shard { index: 4, count: 4 }
        );
        assert_eq!(
            Shard::parse("auto", slurm("3", "4", None)).unwrap(),
            Shard { index: 4, count: 4 }
        );
        assert_eq!(
            Shard::parse("auto", slurm("4", "4", None)).unwrap(),
            Shard { index: 4, count: 4 }
        );
        let e = Shard::parse("auto", |_| None).unwrap_err();
        assert!(e.contains("SLURM_ARRAY_TASK_ID is not set"), "{e}");
        assert!(Shard::parse("auto", slurm("9", "4", Some("1"))).is_err());
    }

    #[test]
    fn seeds_are_distinct_and_stable() {
        let mut s: Vec<u64> = (0..50)
            .flat_map(|p| (0..4).map(move |r| derive_seed(42, p, r)))
            .collect();
        assert!(s.iter().all(|&x| x <= i64::MAX as u64));
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 200);
        assert_eq!(derive_seed(42, 3, 1), derive_seed(42, 3, 1));
    }

    #[test]
    fn sha256_known_values() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            sha256_hex(long),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    /// A row as the journal holds it reads back, and a damaged one is refused with its column.
    #[test]
    fn journal_rows_are_checked() {
        let r = Row {
            point: 3,
            replicate: 1,
            params: vec!["0.5".into(), "gradient".into()],
            seed: 99,
            outcome: Outcome::MaxTicks,
            ticks: 20000,
            max_rel_error: Some(1.5e-7),
            max_rel_excess: None,
            mean_cosine: Some(0.25),
            wall_seconds: Some(0.01),
        };
        let paths = ["a".to_string(), "b".to_string()];
        let head = csv::StringRecord::from(sweep_rows::header(&paths, true));
        let line = String::from_utf8(r.journal_line().unwrap()).unwrap();
        let record = |line: &str| csv::StringRecord::from(line.trim_end().split(',').collect::<Vec<_>>());
        assert_eq!(parse_row(&record(&line), &head, 2).unwrap(), r);
        for (bad, why) in [
            (line.replace("20000", "x"), "column `ticks`"),
            (line.replace("max_ticks", "exploded"), "exploded"),
            (line.replace("0.25", "inf"), "column `mean_cosine`"),
            (line.replace(",0.01", ","), "`wall_seconds` is empty"),
            (line.replace(",0.01", ""), "fields, expected"),
        ] {
            let e = parse_row(&record(&bad), &head, 2).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn torn_journal_line_is_dropped() {
        let g = Grid {
            params: vec![Param {
                path: "a".into(),
                spec: String::new(),
                values: vec!["1".into(), "2".into()],
            }],
            replicates: 1,
        };
        let mk = |p: u64| Row {
            point: p,
            replicate: 0,
            params: vec![g.values(p)[0].to_string()],
            seed: 7,
            outcome: Outcome::Converged,
            ticks: 10,
            max_rel_error: Some(0.0),
            max_rel_excess: Some(0.0),
            mean_cosine: None,
            wall_seconds: Some(0.1),
        };
        let header = sweep_rows::header(&["a".into()], true).join(",");
        let line = |p: u64| String::from_utf8(mk(p).journal_line().unwrap()).unwrap();
        let good = format!("{header}\n{}", line(0));
        let torn = format!("{good}{}", &line(1)[..5]);
        let r = read_journal_bytes(torn.as_bytes(), Path::new("j"), &g, None).unwrap();
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.valid_len, good.len() as u64);
        assert_eq!(r.dropped, 1);
        // a damaged line before the last one is an error
        let bad = format!("{header}\n1,2,3\n{}", line(0));
        assert!(read_journal_bytes(bad.as_bytes(), Path::new("j"), &g, None).is_err());
    }
}
