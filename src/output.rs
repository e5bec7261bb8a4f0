//! Run outputs (DESIGN.md section 7): `summary.json`, `trajectory.csv` (tidy, one row per
//! logged tick and good), `metrics.csv` (one row per logged tick), and the safety rules every
//! command that writes files follows:
//!
//! - every file is written under a temporary name (`.NAME.PID.tmp`, in the same directory),
//!   synced, and renamed into place when complete, so a crash, a full disk or a signal never
//!   leaves a half-written file under the final name; a failed write removes its temporary
//!   file;
//! - the files of one run (or the final files of a sweep) are renamed into place together,
//!   after all of them were written: a failure leaves the previous results untouched;
//! - an output directory pricegrad creates gets a marker file, [`MARKER`]; an existing
//!   directory is written into only when it holds the marker, is empty, or holds nothing but
//!   pricegrad's own file names (directories of earlier versions, which had no marker), unless
//!   `--force` ([`prepare_dir`]).

use crate::diagnostics::{GoodRow, MetricsRow};
use crate::economy::Economy;
use crate::propagation::PropagationRow;
use crate::run::{Report, Sink};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Header of `trajectory.csv`.
pub const TRAJECTORY_HEADER: &str = "tick,good,price,supply,demand,excess,adjoint,reference,mispricing,firm_lag";
/// Header of `metrics.csv`.
pub const METRICS_HEADER: &str = "tick,max_rel_excess,max_rel_price_change,max_rel_adjoint_error,max_rel_reference_error,phi,phi_gap,cosine,cosine_mirror,lyapunov,mispricing,firm_lag,spread,shock";

/// Header of `propagation.csv` for a run with one shock tick; with several, `shock_tick,`
/// comes first.
pub const PROPAGATION_HEADER: &str = "good,depth,arrival_tick,final_change";

/// The files of a run directory, in the order they are renamed into place
/// (`propagation.csv` only for runs with a shock).
pub const RUN_FILES: [&str; 5] = [
    "trajectory.csv",
    "metrics.csv",
    "propagation.csv",
    "convergence.png",
    "summary.json",
];

/// The marker file in every output directory pricegrad creates (or was allowed to write into).
pub const MARKER: &str = ".pricegrad";

// ---------------------------------------------------------------------------
// Atomic writes
// ---------------------------------------------------------------------------

/// The temporary name `path` is written under: `.NAME.PID.tmp` beside it (the process id
/// keeps two processes that write the same file, e.g. two shards creating one marker, apart).
pub fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Create a temporary file afresh: a file (or a symbolic link) left under that name is
/// removed first, never written through, so nothing outside the directory is touched.
pub fn create_temp(tmp: &Path) -> io::Result<File> {
    let open = || fs::OpenOptions::new().write(true).create_new(true).open(tmp);
    match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(tmp)?;
            open()
        }
        r => r,
    }
}

/// Whether a file name is one of pricegrad's temporary names (a crash can leave one behind).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Files written under temporary names, renamed into place together by [`Staged::commit`].
/// Dropped uncommitted (an error, a panic), it removes its temporary files: the final names
/// keep what they held before.
#[derive(Debug, Default)]
pub struct Staged {
    /// (temporary, final) paths, in the order they are renamed.
    pending: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// Write `bytes` to a temporary file for `dest` and sync it to disk.
    pub fn write(&mut self, dest: &Path, bytes: &[u8]) -> io::Result<()> {
        self.write_with(dest, |out| out.write_all(bytes))
    }

