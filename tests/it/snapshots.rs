//! Snapshots: `pricegrad run --no-timing` on every shipped scenario writes `summary.json`,
//! `metrics.csv`, `trajectory.csv`, `firms.csv` and `scenario.toml` byte for byte as stored in `tests/snapshots/NAME/`.
//!
//! These are not evidence that the numbers are right (the other tests compare them with
//! independent computations); they make "the outputs are byte-identical" a test, for changes
//! that must not change any output (a move of code, a faster kernel). A change that means to
//! change outputs rewrites the snapshots with
//!
//! ```sh
//! PRICEGRAD_BLESS=1 cargo test --test it snapshots::
//! ```
//!
//! and the diff of `tests/snapshots/` shows what changed.

use crate::common::{pricegrad, shipped};
use std::fs;
use std::path::{Path, PathBuf};

/// The files compared, of each run.
const FILES: [&str; 5] = [
    "summary.json",
    "metrics.csv",
    "trajectory.csv",
    "firms.csv",
    "scenario.toml",
];

/// The first line where two texts differ, for the failure message.
fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n  stored: {w}\n  now:    {g}", i + 1);
        }
    }
    format!(
        "one is a prefix of the other ({} vs {} lines)",
        want.lines().count(),
        got.lines().count()
    )
}

#[test]
fn shipped_scenarios_write_the_stored_files() {
    let bless = std::env::var_os("PRICEGRAD_BLESS").is_some();
    let root = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for name in shipped() {
        let out = root.path().join(&name);
        // exit 1 (a scenario that fails its check on purpose) still writes its files
        pricegrad()
            .args(["run", "--quiet", "--no-timing", "--threads", "2", "--out"])
            .arg(&out)
            .arg(format!("scenarios/{name}.toml"))
            .assert()
            .code(predicates::ord::le(1));
        let stored_dir = Path::new("tests/snapshots").join(&name);
        for file in FILES {
            let got = fs::read_to_string(out.join(file)).unwrap();
            let stored: PathBuf = stored_dir.join(file);
            if bless {
                fs::create_dir_all(&stored_dir).unwrap();
                fs::write(&stored, &got).unwrap();
                continue;
            }
            match fs::read_to_string(&stored) {
                Ok(want) if want == got => {}
                Ok(want) => problems.push(format!("{name}/{file}: {}", first_difference(&want, &got))),
                Err(e) => problems.push(format!("{name}/{file}: no snapshot ({e})")),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "outputs differ from tests/snapshots/ (if the change is meant, rewrite them with \
         PRICEGRAD_BLESS=1 cargo test --test it snapshots:: and review the diff):\n{}",
        problems.join("\n")
    );
}
