//! Economies as tables: a scenario whose `[tables]` names a goods table, a firms table and an
//! inputs table (CSV files, one row per good, per firm, per input of a firm) instead of
//! `[goods]` and `[[firms]]`. The rows go through the same validation as a TOML file's
//! entries, a chunk of firms at a time (no table is held whole), so both forms of an economy
//! give the identical [`Economy`]. Problems name the table file, line and column.
//!
//! The parts: `columns.rs` names the tables' columns, `source.rs` opens a table as CSV
//! (`read.rs`) or Parquet (`parquet.rs`), `specs.rs` reads rows (goods into specs, firms
//! into the chunks of `firm_rows.rs`, which validation reads in place), `place.rs` maps the
//! validators' spans to table cells.

mod columns;
mod firm_rows;
mod parquet;
mod place;
mod read;
mod source;
mod specs;

use self::firm_rows::{Columns, FirmRows, InputRow, TableFirm};
use self::place::{Places, Table};
use self::source::Source;
use self::specs::Cells;
use super::error::{InputError, Location, Problem};
use super::format::*;
use super::overrides::{self, Target};
use super::validate::{self, Batch, GoodsPart, Head, HeadStart, ShapeCache};
use crate::economy::Economy;
use std::path::Path;
use toml::Spanned;

/// Load the economy of `file` (parsed from `text`, labelled `label`: the scenario's path, whose
/// folder the table paths are relative to) from its tables, with `sets` applied.
pub(super) fn load(
    label: &str,
    text: &str,
    mut file: ScenarioFile,
    sets: &[String],
    seed: Option<u64>,
) -> Result<Economy, InputError> {
    let error = |problems: Vec<Problem>| InputError::new(label, text, problems);
    let tables = file.tables.clone().expect("a [tables] scenario").into_inner();
    if !file.goods.is_empty() || !file.firms.is_empty() {
        let span = file.tables.as_ref().map(|t| t.span()).unwrap_or(0..0);
        return Err(error(vec![Problem::at(
            span,
            "the scenario gives its economy both in [tables] and in [goods] or [[firms]]",
            "give the goods and firms in one place: the tables, or the TOML tables",
        )]));
    }
    let dir = Path::new(label).parent().unwrap_or(Path::new(""));
    let name = |s: &Option<Spanned<String>>| s.as_ref().map_or(String::new(), |s| s.get_ref().clone());
    let mut places = Places::new(
        text.len(),
        [
            tables.goods.get_ref().clone(),
            tables.firms.get_ref().clone(),
            name(&tables.inputs),
        ],
    );

    // --- --set: the rest now, goods and firms as their rows are read --------------------------
    let mut set_problems = Vec::new();
    let (mut good_sets, mut firm_sets) = (Vec::new(), Vec::new());
    for s in sets {
        match overrides::target(s) {
            Target::Good(name) => good_sets.push((name, s.as_str(), false)),
            Target::Firm(name) => firm_sets.push((name, s.as_str(), false)),
            Target::Other => {
                if let Err(msg) = overrides::apply(&mut file, s) {
                    set_problems.push(set_problem(s, msg));
                }
            }
        }
    }

    // --- goods ---------------------------------------------------------------------------
    let goods_file = tables.goods.get_ref();
    let mut goods = Source::open(
        dir,
        goods_file,
        tables.goods.span(),
        Table::Goods,
        &columns::GOODS,
        &columns::GOODS_TEXT,
        &mut places,
    )
    .map_err(error)?;
    let start = HeadStart::new(&file);
    let mut part = GoodsPart::default();
    let mut cells = Cells {
        places: &places,
        problems: Vec::new(),
        input_columns: Vec::new(),
        line_word: "line",
    };
    while let Some(row) = goods.next_row(goods_file).map_err(|p| error(vec![p]))? {
        let Some((name, mut spec)) = cells.good(&row) else {
            cells.problems.push(Problem::at(
                spec_span(&row, &places),
                "a row of the goods table has no name",
                "every good has a name (letters, digits and _)",
            ));
            continue;
        };
        for (target, arg, hit) in good_sets.iter_mut() {
            if *target == name {
                *hit = true;
                if let Err(msg) = overrides::apply_good(spec.get_mut(), arg) {
                    set_problems.push(set_problem(arg, msg));
                }
            }
        }
        validate::validate_good(&mut part, name, &spec, start.market_initial);
    }
    drop(goods);
    let mut read_problems = std::mem::take(&mut cells.problems);
    let Some(head) = Head::assemble(start, &file, text, seed, true, vec![part]) else {
        // a name repeats: read the names again to say which (a rare path, kept off the common one)
        return Err(error(vec![repeated_good(dir, goods_file, &tables.goods, &mut places)]));
    };
    for (target, arg, hit) in &good_sets {
        if !hit {
            set_problems.push(set_problem(
                arg,
                overrides::no_good(target, arg, head.goods.name.iter()),
            ));
        }
    }

    // --- firms, each with its rows of the inputs table -------------------------------------
    let firms_file = tables.firms.get_ref();
    let mut firms = Source::open(
        dir,
        firms_file,
        tables.firms.span(),
        Table::Firms,
        &columns::FIRMS,
        &columns::FIRMS_TEXT,
        &mut places,
    )
    .map_err(error)?;
    let inputs_file = name(&tables.inputs);
    let mut inputs = match &tables.inputs {
        Some(t) => Some(
            Source::open(
                dir,
                t.get_ref(),
                t.span(),
                Table::Inputs,
                &columns::INPUTS,
                &columns::INPUTS_TEXT,
                &mut places,
            )
            .map_err(error)?,
        ),
        None => None,
    };
    let columns = (
        firms.columns().to_vec(),
        inputs.as_ref().map_or_else(Vec::new, |t| t.columns().to_vec()),
    );
    let at = Columns {
        places: &places,
        firms: &columns.0,
        inputs: &columns.1,
    };
    let mut cells = Cells {
        places: &places,
        problems: read_problems,
        input_columns: columns.1.clone(),
        line_word: source::line_word(&inputs_file),
    };
    let ctx = head.firm_ctx(&file, text);
    // The input row read ahead (one set of buffers, not a string per row).
    let mut ahead = Ahead::default();
    let mut next_input = |cells: &mut Cells, ahead: &mut Ahead| -> Result<bool, Problem> {
        let Some(reader) = inputs.as_mut() else {
            return Ok(false);
        };
        while let Some(row) = reader.next_row(&inputs_file)? {
            let param = cells.input_param(&row);
            match (row.get(columns::I_FIRM), row.get(columns::I_GOOD)) {
                (Some(firm), Some(good)) => {
                    ahead.set(row.line(), firm, good, param);
                    return Ok(true);
                }
                _ => cells.problems.push(Problem::at(
                    row.span(cells.places, columns::I_FIRM),
                    "a row of the inputs table lacks its firm or good",
                    "each row names a firm (as in the firms table) and one of its input goods",
                )),
            }
        }
        Ok(false)
    };
    let mut pending = next_input(&mut cells, &mut ahead).map_err(|p| error(vec![p]))?;
    let mut firm_count = 0u64;
    // Read a chunk of firms, with their inputs (and any --set applied).
    let mut read_chunk = |cells: &mut Cells, rows: &mut FirmRows| -> Result<bool, Problem> {
        rows.clear();
        while rows.len() < CHUNK_FIRMS {
            let Some(row) = firms.next_row(firms_file)? else {
                return Ok(false);
            };
            let Some(name) = row.get(columns::F::NAME) else {
                cells.problems.push(Problem::at(
                    row.span(cells.places, 0),
                    "a row of the firms table has no name",
                    "every firm has a name",
                ));
                continue;
            };
            firm_count += 1;
            let first = rows.inputs.len();
            while pending && ahead.firm == name {
                let good = rows.keep(&ahead.good);
                rows.inputs.push(InputRow {
                    line: ahead.line,
                    good,
                    param: ahead.param,
                });
                pending = next_input(cells, &mut ahead)?;
            }
            if !cells.firm(&row, rows, first) {
                rows.inputs.truncate(first);
                continue;
            }
            for (target, arg, hit) in firm_sets.iter_mut() {
                if *target == name && !*hit {
                    *hit = true;
                    let last = rows.len() - 1;
                    let mut spec = validate::to_spec(&TableFirm::new(rows, last, &at, &mut Vec::new()));
                    if let Err(msg) = overrides::apply_firm(&mut spec, arg) {
                        set_problems.push(set_problem(arg, msg));
                    }
                    rows.firms[last].set = Some(Box::new(spec));
                }
            }
        }
        Ok(true)
    };
    // Validate one chunk while the next is read. A firm's goods are looked up among a
    // million names: the lookups of the firms a few places ahead are fetched meanwhile.
    let validate_chunk = |rows: &FirmRows| {
        let (mut batch, mut cache) = (Batch::default(), ShapeCache::default());
        let mut params = Vec::new();
        for i in 0..rows.len() {
            if i + 32 < rows.len() {
                rows.goods_of(i + 32, |g| ctx.index.prefetch_slot(g));
            }
            if i + 16 < rows.len() {
                rows.goods_of(i + 16, |g| ctx.index.prefetch_entry(g));
            }
            match &rows.firms[i].set {
                Some(spec) => validate::validate_firm(&ctx, spec.as_ref(), &mut cache, &mut batch),
                None => {
                    let firm = TableFirm::new(rows, i, &at, &mut params);
                    validate::validate_firm(&ctx, &firm, &mut cache, &mut batch);
                }
            }
        }
        batch.shrink_to_fit();
        batch
    };
    let mut batches = Vec::new();
    let (mut reading, mut read) = (FirmRows::default(), FirmRows::default());
    let mut more = read_chunk(&mut cells, &mut read).map_err(|p| error(vec![p]))?;
    loop {
        std::mem::swap(&mut reading, &mut read);
        if !more {
            batches.push(validate_chunk(&reading));
            break;
        }
        let (batch, next) = rayon::join(|| validate_chunk(&reading), || read_chunk(&mut cells, &mut read));
        batches.push(batch);
        more = next.map_err(|p| error(vec![p]))?;
    }
    drop((reading, read));
    if pending {
        let (line, firm) = (ahead.line, ahead.firm);
        cells.problems.push(Problem::new(
            Location::Table {
                file: inputs_file.clone(),
                line,
                column: "firm".into(),
            },
            format!("the inputs of firm '{firm}' are not beside that firm's place in the firms table"),
            "list the inputs table's rows firm by firm, in the order of the firms table \
             (every firm in it, and each firm's rows together)",
        ));
    }
    if firm_count == 0 {
        cells.problems.push(Problem::new(
            Location::Table {
                file: firms_file.clone(),
                line: source::head_line(firms_file),
                column: String::new(),
            },
            "the firms table has no rows",
            "an economy needs at least one firm; add rows below the header",
        ));
    }
    for (target, arg, hit) in &firm_sets {
        if !hit {
            let names = batches.iter().flat_map(|b| (0..b.len()).map(move |j| b.group_name(j)));
            set_problems.push(set_problem(arg, overrides::no_firm(target, arg, names)));
        }
    }
    read_problems = cells.problems;
    if !set_problems.is_empty() {
        return Err(error(set_problems));
    }
    // the rows' many small allocations, freed, go back to the system before the economy is
    // built (as after a chunked load)
    super::free_memory::release_free_memory();
    let result = validate::finish(head, &file, text, batches);
    let mut problems = read_problems;
    let economy = match result {
        Ok(e) if problems.is_empty() => Some(e),
        Ok(_) => None,
        Err(p) => {
            problems.extend(p);
            None
        }
    };
    let problems = validate::sweep_table(&file)
        .into_iter()
        .chain(problems)
        .map(|mut p| {
            p.location = at_the_good(places.locate(p.location), &p.message, &inputs_file);
            p
        })
        .collect::<Vec<_>>();
    match economy {
        Some(e) if problems.is_empty() => Ok(e),
        _ => Err(error(problems)),
    }
}

