//! Why a sweep or a merge stopped, as data: the kind (bad input, or a sweep that could not
//! finish), the message and the help, and the scenario's own [`InputError`] (with its file,
//! line and column) where one is the cause. The command line words it for the terminal and
//! picks the exit code (src/cli/sweep.rs).

use crate::output::atomic::io_help;
use crate::output::directory::DirError;
use crate::scenario::InputError;
use std::io;
use std::path::PathBuf;

/// What kind of failure: what the exit code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad input: arguments, scenario, grid, a sweep directory that does not match or an
    /// output directory that cannot be used (exit 2).
    Input,
    /// The sweep could not finish: I/O, an incomplete merge (exit 1).
    Failed,
}

/// Why a sweep (or a merge) stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What is wrong, and how to fix it.
    #[error("{message}")]
    Message { kind: Kind, message: String, help: String },
    /// The scenario (with its `--set`s) cannot be read, parsed or validated, or its
    /// `[sweep]` table is wrong (bad input).
    #[error(transparent)]
    Scenario(InputError),
    /// A design table cannot be read, or is not a table of points (its own file, line and
    /// column; bad input).
    #[error(transparent)]
    Design(InputError),
    /// A swept value, or a point, does not validate; `note` says which (bad input).
    #[error("{note}: {error}")]
    Value { error: InputError, note: String },
    /// A grid point that validated before the sweep started no longer does (a bug).
    #[error("grid point {point} no longer validates: {error}")]
    PointInvalid { point: u64, error: InputError },
    /// The run of a grid point failed.
    #[error("run of grid point {point} failed: {error}")]
    Run { point: u64, error: io::Error },
    /// Reading or writing a file of the sweep failed (`cannot {what} {path}`).
    #[error("cannot {what} {}: {error}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    /// The output directory cannot be used; nothing was written (bad input).
    #[error(transparent)]
    Dir(DirError),
}

impl Error {
    /// Bad input: `message`, and how to fix it.
    pub(super) fn input(message: impl Into<String>, help: impl Into<String>) -> Error {
        Error::Message {
            kind: Kind::Input,
            message: message.into(),
            help: help.into(),
        }
    }

    /// The sweep could not finish: `message`, and what to do.
    pub(super) fn failed(message: impl Into<String>, help: impl Into<String>) -> Error {
        Error::Message {
            kind: Kind::Failed,
            message: message.into(),
            help: help.into(),
        }
    }

    /// `cannot {what} {path}: {error}`.
    pub(super) fn io(what: &'static str, path: impl Into<PathBuf>, error: io::Error) -> Error {
        Error::Io {
            what,
            path: path.into(),
            error,
        }
    }

    /// Bad input (exit 2), or a sweep that could not finish (exit 1).
    pub fn kind(&self) -> Kind {
        match self {
            Error::Message { kind, .. } => *kind,
            Error::Scenario(_) | Error::Design(_) | Error::Value { .. } | Error::Dir(_) => Kind::Input,
            Error::PointInvalid { .. } | Error::Run { .. } | Error::Io { .. } => Kind::Failed,
        }
    }

    /// How to fix it; None where the cause carries its own help (a scenario's
    /// [`InputError`], an output directory's [`DirError`]).
    pub fn help(&self) -> Option<&str> {
        match self {
            Error::Message { help, .. } => Some(help),
            Error::PointInvalid { .. } => {
                Some("this is a bug in pricegrad: every point was validated before the sweep started")
            }
            Error::Run { .. } => Some("re-run with --resume"),
            Error::Io { error, .. } => Some(io_help(error)),
            Error::Dir(error) => Some(error.help()),
            Error::Scenario(_) | Error::Design(_) | Error::Value { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_help() {
        let bad = Error::input("--log-every 0", "give a number of ticks >= 1");
        assert_eq!(
            (bad.kind(), bad.to_string()),
            (Kind::Input, "--log-every 0".to_string())
        );
        assert_eq!(bad.help(), Some("give a number of ticks >= 1"));
        let e = io::Error::from(io::ErrorKind::StorageFull);
        let full = Error::io("write", "out/sweep.csv", e);
        assert_eq!(full.kind(), Kind::Failed);
        assert!(full.to_string().starts_with("cannot write out/sweep.csv: "), "{full}");
        assert!(full.help().is_some_and(|h| h.contains("disk")));
        let scenario = Error::Scenario(InputError::plain("f.toml", "no firms", "add one"));
        assert_eq!((scenario.kind(), scenario.help()), (Kind::Input, None));
    }
}
