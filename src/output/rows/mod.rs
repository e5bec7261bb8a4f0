//! One serde row type per CSV file pricegrad writes (docs/MODEL.md, "Outputs"), used by the
//! writers ([`crate::output::run_writer`], the sweep) and by the readers (the charts, a sweep's
//! resume and merge) alike, so that each file's columns are written down once:
//!
//! - [`TrajectoryRow`]: `trajectory.csv`, one row per logged tick and good;
//! - [`MetricsRow`]: `metrics.csv`, one row per logged tick;
//! - [`FirmRow`]: `firms.csv`, one row per firm group and good it buys or makes, at the end;
//! - [`PropagationRow`]: `propagation.csv`, one row per good a shock reached;
//! - [`SweepRow`]: `sweep.csv` and `sweep-journal.csv`, one row per run of a sweep.
//!
//! The same row types are the columns of the Parquet files (`--format parquet`,
//! [`crate::output::columnar`]).
//!
//! A file's header is the names of its row type's fields, in order ([`columns`]). Numbers are
//! written by [`crate::numeric::float_text`]: the shortest text that reads back to the same
//! f64, and an empty field for a missing or non-finite value. Files are written and read with
//! the `csv` crate: `\n` line ends, a field quoted only when it holds a comma, a quote or a
//! line break (no good name, shock label or sweep value does).
//!
//! The simulation's own records ([`crate::check::diagnostics::GoodSample`] and
//! [`crate::check::diagnostics::TickSample`], [`crate::check::propagation::Arrival`])
//! stay in `check`, below this layer: they hold good indices, not names, and are what a run
//! measures; each row type here is made from them when the file is written.

pub mod firms;
pub mod metrics;
pub mod propagation;
pub mod sweep;
pub mod trajectory;

pub use firms::FirmRow;
pub use metrics::MetricsRow;
pub use propagation::PropagationRow;
pub use sweep::{Outcome, SweepRow};
pub use trajectory::TrajectoryRow;

use crate::numeric::float_text;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Serializer;
use std::io::{self, Write};

/// The columns of a file of `R` rows: the names of `R`'s fields, in order (as serde's derive
/// declares them to a deserializer).
pub fn columns<R: DeserializeOwned>() -> &'static [&'static str] {
    let mut names = FieldNames(&[]);
    // the derived impl asks for a struct with its field names, which is all this needs
    let _ = R::deserialize(&mut names);
    names.0
}

/// A deserializer that records the field names a struct asks for, and reads nothing.
struct FieldNames(&'static [&'static str]);

impl<'de> Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("only the field names are read"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("a row type is a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// `serialize_with` of an f64 column: [`float_text::num`] as text (CSV); the number itself
/// to a serializer that is not human-readable (Parquet, [`crate::output::columnar`]).
pub(crate) fn num<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&float_text::num(*v))
    } else {
        s.serialize_f64(*v)
    }
}

/// `serialize_with` of an optional f64 column: [`float_text::opt`] (empty when missing) as
/// text; the number or nothing to a serializer that is not human-readable.
pub(crate) fn opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        _ if s.is_human_readable() => s.serialize_str(&float_text::opt(*v)),
        Some(v) => s.serialize_some(v),
        None => s.serialize_none(),
    }
}

/// A CSV writer of rows into `out`. It writes no header of its own: a file's header is written
/// when the file is created ([`csv::Writer::write_record`] of the [`columns`]), so that a file
/// without rows has one too.
pub fn writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .buffer_capacity(1 << 16)
        .from_writer(out)
}

/// A CSV error as an I/O error, keeping the kind of an I/O failure (a full disk stays a full
/// disk, for [`crate::output::atomic::io_help`]).
pub fn io_error(e: csv::Error) -> io::Error {
    if !e.is_io_error() {
        return io::Error::other(e);
    }
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// What is wrong with `record`, which did not deserialize, in words (`column `price`: cannot
/// read "abc" as a number`); `header` names the columns.
pub fn describe(e: &csv::Error, header: &csv::StringRecord, record: &csv::StringRecord) -> String {
    let csv::ErrorKind::Deserialize { err, .. } = e.kind() else {
        return e.to_string();
    };
    let at = err.field().map(|i| i as usize);
    let column = at.and_then(|i| header.get(i)).unwrap_or("?");
    let text = at.and_then(|i| record.get(i)).unwrap_or("");
    match err.kind() {
        csv::DeserializeErrorKind::ParseInt(_) => {
            format!("column `{column}`: cannot read \"{text}\" as a non-negative integer")
        }
        csv::DeserializeErrorKind::ParseFloat(_) if text.is_empty() => {
            format!("column `{column}` is empty but must hold a number")
        }
        csv::DeserializeErrorKind::ParseFloat(_) => format!("column `{column}`: cannot read \"{text}\" as a number"),
        kind if at.is_some() => format!("column `{column}`: {kind}"),
        kind => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The headers as they were written by hand before the row types: the files keep them.
    #[test]
    fn headers_are_the_files_headers() {
        assert_eq!(
            columns::<TrajectoryRow>().join(","),
            "tick,good,price,supply,demand,excess,adjoint,reference,mispricing,firm_lag"
        );
        assert_eq!(
            columns::<MetricsRow>().join(","),
            "tick,max_rel_excess,max_rel_price_change,max_rel_adjoint_error,max_rel_reference_error,phi,phi_gap,\
             cosine,cosine_mirror,lyapunov,mispricing,firm_lag,spread,shock"
        );
        assert_eq!(
            propagation::header(false).join(","),
            "good,depth,arrival_tick,final_change"
        );
        assert_eq!(
            propagation::header(true).join(","),
            "shock_tick,good,depth,arrival_tick,final_change"
        );
        let params = ["market.step".to_string(), "agents.rate".to_string()];
        assert_eq!(
            sweep::header(&params, true).join(","),
            "point,replicate,market.step,agents.rate,seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine,\
             wall_seconds"
        );
        assert_eq!(
            sweep::header(&params[..1], false).join(","),
            "point,replicate,market.step,seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine"
        );
    }

    /// Written as the hand-written lines were: no quotes, empty fields for missing numbers,
    /// `\n` line ends.
    #[test]
    fn rows_are_written_as_before() {
        let mut w = writer(Vec::new());
        w.write_record(columns::<TrajectoryRow>()).unwrap();
        w.serialize(TrajectoryRow {
            tick: 7,
            good: "natgas".into(),
            price: 0.1 + 0.2,
            supply: 1e-300,
            demand: 2.5e15,
            excess: -0.0,
            adjoint: f64::NAN,
            reference: None,
            mispricing: Some(f64::INFINITY),
            firm_lag: Some(1e-4),
        })
        .unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            "tick,good,price,supply,demand,excess,adjoint,reference,mispricing,firm_lag\n\
             7,natgas,0.30000000000000004,1e-300,2.5e15,-0,,,,0.0001\n"
        );
    }
}
