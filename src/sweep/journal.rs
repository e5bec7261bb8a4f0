//! The journal, `sweep-journal.csv`: every finished run is appended as one CSV line with one
//! `write` (a failed append is cut back), so a sweep killed at any moment, even by SIGKILL,
//! loses and duplicates nothing. `--resume` reads the complete lines back, drops a torn last
//! line, and runs only what is missing; merge reads an unfinished shard's journal.

use super::read_row::parse_row;
use super::{derive_seed, Error, Plan, Points, Row};
use crate::output::files;
use crate::output::rows::{self, sweep as sweep_rows};
use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The open, locked journal of a sweep directory, with its length in whole lines.
pub(super) struct Journal {
    file: fs::File,
    path: PathBuf,
    /// Bytes of whole lines, as measured before the runs start and grown by each append.
    len: u64,
}

impl Journal {
    /// Open (or create) the journal in `dir` and lock it: one sweep writes to a directory at
    /// a time.
    pub(super) fn open(dir: &Path) -> Result<Journal, Error> {
        let path = dir.join(files::SWEEP_JOURNAL);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::input(
                    format!("another pricegrad sweep is writing to {}", dir.display()),
                    "wait for it to finish, or give this sweep another --out DIR",
                ))
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        Ok(Journal { file, path, len: 0 })
    }

    /// Where the journal is.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The finished runs of `plan` in the journal (of every shard). A torn last line is cut
    /// off (and said in `notes`); an empty journal gets its header.
    pub(super) fn resume(&mut self, plan: &Plan, paths: &[String], notes: &mut Vec<String>) -> Result<Vec<Row>, Error> {
        let mut bytes = Vec::new();
        self.file
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", &self.path, e))?;
        let read = read_journal_bytes(
            &bytes,
            &self.path,
            &plan.points,
            plan.replicates,
            Some(&plan.base_seeds),
        )?;
        let keep = if bytes.is_empty() { 0 } else { read.valid_len };
        if read.dropped > 0 {
            notes.push(format!(
                "dropped a torn last line of {} (that run is done again)",
                self.path.display()
            ));
        }
        if keep != bytes.len() as u64 || bytes.is_empty() {
            self.file
                .set_len(keep)
                .map_err(|e| Error::io("repair", &self.path, e))?;
            if keep == 0 {
                self.write_header(paths)?;
            }
        }
        Ok(read.rows)
    }

    /// The number of runs in the journal of an earlier sweep (its lines after the header),
    /// 0 if it cannot be read.
    pub(super) fn earlier_runs(&mut self) -> usize {
        let mut bytes = Vec::new();
        let _ = self.file.read_to_end(&mut bytes);
        bytes.iter().filter(|&&b| b == b'\n').count().saturating_sub(1)
    }

    /// Empty the journal (a sweep that starts over).
    pub(super) fn truncate(&mut self) -> Result<(), Error> {
        self.file.set_len(0).map_err(|e| Error::io("truncate", &self.path, e))
    }

    /// Write the header: the sweep's `sweep.csv` header, with `wall_seconds`.
    pub(super) fn write_header(&mut self, paths: &[String]) -> Result<(), Error> {
        write_journal_header(&mut self.file, paths).map_err(|e| Error::io("write", &self.path, e))
    }

    /// Measure the journal's length before runs are appended.
    pub(super) fn measure(&mut self) -> Result<(), Error> {
        self.len = self
            .file
            .metadata()
            .map_err(|e| Error::io("read", &self.path, e))?
            .len();
        Ok(())
    }

    /// Append one run's line with one write: a kill leaves whole lines and at most one torn
    /// last line, and a failed write is cut back to the whole lines (so a full disk leaves no
    /// torn line).
    pub(super) fn append(&mut self, line: &[u8]) -> Result<(), Error> {
        if let Err(e) = self.file.write_all(line) {
            let _ = self.file.set_len(self.len);
            return Err(Error::io("append to", &self.path, e));
        }
        self.len += line.len() as u64;
        Ok(())
    }

    /// Flush the journal to the disk.
    pub(super) fn sync(&self) -> Result<(), Error> {
        self.file.sync_all().map_err(|e| Error::io("sync", &self.path, e))
    }
}

/// Write the header of a journal (the sweep's `sweep.csv` header, with `wall_seconds`).
fn write_journal_header(journal: &mut fs::File, paths: &[String]) -> io::Result<()> {
    let mut w = rows::writer(journal);
    w.write_record(sweep_rows::header(paths, true))
        .map_err(rows::io_error)?;
    w.flush()
}

