//! The generated economy as Parquet tables (`generate --format tables --tables-format
//! parquet`): `goods.parquet`, `firms.parquet` and `inputs.parquet` with `scenario.toml` naming
//! them. The columns are the CSV tables' (README.md, Tables): names and texts Utf8, numbers
//! Float64 (null for an empty cell), each number the f64 its CSV text reads as, so both forms
//! load into the same economy.

use super::draw::{draw, Emit, GoodKind, Production};
use super::tables::write_scenario;
use super::Plan;
use crate::output::atomic::Staged;
use crate::output::columnar::{Layout, TableWriter};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

pub const GOODS: &str = "goods.parquet";
pub const FIRMS: &str = "firms.parquet";
pub const INPUTS: &str = "inputs.parquet";

#[derive(Serialize, Deserialize)]
struct GoodRow {
    name: String,
    price: Option<f64>,
    endowment: Option<f64>,
}

/// A firm with a production family.
#[derive(Serialize, Deserialize)]
struct FamilyRow {
    name: String,
    output: String,
    family: String,
    scale: Option<f64>,
    rho: Option<f64>,
    returns: Option<f64>,
    exponent: Option<f64>,
}

/// A firm with a production expression.
#[derive(Serialize, Deserialize)]
struct ExpressionRow {
    name: String,
    output: String,
    production: String,
}

#[derive(Serialize, Deserialize)]
struct InputRow {
    firm: String,
    good: String,
    param: Option<f64>,
}

type Writer = TableWriter<BufWriter<File>>;

/// Write the economy of `plan` as Parquet tables in `dir` (created if missing), each file
/// under a temporary name first and all renamed together. Returns the bytes written.
pub fn write_parquet_tables(plan: &Plan, dir: &Path) -> io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut stage = Staged::default();
    let mut open = |name: &str, layout: Layout| -> io::Result<Writer> {
        let dest = dir.join(name);
        let tmp = crate::output::atomic::temp_name(&dest);
        let file = crate::output::atomic::create_temp(&tmp)?;
        stage.adopt(tmp, dest);
        TableWriter::new(BufWriter::with_capacity(1 << 16, file), layout)
    };
    let family = matches!(
        plan.spec.family,
        super::Family::CobbDouglas | super::Family::Ces | super::Family::Power
    );
    let mut tables = Tables {
        goods: open(GOODS, Layout::of::<GoodRow>())?,
        firms: open(
            FIRMS,
            if family {
                Layout::of::<FamilyRow>()
            } else {
                Layout::of::<ExpressionRow>()
            },
        )?,
        inputs: open(INPUTS, Layout::of::<InputRow>())?,
    };
    draw(plan, &mut tables)?;
    let mut bytes = 0;
    for w in [tables.goods, tables.firms, tables.inputs] {
        let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        bytes += file.metadata()?.len();
    }
    bytes += write_scenario(plan, [GOODS, FIRMS, INPUTS], dir, &mut stage)?;
    stage.commit()?;
    Ok(bytes)
}

struct Tables {
    goods: Writer,
    firms: Writer,
    inputs: Writer,
}

/// The number a drawn text stands for (None for an empty one), as a CSV cell reads it.
fn number(text: &str) -> io::Result<Option<f64>> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| io::Error::other(format!("generated number '{text}' does not read back")))
}

impl Tables {
    fn family(&mut self, name: &str, output: &str, family: &str, numbers: [&str; 4]) -> io::Result<()> {
        self.firms.write(&FamilyRow {
            name: name.into(),
            output: output.into(),
            family: family.into(),
            scale: number(numbers[0])?,
            rho: number(numbers[1])?,
            returns: number(numbers[2])?,
            exponent: number(numbers[3])?,
        })
    }

    fn input(&mut self, firm: &str, good: &str, param: &str) -> io::Result<()> {
        self.inputs.write(&InputRow {
            firm: firm.into(),
            good: good.into(),
            param: number(param)?,
        })
    }
}

impl Emit for Tables {
    fn good(&mut self, name: &str, kind: GoodKind) -> io::Result<()> {
        let (price, endowment) = match kind {
            GoodKind::Endowment(e) => ("", e),
            GoodKind::Price(p) => (p, ""),
            GoodKind::Made => ("", ""),
        };
        self.goods.write(&GoodRow {
            name: name.into(),
            price: number(price)?,
            endowment: number(endowment)?,
        })
    }

    fn layer(&mut self, _l: usize) -> io::Result<()> {
        Ok(())
    }

    fn firm(&mut self, name: &str, output: &str, production: &Production) -> io::Result<()> {
        match production {
            Production::CobbDouglas { scale, inputs } => {
                for (good, param) in inputs.iter() {
                    self.input(name, good, param)?;
                }
                self.family(name, output, "cobb_douglas", [scale, "", "", ""])
            }
            Production::Ces {
                scale,
                rho,
                returns,
                inputs,
            } => {
                for (good, param) in inputs.iter() {
                    self.input(name, good, param)?;
                }
                self.family(name, output, "ces", [scale, rho, returns, ""])
            }
            Production::Power { exponent, input } => {
                self.input(name, input, "")?;
                self.family(name, output, "power", ["", "", "", exponent])
            }
            Production::Expression(text) => self.firms.write(&ExpressionRow {
                name: name.into(),
                output: output.into(),
                production: text.to_string(),
            }),
        }
    }
}
