//! The files of one run: `trajectory.csv` and `metrics.csv` written as the run goes,
//! `firms.csv`, `propagation.csv`, `convergence.png` and `summary.json` at its end, all
//! renamed into place together.

use super::atomic::{create_temp, io_context, temp_name, Staged};
use super::files;
use super::rows::{self, columns, FirmRow, MetricsRow, PropagationRow, TrajectoryRow};
use crate::check::diagnostics::{self, GoodSample};
use crate::check::propagation;
use crate::economy::Economy;
use crate::run::{Report, Sink};
use crate::sim::firm_totals::GroupTotals;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A CSV file being written under a temporary name.
struct TempCsv {
    tmp: PathBuf,
    dest: PathBuf,
    out: csv::Writer<File>,
}

impl TempCsv {
    /// Create the file, with its `header` (every file has one, also without rows).
    fn create(dest: PathBuf, header: &[&str]) -> io::Result<TempCsv> {
        let tmp = temp_name(&dest);
        let file = create_temp(&tmp).map_err(|e| io_context("write", &dest, e))?;
        let mut csv = TempCsv {
            tmp,
            dest,
            out: rows::writer(file),
        };
        csv.out.write_record(header).map_err(|e| csv.context(e))?;
        Ok(csv)
    }

    /// Append a row.
    fn write(&mut self, row: &impl serde::Serialize) -> io::Result<()> {
        self.out.serialize(row).map_err(|e| self.context(e))
    }

    fn context(&self, e: csv::Error) -> io::Error {
        io_context("write", &self.dest, rows::io_error(e))
    }

    /// Flush and sync the file, handing it to `stage` (which removes it if anything fails).
    fn close_into(self, stage: &mut Staged) -> io::Result<()> {
        let TempCsv { tmp, dest, out } = self;
        stage.adopt(tmp, dest.clone());
        let file = out
            .into_inner()
            .map_err(|e| io_context("write", &dest, e.into_error()))?;
        file.sync_all().map_err(|e| io_context("write", &dest, e))
    }
}

/// Writes a run's CSV files (under temporary names) as rows arrive; [`RunWriter::finish`]
/// adds the summary and the chart and renames all of them into place together.
pub struct RunWriter {
    dir: PathBuf,
    trajectory: Option<TempCsv>,
    metrics: Option<TempCsv>,
    /// Written when the run had a shock.
    propagation: Option<TempCsv>,
    /// Written after the last tick.
    firms: Option<TempCsv>,
}

impl RunWriter {
    /// Create the temporary CSV files in `dir` (made ready by [`super::directory::prepare_dir`]).
    pub fn create(dir: &Path) -> io::Result<RunWriter> {
        let mut w = RunWriter {
            dir: dir.to_path_buf(),
            trajectory: None,
            metrics: None,
            propagation: None,
            firms: None,
        };
        // on an error, the writer's drop removes what was created
        w.trajectory = Some(TempCsv::create(
            dir.join(files::TRAJECTORY),
            columns::<TrajectoryRow>(),
        )?);
        w.metrics = Some(TempCsv::create(dir.join(files::METRICS), columns::<MetricsRow>())?);
        Ok(w)
    }

    /// Complete the run's files: sync the CSV files, write `scenario.toml` (the effective
    /// scenario, when given), `summary.json` (the report as it
    /// is: without the wall-clock times when `report.timings` is `None`) and
    /// `convergence.png` (drawn by `chart` from the trajectory and metrics files, and the
    /// propagation file of a run with a shock), then rename all of them into place. When a
    /// write fails nothing is renamed: the directory keeps the previous results, and no
    /// temporary file is left. A `propagation.csv` of an earlier run is removed when this run
    /// had no shock.
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
        let mut t = TempCsv::create(self.dir.join(files::PROPAGATION), &rows::propagation::header(several))?;
        for r in records {
            t.write(&PropagationRow::new(r, &economy.goods.name[r.good as usize], several))?;
        }
        self.propagation = Some(t);
        Ok(())
    }

    fn firms(&mut self, economy: &Economy, prices: &[f64], x: &[f64], y: &[f64]) -> io::Result<()> {
        let mut t = TempCsv::create(self.dir.join(files::FIRMS), columns::<FirmRow>())?;
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
