//! `pricegrad generate`: random layered economies, written as scenario files, for sweeps,
//! research and benchmarks.
//!
//! Layer 0 holds `width` raw goods with endowments. Each of the `layers` production layers
//! holds `width` goods, each made by one firm from `inputs` distinct goods of the layer below.
//! The goods of the last layer are sold at fixed prices. Every good below the last layer has at
//! least one user; a share of them (`split_share`) is used by several firms (their supply is
//! split), the others by exactly one. With `inputs = K` and as many firms as goods, a layer
//! has K uses per good on average, so the split goods carry the extra `W (K - 1)` uses.
//!
//! Wiring of one layer: draw which goods are split and how many users each has (at least 2,
//! at most `width`), lay the uses out good by good and deal them round-robin to the firms
//! (which makes every firm's inputs distinct), then randomise by degree-preserving swaps that
//! keep inputs distinct. Everything is O(width * inputs) time and memory per layer, and the
//! file is streamed, so a million firms take seconds and little memory. Every random number
//! comes from the ChaCha stream keyed by (seed, "generate", index): index 0 for endowments
//! and prices, index l for the wiring and technologies of layer l. The same arguments give
//! the same bytes.
//!
//! The files: `draw.rs` draws the economy (goods, wiring, technologies) and hands each good
//! and firm to a writer: `toml.rs` writes a scenario file, `tables.rs` the goods, firms and
//! inputs tables with a scenario naming them (`--format tables`), `parquet_tables.rs` the same
//! tables as Parquet files (`--tables-format parquet`).
//!
//! Scales keep quantities near 1 in every layer: a good's supply is split between K users on
//! average, so a firm's inputs are about 1/K each, and the scale K^returns (Cobb-Douglas, CES)
//! or its analogue (expressions) brings its output back to about 1.

mod draw;
mod parquet_tables;
mod tables;
mod toml;

pub use parquet_tables::write_parquet_tables;
pub use tables::write_tables;
pub use toml::write;

use std::fmt::{self, Write as _};

/// Largest number of firms `generate` writes (about 4 GB of text; the scenario reader stops at 4 GiB).
pub const MAX_FIRMS: u64 = 20_000_000;
/// Largest number of inputs per firm.
pub const MAX_INPUTS: usize = 64;

/// The production family of the generated firms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Cobb-Douglas, random exponents summing to `returns`.
    CobbDouglas,
    /// CES with random weights, rho from {-2, -1, -0.5, 0.25, 0.5}, returns `returns`.
    Ces,
    /// One input: scale * x^e, e random in [0.5, returns].
    Power,
    /// An expression: scale * (sum of w_i x_i^e_i), e_i from {0.3, 0.5 (sqrt), 0.7}.
    Expression,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::CobbDouglas => "cobb_douglas",
            Family::Ces => "ces",
            Family::Power => "power",
            Family::Expression => "expression",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Production layers (firms = layers * width).
    pub layers: usize,
    /// Goods (and firms) per layer.
    pub width: usize,
    /// Inputs per firm, distinct goods of the layer below.
    pub inputs: usize,
    /// Share of the goods below the last layer that several firms use; None = the default
    /// (0 with one input, 0.5 otherwise).
    pub split_share: Option<f64>,
    pub family: Family,
    pub seed: u64,
    /// Returns to scale of every firm, in (0, 0.99].
    pub returns: f64,
    /// The scenario name.
    pub name: String,
}

impl Spec {
    /// A spec with the defaults for everything but the shape.
    pub fn new(layers: usize, width: usize, inputs: usize) -> Spec {
        Spec {
            layers,
            width,
            inputs,
            split_share: None,
            family: Family::CobbDouglas,
            seed: 1,
            returns: 0.9,
            name: "generated".to_string(),
        }
    }

    /// The split share in effect.
    pub fn share(&self) -> f64 {
        self.split_share.unwrap_or(if self.inputs <= 1 { 0.0 } else { 0.5 })
    }
}

/// A bad request: what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateError {
    pub message: String,
    pub help: String,
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}\n  = help: {}", self.message, self.help)
    }
}

impl std::error::Error for GenerateError {}

fn bad(message: impl Into<String>, help: impl Into<String>) -> GenerateError {
    GenerateError {
        message: message.into(),
        help: help.into(),
    }
}