/// The finished runs found in a journal.
pub(super) struct JournalRead {
    pub(super) rows: Vec<Row>,
    /// Bytes of complete, valid lines (the rest is a torn last line, to cut off).
    pub(super) valid_len: u64,
    /// Lines ignored: a torn or damaged last line.
    pub(super) dropped: u64,
}

/// Read a journal's rows. Only lines that end in a newline count; a damaged last line is
/// dropped (a crash can tear the last write); a damaged line before it is an error.
pub(super) fn read_journal_bytes(
    bytes: &[u8],
    path: &Path,
    points: &Points,
    replicates: u64,
    seeds: Option<&[u64]>,
) -> Result<JournalRead, Error> {
    let paths = points.paths();
    let head = csv::StringRecord::from(sweep_rows::header(&paths, true));
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    let mut dropped = u64::from(complete < bytes.len());
    let mut out = JournalRead {
        rows: Vec::new(),
        valid_len: 0,
        dropped: 0,
    };
    let mut lines = sweep_rows::lines(&bytes[..complete]).peekable();
    let Some((_, mut offset, first)) = lines.next() else {
        out.dropped = dropped;
        return Ok(out);
    };
    if !first.is_ok_and(|h| h.iter().eq(head.iter())) {
        let first_line = bytes[..complete].split(|&b| b == b'\n').next().unwrap_or_default();
        return Err(Error::input(
            format!(
                "{} does not belong to this sweep: its header is `{}`, expected `{}`",
                path.display(),
                String::from_utf8_lossy(first_line),
                head.iter().collect::<Vec<_>>().join(",")
            ),
            "use another --out DIR, or run without --resume to start over",
        ));
    }
    let mut have = HashSet::new();
    let (n, reps) = (points.count(), replicates);
    while let Some((line, end, fields)) = lines.next() {
        let check = fields
            .and_then(|record| parse_row(&record, &head, paths.len()))
            .and_then(|r| {
                if r.point >= n || r.replicate >= reps {
                    return Err(format!("run ({}, {}) is outside the sweep", r.point, r.replicate));
                }
                let want: Vec<&str> = points.values(r.point);
                if r.params.iter().map(String::as_str).ne(want.iter().copied()) {
                    return Err(format!(
                        "point {} has values {:?}, the sweep has {:?}",
                        r.point, r.params, want
                    ));
                }
                if let Some(seeds) = seeds {
                    let s = derive_seed(seeds[r.point as usize], r.point, r.replicate);
                    if r.seed != s {
                        return Err(format!(
                            "run ({}, {}) has seed {}, expected {s}",
                            r.point, r.replicate, r.seed
                        ));
                    }
                }
                Ok(r)
            });
        match check {
            Ok(r) => {
                if have.insert((r.point, r.replicate)) {
                    out.rows.push(r);
                }
            }
            Err(_) if lines.peek().is_none() => {
                dropped += 1;
                break;
            }
            Err(m) => {
                return Err(Error::input(
                    format!("{} line {line}: {m}", path.display()),
                    "the journal was changed by hand or belongs to another sweep; remove the line (the run is \
                     then redone), or run without --resume to start over",
                ))
            }
        }
        offset = end;
    }
    out.valid_len = offset;
    out.dropped = dropped;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{Grid, Outcome, Param};

    #[test]
    fn torn_journal_line_is_dropped() {
        let g = Points::Grid(Grid {
            params: vec![Param {
                path: "a".into(),
                spec: String::new(),
                values: vec!["1".into(), "2".into()],
            }],
        });
        let mk = |p: u64| Row {
            point: p,
            replicate: 0,
            params: vec![g.values(p)[0].to_string()],
            seed: 7,
            outcome: Outcome::Converged,
            ticks: 10,
            max_rel_error: Some(0.0),
            max_rel_excess: Some(0.0),
            mean_cosine: None,
            wall_seconds: Some(0.1),
        };
        let header = sweep_rows::header(&["a".into()], true).join(",");
        let line = |p: u64| String::from_utf8(mk(p).journal_line().unwrap()).unwrap();
        let good = format!("{header}\n{}", line(0));
        let torn = format!("{good}{}", &line(1)[..5]);
        let r = read_journal_bytes(torn.as_bytes(), Path::new("j"), &g, 1, None).unwrap();
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.valid_len, good.len() as u64);
        assert_eq!(r.dropped, 1);
        // a damaged line before the last one is an error
        let bad = format!("{header}\n1,2,3\n{}", line(0));
        assert!(read_journal_bytes(bad.as_bytes(), Path::new("j"), &g, 1, None).is_err());
    }
}
