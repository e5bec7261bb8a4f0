//! `sweep.json`, the manifest: what a sweep is (scenario SHA-256, `--set`s, seed, parameters
//! and their values, replicates, shard, version). Written when a sweep starts and completed
//! when it ends; read and compared by `--resume` and by merge.

use super::{Error, Grid, Param, Shard};
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

    /// The grid the manifest describes.
    pub(super) fn grid(&self) -> Grid {
        Grid {
            params: self.parameters.clone(),
            replicates: self.replicates,
        }
    }

    /// The swept parameters' paths, in grid order.
    pub(super) fn param_paths(&self) -> Vec<String> {
        self.parameters.iter().map(|p| p.path.clone()).collect()
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
    Ok(m)
}
