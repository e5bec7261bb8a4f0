//! The scenario argument of every function: a file path, or TOML text (a Python dict arrives
//! here already written as TOML text, `dict_toml.rs`), loaded exactly as the command line
//! loads a file: parsed, `--set` overrides applied, validated.

use pricegrad::economy::Economy;
use pricegrad::scenario::{self, InputError, Source};
use std::path::PathBuf;

/// Where a scenario comes from.
pub enum Input {
    /// A scenario file.
    Path(PathBuf),
    /// TOML text; `label` names it in messages (`<string>`, `<dict>`).
    Text { label: String, text: String },
}

/// A loaded scenario: the economy, the label that names it and its text.
pub struct Loaded {
    pub economy: Economy,
    pub label: String,
    pub source: Source,
}

impl Input {
    /// From the Python side's `(kind, value)`: kind "path" (value is the path) or a label
    /// such as "<string>" (value is TOML text).
    pub fn new(kind: &str, value: String) -> Input {
        match kind {
            "path" => Input::Path(PathBuf::from(value)),
            label => Input::Text {
                label: label.to_string(),
                text: value,
            },
        }
    }

    /// Parse, apply `sets` in order and validate, with `seed` in place of `run.seed`.
    pub fn load(&self, sets: &[String], seed: Option<u64>) -> Result<Loaded, InputError> {
        match self {
            Input::Path(p) => {
                let (economy, label, source) = scenario::load(Some(p), sets, seed)?;
                Ok(Loaded { economy, label, source })
            }
            Input::Text { label, text } => {
                let source = Source::owned(text.clone());
                let economy = scenario::load_source(label, &source, sets, seed)?;
                Ok(Loaded {
                    economy,
                    label: label.clone(),
                    source,
                })
            }
        }
    }

    /// SHA-256 of the scenario's bytes (of the file, streamed, as `pricegrad run` does).
    pub fn sha256(&self) -> String {
        match self {
            Input::Path(p) => scenario::sha256_file(p).unwrap_or_else(|e| format!("unreadable: {e}")),
            Input::Text { text, .. } => scenario::sha256_hex(text.as_bytes()),
        }
    }
}