    /// Write a temporary file for `dest` through a buffer, by `fill` (so that a large file
    /// is streamed, never held whole in memory), and sync it to disk.
    pub fn write_with(
        &mut self,
        dest: &Path,
        fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
    ) -> io::Result<()> {
        let tmp = temp_name(dest);
        // registered first, so that a failed write is cleaned up too
        self.pending.push((tmp.clone(), dest.to_path_buf()));
        let mut out = BufWriter::with_capacity(1 << 16, create_temp(&tmp)?);
        fill(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    /// Take over a temporary file written elsewhere (complete and synced when committing).
    pub fn adopt(&mut self, tmp: PathBuf, dest: PathBuf) {
        self.pending.push((tmp, dest));
    }

    /// Rename every file into place, in order, then sync the directories.
    pub fn commit(mut self) -> io::Result<()> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        while !self.pending.is_empty() {
            let (tmp, dest) = self.pending.remove(0);
            if let Err(e) = fs::rename(&tmp, &dest) {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            if let Some(d) = dest.parent() {
                if !dirs.iter().any(|x| x == d) {
                    dirs.push(d.to_path_buf());
                }
            }
        }
        // make the renames durable (best effort: not every file system can sync a directory)
        for d in dirs {
            let d = if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            };
            if let Ok(f) = File::open(&d) {
                let _ = f.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in self.pending.drain(..) {
            let _ = fs::remove_file(&tmp);
        }
    }
}

/// Write `bytes` to `path` atomically: a temporary file beside it, synced, then a rename. On
/// failure the temporary file is removed and `path` keeps what it held.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut stage = Staged::default();
    stage.write(path, bytes)?;
    stage.commit()
}

/// How to fix a failed write, by its cause.
pub fn io_help(e: &io::Error) -> &'static str {
    use io::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem => {
            "the directory is not writable (read-only, or owned by someone else): choose another with --out DIR, \
             or make it writable"
        }
        K::StorageFull | K::QuotaExceeded => {
            "the disk (or your quota) is full: free some space, or choose another --out DIR on another disk"
        }
        K::FileTooLarge => {
            "a file size limit (ulimit -f) or the disk's capacity was reached: raise the limit, free some space, \
             or choose another --out DIR"
        }
        K::NotADirectory => "a part of the path is a file, not a directory: choose another --out DIR",
        K::NotFound => "a part of the path does not exist and cannot be created: check the --out path",
        _ => "check that the directory is writable and the disk has space, or choose another with --out DIR",
    }
}

/// An error with the path it concerns: `cannot WHAT PATH: ERROR` (the kind is kept, so
/// [`io_help`] still applies).
pub fn io_context(what: &str, path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Output directories
// ---------------------------------------------------------------------------

/// Why an output directory cannot be used. Nothing was written when this is returned.
#[derive(Debug)]
pub enum DirError {
    /// The path exists and is a file.
    NotADirectory(PathBuf),
    /// An existing, non-empty directory without the marker, holding files that are not
    /// pricegrad's (some of their names).
    Foreign {
        dir: PathBuf,
        names: Vec<String>,
        more: usize,
    },
    /// Creating, listing or writing into the directory failed.
    Io {
        what: &'static str,
        path: PathBuf,
        error: io::Error,
    },
}

impl fmt::Display for DirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirError::NotADirectory(p) => write!(
                f,
                "error: the output path {} is a file, not a directory\n  = help: give a directory with --out DIR \
                 (pricegrad creates it if it does not exist)\n",
                p.display()
            ),
            DirError::Foreign { dir, names, more } => write!(
                f,
                "error: refusing to write into {}: it exists, is not empty and was not made by pricegrad (no {MARKER} \
                 file; it holds {}{})\n  = help: choose another --out DIR, or pass --force to write into it anyway \
                 (pricegrad then replaces only its own file names, such as summary.json; nothing else is touched)\n",
                dir.display(),
                names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", "),
                if *more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
            DirError::Io { what, path, error } => write!(
                f,
                "error: cannot {what} {}: {error}\n  = help: {}\n",
                path.display(),
                io_help(error)
            ),
        }
    }
}

impl std::error::Error for DirError {}

