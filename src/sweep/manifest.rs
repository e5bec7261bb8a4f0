//! `sweep.json`, the manifest: what a sweep is (scenario SHA-256, `--set`s, seed, its points:
//! the grid's parameters and their values, or the design table's SHA-256 and rows; replicates,
//! shard, version). Written when a sweep starts and completed
//! when it ends; read and compared by `--resume` and by merge.

use super::{Design, Error, Grid, Param, Points, Shard};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::Path;

/// Identifies a sweep manifest.
pub const MANIFEST_FORMAT: &str = "pricegrad-sweep/1";

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
    /// The grid's parameters (absent for a design).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Param>,
    /// The design table (absent for a grid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design: Option<Design>,
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
        match (&self.design, &other.design) {
            (None, None) => {
                let paths = |m: &Manifest| m.parameters.iter().map(|p| p.path.clone()).collect::<Vec<_>>();
                if paths(self) != paths(other) {
                    cmp("parameters", paths(self).join(" x "), paths(other).join(" x "));
                } else {
                    for (a, b) in self.parameters.iter().zip(&other.parameters) {
                        cmp(&format!("values of {}", a.path), a.values.join(","), b.values.join(","));
                    }
                }
            }
            (Some(a), Some(b)) => {
                cmp(
                    "design table (SHA-256 of the file)",
                    format!("{} {}", a.file, a.sha256),
                    format!("{} {}", b.file, b.sha256),
                );
                cmp("design columns", a.columns.join(","), b.columns.join(","));
                if a.columns == b.columns {
                    cmp("design rows", a.rows.len().to_string(), b.rows.len().to_string());
                    if let Some(r) = (0..a.rows.len().min(b.rows.len())).find(|&r| a.rows[r] != b.rows[r]) {
                        cmp(
                            &format!("design row {}", r + 1),
                            a.rows[r].join(","),
                            b.rows[r].join(","),
                        );
                    }
                }
            }
            _ => cmp("points", self.points_kind(), other.points_kind()),
        }
        cmp("replicates", self.replicates.to_string(), other.replicates.to_string());
        if compare_shard {
            let s = |m: &Manifest| m.shard.map_or("none (whole sweep)".to_string(), |s| s.to_string());
            cmp("shard", s(self), s(other));
        }
        d
    }

    /// The points the manifest describes.
    pub(super) fn points(&self) -> Points {
        match &self.design {
            Some(d) => Points::Design(d.clone()),
            None => Points::Grid(Grid {
                params: self.parameters.clone(),
            }),
        }
    }

    /// The swept parameters' paths, in order.
    pub(super) fn param_paths(&self) -> Vec<String> {
        match &self.design {
            Some(d) => d.columns.clone(),
            None => self.parameters.iter().map(|p| p.path.clone()).collect(),
        }
    }

    /// `a grid of market.step x agents.rate` or `the design table design.csv`, for messages.
    fn points_kind(&self) -> String {
        match &self.design {
            Some(d) => format!("the design table {}", d.file),
            None => format!("a grid of {}", self.param_paths().join(" x ")),
        }
    }

    /// The manifest as `sweep.json` holds it (pretty JSON, ending in a newline).
    pub(super) fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("manifest serialises");
        s.push('\n');
        s
    }
}

/// Read and check the manifest at `path`.
pub(super) fn read_manifest(path: &Path) -> Result<Manifest, Error> {
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
    if m.parameters.is_empty() == m.design.is_none() {
        return Err(Error::input(
            format!("{}: a sweep has either parameters or a design table", path.display()),
            "it was damaged; re-run the sweep (with --resume it keeps the finished runs)",
        ));
    }
    Ok(m)
}
