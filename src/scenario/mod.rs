//! Scenarios: the TOML format (version 1), `--set` overrides, and validation into an
//! [`Economy`](crate::economy::Economy). Every problem is reported with the file, line and
//! column, and how to fix it.

pub mod error;
pub mod format;
pub mod overrides;
pub mod validate;

pub use error::{InputError, Location, Problem};
pub use format::ScenarioFile;

use crate::economy::Economy;

/// The built-in default scenario: the essay's tupperware chain.
pub const TUPPERWARE: &str = include_str!("../../scenarios/tupperware.toml");
/// The file label used for the built-in scenario in messages.
pub const TUPPERWARE_LABEL: &str = "<built-in tupperware.toml>";

/// Largest scenario file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 512 << 20;

/// Read a scenario file from disk.
pub fn read(path: &std::path::Path) -> Result<String, InputError> {
    let label = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| {
        InputError::plain(
            &label,
            format!("cannot read the scenario file: {e}"),
            "check the path; scenario files end in .toml, e.g. scenarios/tupperware.toml",
        )
    })?;
    if meta.is_dir() {
        return Err(InputError::plain(
            &label,
            "this is a directory, not a scenario file",
            "give the path of a .toml file, e.g. scenarios/tupperware.toml",
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(InputError::plain(
            &label,
            format!(
                "the file is {} bytes, more than the {} bytes pricegrad reads",
                meta.len(),
                MAX_FILE_BYTES
            ),
            "use `count = N` for many identical firms, or split the economy",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        InputError::plain(
            &label,
            format!("cannot read the scenario file: {e}"),
            "check the file's permissions",
        )
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.into_bytes()[..offset]).into_owned();
        InputError::new(
            &label,
            &text,
            vec![Problem::at(
                offset..offset + 1,
                "the file is not UTF-8 text",
                "scenario files are TOML text; is this the right file?",
            )],
        )
    })
}

/// Parse TOML text into the format structures (syntax, types, unknown keys).
pub fn parse(label: &str, text: &str) -> Result<ScenarioFile, InputError> {
    toml::from_str::<ScenarioFile>(text).map_err(|e| InputError::new(label, text, vec![toml_problem(&e)]))
}

/// Parse, apply `--set` overrides, and validate.
pub fn load_str(label: &str, text: &str, sets: &[String], seed: Option<u64>) -> Result<Economy, InputError> {
    let mut file = parse(label, text)?;
    apply_overrides(&mut file, label, text, sets)?;
    validate::validate(&file, text, seed).map_err(|p| InputError::new(label, text, p))
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
) -> Result<(Economy, String, String), InputError> {
    let (label, text) = match path {
        Some(p) => (p.display().to_string(), read(p)?),
        None => (TUPPERWARE_LABEL.to_string(), TUPPERWARE.to_string()),
    };
    let economy = load_str(&label, &text, sets, seed)?;
    Ok((economy, label, text))
}

/// Turn a toml error into a located problem with a fix.
fn toml_problem(e: &toml::de::Error) -> Problem {
    let msg = e.message().trim().to_string();
    let span = e.span().unwrap_or(0..0);
    let help = if let Some(rest) = msg.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        format!(
            "{}unknown keys are errors so that a typo is never silently ignored; allowed here: {}",
            error::did_you_mean(field, expected.iter().copied()),
            expected.join(", ")
        )
    } else if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let field = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        format!(
            "{}production families are: {}",
            error::did_you_mean(field, expected.iter().copied()),
            expected.join(", ")
        )
    } else if msg.starts_with("missing field") {
        "add the missing key; see the scenario format in README.md".to_string()
    } else if msg.starts_with("invalid type") {
        "check the value's type: numbers are written without quotes (step = 0.5), names with quotes (output = \"ethylene\")".to_string()
    } else if msg.contains("duplicate key") {
        "each key, good and table may appear once; remove or rename the repeated one".to_string()
    } else {
        "fix the TOML syntax at this place (see https://toml.io for the format)".to_string()
    };
    Problem::at(span, msg, help)
}
