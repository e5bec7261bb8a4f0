//! Merging shards: combine the directories of `--shard K/N` runs (or a directory holding
//! them) into the `sweep.csv`, `sweep.json` and `sweep.png` an unsharded sweep writes, or
//! say which points are missing, writing nothing.

use super::journal::read_journal_bytes;
use super::manifest::read_manifest;
use super::outputs::write_outputs;
use super::read_row::parse_row;
use super::{Error, Manifest, Outcome, Row};
use crate::output::directory;
use crate::output::files;
use crate::output::format::Format;
use crate::output::rows::sweep as sweep_rows;
use crate::plot::ChartSize;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// What a merge did.
#[derive(Debug, Clone)]
pub struct MergeSummary {
    pub dir: PathBuf,
    pub shards: Vec<PathBuf>,
    pub rows: u64,
    pub converged: u64,
    /// Noisy runs that ended with a stationary window of their prices.
    pub stationary: u64,
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
    let points = m.points();
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
                .filter(|r| r.point < points.count() && r.replicate < m.replicates)
                .filter(|r| r.params.iter().map(String::as_str).eq(points.values(r.point)))
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
    let read = read_journal_bytes(&bytes, &journal, &points, m.replicates, None)?;
    Ok((read.rows, true))
}

/// Combine shard directories into one sweep in `out` (default: the directory that holds the
/// shards), with `sweep.parquet` for [`Format::Parquet`]. Fails, writing nothing, when the shards disagree or runs are missing.
pub fn merge(
    dirs: &[PathBuf],
    out: Option<&Path>,
    timing: bool,
    size: ChartSize,
    force: bool,
    format: Format,
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
                "merge the shards of one sweep only (same scenario, --set, --seed, --param or --design, --replicates, \
                 version)",
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
    let points = first.points();
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
    for p in 0..points.count() {
        for r in 0..first.replicates {
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
                first.runs,
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
    directory::prepare_dir(&out, force, "merge").map_err(Error::Dir)?;
    let rows: Vec<Row> = all.into_values().collect();
    let mut m = first.clone();
    m.shard = None;
    let files = write_outputs(
        &out,
        &first.scenario,
        &m,
        &paths,
        &rows,
        every_timed,
        size,
        true,
        format,
    )?;
    let count = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count() as u64;
    Ok(MergeSummary {
        dir: out,
        shards,
        rows: rows.len() as u64,
        converged: count(Outcome::Converged),
        stationary: count(Outcome::Stationary),
        diverged: count(Outcome::Diverged),
        max_ticks: count(Outcome::MaxTicks),
        files,
    })
}