/// The shape of a generated economy, after checking the spec.
#[derive(Debug, Clone)]
pub struct Plan {
    pub spec: Spec,
    /// Goods per layer below the last one used by several firms.
    pub split_goods: usize,
    pub goods: u64,
    pub firms: u64,
    pub edges: u64,
}

/// Check a spec and work out the shape.
pub fn plan(spec: &Spec) -> Result<Plan, GenerateError> {
    let (l, w, k) = (spec.layers, spec.width, spec.inputs);
    if l == 0 {
        return Err(bad(
            "--layers must be at least 1",
            "e.g. --layers 3 (firms = layers x width)",
        ));
    }
    if w == 0 {
        return Err(bad(
            "--width must be at least 1",
            "e.g. --width 5 (goods and firms per layer)",
        ));
    }
    if k == 0 || k > MAX_INPUTS {
        return Err(bad(
            format!("--inputs must be between 1 and {MAX_INPUTS}, found {k}"),
            "e.g. --inputs 2 (each firm uses that many goods of the layer below)",
        ));
    }
    if k > w {
        return Err(bad(
            format!("--inputs {k} is more than --width {w}: a firm's inputs are distinct goods of the layer below"),
            format!("use --inputs {w} or fewer, or a wider economy"),
        ));
    }
    let firms = (l as u64).saturating_mul(w as u64);
    if firms > MAX_FIRMS {
        return Err(bad(
            format!("{l} layers x {w} goods is {firms} firms, more than the {MAX_FIRMS} generate writes"),
            "use fewer layers or a smaller width; a million firms make a file of about 100 MB",
        ));
    }
    if !(spec.returns > 0.0 && spec.returns <= 0.99) {
        return Err(bad(
            format!("--returns must be in (0, 0.99], found {}", spec.returns),
            "decreasing returns converge fastest, e.g. --returns 0.9",
        ));
    }
    if spec.family == Family::Power && k != 1 {
        return Err(bad(
            format!("the power family has one input, but --inputs is {k}"),
            "use --inputs 1 with --family power (parallel chains), or --family cobb_douglas, ces or expression",
        ));
    }
    if spec.family == Family::Power && spec.returns < 0.5 {
        return Err(bad(
            "with --family power, --returns is the largest exponent and must be at least 0.5",
            "e.g. --returns 0.9",
        ));
    }
    if !crate::scenario::valid_scenario_name(&spec.name) {
        return Err(bad(
            format!("scenario name {:?} cannot name an output folder", spec.name),
            "use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-', e.g. --name layered",
        ));
    }
    let s = spec.share();
    if !(0.0..=1.0).contains(&s) {
        return Err(bad(
            format!("--split-share must be between 0 and 1, found {s}"),
            "it is the share of goods used by several firms, e.g. --split-share 0.5",
        ));
    }
    let split_goods = if k == 1 {
        if s > 0.0 {
            return Err(bad(
                format!("--split-share {s} needs --inputs 2 or more"),
                "with one input per firm and as many firms as goods per layer, every good has exactly one user (parallel chains); use --inputs 2 or more for splits, or --split-share 0",
            ));
        }
        0
    } else {
        // the split goods carry w (k - 1) + m uses, at most w each (distinct users)
        let least = (w * (k - 1)).div_ceil(w - 1);
        if s == 0.0 {
            return Err(bad(
                format!(
                    "--split-share 0 is impossible with --inputs {k}: each layer has {k} uses per good on average, so some goods must have several users"
                ),
                format!(
                    "use a positive share (at least {:.3} here), or --inputs 1 for parallel chains",
                    least as f64 / w as f64
                ),
            ));
        }
        ((s * w as f64).round() as usize).clamp(least, w)
    };
    Ok(Plan {
        spec: spec.clone(),
        split_goods,
        goods: (l as u64 + 1) * w as u64,
        firms,
        edges: firms * k as u64,
    })
}

/// The command line that reproduces a plan (for the file's first comment).
pub fn command_line(spec: &Spec) -> String {
    let mut s = format!(
        "pricegrad generate --layers {} --width {} --inputs {} --split-share {} --family {} --seed {}",
        spec.layers,
        spec.width,
        spec.inputs,
        spec.share(),
        spec.family.name(),
        spec.seed
    );
    if spec.returns != 0.9 {
        let _ = write!(s, " --returns {}", spec.returns);
    }
    if spec.name != "generated" {
        let _ = write!(s, " --name {}", spec.name);
    }
    s
}
