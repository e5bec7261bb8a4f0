//! The generated economy as tables (`generate --format tables`): `goods.csv`, `firms.csv` and
//! `inputs.csv` in a folder, with `scenario.toml` naming them (README.md, Tables). Loaded, they
//! give the same economy as the TOML form.

use super::draw::{draw, Emit, GoodKind, Production};
use super::toml::header;
use super::Plan;
use crate::output::atomic::Staged;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// The file names a table scenario uses.
pub const SCENARIO: &str = "scenario.toml";
pub const GOODS: &str = "goods.csv";
pub const FIRMS: &str = "firms.csv";
pub const INPUTS: &str = "inputs.csv";

/// Write the economy of `plan` as tables in `dir` (created if missing), each file under a
/// temporary name first and all renamed together. Returns the bytes written.
pub fn write_tables(plan: &Plan, dir: &Path) -> io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut stage = Staged::default();
    let mut open = |name: &str| -> io::Result<csv::Writer<BufWriter<File>>> {
        let dest = dir.join(name);
        let tmp = crate::output::atomic::temp_name(&dest);
        let file = crate::output::atomic::create_temp(&tmp)?;
        stage.adopt(tmp, dest);
        Ok(csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file)))
    };
    let mut tables = Tables {
        goods: open(GOODS)?,
        firms: open(FIRMS)?,
        inputs: open(INPUTS)?,
    };
    tables.goods.write_record(["name", "price", "endowment"])?;
    let family = matches!(
        plan.spec.family,
        super::Family::CobbDouglas | super::Family::Ces | super::Family::Power
    );
    if family {
        tables
            .firms
            .write_record(["name", "output", "family", "scale", "rho", "returns", "exponent"])?;
    } else {
        tables.firms.write_record(["name", "output", "production"])?;
    }
    tables.inputs.write_record(["firm", "good", "param"])?;
    draw(plan, &mut tables)?;
    let mut bytes = 0;
    for w in [tables.goods, tables.firms, tables.inputs] {
        let file = w
            .into_inner()
            .map_err(|e| e.into_error())?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.sync_all()?;
        bytes += file.metadata()?.len();
    }
    bytes += write_scenario(plan, [GOODS, FIRMS, INPUTS], dir, &mut stage)?;
    stage.commit()?;
    Ok(bytes)
}

/// `scenario.toml` of a table economy: `generate`'s header and a `[tables]` naming the goods,
/// firms and inputs files (CSV or Parquet), staged in `dir`; returns its size.
pub(super) fn write_scenario(
    plan: &Plan,
    [goods, firms, inputs]: [&str; 3],
    dir: &Path,
    stage: &mut Staged,
) -> io::Result<u64> {
    let mut text = Vec::new();
    header(plan, &mut text)?;
    writeln!(
        text,
        "# The goods, firms and inputs are tables in this folder (README.md, Tables).\n\
         [tables]\ngoods = \"{goods}\"\nfirms = \"{firms}\"\ninputs = \"{inputs}\""
    )?;
    stage.write(&dir.join(SCENARIO), &text)?;
    Ok(text.len() as u64)
}

struct Tables {
    goods: csv::Writer<BufWriter<File>>,
    firms: csv::Writer<BufWriter<File>>,
    inputs: csv::Writer<BufWriter<File>>,
}

impl Emit for Tables {
    fn good(&mut self, name: &str, kind: GoodKind) -> io::Result<()> {
        let (price, endowment) = match kind {
            GoodKind::Endowment(e) => ("", e),
            GoodKind::Price(p) => (p, ""),
            GoodKind::Made => ("", ""),
        };
        Ok(self.goods.write_record([name, price, endowment])?)
    }

    fn layer(&mut self, _l: usize) -> io::Result<()> {
        Ok(())
    }

    fn firm(&mut self, name: &str, output: &str, production: &Production) -> io::Result<()> {
        let mut inputs = |inputs: &[(String, String)]| -> io::Result<()> {
            for (good, param) in inputs {
                self.inputs.write_record([name, good, param])?;
            }
            Ok(())
        };
        match production {
            Production::CobbDouglas { scale, inputs: i } => {
                inputs(i)?;
                self.firms
                    .write_record([name, output, "cobb_douglas", scale, "", "", ""])?;
            }
            Production::Ces {
                scale,
                rho,
                returns,
                inputs: i,
            } => {
                inputs(i)?;
                self.firms
                    .write_record([name, output, "ces", scale, rho, returns, ""])?;
            }
            Production::Power { exponent, input } => {
                self.inputs.write_record([name, input, ""])?;
                self.firms.write_record([name, output, "power", "", "", "", exponent])?;
            }
            Production::Expression(text) => self.firms.write_record([name, output, text])?,
        }
        Ok(())
    }
}