/// Whether `name` in an output directory is pricegrad's own: a file of a run or a sweep, a
/// temporary file, the marker, or a shard directory `shard-K-of-N`.
pub fn is_own_name(name: &str, is_dir: bool) -> bool {
    use crate::sweep::{CSV_NAME, JOURNAL_NAME, MANIFEST_NAME, PNG_NAME};
    if is_dir {
        let Some(rest) = name.strip_prefix("shard-") else {
            return false;
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        return rest.split_once("-of-").is_some_and(|(k, n)| digits(k) && digits(n));
    }
    name == MARKER
        || is_temp_name(name)
        || RUN_FILES.contains(&name)
        || [CSV_NAME, PNG_NAME, MANIFEST_NAME, JOURNAL_NAME].contains(&name)
}

/// Make `dir` ready for `pricegrad COMMAND`'s output, or say why it cannot be used:
/// - missing: created (with its parents), and the marker written;
/// - an existing directory with the marker: checked to be writable;
/// - empty, or holding only pricegrad's own names (an output directory of an earlier version,
///   which wrote no marker): the marker is written;
/// - holding anything else: refused, unless `force` (then the marker is written; no file is
///   removed).
///
/// The first write into the directory happens here, so an unwritable directory is reported
/// before any work starts.
pub fn prepare_dir(dir: &Path, force: bool, command: &str) -> Result<(), DirError> {
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |error: io::Error| DirError::Io { what, path, error }
    };
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(DirError::NotADirectory(dir.to_path_buf())),
        Ok(_) => {
            if dir.join(MARKER).exists() {
                // writable? (a probe under a temporary name, removed at once)
                let probe = temp_name(&dir.join(MARKER));
                let written = create_temp(&probe).map(drop);
                let _ = fs::remove_file(&probe);
                return written.map_err(io("write into the output directory", dir));
            }
            let mut foreign = Vec::new();
            for entry in fs::read_dir(dir).map_err(io("list the output directory", dir))? {
                let entry = entry.map_err(io("list the output directory", dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if !is_own_name(&name, is_dir) {
                    foreign.push(name);
                }
            }
            if !foreign.is_empty() && !force {
                foreign.sort();
                let more = foreign.len().saturating_sub(3);
                foreign.truncate(3);
                return Err(DirError::Foreign {
                    dir: dir.to_path_buf(),
                    names: foreign,
                    more,
                });
            }
            write_marker(dir, command)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io("create the output directory", dir))?;
            write_marker(dir, command)
        }
        Err(e) => Err(io("use the output directory", dir)(e)),
    }
}

/// Write the marker into `dir` (atomically).
fn write_marker(dir: &Path, command: &str) -> Result<(), DirError> {
    let text = format!(
        "pricegrad {} (`pricegrad {command}`) writes its output into this directory.\n\
         pricegrad writes into an existing directory only when it holds this file, is empty, or holds nothing but\n\
         pricegrad's own files; otherwise it asks for --force. Removing this file is harmless.\n",
        env!("CARGO_PKG_VERSION")
    );
    let path = dir.join(MARKER);
    write_atomic(&path, text.as_bytes()).map_err(|error| DirError::Io {
        what: "write into the output directory",
        path: dir.to_path_buf(),
        error,
    })
}

// ---------------------------------------------------------------------------
// Run files
// ---------------------------------------------------------------------------

/// A CSV file being written under a temporary name.
struct TempCsv {
    tmp: PathBuf,
    dest: PathBuf,
    out: BufWriter<File>,
}

impl TempCsv {
    fn create(dest: PathBuf, header: &str) -> io::Result<TempCsv> {
        let tmp = temp_name(&dest);
        let file = create_temp(&tmp).map_err(|e| io_context("write", &dest, e))?;
        let mut csv = TempCsv {
            tmp,
            dest,
            out: BufWriter::with_capacity(1 << 16, file),
        };
        writeln!(csv.out, "{header}").map_err(|e| csv.context(e))?;
        Ok(csv)
    }

    fn context(&self, e: io::Error) -> io::Error {
        io_context("write", &self.dest, e)
    }

    /// Flush and sync the file, handing it to `stage` (which removes it if anything fails).
    fn close_into(self, stage: &mut Staged) -> io::Result<()> {
        let TempCsv { tmp, dest, out } = self;
        stage.adopt(tmp, dest.clone());
        let file = out
            .into_inner()
            .map_err(|e| io_context("write", &dest, e.into_error()))?;
        file.sync_all().map_err(|e| io_context("write", &dest, e))
    }
}

/// Format an optional number: empty when absent or not finite (no NaN/inf is ever written).
/// Shortest representation that reads back to the same f64; exponent form for very small
/// or large magnitudes.
pub fn opt(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => {
            let a = v.abs();
            if a == 0.0 || (1e-4..1e15).contains(&a) {
                format!("{v}")
            } else {
                format!("{v:e}")
            }
        }
        _ => String::new(),
    }
}

fn num(v: f64) -> String {
    opt(Some(v))
}

