//! Economies as tables: a scenario whose `[tables]` names a goods table, a firms table and an
//! inputs table (CSV files, one row per good, per firm, per input of a firm) instead of
//! `[goods]` and `[[firms]]`. The rows go through the same validation as a TOML file's
//! entries, a chunk of firms at a time (no table is held whole), so both forms of an economy
//! give the identical [`Economy`]. Problems name the table file, line and column.
//!
//! The parts: `columns.rs` names the tables' columns, `source.rs` opens a table as CSV
//! (`read.rs`) or Parquet (`parquet.rs`), `specs.rs` reads rows (goods into specs, firms
//! into the chunks of `firm_rows.rs`, which validation reads in place), `firm_reader.rs`
//! reads the firms table with the inputs table beside it, `place.rs` maps the validators'
//! spans to table cells. This file runs the steps: the goods (while the first chunks of
//! firms are read on the other core), then the firms, a chunk validated while the next is
//! read, then what needs all firms (`validate::finish`).

mod columns;
mod firm_reader;
mod firm_rows;
mod parquet;
mod place;
mod read;
mod source;
mod specs;

use self::firm_reader::FirmReader;
use self::firm_rows::{Columns, FirmRows, TableFirm};
use self::place::{Places, Table};
use self::source::Source;
use self::specs::Cells;
use super::error::{InputError, Location, Problem};
use super::format::*;
use super::overrides::{self, Target};
use super::validate::{self, Batch, GoodsPart, Head, HeadStart, ShapeCache};
use crate::economy::Economy;
use rayon::prelude::*;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
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

    // --- open the tables (one of firms or inputs that does not open is said after the goods) --
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
    let firms_file = tables.firms.get_ref();
    let inputs_file = name(&tables.inputs);
    let opened = Source::open(
        dir,
        firms_file,
        tables.firms.span(),
        Table::Firms,
        &columns::FIRMS,
        &columns::FIRMS_TEXT,
        &mut places,
    )
    .and_then(|firms| {
        let inputs = match &tables.inputs {
            Some(t) => Some(Source::open(
                dir,
                t.get_ref(),
                t.span(),
                Table::Inputs,
                &columns::INPUTS,
                &columns::INPUTS_TEXT,
                &mut places,
            )?),
            None => None,
        };
        Ok((firms, inputs))
    });
    let (mut reader, open_problems) = match opened {
        Ok((firms, inputs)) => {
            let at = Columns {
                places: &places,
                firms: firms.columns().to_vec(),
                inputs: inputs.as_ref().map_or_else(Vec::new, |t| t.columns().to_vec()),
            };
            let reader = FirmReader::new((firms, firms_file), (inputs, &inputs_file), at, firm_sets);
            (Some(reader), Vec::new())
        }
        Err(problems) => (None, problems),
    };

    // --- the goods, and the first chunks of firms meanwhile ----------------------------------
    // The goods are read and indexed on one core; the firm rows do not need them, so the
    // other core reads the first chunks of firms meanwhile (at most READ_AHEAD of them).
    let stop = AtomicBool::new(false);
    let mut goods_phase = || {
        let out = read_goods(&mut goods, goods_file, &places, &file, &mut good_sets);
        stop.store(true, Ordering::Relaxed);
        out
    };
    let read_ahead = |reader: &mut FirmReader| -> Result<(Vec<FirmRows>, bool), Problem> {
        reader.start()?;
        let mut chunks = Vec::new();
        loop {
            let mut rows = FirmRows::default();
            let more = reader.read_chunk(&mut rows)?;
            chunks.push(rows);
            if !more || stop.load(Ordering::Relaxed) || chunks.len() >= READ_AHEAD {
                return Ok((chunks, more));
            }
        }
    };
    let (goods_read, ahead) = match reader.as_mut() {
        Some(r) => {
            let (g, a) = rayon::join(goods_phase, || read_ahead(r));
            (g, Some(a))
        }
        None => (goods_phase(), None),
    };
    drop(goods);
    let (part, goods_problems, goods_set_problems) = goods_read.map_err(|p| error(vec![p]))?;
    set_problems.extend(goods_set_problems);
    let Some(head) = Head::assemble(HeadStart::new(&file), &file, text, seed, true, vec![part]) else {
        // a name repeats: read the names again to say which (a rare path, kept off the common one)
        drop(reader);
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

    // --- the firms: the chunks read ahead, then one chunk validated while the next is read ----
    let (Some(mut reader), Some(ahead)) = (reader, ahead) else {
        return Err(error(open_problems));
    };
    let (read_ahead, mut more) = ahead.map_err(|p| error(vec![p]))?;
    let at = reader.columns().clone();
    let ctx = head.firm_ctx(&file, text);
    // A firm's goods are looked up among a million names: the lookups of the firms a few
    // places ahead are fetched meanwhile.
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
    // The chunks read ahead go first, two validated while one more is read (so the reader,
    // the slower side for CSV, never waits, and the queue shrinks by one a step); then one is
    // validated while the next is read. What is queued when the firms table ends is
    // validated on both cores.
    let mut queue: VecDeque<FirmRows> = read_ahead.into();
    let mut batches: Vec<Batch> = Vec::new();
    let mut spare = FirmRows::default();
    while more {
        let take = if queue.len() > 1 { 2 } else { 1 };
        let chunks: Vec<FirmRows> = (0..take).filter_map(|_| queue.pop_front()).collect();
        let (done, next) = rayon::join(
            || chunks.iter().map(validate_chunk).collect::<Vec<_>>(),
            || reader.read_chunk(&mut spare),
        );
        batches.extend(done);
        more = next.map_err(|p| error(vec![p]))?;
        queue.push_back(std::mem::take(&mut spare));
        if let Some(buffer) = chunks.into_iter().next() {
            spare = buffer;
        }
    }
    drop(spare);
    batches.extend(queue.par_iter().map(validate_chunk).collect::<Vec<_>>());
    drop(queue);
    let (firm_problems, firm_set_problems) = reader.finish(&batches);
    let mut read_problems = goods_problems;
    read_problems.extend(firm_problems);
    set_problems.extend(firm_set_problems);
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

/// The goods table read (`--set goods.NAME...` applied, each row validated) into a part of
/// the goods, with the problems of its rows and those of the `--set`s. An error when the file
/// cannot be read on.
fn read_goods(
    goods: &mut Source,
    goods_file: &str,
    places: &Places,
    file: &ScenarioFile,
    good_sets: &mut [(&str, &str, bool)],
) -> Result<(GoodsPart, Vec<Problem>, Vec<Problem>), Problem> {
    let market_initial = HeadStart::new(file).market_initial;
    let mut part = GoodsPart::default();
    let mut cells = Cells {
        places,
        problems: Vec::new(),
        input_columns: Vec::new(),
        line_word: "line",
    };
    let mut set_problems = Vec::new();
    while let Some(row) = goods.next_row(goods_file)? {
        let Some((name, mut spec)) = cells.good(&row) else {
            cells.problems.push(Problem::at(
                row.span(places, 0),
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
        validate::validate_good(&mut part, name, &spec, market_initial);
    }
    Ok((part, cells.problems, set_problems))
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

/// Chunks of firms read while the goods are (about 3 MB each).
const READ_AHEAD: usize = 32;

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

/// The problem of a `--set` argument.
fn set_problem(arg: &str, msg: String) -> Problem {
    Problem::new(
        Location::Set(arg.to_string()),
        msg,
        "fix the --set argument; `pricegrad run --help` lists the paths",
    )
}
