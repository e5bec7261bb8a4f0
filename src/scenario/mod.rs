//! Scenarios: the TOML format (version 1), `--set` overrides, and validation into an
//! [`Economy`]. Every problem is reported with the file, line and column, and how to fix it.
//!
//! This file is the loading pipeline (read, parse, apply `--set`, validate); the steps are
//! in `source/` (reading and mapping files), [`format`](mod@format) (the file's structures),
//! [`effective`] (the file as run, written back: a run's `scenario.toml`), `tables/` (an
//! economy given as CSV tables),
//! `toml_error.rs` (TOML errors as problems), [`overrides`] (`--set`), `validate/` (into an
//! economy), `chunked/` (large files, in parallel chunks), `free_memory.rs` (giving the
//! memory loading freed back to the system), [`sweep_spec`] (the `[sweep]` value lists) and
//! [`error`] (problems and their rendering).

pub mod chunked;
pub mod effective;
pub mod error;
pub mod format;
mod free_memory;
pub mod overrides;
mod source;
pub mod sweep_spec;
mod tables;
mod toml_error;
pub mod validate;

pub use error::{InputError, Location, Problem};
pub use format::{Origin, ScenarioFile};
pub use source::{read, read_source, sha256_file, sha256_hex, Source, MAX_FILE_BYTES};
pub use tables::files as table_files;
pub use validate::{valid_scenario_name, validate};

use crate::economy::Economy;
use toml_error::toml_problem;

/// The built-in default scenario: the essay's tupperware chain.
pub const TUPPERWARE: &str = include_str!("../../scenarios/tupperware.toml");
/// The file label used for the built-in scenario in messages.
pub const TUPPERWARE_LABEL: &str = "<built-in tupperware.toml>";

/// Parse TOML text into the format structures (syntax, types, unknown keys).
pub fn parse(label: &str, text: &str) -> Result<ScenarioFile, InputError> {
    toml::from_str::<ScenarioFile>(text).map_err(|e| {
        let problem = if is_blank(text) {
            Problem::at(
                0..0,
                if text.trim().is_empty() {
                    "the scenario file is empty"
                } else {
                    "the scenario file has only comments"
                },
                "a scenario needs a name, [goods.NAME] tables and [[firms]] tables; \
                 start from scenarios/tupperware.toml (README.md describes the format)",
            )
        } else {
            toml_problem(&e, text)
        };
        InputError::new(label, text, vec![problem])
    })
}

/// Whether TOML text holds nothing but whitespace and comments.
fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim_start();
        l.is_empty() || l.starts_with('#')
    })
}

/// Parse, apply `--set` overrides, and validate. Large files load in chunks, in parallel
/// ([`chunked`]); the result and the errors are those of [`load_whole`].
pub fn load_str(label: &str, text: &str, sets: &[String], seed: Option<u64>) -> Result<Economy, InputError> {
    load_text(label, text, &|_| {}, sets, seed)
}

/// [`load_str`] from a [`Source`], whose pages are given back as they are parsed.
pub fn load_source(label: &str, source: &Source, sets: &[String], seed: Option<u64>) -> Result<Economy, InputError> {
    load_text(label, source, &|r| source.release(r), sets, seed)
}

fn load_text(
    label: &str,
    text: &str,
    release: &(dyn Fn(std::ops::Range<usize>) + Sync),
    sets: &[String],
    seed: Option<u64>,
) -> Result<Economy, InputError> {
    if text.len() >= chunked::CHUNKED_FROM {
        if let Some(result) = chunked::load_releasing(label, text, sets, seed, chunked::CHUNK_BYTES, release) {
            free_memory::release_free_memory();
            return result;
        }
    }
    load_whole(label, text, sets, seed)
}

/// [`load_str`] through one parse of the whole document into [`ScenarioFile`].
pub fn load_whole(label: &str, text: &str, sets: &[String], seed: Option<u64>) -> Result<Economy, InputError> {
    let mut file = parse(label, text)?;
    if file.tables.is_some() {
        return tables::load(label, text, file, sets, seed);
    }
    apply_overrides(&mut file, label, text, sets)?;
    let economy = validate::validate(&file, text, seed).map_err(|p| InputError::new(label, text, p))?;
    // `sweep` reads the [sweep] table; every other command still checks it, so that a typo
    // in it is found by `validate` rather than when a sweep starts.
    let problems = validate::sweep_table(&file);
    if !problems.is_empty() {
        return Err(InputError::new(label, text, problems));
    }
    Ok(economy)
}

/// Apply `--set PATH=VALUE` arguments in order.
pub fn apply_overrides(file: &mut ScenarioFile, label: &str, text: &str, sets: &[String]) -> Result<(), InputError> {
    for s in sets {
        overrides::apply(file, s).map_err(|msg| {
            InputError::new(
                label,
                text,
                vec![Problem::new(
                    Location::Set(s.clone()),
                    msg,
                    "fix the --set argument; `pricegrad run --help` lists the paths",
                )],
            )
        })?;
    }
    Ok(())
}

/// Read a file (or the built-in scenario when `path` is None) and load it.
pub fn load(
    path: Option<&std::path::Path>,
    sets: &[String],
    seed: Option<u64>,
) -> Result<(Economy, String, Source), InputError> {
    let (label, source) = match path {
        Some(p) => (p.display().to_string(), read_source(p)?),
        None => (TUPPERWARE_LABEL.to_string(), Source::owned(TUPPERWARE.to_string())),
    };
    let economy = load_source(&label, &source, sets, seed)?;
    Ok((economy, label, source))
}
