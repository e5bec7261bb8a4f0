//! `pricegrad generate`: write a random layered economy as a scenario file.
use clap::{Args, ValueEnum};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{EXIT_BAD_INPUT, EXIT_FAIL, EXIT_PASS};
use crate::generate::{self, Family, Spec};

const AFTER_HELP: &str = "\
Layer 0 holds WIDTH raw goods with endowments; each of the LAYERS production layers holds
WIDTH goods, each made by one firm from INPUTS distinct goods of the layer below; the last
layer's goods are sold at fixed prices. Every good has a source and every good below the last
layer a user. A share of those goods (--split-share) is used by several firms (the supply is
split), the rest by exactly one; with INPUTS = K there are K uses per good on average, so the
split goods carry the extra uses. Scales keep quantities near 1 in every layer, so the default
market and agent settings converge.

The same arguments give the same file, byte for byte. The output is streamed: a million firms
(--layers 10 --width 100000) take seconds and little memory.

Examples:
  pricegrad generate --layers 3 --width 5 --inputs 2 --out small.toml
  pricegrad check small.toml
  pricegrad generate --layers 4 --width 50 --inputs 3 --family ces --seed 7 > ces.toml
  pricegrad generate --layers 20 --width 10 --inputs 1 --family power --out chains.toml
  pricegrad generate --layers 10 --width 100000 --inputs 3 --out million.toml
  pricegrad generate --layers 10 --width 100000 --inputs 3 --format tables --tables-format parquet --out million/

Exit codes: 0 written, 1 could not write, 2 bad arguments.";

/// Production family of the generated firms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    /// Cobb-Douglas, random exponents summing to --returns (decreasing returns).
    #[value(name = "cobb_douglas", alias = "cobb-douglas")]
    CobbDouglas,
    /// CES, random weights, rho drawn from {-2, -1, -0.5, 0.25, 0.5}, returns --returns.
    Ces,
    /// One input (needs --inputs 1): x^e with e drawn from [0.5, --returns].
    Power,
    /// An expression: a weighted sum of x^0.3, sqrt(x), x^0.7 terms.
    Expression,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct GenerateArgs {
    /// Production layers (firms = LAYERS x WIDTH).
    #[arg(long, value_name = "L")]
    pub layers: usize,
    /// Goods (and firms) per layer.
    #[arg(long, value_name = "W")]
    pub width: usize,
    /// Inputs per firm: distinct goods of the layer below.
    #[arg(long, value_name = "K")]
    pub inputs: usize,
    /// Share of goods (below the last layer) used by several firms, in [0, 1]
    /// [default: 0 with --inputs 1, else 0.5].
    #[arg(long, value_name = "S")]
    pub split_share: Option<f64>,
    /// Production family.
    #[arg(long, value_enum, default_value = "cobb_douglas", value_name = "F")]
    pub family: FamilyArg,
    /// Random seed: the same seed gives the same file.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub seed: u64,
    /// Returns to scale of every firm (sum of Cobb-Douglas exponents), in (0, 0.99].
    #[arg(long, default_value_t = 0.9, value_name = "R")]
    pub returns: f64,
    /// Scenario name (the output folder of `pricegrad run`).
    #[arg(long, default_value = "generated")]
    pub name: String,
    /// Write the scenario to FILE (under a temporary name, renamed when complete) instead of
    /// standard output. With --format tables: the folder for the tables.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// `toml`: one scenario file. `tables`: goods.csv, firms.csv and inputs.csv with a
    /// scenario.toml naming them, in the folder --out names (README.md, Tables).
    #[arg(long, value_enum, default_value = "toml")]
    pub format: FormatArg,
    /// With --format tables: `csv` writes goods.csv, firms.csv, inputs.csv; `parquet` writes
    /// goods.parquet, firms.parquet, inputs.parquet (same columns; half the bytes of the CSV
    /// files, and read faster).
    #[arg(long, value_enum, value_name = "T")]
    pub tables_format: Option<TablesFormatArg>,
}

/// The file format of `generate --format tables`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TablesFormatArg {
    Csv,
    Parquet,
}

/// How `generate` writes the economy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Toml,
    Tables,
}

pub fn run(args: &GenerateArgs) -> u8 {
    let spec = Spec {
        layers: args.layers,
        width: args.width,
        inputs: args.inputs,
        split_share: args.split_share,
        family: match args.family {
            FamilyArg::CobbDouglas => Family::CobbDouglas,
            FamilyArg::Ces => Family::Ces,
            FamilyArg::Power => Family::Power,
            FamilyArg::Expression => Family::Expression,
        },
        seed: args.seed,
        returns: args.returns,
        name: args.name.clone(),
    };
    let plan = match generate::plan(&spec) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_BAD_INPUT;
        }
    };
    if args.tables_format.is_some() && args.format != FormatArg::Tables {
        eprintln!("error: --tables-format chooses the files of --format tables");
        eprintln!("  = help: add --format tables --out DIR, or leave out --tables-format");
        return EXIT_BAD_INPUT;
    }
    if args.format == FormatArg::Tables {
        let Some(dir) = &args.out else {
            eprintln!("error: --format tables writes a folder of files, not standard output");
            eprintln!("  = help: name the folder with --out DIR, e.g. --format tables --out million/");
            return EXIT_BAD_INPUT;
        };
        let parquet = args.tables_format == Some(TablesFormatArg::Parquet);
        let (written, ext) = if parquet {
            (generate::write_parquet_tables(&plan, dir), "parquet")
        } else {
            (generate::write_tables(&plan, dir), "csv")
        };
        return match written {
            Ok(bytes) => {
                println!(
                    "wrote {}/{{scenario.toml, goods.{ext}, firms.{ext}, inputs.{ext}}}: {} goods, {} firms, {} input edges ({} bytes); run: pricegrad run {}",
                    dir.display(),
                    plan.goods,
                    plan.firms,
                    plan.edges,
                    bytes,
                    dir.join("scenario.toml").display()
                );
                EXIT_PASS
            }
            Err(e) => {
                eprintln!("error: cannot write the tables in {}: {e}", dir.display());
                eprintln!(
                    "  = help: {} (no table was written; existing files are unchanged)",
                    crate::output::atomic::io_help(&e)
                );
                EXIT_FAIL
            }
        };
    }
    match &args.out {
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
            match generate::write(&plan, &mut out).and_then(|n| out.flush().map(|_| n)) {
                Ok(_) => EXIT_PASS,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_PASS,
                Err(e) => {
                    eprintln!("error: cannot write to standard output: {e}");
                    EXIT_FAIL
                }
            }
        }
        Some(path) => match write_file(path, &plan) {
            Ok(bytes) => {
                println!(
                    "wrote {}: {} goods, {} firms, {} input edges, {} split goods per layer ({} bytes)",
                    path.display(),
                    plan.goods,
                    plan.firms,
                    plan.edges,
                    plan.split_goods,
                    bytes
                );
                EXIT_PASS
            }
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                eprintln!(
                    "  = help: {} (nothing was written; an existing file is unchanged)",
                    crate::output::atomic::io_help(&e).replace("--out DIR", "--out FILE")
                );
                EXIT_FAIL
            }
        },
    }
}

/// Stream the scenario into a temporary file beside `path`, then rename it into place.
fn write_file(path: &Path, plan: &generate::Plan) -> io::Result<u64> {
    let tmp = crate::output::atomic::temp_name(path);
    let result = (|| {
        let mut out = BufWriter::with_capacity(1 << 20, crate::output::atomic::create_temp(&tmp)?);
        let bytes = generate::write(plan, &mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
