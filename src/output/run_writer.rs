//! The files of one run: `trajectory.csv` and `metrics.csv` written as the run goes,
//! `firms.csv`, `propagation.csv`, `convergence.png` and `summary.json` at its end, all
//! renamed into place together. With `--format parquet` ([`Format`]) the three tables are
//! `trajectory.parquet`, `metrics.parquet` and `firms.parquet` instead (`propagation.csv`, a
//! row per good a shock reached, stays CSV).

use super::atomic::{create_temp, io_context, temp_name, Staged};
use super::columnar::{Layout, TableWriter};
use super::files;
use super::format::Format;
use super::rows::{self, columns, FirmRow, MetricsRow, PropagationRow, TrajectoryRow};
use crate::check::diagnostics::{self, GoodSample};
use crate::check::propagation;
use crate::economy::Economy;
use crate::run::{Report, Sink};
use crate::sim::firm_totals::GroupTotals;
use serde::de::DeserializeOwned;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A table file (CSV or Parquet) being written under a temporary name.
struct TempTable {
    tmp: PathBuf,
    dest: PathBuf,
    out: Out,
}

enum Out {
    Csv(csv::Writer<File>),
    Parquet(TableWriter<File>),
}

impl TempTable {
    /// Create a CSV file, with its `header` (every file has one, also without rows).
    fn csv(dest: PathBuf, header: &[&str]) -> io::Result<TempTable> {
        let tmp = temp_name(&dest);
        let file = create_temp(&tmp).map_err(|e| io_context("write", &dest, e))?;
        let mut t = TempTable {
            tmp,
            dest,
            out: Out::Csv(rows::writer(file)),
        };
        if let Out::Csv(w) = &mut t.out {
            let written = w.write_record(header).map_err(rows::io_error);
            written.map_err(|e| io_context("write", &t.dest, e))?;
        }
        Ok(t)
    }

    /// Create a file of rows `R` in `format`, named by `csv_name` in that format.
    fn of<R: DeserializeOwned>(dir: &Path, csv_name: &'static str, format: Format) -> io::Result<TempTable> {
        let dest = dir.join(format.name(csv_name));
        if format == Format::Csv {
            return TempTable::csv(dest, columns::<R>());
        }
        let tmp = temp_name(&dest);
        let file = create_temp(&tmp).map_err(|e| io_context("write", &dest, e))?;
        match TableWriter::new(file, Layout::of::<R>()) {
            Ok(w) => Ok(TempTable {
                tmp,
                dest,
                out: Out::Parquet(w),
            }),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(io_context("write", &dest, e))
            }
        }
    }

    /// Append a row.
    fn write(&mut self, row: &impl serde::Serialize) -> io::Result<()> {
        let written = match &mut self.out {
            Out::Csv(w) => w.serialize(row).map_err(rows::io_error),
            Out::Parquet(w) => w.write(row),
        };
        written.map_err(|e| io_context("write", &self.dest, e))
    }

    /// Flush and sync the file, handing it to `stage` (which removes it if anything fails).
    fn close_into(self, stage: &mut Staged) -> io::Result<()> {
        let TempTable { tmp, dest, out } = self;
        stage.adopt(tmp, dest.clone());
        let file = match out {
            Out::Csv(w) => w.into_inner().map_err(|e| e.into_error()),
            Out::Parquet(w) => w.finish(),
        };
        let file = file.map_err(|e| io_context("write", &dest, e))?;
        file.sync_all().map_err(|e| io_context("write", &dest, e))
    }
}

/// Writes a run's CSV files (under temporary names) as rows arrive; [`RunWriter::finish`]
/// adds the summary and the chart and renames all of them into place together.
pub struct RunWriter {
    dir: PathBuf,
    format: Format,
    trajectory: Option<TempTable>,
    metrics: Option<TempTable>,
    /// Written when the run had a shock.
    propagation: Option<TempTable>,
    /// Written after the last tick.
    firms: Option<TempTable>,
}

impl RunWriter {
    /// Create the temporary table files in `dir` (made ready by
    /// [`super::directory::prepare_dir`]), in `format`.
    pub fn create(dir: &Path, format: Format) -> io::Result<RunWriter> {
        let mut w = RunWriter {
            dir: dir.to_path_buf(),
            format,
            trajectory: None,
            metrics: None,
            propagation: None,
            firms: None,
        };
        // on an error, the writer's drop removes what was created
        w.trajectory = Some(TempTable::of::<TrajectoryRow>(dir, files::TRAJECTORY, format)?);
        w.metrics = Some(TempTable::of::<MetricsRow>(dir, files::METRICS, format)?);
        Ok(w)
    }

