//! `sweep.csv` and `sweep-journal.csv`: one row per run of a sweep (src/sweep/). The
//! columns between `replicate` and `seed` are the swept parameters, named by their `--set`
//! paths; `wall_seconds` is last, in the journal always and in `sweep.csv` unless the sweep ran
//! with `--no-timing`.

use super::{columns, io_error, opt, writer};
use crate::output::columnar::{Kind, Layout, TableWriter};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::ops::Range;

/// How a run of a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Converged,
    Diverged,
    MaxTicks,
    /// Noisy firms: the prices became stationary; `max_rel_error` compares the mean prices.
    Stationary,
}

impl Outcome {
    /// The outcome a run's report names (`Report::outcome`), if a sweep row records it (an
    /// interrupted run has none).
    pub fn of_report(outcome: &str) -> Option<Outcome> {
        match outcome {
            "converged" => Some(Outcome::Converged),
            "diverged" => Some(Outcome::Diverged),
            "max_ticks" => Some(Outcome::MaxTicks),
            "stationary" => Some(Outcome::Stationary),
            _ => None,
        }
    }
}

/// One row of `sweep.csv` (and of `sweep-journal.csv`): one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    pub point: u64,
    pub replicate: u64,
    /// The values of the swept parameters, as written in the file, in the order of the
    /// parameter columns (their names are the header's, not this field's: a reader fills it
    /// from those columns, see [`SweepRow::read`]).
    #[serde(default)]
    pub params: Vec<String>,
    pub seed: u64,
    pub outcome: Outcome,
    /// Ticks run (to convergence, divergence, or max_ticks).
    pub ticks: u64,
    /// The worst final relative error of a price against its gradient (backprop adjoint,
    /// reference equilibrium, finite differences of V); empty for a diverged run.
    #[serde(serialize_with = "opt")]
    pub max_rel_error: Option<f64>,
    /// Max relative excess demand at the last measured tick.
    #[serde(serialize_with = "opt")]
    pub max_rel_excess: Option<f64>,
    /// Mean over measured ticks of the cosine between the price step and -grad Phi.
    #[serde(serialize_with = "opt")]
    pub mean_cosine: Option<f64>,
    /// The run's wall-clock time. None is no column: rows of a file with this column have a
    /// value ([`fn@write`] leaves it out of every row of a file without it).
    #[serde(serialize_with = "opt", skip_serializing_if = "Option::is_none")]
    pub wall_seconds: Option<f64>,
}

/// The header of a sweep file over the parameters `params` (their `--set` paths): the
/// parameter columns in place of `params`, and `wall_seconds` only when `timing`.
pub fn header(params: &[String], timing: bool) -> Vec<&str> {
    let mut h = Vec::with_capacity(columns::<SweepRow>().len() + params.len());
    for &c in columns::<SweepRow>() {
        match c {
            "params" => h.extend(params.iter().map(String::as_str)),
            "wall_seconds" if !timing => {}
            c => h.push(c),
        }
    }
    h
}

/// The parameter columns of a sweep file's header: those between `replicate` and `seed`. None
/// when the header does not start with `point,replicate` or has no `seed` column after them.
pub fn param_columns(header: &csv::StringRecord) -> Option<Range<usize>> {
    if header.get(0) != Some("point") || header.get(1) != Some("replicate") {
        return None;
    }
    let seed = header.iter().position(|h| h == "seed")?;
    Some(2..seed.max(2))
}

impl SweepRow {
    /// The row in `record`, a line of a sweep file with this `header`, whose parameter
    /// columns are `params` ([`param_columns`]).
    pub fn read(record: &csv::StringRecord, header: &csv::StringRecord, params: Range<usize>) -> csv::Result<SweepRow> {
        let mut row: SweepRow = record.deserialize(Some(header))?;
        row.params = params.filter_map(|i| record.get(i)).map(str::to_string).collect();
        Ok(row)
    }

    /// The row as a line of `sweep-journal.csv`, with its line end (appended with one write, so
    /// that a crash leaves whole lines and at most one torn last line).
    pub fn journal_line(&self) -> io::Result<Vec<u8>> {
        let mut w = writer(Vec::with_capacity(160));
        w.serialize(self).map_err(io_error)?;
        w.into_inner().map_err(|e| e.into_error())
    }
}