/// Writes a run's CSV files (under temporary names) as rows arrive; [`RunWriter::finish`]
/// adds the summary and the chart and renames all of them into place together.
pub struct RunWriter {
    dir: PathBuf,
    trajectory: Option<TempCsv>,
    metrics: Option<TempCsv>,
    /// Written when the run had a shock.
    propagation: Option<TempCsv>,
}

impl RunWriter {
    /// Create the temporary CSV files in `dir` (made ready by [`prepare_dir`]).
    pub fn create(dir: &Path) -> io::Result<RunWriter> {
        let mut w = RunWriter {
            dir: dir.to_path_buf(),
            trajectory: None,
            metrics: None,
            propagation: None,
        };
        // on an error, the writer's drop removes what was created
        w.trajectory = Some(TempCsv::create(dir.join("trajectory.csv"), TRAJECTORY_HEADER)?);
        w.metrics = Some(TempCsv::create(dir.join("metrics.csv"), METRICS_HEADER)?);
        Ok(w)
    }

    /// Complete the run's files: sync the CSV files, write `summary.json` (the report as it
    /// is: without the wall-clock times when `report.timings` is `None`) and
    /// `convergence.png` (drawn by `chart` from the trajectory and metrics files, and the
    /// propagation file of a run with a shock), then rename all of them into place. When a
    /// write fails nothing is renamed: the directory keeps the previous results, and no
    /// temporary file is left. A `propagation.csv` of an earlier run is removed when this run
    /// had no shock.
    ///
    /// Returns the chart's error, if it could not be drawn (the other files are written, and
    /// a `convergence.png` of an earlier run is removed).
    pub fn finish(
        mut self,
        report: &Report,
        chart: impl FnOnce(&Path, &Path, Option<&Path>) -> Result<Vec<u8>, String>,
    ) -> io::Result<Option<String>> {
        let mut stage = Staged::default();
        let (trajectory, metrics) = match (self.trajectory.take(), self.metrics.take()) {
            (Some(t), Some(m)) => (t, m),
            _ => return Err(io::Error::other("the run's files were already finished")),
        };
        let paths = (trajectory.tmp.clone(), metrics.tmp.clone());
        trajectory.close_into(&mut stage)?;
        metrics.close_into(&mut stage)?;
        let propagation = self.propagation.take();
        let wave = propagation.as_ref().map(|p| p.tmp.clone());
        if let Some(p) = propagation {
            p.close_into(&mut stage)?;
        }
        let png = self.dir.join("convergence.png");
        let chart_error = match chart(&paths.0, &paths.1, wave.as_deref()) {
            Ok(bytes) => {
                stage.write(&png, &bytes).map_err(|e| io_context("write", &png, e))?;
                None
            }
            Err(e) => Some(e),
        };
        let summary = self.dir.join("summary.json");
        stage
            .write_with(&summary, |out| write_summary(out, report))
            .map_err(|e| io_context("write", &summary, e))?;
        stage
            .commit()
            .map_err(|e| io_context("move the results into place in", &self.dir, e))?;
        if chart_error.is_some() {
            // not the chart of these results
            let _ = fs::remove_file(&png);
        }
        if wave.is_none() {
            // an earlier, shocked run's
            let _ = fs::remove_file(self.dir.join("propagation.csv"));
        }
        Ok(chart_error)
    }
}

/// Write `summary.json`: the report, pretty-printed, streamed (no copy of the report as a
/// JSON tree or a string: at a million goods those took several hundred bytes per good).
/// serde_json writes a NaN or infinite f64 as null, so the file stays valid JSON.
pub fn write_summary(out: &mut impl Write, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        // An unfinished writer (error, panic) removes its temporary files.
        for t in [self.trajectory.take(), self.metrics.take(), self.propagation.take()]
            .into_iter()
            .flatten()
        {
            drop(t.out);
            let _ = fs::remove_file(&t.tmp);
        }
    }
}

