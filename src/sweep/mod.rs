//! Parameter sweeps: run a scenario over a grid of parameter values or the rows of a design
//! table, with replicates, in parallel, and write one row per run to `sweep.csv`.
//!
//! * **Grid.** Each swept parameter is a `--set` path with a list of values (`0.1,0.2,0.5`,
//!   `lin:A:B:N`, `log:A:B:N`). Points are the Cartesian product, numbered from 0 with the
//!   first parameter varying slowest (row-major), so point `i` of a 2 x 3 grid is
//!   (`i / 3`, `i % 3`).
//! * **Design.** `--design FILE.csv`: a table whose header names `--set` paths; point `i` is
//!   its data row `i + 1` (a Latin hypercube, a Sobol sample). Everything below works alike
//!   for both: the rest of the sweep sees only [`Points`].
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
//!   parameters and their values or the design's SHA-256 and rows, replicates, shard,
//!   version); resume and merge compare it.
//! * **Shards.** `--shard K/N` runs the points with `point % N == K - 1` (round-robin, so
//!   every shard gets a similar mix of cheap and expensive points) into `DIR/shard-K-of-N/`;
//!   [`merge`] combines the shard directories into the `sweep.csv` an unsharded run writes.
//!
//! The files: `grid` (parameters and points), `design` (a design table read and checked),
//! `points` (either, as the rest sees them), `seeds`, `shards`, `manifest` (`sweep.json`),
//! `prepare` (the points built), `check_points` (every point validated before anything runs),
//! `execute` (the runs, in parallel, with progress and stop), `journal` (`sweep-journal.csv`
//! and `--resume`), `read_row` (rows read back), `outputs` (the finished files), `merge`, and
//! `error` (why a sweep stopped, as data; src/cli/sweep.rs words it). This file runs a
//! prepared sweep from start to end ([`execute`]). The row type is src/output/rows/sweep.rs;
//! the value specs are parsed by src/scenario/sweep_spec.rs.

mod check_points;
mod design;
mod error;
mod execute;
mod grid;
mod journal;
mod manifest;
mod merge;
mod outputs;
mod points;
mod prepare;
mod read_row;
mod seeds;
mod shards;

pub use crate::output::rows::{Outcome, SweepRow as Row};
pub use design::Design;
pub use error::{Error, Kind};
pub use execute::{run_point, Progress};
pub use grid::{Grid, Param};
pub use manifest::{Manifest, MANIFEST_FORMAT};
pub use merge::{find_shards, merge, MergeSummary};
pub use points::Points;
pub use prepare::{prepare, Plan, Request, MAX_RUNS};
pub use seeds::{derive_seed, SEED_RULE};
pub use shards::Shard;

use crate::output::atomic::write_atomic;
use crate::output::directory;
use crate::output::files;
use crate::output::format::Format;
use crate::plot::ChartSize;
use journal::Journal;
use manifest::read_manifest;
use outputs::write_outputs;
use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// How to run a prepared sweep.
#[derive(Debug, Clone)]
pub struct Options {
    pub out: Option<PathBuf>,
    pub resume: bool,
    pub timing: bool,
    pub chart_size: ChartSize,
    /// Write into an existing directory that pricegrad did not create.
    pub force: bool,
    /// With [`Format::Parquet`], `sweep.parquet` too (beside `sweep.csv`).
    pub format: Format,
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
    /// Runs that ended stationary (noisy firms).
    pub stationary: u64,
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
            directory::prepare_dir(base, false, "sweep").map_err(Error::Dir)?;
        }
    }
    directory::prepare_dir(&dir, opts.force, "sweep").map_err(Error::Dir)?;
    let manifest_path = dir.join(files::SWEEP_MANIFEST);
    let mut notes = Vec::new();

    let mut journal = Journal::open(&dir)?;
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
                "resume with exactly the scenario, --set, --seed, --param (or --design table) and --replicates of the \
                 first run; or \
                 give another --out DIR; or run without --resume to start over (discarding the finished runs)",
            ));
        }
        let rows = journal.resume(plan, &paths, &mut notes)?;
        // only this slice's runs
        done = rows
            .into_iter()
            .filter(|r| plan.shard.is_none_or(|s| s.owns(r.point)))
            .collect();
        notes.push(format!("resumed: {} runs were already done", done.len()));
    } else {
        if opts.resume {
            notes.push(format!("nothing to resume in {}: starting the sweep", dir.display()));
        } else if previous {
            let lines = journal.earlier_runs();
            if lines > 0 {
                notes.push(format!(
                    "started over: discarded {lines} finished runs of the earlier sweep in {} (--resume keeps them)",
                    dir.display()
                ));
            }
        }
        journal.truncate()?;
        for stale in [files::SWEEP_CSV, files::SWEEP_PARQUET, files::SWEEP_PNG] {
            let p = dir.join(stale);
            if p.exists() {
                fs::remove_file(&p).map_err(|e| Error::io("remove", &p, e))?;
            }
        }
        write_atomic(&manifest_path, plan.manifest.to_json().as_bytes())
            .map_err(|e| Error::io("write", &manifest_path, e))?;
        journal.write_header(&paths)?;
    }

    let all = plan.runs();
    let finished: HashSet<(u64, u64)> = done.iter().map(|r| (r.point, r.replicate)).collect();
    let pending: Vec<(u64, u64)> = all.iter().copied().filter(|k| !finished.contains(k)).collect();
    let resumed = done.len() as u64;
    progress.start(all.len() as u64, &done);

    let new_rows = execute::run_pending(plan, &pending, &mut journal, progress, stop)?;
    let mut rows = done;
    let ran = new_rows.len() as u64;
    rows.extend(new_rows);
    rows.sort_by_key(|r| (r.point, r.replicate));
    journal.sync()?;
    let count = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count() as u64;
    let interrupted = rows.len() < all.len();
    if interrupted {
        return Ok(Summary {
            dir,
            total: all.len() as u64,
            resumed,
            ran,
            converged: count(Outcome::Converged),
            stationary: count(Outcome::Stationary),
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
        opts.format,
    )?;
    drop(journal);
    Ok(Summary {
        dir,
        total: all.len() as u64,
        resumed,
        ran,
        converged: count(Outcome::Converged),
        stationary: count(Outcome::Stationary),
        diverged: count(Outcome::Diverged),
        max_ticks: count(Outcome::MaxTicks),
        seconds: started.elapsed().as_secs_f64(),
        notes,
        files,
        interrupted,
    })
}