/// The tables a scenario `text` (labelled `label`, the path its tables are relative to)
/// names: (table, path as written, path). None when it names none, or is too large to be a
/// table scenario (a file the chunked loader reads is never parsed whole), or does not parse.
pub fn files(label: &str, text: &str) -> Option<Vec<(&'static str, String, std::path::PathBuf)>> {
    if text.len() >= super::chunked::CHUNKED_FROM || !text.contains("tables") {
        return None;
    }
    let tables = super::parse(label, text).ok()?.tables?.into_inner();
    let dir = Path::new(label).parent().unwrap_or(Path::new(""));
    let mut out = vec![
        ("goods", tables.goods.into_inner()),
        ("firms", tables.firms.into_inner()),
    ];
    out.extend(tables.inputs.map(|i| ("inputs", i.into_inner())));
    Some(out.into_iter().map(|(t, f)| (t, f.clone(), dir.join(f))).collect())
}

/// The input row read ahead of the firm it belongs to: its line, firm, good and parameter.
#[derive(Default)]
struct Ahead {
    line: u64,
    firm: String,
    good: String,
    param: Option<f64>,
}

impl Ahead {
    fn set(&mut self, line: u64, firm: &str, good: &str, param: Option<f64>) {
        self.line = line;
        self.firm.clear();
        self.firm.push_str(firm);
        self.good.clear();
        self.good.push_str(good);
        self.param = param;
    }
}

