//! The generated economy as a scenario file (TOML), streamed: a header that says how it was
//! made, `[goods]` one line per good, `[[firms]]` one entry per firm.

use super::draw::{draw, Emit, GoodKind, Production};
use super::{command_line, Plan};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Write the scenario of `plan` to `out` (buffer it: many small writes). Returns the bytes
/// written.
pub fn write(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut out = Counting { inner: out, bytes: 0 };
    header(plan, &mut out)?;
    writeln!(out, "[goods]")?;
    let mut toml = Toml {
        out: &mut out,
        line: String::with_capacity(256),
    };
    draw(plan, &mut toml)?;
    // no [log] table: the defaults (every good up to 1,000, spread evenly beyond; every tick up
    // to 10,000 edges, else every 100th) suit every size
    out.flush()?;
    Ok(out.bytes)
}

/// The comment that says how the economy was made, then its name and description.
pub(super) fn header(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let spec = &plan.spec;
    let (layers, w, k) = (spec.layers, spec.width, spec.inputs);
    let share = spec.share();
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
    Ok(())
}

struct Toml<'a> {
    out: &'a mut dyn Write,
    line: String,
}

impl Emit for Toml<'_> {
    fn good(&mut self, name: &str, kind: GoodKind) -> io::Result<()> {
        self.line.clear();
        let _ = match kind {
            GoodKind::Endowment(e) => writeln!(self.line, "{name} = {{ endowment = {e} }}"),
            GoodKind::Price(p) => writeln!(self.line, "{name} = {{ price = {p} }}"),
            GoodKind::Made => writeln!(self.line, "{name} = {{}}"),
        };
        self.out.write_all(self.line.as_bytes())
    }

    fn layer(&mut self, l: usize) -> io::Result<()> {
        writeln!(self.out)?;
        writeln!(self.out, "# layer {l}")
    }

    fn firm(&mut self, name: &str, output: &str, production: &Production) -> io::Result<()> {
        let line = &mut self.line;
        line.clear();
        let _ = write!(
            line,
            "[[firms]]\nname = \"{name}\"\noutput = \"{output}\"\nproduction = "
        );
        let entries = |line: &mut String, inputs: &[(String, String)]| {
            for (j, (g, x)) in inputs.iter().enumerate() {
                let sep = if j == 0 { "" } else { ", " };
                let _ = write!(line, "{sep}{g} = {x}");
            }
            line.push_str(" } } }\n");
        };
        match production {
            Production::CobbDouglas { scale, inputs } => {
                let _ = write!(line, "{{ cobb_douglas = {{ scale = {scale}, exponents = {{ ");
                entries(line, inputs);
            }
            Production::Ces {
                scale,
                rho,
                returns,
                inputs,
            } => {
                let _ = write!(
                    line,
                    "{{ ces = {{ scale = {scale}, rho = {rho}, returns = {returns}, weights = {{ "
                );
                entries(line, inputs);
            }
            Production::Power { exponent, input } => {
                let _ = writeln!(line, "{{ power = {{ exponent = {exponent}, input = \"{input}\" }} }}");
            }
            Production::Expression(text) => {
                let _ = writeln!(line, "\"{text}\"");
            }
        }
        self.out.write_all(line.as_bytes())
    }
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
