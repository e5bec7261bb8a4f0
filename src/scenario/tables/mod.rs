//! Economies as tables: a scenario whose `[tables]` names a goods table, a firms table and an
//! inputs table (CSV files, one row per good, per firm, per input of a firm) instead of
//! `[goods]` and `[[firms]]`. The rows become the same specs a TOML file gives and go through
//! the same validation, one at a time (no table is held whole), so both forms of an economy
//! give the identical [`Economy`]. Problems name the table file, line and column.
//!
//! The parts: `read.rs` reads a table, `specs.rs` knows the columns and makes rows into
//! specs, `place.rs` maps the validators' spans to table cells.

mod parquet;
mod place;
mod read;
mod source;
mod specs;

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
        &specs::GOODS,
        &specs::GOODS_TEXT,
        &mut places,
    )
    .map_err(error)?;
    let start = HeadStart::new(&file);
    let mut part = GoodsPart::default();
    let mut cells = Cells {
        places: &places,
        problems: Vec::new(),
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
        validate::validate_good(&mut part, &name, &spec, start.market_initial);
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
        &specs::FIRMS,
        &specs::FIRMS_TEXT,
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
                &specs::INPUTS,
                &specs::INPUTS_TEXT,
                &mut places,
            )
            .map_err(error)?,
        ),
        None => None,
    };
    let mut cells = Cells {
        places: &places,
        problems: read_problems,
    };
    let ctx = head.firm_ctx(&file, text);
    // the read input row ahead: (its line, good, param), its firm in `pending_firm` (one
    // buffer, not a string per row)
    type Pending = Option<(u64, (Spanned<String>, Option<Num>))>;
    let mut pending_firm = String::new();
    let mut next_input = |cells: &mut Cells, firm_of: &mut String| -> Result<Pending, Problem> {
        let Some(reader) = inputs.as_mut() else {
            return Ok(None);
        };
        while let Some(row) = reader.next_row(&inputs_file)? {
            match (row.get(specs::I_FIRM), cells.input(&row)) {
                (Some(firm), Some(input)) => {
                    firm_of.clear();
                    firm_of.push_str(firm);
                    return Ok(Some((row.line(), input)));
                }
                _ => cells.problems.push(Problem::at(
                    row.span(cells.places, specs::I_FIRM),
                    "a row of the inputs table lacks its firm or good",
                    "each row names a firm (as in the firms table) and one of its input goods",
                )),
            }
        }
        Ok(None)
    };
    let mut pending = next_input(&mut cells, &mut pending_firm).map_err(|p| error(vec![p]))?;
    let mut firm_count = 0u64;
    // Read a chunk of firms (with their inputs and --sets applied) into specs.
    let mut read_chunk = |cells: &mut Cells, specs: &mut Vec<FirmSpec>| -> Result<bool, Problem> {
        specs.clear();
        let mut its_inputs = Vec::new();
        while specs.len() < CHUNK_FIRMS {
            let Some(row) = firms.next_row(firms_file)? else {
                return Ok(false);
            };
            let Some(name) = cells.firm_name(&row) else {
                cells.problems.push(Problem::at(
                    row.span(cells.places, 0),
                    "a row of the firms table has no name",
                    "every firm has a name",
                ));
                continue;
            };
            firm_count += 1;
            its_inputs.clear();
            while pending.is_some() && pending_firm == name {
                let (_, input) = pending.take().expect("checked");
                its_inputs.push(input);
                pending = next_input(cells, &mut pending_firm)?;
            }
            let Some(mut spec) = cells.firm(&row, &its_inputs) else {
                continue;
            };
            for (target, arg, hit) in firm_sets.iter_mut() {
                if *target == name && !*hit {
                    *hit = true;
                    if let Err(msg) = overrides::apply_firm(&mut spec, arg) {
                        set_problems.push(set_problem(arg, msg));
                    }
                }
            }
            specs.push(spec);
        }
        Ok(true)
    };
    // Validate one chunk while the next is read (the two take about as long).
    let validate_chunk = |specs: &[FirmSpec]| {
        let (mut batch, mut cache) = (Batch::default(), ShapeCache::default());
        for spec in specs {
            validate::validate_firm(&ctx, spec, &mut cache, &mut batch);
        }
        batch.shrink_to_fit();
        batch
    };
    let mut batches = Vec::new();
    let (mut reading, mut read) = (Vec::with_capacity(CHUNK_FIRMS), Vec::with_capacity(CHUNK_FIRMS));
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
    if let Some((line, _)) = pending {
        let firm = pending_firm;
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
        &specs::GOODS,
        &specs::GOODS_TEXT,
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
