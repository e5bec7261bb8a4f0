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
//! Scales keep quantities near 1 in every layer: a good's supply is split between K users on
//! average, so a firm's inputs are about 1/K each, and the scale K^returns (Cobb-Douglas, CES)
//! or its analogue (expressions) brings its output back to about 1.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::fmt::{self, Write as _};
use std::io::{self, Write};

use crate::numeric::random::{self, Purpose};

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

/// Fisher-Yates with the stream's own integers (independent of `rand`'s slice helpers).
fn shuffle(rng: &mut ChaCha8Rng, v: &mut [u32]) {
    for i in (1..v.len()).rev() {
        let j = rng.gen_range(0..=i);
        v.swap(i, j);
    }
}

/// Wire one layer: `inputs[f * k..(f + 1) * k]` = the goods (indices in the layer below) of
/// firm f, distinct, sorted. `m` goods have 2 or more users, the rest exactly one.
fn wire(rng: &mut ChaCha8Rng, w: usize, k: usize, m: usize, inputs: &mut Vec<u32>) {
    let e = w * k;
    inputs.clear();
    inputs.resize(e, 0);
    let mut perm: Vec<u32> = (0..w as u32).collect();
    shuffle(rng, &mut perm);
    // uses per good (by position in perm): the first m are split
    let mut deg = vec![1u32; w];
    if k > 1 {
        for d in deg.iter_mut().take(m) {
            *d = 2;
        }
        for _ in 0..w * (k - 1) - m {
            let mut j = rng.gen_range(0..m);
            while deg[j] as usize >= w {
                j = (j + 1) % m;
            }
            deg[j] += 1;
        }
    }
    // deal the uses round-robin: a good's uses are consecutive, so they go to distinct firms
    let mut slot = 0usize;
    for (j, &g) in perm.iter().enumerate() {
        for _ in 0..deg[j] {
            inputs[(slot % w) * k + slot / w] = g;
            slot += 1;
        }
    }
    debug_assert_eq!(slot, e);
    // randomise: swap the goods of two uses when both firms' inputs stay distinct
    if w > 1 {
        for _ in 0..2 * e {
            let a = rng.gen_range(0..e);
            let b = rng.gen_range(0..e);
            let (fa, fb) = (a / k, b / k);
            let (ga, gb) = (inputs[a], inputs[b]);
            if fa == fb
                || ga == gb
                || inputs[fa * k..(fa + 1) * k].contains(&gb)
                || inputs[fb * k..(fb + 1) * k].contains(&ga)
            {
                continue;
            }
            inputs.swap(a, b);
        }
    }
    for f in 0..w {
        inputs[f * k..(f + 1) * k].sort_unstable();
    }
}

/// `v` rounded to 6 significant digits, written as the shortest TOML/expression number.
fn num(v: f64) -> String {
    let r: f64 = format!("{v:.5e}").parse().unwrap_or(v);
    format!("{r:?}")
}

/// Uniform in [lo, hi).
fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.gen::<f64>()
}

/// Count bytes written.
struct Counting<'a> {
    inner: &'a mut dyn Write,
    bytes: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
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