impl Sink for RunWriter {
    fn record(&mut self, economy: &Economy, m: &MetricsRow, goods: &[GoodRow]) -> io::Result<()> {
        if let Some(t) = self.trajectory.as_mut() {
            for r in goods {
                writeln!(
                    t.out,
                    "{},{},{},{},{},{},{},{},{},{}",
                    r.tick,
                    &economy.goods.name[r.good],
                    num(r.price),
                    num(r.supply),
                    num(r.demand),
                    num(r.excess),
                    num(r.adjoint),
                    opt(r.reference),
                    opt(r.mispricing),
                    opt(r.firm_lag)
                )
                .map_err(|e| io_context("write", &t.dest, e))?;
            }
        }
        if let Some(t) = self.metrics.as_mut() {
            writeln!(
                t.out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                m.tick,
                num(m.max_rel_excess),
                num(m.max_rel_price_change),
                num(m.max_rel_adjoint_error),
                opt(m.max_rel_reference_error),
                opt(m.phi),
                opt(m.phi_gap),
                opt(m.cosine),
                opt(m.cosine_mirror),
                opt(m.lyapunov),
                opt(m.mispricing),
                opt(m.firm_lag),
                num(m.spread),
                m.shock
            )
            .map_err(|e| io_context("write", &t.dest, e))?;
        }
        Ok(())
    }

    fn propagation(&mut self, economy: &Economy, rows: &[PropagationRow]) -> io::Result<()> {
        let several = rows.windows(2).any(|w| w[0].shock_tick != w[1].shock_tick);
        let header = if several {
            format!("shock_tick,{PROPAGATION_HEADER}")
        } else {
            PROPAGATION_HEADER.to_string()
        };
        let mut t = TempCsv::create(self.dir.join("propagation.csv"), &header)?;
        for r in rows {
            let arrival = r.arrival_tick.map_or(String::new(), |t| t.to_string());
            let good = &economy.goods.name[r.good as usize];
            let line = if several {
                writeln!(
                    t.out,
                    "{},{good},{},{arrival},{}",
                    r.shock_tick,
                    r.depth,
                    num(r.final_change)
                )
            } else {
                writeln!(t.out, "{good},{},{arrival},{}", r.depth, num(r.final_change))
            };
            line.map_err(|e| t.context(e))?;
        }
        self.propagation = Some(t);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_names() {
        for n in [
            "summary.json",
            "trajectory.csv",
            "metrics.csv",
            "propagation.csv",
            "convergence.png",
            "sweep.csv",
            "sweep.png",
            "sweep.json",
            "sweep-journal.csv",
            ".pricegrad",
            ".trajectory.csv.tmp",
            ".summary.json.123.tmp",
        ] {
            assert!(is_own_name(n, false), "{n}");
        }
        assert!(is_own_name("shard-2-of-4", true));
        for n in ["notes.txt", "summary.json.bak", "shard-2-of-4"] {
            assert!(!is_own_name(n, false), "{n}");
        }
        for n in ["shard-x-of-4", "shard-1-of-", "data", "summary.json"] {
            assert!(!is_own_name(n, true), "{n}");
        }
    }

    /// summary.json as it was written before it was streamed: the report as a JSON tree
    /// (whose maps sort their keys), without `timings` unless `timing`, pretty-printed.
    fn summary_through_a_tree(report: &Report, timing: bool) -> String {
        let mut value = serde_json::to_value(report).unwrap();
        if !timing {
            value.as_object_mut().unwrap().remove("timings");
        }
        let mut text = serde_json::to_string_pretty(&value).unwrap();
        text.push('\n');
        text
    }

    #[test]
    fn streamed_summary_is_the_tree_serialization() {
        use crate::run::{GoodCheck, GoodChecks, Timings};
        let good = |g: u32, some: bool| GoodCheck {
            adjoint: 0.5,
            adjoint_interval: some.then_some([0.25, 1e-300]),
            envelope: some.then_some(0.5000001),
            error_adjoint: some.then_some(0.0),
            error_envelope: some.then_some(2e-7),
            error_reference: some.then_some(1.5e-12),
            fixed_price: !some,
            good: g,
            pass: some,
            price: if some { 0.5 } else { f64::NAN },
            reference: some.then_some(f64::INFINITY),
            spread: 3.0,
        };
        let mut report = Report {
            check_tolerance: 1e-6,
            checks: vec![crate::run::CheckRun {
                check: "reference",
                goods: 0,
                max_error: None,
                of: 3,
                pass: false,
                ran: false,
                reason: Some("a \"reason\"".into()),
                worst_good: None,
            }],
            converged_at: Some(224),
            envelope_goods_checkable: 3,
            envelope_goods_checked: 2,
            envelope_selection: "all".into(),
            goods: GoodChecks {
                names: ["natgas", "tupper\"ware\u{e9}"].into_iter().collect(),
                checks: vec![good(0, true), good(1, false)],
            },
            max_error_adjoint: 1e-9,
            max_error_envelope: None,
            max_error_reference: Some(2.5),
            max_spread: 0.0,
            outcome: "converged",
            outcome_detail: "converged at tick 224".into(),
            pass: true,
            reference_note: Some("a note".into()),
            require: crate::run::Require::Adjoint,
            scenario: "every_field".into(),
            seed: u64::MAX,
            ticks: 225,
            timings: Some(Timings {
                reference_seconds: 0.25,
                simulate_seconds: 1.5,
                threads: 2,
                total_seconds: 1.75,
            }),
            version: "0.1.0",
            outcome_kind: None,
        };
        let streamed = |r: &Report| {
            let mut out = Vec::new();
            write_summary(&mut out, r).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(streamed(&report), summary_through_a_tree(&report, true));
        let timed = streamed(&report);
        report.timings = None;
        assert_eq!(streamed(&report), summary_through_a_tree(&report, false));
        assert!(timed.contains("\"timings\"") && !streamed(&report).contains("\"timings\""));
        report.goods = GoodChecks::default();
        report.converged_at = None;
        assert_eq!(streamed(&report), summary_through_a_tree(&report, false));
    }

    #[test]
    fn staged_files_are_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "old a").unwrap();
        {
            let mut s = Staged::default();
            s.write(&a, b"new a").unwrap();
            s.write(&b, b"new b").unwrap();
            // dropped without commit
        }
        assert_eq!(fs::read_to_string(&a).unwrap(), "old a");
        assert!(!b.exists());
        let mut s = Staged::default();
        s.write(&a, b"new a").unwrap();
        s.write(&b, b"new b").unwrap();
        s.commit().unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(fs::read_to_string(&b).unwrap(), "new b");
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_temporary_name_is_not_written_through() {
        let root = tempfile::tempdir().unwrap();
        let outside = root.path().join("outside");
        fs::write(&outside, "keep").unwrap();
        let dir = root.path().join("out");
        fs::create_dir(&dir).unwrap();
        let dest = dir.join("summary.json");
        std::os::unix::fs::symlink(&outside, temp_name(&dest)).unwrap();
        write_atomic(&dest, b"{}").unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "keep");
        assert_eq!(fs::read_to_string(&dest).unwrap(), "{}");
    }

