//! Helpers every area of the integration tests shares: the binary, the shipped essay chain,
//! loading a scenario text, and generated economies.

use assert_cmd::Command;
use pricegrad::economy::Economy;
use pricegrad::generate::{self, Family, Spec};
use pricegrad::scenario;
use std::path::PathBuf;

/// The essay's chain, `scenarios/tupperware.toml`.
pub const TUPPERWARE: &str = include_str!("../../scenarios/tupperware.toml");

/// The `pricegrad` binary, as a command to configure and run.
pub fn pricegrad() -> Command {
    Command::cargo_bin("pricegrad").unwrap()
}

/// The path of the `pricegrad` binary.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pricegrad")
}

/// The economy of a scenario text; panics with the rendered error if it does not validate.
pub fn load(text: &str) -> Economy {
    scenario::load_str("test.toml", text, &[], None).unwrap_or_else(|e| panic!("invalid scenario:\n{e}"))
}

/// The index of the good `name`.
pub fn good(e: &Economy, name: &str) -> usize {
    e.goods.index(name).unwrap_or_else(|| panic!("no good {name}"))
}

/// The text `pricegrad generate` writes for a layered economy (`inputs` inputs per firm).
pub fn generated_text(layers: usize, width: usize, inputs: usize, seed: u64, family: Family) -> String {
    let mut spec = Spec::new(layers, width, inputs);
    spec.seed = seed;
    spec.family = family;
    let plan = generate::plan(&spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    let mut out = Vec::new();
    generate::write(&plan, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The economy of [`generated_text`].
pub fn generated(layers: usize, width: usize, inputs: usize, seed: u64, family: Family) -> Economy {
    load(&generated_text(layers, width, inputs, seed, family))
}

/// |a - b| / |b|.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// The names of the shipped scenarios (the files in `scenarios/`, without `.toml`), sorted.
pub fn shipped() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".toml").map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The rows of a sweep's journal (`sweep-journal.csv`), without its header; complete lines only
/// (a killed writer may leave a torn last line).
pub fn journal_rows(dir: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("sweep-journal.csv")).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete.lines().skip(1).map(str::to_string).collect()
}

/// Run `pricegrad sweep FILE --out OUT EXTRA...`; (exit code, stdout, stderr).
pub fn sweep(file: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let output = pricegrad()
        .arg("sweep")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// [`sweep`], which must succeed; its stdout.
#[track_caller]
pub fn sweep_ok(file: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> String {
    let (code, stdout, stderr) = sweep(file, out, extra);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

/// `base` then `more`.
pub fn args<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(more).copied().collect()
}