/// Write the scenario of `plan` to `out` (buffer it: many small writes). Returns the bytes
/// written.
pub fn write(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut out = Counting { inner: out, bytes: 0 };
    let spec = &plan.spec;
    let (layers, w, k) = (spec.layers, spec.width, spec.inputs);
    let mut rng = random::stream(spec.seed, Purpose::Generate, 0);
    let share = spec.share();
    // --- header ------------------------------------------------------------------------------
    writeln!(out, "# Written by: {}", command_line(spec))?;
    writeln!(out, "#")?;
    writeln!(
        out,
        "# A random layered economy: layer 0 = {w} raw goods with endowments; layers 1 to {layers} = {w} goods"
    )?;
    writeln!(
        out,
        "# each, each good made by one firm from {k} distinct good{} of the layer below ({} production).",
        if k == 1 { "" } else { "s" },
        spec.family.name()
    )?;
    if plan.split_goods > 0 {
        writeln!(
            out,
            "# In every layer below the last, {} of the {w} goods are split between several users",
            plan.split_goods
        )?;
        writeln!(out, "# (--split-share {share}); every other good has exactly one user.")?;
    } else {
        writeln!(
            out,
            "# Every good below the last layer has exactly one user (parallel chains)."
        )?;
    }
    writeln!(
        out,
        "# The goods of layer {layers} are sold at fixed prices. Totals: {} goods ({w} fixed-price),",
        plan.goods
    )?;
    writeln!(out, "# {} firms, {} input edges.", plan.firms, plan.edges)?;
    writeln!(
        out,
        "# Good g<l>_<i> is good i of layer l; firm f<l>_<i> makes it. Check: pricegrad check FILE"
    )?;
    writeln!(out)?;
    writeln!(out, "name = \"{}\"", spec.name)?;
    writeln!(
        out,
        "description = \"Random layered economy: {layers} layers x {w} goods, {k} inputs per firm, split share {share}, {}, seed {}\"",
        spec.family.name(),
        spec.seed
    )?;
    writeln!(out)?;
    // --- goods -------------------------------------------------------------------------------
    writeln!(out, "[goods]")?;
    let mut line = String::with_capacity(256);
    for i in 0..w {
        line.clear();
        let _ = writeln!(line, "g0_{i} = {{ endowment = {} }}", num(uniform(&mut rng, 1.0, 2.0)));
        out.write_all(line.as_bytes())?;
    }
    for l in 1..layers {
        for i in 0..w {
            line.clear();
            let _ = writeln!(line, "g{l}_{i} = {{}}");
            out.write_all(line.as_bytes())?;
        }
    }
    for i in 0..w {
        line.clear();
        let _ = writeln!(
            line,
            "g{layers}_{i} = {{ price = {} }}",
            num(uniform(&mut rng, 0.5, 2.0))
        );
        out.write_all(line.as_bytes())?;
    }
    // --- firms, layer by layer -----------------------------------------------------------------
    let mut inputs: Vec<u32> = Vec::new();
    let mut weights = vec![0.0f64; k];
    let kf = k as f64;
    for l in 1..=layers {
        let mut rng = random::stream(spec.seed, Purpose::Generate, l as u64);
        wire(&mut rng, w, k, plan.split_goods, &mut inputs);
        writeln!(out)?;
        writeln!(out, "# layer {l}")?;
        for f in 0..w {
            let ins = &inputs[f * k..(f + 1) * k];
            line.clear();
            let _ = write!(
                line,
                "[[firms]]\nname = \"f{l}_{f}\"\noutput = \"g{l}_{f}\"\nproduction = "
            );
            let below = l - 1;
            match spec.family {
                Family::CobbDouglas | Family::Ces => {
                    for x in weights.iter_mut() {
                        *x = uniform(&mut rng, 0.5, 1.5);
                    }
                    let total: f64 = weights.iter().sum();
                    let scale = num(kf.powf(spec.returns));
                    let table = if spec.family == Family::CobbDouglas {
                        let _ = write!(line, "{{ cobb_douglas = {{ scale = {scale}, exponents = {{ ");
                        spec.returns / total
                    } else {
                        const RHO: [f64; 5] = [-2.0, -1.0, -0.5, 0.25, 0.5];
                        let rho = RHO[rng.gen_range(0..RHO.len())];
                        let _ = write!(
                            line,
                            "{{ ces = {{ scale = {scale}, rho = {rho:?}, returns = {}, weights = {{ ",
                            num(spec.returns)
                        );
                        1.0 / total
                    };
                    for (j, (&g, &x)) in ins.iter().zip(&weights).enumerate() {
                        let sep = if j == 0 { "" } else { ", " };
                        let _ = write!(line, "{sep}g{below}_{g} = {}", num(x * table));
                    }
                    line.push_str(" } } }\n");
                }
                Family::Power => {
                    let e = uniform(&mut rng, 0.5, spec.returns);
                    let _ = writeln!(
                        line,
                        "{{ power = {{ exponent = {}, input = \"g{below}_{}\" }} }}",
                        num(e),
                        ins[0]
                    );
                }
                Family::Expression => {
                    const EXPONENTS: [f64; 3] = [0.3, 0.5, 0.7];
                    let mut terms = String::new();
                    let mut level = 0.0;
                    for x in weights.iter_mut() {
                        *x = uniform(&mut rng, 0.5, 1.5);
                    }
                    let total: f64 = weights.iter().sum();
                    for (j, &g) in ins.iter().enumerate() {
                        let e = EXPONENTS[rng.gen_range(0..EXPONENTS.len())];
                        let wj: f64 = num(weights[j] / total).parse().unwrap_or(weights[j] / total);
                        level += wj * kf.powf(-e);
                        let sep = if j == 0 { "" } else { " + " };
                        if e == 0.5 {
                            let _ = write!(terms, "{sep}{wj:?}*sqrt(g{below}_{g})");
                        } else {
                            let _ = write!(terms, "{sep}{wj:?}*g{below}_{g}^{e:?}");
                        }
                    }
                    let _ = writeln!(line, "\"{}*({terms})\"", num(1.0 / level));
                }
            }
            out.write_all(line.as_bytes())?;
        }
    }
    // no [log] table: the defaults (every good up to 1,000, spread evenly beyond; every tick up
    // to 10,000 edges, else every 100th) suit every size
    out.flush()?;
    Ok(out.bytes)
}
