//! Run outputs (docs/MODEL.md, "Outputs"): `summary.json`, `trajectory.csv` (tidy, one row per
//! logged tick and good), `metrics.csv` (one row per logged tick), the row type of every CSV
//! file ([`rows`]), the same tables as Parquet ([`columnar`], `--format parquet`: [`format`]),
//! and the safety rules every command that writes files follows:
//!
//! - every file is written under a temporary name (`.NAME.PID.tmp`, in the same directory),
//!   synced, and renamed into place when complete, so a crash, a full disk or a signal never
//!   leaves a half-written file under the final name; a failed write removes its temporary
//!   file;
//! - the files of one run (or the final files of a sweep) are renamed into place together,
//!   after all of them were written: a failure leaves the previous results untouched;
//! - an output directory pricegrad creates gets a marker file, [`files::MARKER`]; an existing
//!   directory is written into only when it holds the marker, is empty, or holds nothing but
//!   pricegrad's own file names (directories of earlier versions, which had no marker), unless
//!   `--force` ([`directory::prepare_dir`]).

pub mod atomic;
pub mod columnar;
pub mod directory;
pub mod files;
pub mod format;
pub mod rows;
pub mod run_writer;
