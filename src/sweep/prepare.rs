//! Preparing a sweep: read the scenario, build the grid from `--param` (or the file's
//! `[sweep]` table) and validate every value and every point before anything runs. Nothing
//! is written.

use super::{derive_seed, Error, Grid, Manifest, Param, Shard, MANIFEST_FORMAT, SEED_RULE};
use crate::economy::Economy;
use crate::scenario::sha256_hex;
use crate::scenario::sweep_spec::{parse_spec, split_param};
use crate::scenario::{self, InputError, Problem, ScenarioFile};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Most runs (points x replicates) in one sweep.
pub const MAX_RUNS: u64 = 10_000_000;

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
    pub fn economy(&self, point: u64, replicate: u64) -> Result<Economy, InputError> {
        let mut file = self.base.clone();
        let sets = self.grid.assignments(point);
        scenario::apply_overrides(&mut file, &self.label, &self.text, &sets)?;
        let seed = derive_seed(self.base_seeds[point as usize], point, replicate);
        let mut economy = scenario::validate(&file, &self.text, Some(seed))
            .map_err(|p| InputError::new(&self.label, &self.text, p))?;
        if let Some(k) = self.log_every {
            economy.log.every = k;
            economy.log.thin = false;
        }
        // a sweep keeps no per-good rows
        economy.log.goods.clear();
        Ok(economy)
    }
}

/// An input error about the sweep value(s) that `note` names (`market.step=5` at point 3).
fn value_error(error: InputError, note: String) -> Error {
    Error::Value { error, note }
}

/// Read the scenario, build the grid and validate every point. Nothing is written.
pub fn prepare(req: &Request) -> Result<Plan, Error> {
    let label = req.file.display().to_string();
    let text = scenario::read(&req.file).map_err(Error::Scenario)?;
    let mut base = scenario::parse(&label, &text).map_err(Error::Scenario)?;
    scenario::apply_overrides(&mut base, &label, &text, &req.sets).map_err(Error::Scenario)?;
    let base_economy =
        scenario::validate(&base, &text, req.seed).map_err(|p| Error::Scenario(InputError::new(&label, &text, p)))?;
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
                Error::Scenario(InputError::new(
                    &label,
                    &text,
                    vec![Problem::at(
                        spec.span(),
                        format!("[sweep] params \"{path}\": {m}"),
                        "a spec is a list \"0.1,0.2,0.5\", or \"lin:A:B:N\", or \"log:A:B:N\"",
                    )],
                ))
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
                return Err(Error::Scenario(InputError::new(
                    &label,
                    &text,
                    vec![Problem::at(
                        span,
                        format!("[sweep] replicates = {} must be at least 1", r.value),
                        "replicates is the number of runs (with different seeds) per grid point, e.g. replicates = 3",
                    )],
                )));
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
