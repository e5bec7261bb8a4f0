//! Preparing a sweep: read the scenario, build its points (a grid from `--param` or the
//! file's `[sweep]` table, or a design table from `--design`) and validate every point before
//! anything runs. Nothing is written.

use super::check_points::{check_design, check_grid, Base};
use super::design::read_design;
use super::{derive_seed, Error, Grid, Manifest, Param, Points, Shard, MANIFEST_FORMAT, SEED_RULE};
use crate::economy::Economy;
use crate::scenario::sha256_hex;
use crate::scenario::sweep_spec::{parse_spec, split_param};
use crate::scenario::{self, InputError, Problem, ScenarioFile};
use std::path::{Path, PathBuf};

/// Most runs (points x replicates) in one sweep.
pub const MAX_RUNS: u64 = 10_000_000;

/// What `pricegrad sweep` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub file: PathBuf,
    /// `--param PATH=SPEC` (when any is given, the file's `[sweep] params` are not used).
    pub params: Vec<String>,
    /// `--design FILE.csv`: one point per row of the table, in place of a grid (not with `params`).
    pub design: Option<PathBuf>,
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
    pub points: Points,
    /// Runs per point.
    pub replicates: u64,
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
        let reps = self.replicates;
        (0..self.points.count())
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
        let sets = self.points.assignments(point);
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

/// Read the scenario, build the points and validate every point. Nothing is written.
pub fn prepare(req: &Request) -> Result<Plan, Error> {
    let label = req.file.display().to_string();
    let text = scenario::read(&req.file).map_err(Error::Scenario)?;
    let mut base = scenario::parse(&label, &text).map_err(Error::Scenario)?;
    scenario::apply_overrides(&mut base, &label, &text, &req.sets).map_err(Error::Scenario)?;
    let base_economy =
        scenario::validate(&base, &text, req.seed).map_err(|p| Error::Scenario(InputError::new(&label, &text, p)))?;
    let name = base_economy.name.clone();

    // parameters: a design table, else the command line, else the file's [sweep] table
    let table = base.sweep.clone().unwrap_or_default();
    if req.design.is_some() && !req.params.is_empty() {
        return Err(Error::input(
            "--design and --param together: a design table lists every point itself",
            "give either --design FILE.csv (one point per row) or --param PATH=SPEC (a grid); to cross a design \
             with more values, add the column to the design table",
        ));
    }
    // the file's [sweep] design (relative to the scenario's folder), unless the command line
    // gives a grid or a design
    let file_design = match &table.design {
        Some(d) if req.design.is_none() && req.params.is_empty() => {
            let at = |message: String, help: &str| {
                Error::Scenario(InputError::new(
                    &label,
                    &text,
                    vec![Problem::at(d.span(), message, help)],
                ))
            };
            if !table.params.is_empty() {
                return Err(at(
                    "[sweep] gives both params and a design".into(),
                    "a design table lists every point itself: keep `design` or `params`, not both",
                ));
            }
            let path = req.file.parent().unwrap_or(Path::new("")).join(d.get_ref());
            if !path.is_file() {
                return Err(at(
                    format!("[sweep] design: no table at {}", path.display()),
                    "the design is a CSV file whose header names --set paths; its path is relative to the scenario                      file's folder",
                ));
            }
            Some(path)
        }
        _ => None,
    };
    let design = req
        .design
        .as_deref()
        .or(file_design.as_deref())
        .map(read_design)
        .transpose()?;
    let mut params: Vec<Param> = Vec::new();
    if design.is_some() {
        // the points are the design's rows
    } else if !req.params.is_empty() {
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
    if params.is_empty() && design.is_none() {
        return Err(Error::input(
            format!("{label}: nothing to sweep"),
            "give parameters with --param PATH=SPEC, e.g. --param market.step=log:0.05:2:8 --param agents.rate=0.1,0.5, \
             or a design table with --design FILE.csv, or add a [sweep] table to the scenario: [sweep] params = { \"market.step\" = \"log:0.05:2:8\" }",
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
    let (count, shape) = match &design {
        Some(d) => (
            Some(d.design.points()),
            format!("{} rows of {}", d.design.points(), d.design.file),
        ),
        None => (
            params
                .iter()
                .try_fold(1u64, |acc, p| acc.checked_mul(p.values.len() as u64)),
            params
                .iter()
                .map(|p| p.values.len().to_string())
                .collect::<Vec<_>>()
                .join(" x "),
        ),
    };
    if count
        .and_then(|p| p.checked_mul(replicates))
        .is_none_or(|r| r > MAX_RUNS)
    {
        return Err(Error::input(
            format!("the sweep has too many runs ({shape} x {replicates} replicates; at most {MAX_RUNS})"),
            "use fewer points, or split the study into several sweeps",
        ));
    }
    if let Some(0) = req.log_every {
        return Err(Error::input(
            "--log-every 0",
            "give a number of ticks >= 1, e.g. --log-every 10",
        ));
    }

    // every point, before anything runs; each point's run.seed is its base seed
    let check_base = Base {
        label: &label,
        text: &text,
        file: &base,
        seed: req.seed,
    };
    let (points, base_seeds) = match design {
        Some(d) => {
            let seeds = check_design(&check_base, &d)?;
            (Points::Design(d.design), seeds)
        }
        None => {
            let grid = Grid { params };
            let seeds = check_grid(&check_base, &grid)?;
            (Points::Grid(grid), seeds)
        }
    };
    let n = points.count();

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
        parameters: match &points {
            Points::Grid(g) => g.params.clone(),
            Points::Design(_) => Vec::new(),
        },
        design: match &points {
            Points::Design(d) => Some(d.clone()),
            Points::Grid(_) => None,
        },
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
        points,
        replicates,
        base_seeds,
        shard: req.shard,
        log_every: req.log_every,
        manifest,
    })
}