    #[test]
    fn prepare_dir_rules() {
        let root = tempfile::tempdir().unwrap();
        // missing: created with the marker
        let new = root.path().join("a/b");
        prepare_dir(&new, false, "run").unwrap();
        assert!(new.join(MARKER).exists());
        // empty: fine
        let empty = root.path().join("empty");
        fs::create_dir(&empty).unwrap();
        prepare_dir(&empty, false, "run").unwrap();
        assert!(empty.join(MARKER).exists());
        // an earlier version's output (no marker): recognised
        let old = root.path().join("old");
        fs::create_dir(&old).unwrap();
        fs::write(old.join("summary.json"), "{}").unwrap();
        fs::write(old.join(".metrics.csv.tmp"), "").unwrap();
        prepare_dir(&old, false, "run").unwrap();
        // someone else's: refused, untouched; --force writes only the marker
        let foreign = root.path().join("foreign");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join("thesis.tex"), "x").unwrap();
        let e = prepare_dir(&foreign, false, "run").unwrap_err();
        assert!(matches!(e, DirError::Foreign { .. }));
        let text = e.to_string();
        assert!(text.contains("thesis.tex") && text.contains("--force"), "{text}");
        assert!(!foreign.join(MARKER).exists());
        prepare_dir(&foreign, true, "run").unwrap();
        assert!(foreign.join(MARKER).exists() && foreign.join("thesis.tex").exists());
        // a file
        let file = root.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(matches!(
            prepare_dir(&file, true, "run"),
            Err(DirError::NotADirectory(_))
        ));
        assert!(matches!(
            prepare_dir(&file.join("sub"), true, "run"),
            Err(DirError::Io { .. })
        ));
    }
}
