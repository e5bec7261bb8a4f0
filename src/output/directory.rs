//! Output directories: which ones pricegrad may write into ([`prepare_dir`]) and the marker
//! it leaves in them.

use super::atomic::{create_temp, io_help, is_temp_name, temp_name, write_atomic};
use super::files::{CONVERGENCE_SVG, MARKER, RUN_FILES, SWEEP_FILES, SWEEP_SVG};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Why an output directory cannot be used. Nothing was written when this is returned. The
/// message is the `Display`; [`DirError::help`] says how to fix it (the CLI renders both).
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// The path exists and is a file.
    #[error("the output path {} is a file, not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// An existing, non-empty directory without the marker, holding files that are not
    /// pricegrad's (some of their names).
    #[error(
        "refusing to write into {}: it exists, is not empty and was not made by pricegrad (no {MARKER} file; it holds {}{})",
        dir.display(),
        names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", "),
        if *more > 0 { format!(" and {more} more") } else { String::new() }
    )]
    Foreign {
        dir: PathBuf,
        names: Vec<String>,
        more: usize,
    },
    /// Creating, listing or writing into the directory failed.
    #[error("cannot {what} {}: {error}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: io::Error,
    },
}

impl DirError {
    /// How to fix it.
    pub fn help(&self) -> &'static str {
        match self {
            DirError::NotADirectory(_) => "give a directory with --out DIR (pricegrad creates it if it does not exist)",
            DirError::Foreign { .. } => {
                "choose another --out DIR, or pass --force to write into it anyway (pricegrad then replaces only \
                 its own file names, such as summary.json; nothing else is touched)"
            }
            DirError::Io { error, .. } => io_help(error),
        }
    }
}

/// Whether `name` in an output directory is pricegrad's own: a file of a run or a sweep, a
/// temporary file, the marker, or a shard directory `shard-K-of-N`.
pub fn is_own_name(name: &str, is_dir: bool) -> bool {
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
        || SWEEP_FILES.contains(&name)
        || [CONVERGENCE_SVG, SWEEP_SVG].contains(&name)
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
                remove_orphaned_temporaries(dir);
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

/// Remove the temporary files (`.NAME.PID.tmp`) that a process killed outright (SIGKILL, a
/// power cut) left in a directory of pricegrad's: those whose process no longer runs. Files
/// of a running process (another shard, a run in progress) are left alone, and so is
/// anything that cannot be removed.
fn remove_orphaned_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_pid(&name) else {
            continue;
        };
        if pid != std::process::id() && !process_runs(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The process id in a temporary name `.NAME.PID.tmp`.
fn temp_pid(name: &str) -> Option<u32> {
    let stem = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    stem.rsplit_once('.')?.1.parse().ok()
}

/// Whether process `pid` runs (Linux: it has a /proc entry and is not a zombie; elsewhere it
/// is assumed to run, so that nothing is removed).
fn process_runs(pid: u32) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "PID (COMMAND) STATE ...": the state follows the last ')'
        Ok(stat) => stat
            .rsplit_once(')')
            .is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_names() {
        for n in [
            "summary.json",
            "trajectory.csv",
            "metrics.csv",
            "trajectory.parquet",
            "metrics.parquet",
            "firms.parquet",
            "sweep.parquet",
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

    #[test]
    fn temporaries_of_dead_processes_are_removed_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        prepare_dir(dir.path(), false, "run").unwrap();
        let ours = format!(".metrics.csv.{}.tmp", std::process::id());
        // a pid above the kernel's maximum (4194304) never runs
        let dead = ".trajectory.csv.4999999.tmp";
        let odd = ".notes.tmp";
        for n in [ours.as_str(), dead, odd] {
            fs::write(dir.path().join(n), "x").unwrap();
        }
        assert_eq!(temp_pid(dead), Some(4_999_999));
        assert_eq!(temp_pid(odd), None);
        prepare_dir(dir.path(), false, "run").unwrap();
        assert!(!dir.path().join(dead).exists());
        assert!(dir.path().join(&ours).exists() && dir.path().join(odd).exists());
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
        let text = format!("{e} {}", e.help());
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