/// Firms read (and validated) at a time.
const CHUNK_FIRMS: usize = 8192;

/// The problem of a goods table that names a good twice: read again to find where.
fn repeated_good(dir: &Path, file: &str, at: &Spanned<String>, places: &mut Places) -> Problem {
    let mut first: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    if let Ok(mut goods) = Source::open(
        dir,
        file,
        at.span(),
        Table::Goods,
        &columns::GOODS,
        &columns::GOODS_TEXT,
        places,
    ) {
        while let Ok(Some(row)) = goods.next_row(file) {
            if let Some(name) = row.get(0) {
                if let Some(line) = first.insert(name.to_string(), row.line()) {
                    return Problem::new(
                        Location::Table {
                            file: file.to_string(),
                            line: row.line(),
                            column: "name".into(),
                        },
                        format!(
                            "good '{name}' appears twice (also on {} {line})",
                            source::line_word(file)
                        ),
                        "name each good once",
                    );
                }
            }
        }
    }
    Problem::at(
        at.span(),
        "a good name repeats in the goods table",
        "name each good once",
    )
}

/// The validators place an unknown good of a production family at its parameter (in TOML,
/// the value of `{ good = value }`); in the inputs table the good has a cell of its own, the
/// `good` column of the same row, and that is where the problem is.
fn at_the_good(location: Location, message: &str, inputs_file: &str) -> Location {
    match location {
        Location::Table { file, line, column }
            if file == inputs_file && column == "param" && message.starts_with("unknown good '") =>
        {
            Location::Table {
                file,
                line,
                column: "good".into(),
            }
        }
        other => other,
    }
}

fn set_problem(arg: &str, msg: String) -> Problem {
    Problem::new(
        Location::Set(arg.to_string()),
        msg,
        "fix the --set argument; `pricegrad run --help` lists the paths",
    )
}

/// The span of a row's first cell.
fn spec_span(row: &source::Row, places: &Places) -> std::ops::Range<usize> {
    row.span(places, 0)
}