    /// Complete the run's files: sync the table files, write `scenario.toml` (the effective
    /// scenario, when given), `summary.json` (the report as it
    /// is: without the wall-clock times when `report.timings` is `None`) and
    /// `convergence.png` (drawn by `chart` from the trajectory and metrics files, and the
    /// propagation file of a run with a shock), then rename all of them into place. When a
    /// write fails nothing is renamed: the directory keeps the previous results, and no
    /// temporary file is left. A `propagation.csv` of an earlier run is removed when this run
    /// had no shock, and the tables of an earlier run in the other format are removed.
    ///
    /// Returns the chart's error, if it could not be drawn (the other files are written, and
    /// a `convergence.png` of an earlier run is removed).
    pub fn finish(
        mut self,
        report: &Report,
        scenario: Option<&str>,
        chart: impl FnOnce(&Path, &Path, Option<&Path>) -> Result<Vec<u8>, String>,
    ) -> io::Result<Option<String>> {
        let mut stage = Staged::default();
        let (trajectory, metrics) = match (self.trajectory.take(), self.metrics.take()) {
            (Some(t), Some(m)) => (t, m),
            _ => return Err(io::Error::other("the run's files were already finished")),
        };
        let paths = (trajectory.tmp.clone(), metrics.tmp.clone());
        trajectory.close_into(&mut stage)?;
        metrics.close_into(&mut stage)?;
        if let Some(f) = self.firms.take() {
            f.close_into(&mut stage)?;
        }
        let propagation = self.propagation.take();
        let wave = propagation.as_ref().map(|p| p.tmp.clone());
        if let Some(p) = propagation {
            p.close_into(&mut stage)?;
        }
        let png = self.dir.join(files::CONVERGENCE_PNG);
        let chart_error = match chart(&paths.0, &paths.1, wave.as_deref()) {
            Ok(bytes) => {
                stage.write(&png, &bytes).map_err(|e| io_context("write", &png, e))?;
                None
            }
            Err(e) => Some(e),
        };
        let effective = self.dir.join(files::SCENARIO);
        if let Some(text) = scenario {
            stage
                .write(&effective, text.as_bytes())
                .map_err(|e| io_context("write", &effective, e))?;
        }
        let summary = self.dir.join(files::SUMMARY);
        stage
            .write_with(&summary, |out| write_summary(out, report))
            .map_err(|e| io_context("write", &summary, e))?;
        stage
            .commit()
            .map_err(|e| io_context("move the results into place in", &self.dir, e))?;
        if chart_error.is_some() {
            // not the chart of these results
            let _ = fs::remove_file(&png);
        }
        if wave.is_none() {
            // an earlier, shocked run's
            let _ = fs::remove_file(self.dir.join(files::PROPAGATION));
        }
        if scenario.is_none() {
            // an earlier run's
            let _ = fs::remove_file(&effective);
        }
        // an SVG that `pricegrad plot --format svg` drew of an earlier run
        let _ = fs::remove_file(self.dir.join(files::CONVERGENCE_SVG));
        for table in [files::TRAJECTORY, files::METRICS, files::FIRMS] {
            // an earlier run's, in the other format
            let _ = fs::remove_file(self.dir.join(self.format.other().name(table)));
        }
        Ok(chart_error)
    }
}

/// Write `summary.json`: the report, pretty-printed, streamed (no copy of the report as a
/// JSON tree or a string: at a million goods those took several hundred bytes per good).
/// serde_json writes a NaN or infinite f64 as null, so the file stays valid JSON.
pub fn write_summary(out: &mut impl Write, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        // An unfinished writer (error, panic) removes its temporary files.
        for t in [
            self.trajectory.take(),
            self.metrics.take(),
            self.propagation.take(),
            self.firms.take(),
        ]
        .into_iter()
        .flatten()
        {
            drop(t.out);
            let _ = fs::remove_file(&t.tmp);
        }
    }
}

impl Sink for RunWriter {
    fn record(&mut self, economy: &Economy, m: &diagnostics::TickSample, goods: &[GoodSample]) -> io::Result<()> {
        if let Some(t) = self.trajectory.as_mut() {
            for r in goods {
                t.write(&TrajectoryRow::new(r, &economy.goods.name[r.good]))?;
            }
        }
        if let Some(t) = self.metrics.as_mut() {
            t.write(&MetricsRow::from(m))?;
        }
        Ok(())
    }

    fn propagation(&mut self, economy: &Economy, records: &[propagation::Arrival]) -> io::Result<()> {
        let several = rows::propagation::several_shocks(records);
        let mut t = TempTable::csv(self.dir.join(files::PROPAGATION), &rows::propagation::header(several))?;
        for r in records {
            t.write(&PropagationRow::new(r, &economy.goods.name[r.good as usize], several))?;
        }
        self.propagation = Some(t);
        Ok(())
    }

