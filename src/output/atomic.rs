//! Atomic writes: every file is written under a temporary name (`.NAME.PID.tmp`, in the same
//! directory), synced, and renamed into place when complete; the files of one run are renamed
//! together ([`Staged`]).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