/// Write a sweep file into `out`: the header ([`header`]) and the rows, with their wall-clock
/// times when `timing`.
pub fn write(out: impl Write, params: &[String], rows: &[SweepRow], timing: bool) -> io::Result<()> {
    let mut w = writer(out);
    w.write_record(header(params, timing)).map_err(io_error)?;
    for r in rows {
        let written = if timing {
            w.serialize(r)
        } else {
            w.serialize(SweepRow {
                wall_seconds: None,
                ..r.clone()
            })
        };
        written.map_err(io_error)?;
    }
    w.flush()
}

/// The columns of `sweep.parquet` over the parameters `params` holding `rows`: those of
/// [`header`], a parameter column typed by its values (Int64 when every value is an integer,
/// Float64 when every value is a finite number, Utf8 otherwise, e.g. rule names).
pub fn layout(params: &[String], rows: &[SweepRow], timing: bool) -> Layout {
    let columns: Vec<(String, Kind)> = params
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let values = || rows.iter().map(move |r| r.params.get(i).map_or("", String::as_str));
            let kind = if values().all(|v| v.parse::<i64>().is_ok()) {
                Kind::Int64
            } else if values().all(|v| v.parse::<f64>().is_ok_and(f64::is_finite)) {
                Kind::Float64
            } else {
                Kind::Utf8
            };
            (name.clone(), if rows.is_empty() { Kind::Utf8 } else { kind })
        })
        .collect();
    let layout = Layout::of::<SweepRow>().expand("params", &columns);
    if timing {
        layout
    } else {
        layout.without("wall_seconds")
    }
}

/// Write `sweep.parquet` into `out`: the rows of [`fn@write`]'s `sweep.csv`, in the columns of
/// [`layout`].
pub fn write_parquet(out: impl Write + Send, params: &[String], rows: &[SweepRow], timing: bool) -> io::Result<()> {
    let mut w = TableWriter::new(out, layout(params, rows, timing))?;
    for r in rows {
        if timing {
            w.write(r)?;
        } else {
            w.write(&SweepRow {
                wall_seconds: None,
                ..r.clone()
            })?;
        }
    }
    w.finish().map(drop)
}

/// The lines of a sweep file pricegrad wrote (`bytes` of whole lines), in order: the line
/// number, the offset just after the line, and its fields (or why they are not text).
///
/// One line is one row: no field of these files is quoted (parameter paths and values hold no
/// comma, quote or line break), and a quote in a damaged line must not join the lines after it
/// to it (a journal is recovered line by line).
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = (u64, u64, Result<csv::StringRecord, String>)> + '_ {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .quoting(false)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    std::iter::from_fn(move || {
        let read = reader.read_byte_record(&mut record);
        let line = record.position().map_or(0, |p| p.line());
        let end = reader.position().byte();
        match read {
            Ok(false) => None,
            Ok(true) => Some((
                line,
                end,
                csv::StringRecord::from_byte_record(record.clone()).map_err(|e| e.utf8_error().to_string()),
            )),
            Err(e) => Some((line, end, Err(e.to_string()))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(timing: bool) -> SweepRow {
        SweepRow {
            point: 3,
            replicate: 1,
            params: vec!["0.5".into(), "gradient".into()],
            seed: 99,
            outcome: Outcome::MaxTicks,
            ticks: 20000,
            max_rel_error: Some(1.5e-7),
            max_rel_excess: None,
            mean_cosine: Some(0.25),
            wall_seconds: timing.then_some(0.01),
        }
    }

    #[test]
    fn rows_round_trip() {
        let params = ["a".to_string(), "b".to_string()];
        for timing in [true, false] {
            let mut out = Vec::new();
            write(&mut out, &params, &[row(true)], timing).unwrap();
            let text = String::from_utf8(out).unwrap();
            let wall = if timing { ",0.01" } else { "" };
            assert_eq!(
                text.lines().nth(1).unwrap(),
                format!("3,1,0.5,gradient,99,max_ticks,20000,1.5e-7,,0.25{wall}")
            );
            let mut records = lines(text.as_bytes()).map(|l| l.2.unwrap());
            let head = records.next().unwrap();
            let back = SweepRow::read(&records.next().unwrap(), &head, param_columns(&head).unwrap()).unwrap();
            assert_eq!(back, row(timing));
        }
        assert_eq!(
            row(true).journal_line().unwrap(),
            b"3,1,0.5,gradient,99,max_ticks,20000,1.5e-7,,0.25,0.01\n"
        );
    }
}