    fn firms(&mut self, economy: &Economy, prices: &[f64], x: &[f64], y: &[f64]) -> io::Result<()> {
        let mut t = TempTable::of::<FirmRow>(&self.dir, files::FIRMS, self.format)?;
        let mut totals = GroupTotals::default();
        for g in 0..economy.groups.len() {
            totals.measure(economy, prices, x, y, g);
            let firm = economy.group_name(g);
            for f in &totals.flows {
                let good = f.good as usize;
                t.write(&FirmRow::new(&totals, f, firm, &economy.goods.name[good], prices[good]))?;
            }
        }
        self.firms = Some(t);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// summary.json as it was written before it was streamed: the report as a JSON tree
    /// (whose maps sort their keys), without `timings` unless `timing`, pretty-printed.
    fn summary_through_a_tree(report: &Report, timing: bool) -> String {
        let mut value = serde_json::to_value(report).unwrap();
        if !timing {
            value.as_object_mut().unwrap().remove("timings");
        }
        let mut text = serde_json::to_string_pretty(&value).unwrap();
        text.push('\n');
        text
    }

    #[test]
    fn streamed_summary_is_the_tree_serialization() {
        use crate::run::{GoodCheck, GoodChecks, Timings};
        let good = |g: u32, some: bool| GoodCheck {
            adjoint: 0.5,
            adjoint_interval: some.then_some([0.25, 1e-300]),
            bias: some.then_some(-1e-3),
            bias_ci: some.then_some([-2e-3, 0.0]),
            mean_price: some.then_some(0.499),
            mean_price_ci: some.then_some([0.498, 0.5]),
            judged: [None; 3],
            demand: 2.5,
            supply: 4.0,
            envelope: some.then_some(0.5000001),
            error_adjoint: some.then_some(0.0),
            error_envelope: some.then_some(2e-7),
            error_reference: some.then_some(1.5e-12),
            fixed_price: !some,
            good: g,
            pass: some,
            price: if some { 0.5 } else { f64::NAN },
            reference: some.then_some(f64::INFINITY),
            spread: 3.0,
        };
        let mut report = Report {
            check_tolerance: 1e-6,
            checks: vec![crate::run::CheckRun {
                check: "reference",
                goods: 0,
                max_error: None,
                of: 3,
                pass: false,
                ran: false,
                reason: Some("a \"reason\"".into()),
                worst_good: None,
            }],
            converged_at: Some(224),
            envelope_goods_checkable: 3,
            envelope_goods_checked: 2,
            envelope_selection: "all".into(),
            goods: GoodChecks {
                names: ["natgas", "tupper\"ware\u{e9}"].into_iter().collect(),
                checks: vec![good(0, true), good(1, false)],
            },
            max_error_adjoint: 1e-9,
            max_error_envelope: None,
            max_error_reference: Some(2.5),
            max_spread: 0.0,
            outcome: "converged",
            outcome_detail: "converged at tick 224".into(),
            pass: true,
            reference_note: Some("a note".into()),
            require: crate::run::Require::Adjoint,
            scenario: "every_field".into(),
            seed: u64::MAX,
            provenance: Some(crate::run::Provenance {
                command: Some(vec!["pricegrad".into(), "run".into(), "a \"quoted\" arg".into()]),
                effective_scenario: "scenario.toml".into(),
                scenario_file: "scenarios/x.toml".into(),
                scenario_sha256: "00ff".into(),
                sets: vec!["goods.natgas.endowment=5".into()],
                tables: vec![],
            }),
            stationary: None,
            stall: Some(crate::check::stall::Stall {
                detail: None,
                kind: crate::check::stall::StallKind::StillConverging,
                more_ticks: Some(1234),
            }),
            ticks: 225,
            timings: Some(Timings {
                reference_seconds: 0.25,
                simulate_seconds: 1.5,
                threads: 2,
                total_seconds: 1.75,
            }),
            version: "0.1.0",
            outcome_kind: None,
        };
        let streamed = |r: &Report| {
            let mut out = Vec::new();
            write_summary(&mut out, r).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(streamed(&report), summary_through_a_tree(&report, true));
        let timed = streamed(&report);
        report.timings = None;
        assert_eq!(streamed(&report), summary_through_a_tree(&report, false));
        assert!(timed.contains("\"timings\"") && !streamed(&report).contains("\"timings\""));
        report.goods = GoodChecks::default();
        report.converged_at = None;
        assert_eq!(streamed(&report), summary_through_a_tree(&report, false));
    }
}
