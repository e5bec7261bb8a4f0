//! A complete run: tick the engine until it converges, diverges or runs out of ticks, log
//! the trajectory, and check the final prices (docs/MODEL.md, "Checks") against
//! 1. the backprop adjoints at the final allocation (price = derivative),
//! 2. the independent reference equilibrium, and
//! 3. central finite differences of the reference value V with respect to each supply.
//!
//! A run whose firms see noisy prices or skip ticks cannot converge exactly; it ends
//! `stationary` when its prices have become a stationary process, and the checks compare the
//! mean prices over the measuring window, with their confidence intervals, to backprop at the
//! mean plans and to the reference ([`crate::check::stationary`], docs/NOISE.md).

use crate::check::diagnostics::{price_floor, rel_error, Diagnostics, GoodSample, TickSample};
use crate::check::propagation::{Arrival, Tracker};
use crate::check::reference;
use crate::check::stall::{Stall, StallWatch};
use crate::check::stationary::{self, describe, Check, Detector, Event, Measured, Plans};
use crate::economy::{Economy, Names};
use crate::sim::engine::{Engine, Outcome};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Where logged rows go (the output module writes them to CSV files). `economy` is the
/// economy being run (for the names of the goods the rows refer to by index).
pub trait Sink {
    fn record(&mut self, economy: &Economy, metrics: &TickSample, goods: &[GoodSample]) -> std::io::Result<()>;
    /// How the run's shocks travelled ([`crate::check::propagation`]); called once, after the last
    /// tick, and only for runs in which a shock applied.
    fn propagation(&mut self, _economy: &Economy, _rows: &[Arrival]) -> std::io::Result<()> {
        Ok(())
    }
    /// The firms at the end of the run: their plans `x` (per input edge) and outputs `y` (per
    /// firm) at `prices`, for [`crate::sim::firm_totals`]. Called once, after the last tick.
    fn firms(&mut self, _economy: &Economy, _prices: &[f64], _x: &[f64], _y: &[f64]) -> std::io::Result<()> {
        Ok(())
    }
}

/// A sink that keeps nothing (for sweeps and benchmarks).
pub struct Discard;
impl Sink for Discard {
    fn record(&mut self, _: &Economy, _: &TickSample, _: &[GoodSample]) -> std::io::Result<()> {
        Ok(())
    }
}

/// A sink that keeps everything in memory (for tests and charts).
#[derive(Default)]
pub struct Memory {
    pub metrics: Vec<TickSample>,
    pub goods: Vec<GoodSample>,
    pub propagation: Vec<Arrival>,
}
impl Sink for Memory {
    fn record(&mut self, _: &Economy, metrics: &TickSample, goods: &[GoodSample]) -> std::io::Result<()> {
        self.metrics.push(metrics.clone());
        self.goods.extend_from_slice(goods);
        Ok(())
    }
    fn propagation(&mut self, _: &Economy, rows: &[Arrival]) -> std::io::Result<()> {
        self.propagation = rows.to_vec();
        Ok(())
    }
}

/// The final check of one good.
///
/// The fields are in alphabetical order, the order of the keys in `summary.json` (which has
/// always listed them sorted, and is written straight from this struct).
#[derive(Debug, Clone, Serialize)]
pub struct GoodCheck {
    /// The backprop adjoint at the final plans (of a stationary run: at the mean plans over
    /// the window); where it is an interval (a Leontief firm at a kink downstream), the
    /// interval's point nearest the price (the mean price).
    pub adjoint: f64,
    /// The adjoint interval [low, high], present only where it is not a single point: the
    /// adjoint check then asks that the price lie in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjoint_interval: Option<[f64; 2]>,
    /// Of a stationary run's market goods: the mean price minus the adjoint at the mean plans,
    /// and its confidence interval (from the batches' biases; docs/NOISE.md). None otherwise
    /// (and left out of `summary.json`).
    pub bias: Option<f64>,
    pub bias_ci: Option<[f64; 2]>,
    /// Total use of the good by firms at the end (buyers of a fixed-price good outside the
    /// economy are not counted).
    pub demand: f64,
    /// dV/ds by central finite differences of the reference value.
    pub envelope: Option<f64>,
    pub error_adjoint: Option<f64>,
    pub error_envelope: Option<f64>,
    pub error_reference: Option<f64>,
    pub fixed_price: bool,
    /// The good's index; its name is [`GoodChecks::name`] (written as `good` in
    /// `summary.json`).
    #[serde(skip)]
    pub good: u32,
    /// Of a stationary run's market goods: the mean price over the window and its confidence
    /// interval (batch means, Student t). None otherwise (and left out of `summary.json`).
    pub mean_price: Option<f64>,
    pub mean_price_ci: Option<[f64; 2]>,
    pub pass: bool,
    /// The price at the last tick.
    pub price: f64,
    pub reference: Option<f64>,
    pub spread: f64,
    /// Total supply of the good at the end: its endowment plus what firms make of it.
    pub supply: f64,
    /// The errors the checks judge (adjoint, reference, dV/ds): the relative errors, or of a
    /// stationary run the distance from the derivative to the good's interval, relative.
    #[serde(skip)]
    pub judged: [Option<f64>; 3],
}

/// The final checks of every good, in file order, with the goods' names (taken over from the
/// economy, not copied: one `String` per good took about 56 bytes at a million goods).
/// Dereferences to the checks.
#[derive(Debug, Clone, Default)]
pub struct GoodChecks {
    pub names: Names,
    pub checks: Vec<GoodCheck>,
}

impl GoodChecks {
    /// The name of good `g`.
    pub fn name(&self, g: u32) -> &str {
        &self.names[g as usize]
    }

    /// The check of the good named `name`.
    pub fn get(&self, name: &str) -> Option<&GoodCheck> {
        self.checks.iter().find(|c| self.name(c.good) == name)
    }
}

impl std::ops::Deref for GoodChecks {
    type Target = [GoodCheck];
    fn deref(&self) -> &[GoodCheck] {
        &self.checks
    }
}

/// As a list of [`GoodCheck`] objects, each with its `good` name (in its alphabetical place).
impl Serialize for GoodChecks {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Named<'a>(&'a str, &'a GoodCheck);
        impl Serialize for Named<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let Named(name, c) = *self;
                let mut st = s.serialize_struct("GoodCheck", 18)?;
                st.serialize_field("adjoint", &c.adjoint)?;
                match &c.adjoint_interval {
                    Some(i) => st.serialize_field("adjoint_interval", i)?,
                    None => st.skip_field("adjoint_interval")?,
                }
                optional(&mut st, "bias", &c.bias)?;
                optional(&mut st, "bias_ci", &c.bias_ci)?;
                st.serialize_field("demand", &c.demand)?;
                st.serialize_field("envelope", &c.envelope)?;
                st.serialize_field("error_adjoint", &c.error_adjoint)?;
                st.serialize_field("error_envelope", &c.error_envelope)?;
                st.serialize_field("error_reference", &c.error_reference)?;
                st.serialize_field("fixed_price", &c.fixed_price)?;
                st.serialize_field("good", name)?;
                optional(&mut st, "mean_price", &c.mean_price)?;
                optional(&mut st, "mean_price_ci", &c.mean_price_ci)?;
                st.serialize_field("pass", &c.pass)?;
                st.serialize_field("price", &c.price)?;
                st.serialize_field("reference", &c.reference)?;
                st.serialize_field("spread", &c.spread)?;
                st.serialize_field("supply", &c.supply)?;
                st.end()
            }
        }
        s.collect_seq(self.checks.iter().map(|c| Named(self.name(c.good), c)))
    }
}

/// Serialize `value` as `key` when it is there, else leave the key out.
fn optional<S: serde::ser::SerializeStruct, T: Serialize>(
    st: &mut S,
    key: &'static str,
    value: &Option<T>,
) -> Result<(), S::Error> {
    match value {
        Some(v) => st.serialize_field(key, v),
        None => st.skip_field(key),
    }
}

/// Where a run is, for a progress display: the tick and that tick's worst relative excess
/// demand (`run.tolerance` is the target).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub tick: u64,
    pub max_rel_excess: f64,
}

/// What produced a run, so that its `summary.json` is a record of it. Fields in alphabetical
/// order, as in `summary.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Provenance {
    /// The full command line. Left out with the timings under `--no-timing`: it names the
    /// output directory and the thread count, which change no result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// `scenario.toml` when the effective scenario was written beside the results (running it
    /// again reproduces the run), else why it was not.
    pub effective_scenario: String,
    /// The scenario file as given (`<built-in>` for the built-in scenario).
    pub scenario_file: String,
    /// SHA-256 of the scenario file's bytes (what `sha256sum` prints).
    pub scenario_sha256: String,
    /// The `--set` overrides, in the order given (the seed is `seed`).
    pub sets: Vec<String>,
    /// The tables of a `[tables]` scenario and their SHA-256 (left out for other scenarios).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableHash>,
}

/// A table of a `[tables]` scenario, in a run's provenance. Fields in alphabetical order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableHash {
    /// Its path as the scenario gives it (relative to the scenario file's folder).
    pub file: String,
    /// SHA-256 of its bytes (what `sha256sum` prints), or why it could not be read.
    pub sha256: String,
    /// `goods`, `firms` or `inputs`.
    pub table: String,
}

/// Wall-clock times (the only part of a run that is not deterministic). Fields in
/// alphabetical order, as in `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    pub reference_seconds: f64,
    pub simulate_seconds: f64,
    pub threads: usize,
    pub total_seconds: f64,
}

/// Which checks a run must have run to pass (`--require`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    /// All three checks must run (dV/ds may run on a sample of the goods); a skipped check
    /// fails the run. The default of `run` and `check` (a sweep's rows record each run's
    /// outcome and largest error, not a verdict).
    #[default]
    All,
    /// The adjoint check (price = backprop derivative) must run; the reference and dV/ds
    /// checks count where they ran and are reported as skipped where they did not.
    Adjoint,
}

impl std::str::FromStr for Require {
    type Err = String;
    fn from_str(s: &str) -> Result<Require, String> {
        match s {
            "all" => Ok(Require::All),
            "adjoint" => Ok(Require::Adjoint),
            _ => Err(format!("'{s}' is not a requirement: use 'all' or 'adjoint'")),
        }
    }
}

/// One of the three final checks (docs/MODEL.md, "Checks"): whether it ran, on how many goods,
/// its largest error and where, and why it did not run (or ran on a sample). Fields in
/// alphabetical order, as in `summary.json`'s `checks`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRun {
    /// `adjoint`, `reference` or `envelope` (dV/ds by finite differences).
    pub check: &'static str,
    /// Goods compared.
    pub goods: usize,
    /// Largest relative error over the goods compared (None when it did not run).
    pub max_error: Option<f64>,
    /// Goods the check applies to: the endogenous goods with a market.
    pub of: usize,
    /// Every good compared is within the check tolerance (false when it did not run).
    pub pass: bool,
    pub ran: bool,
    /// Why the check did not run, or how its sample was chosen.
    pub reason: Option<String>,
    /// The good with the largest error.
    pub worst_good: Option<String>,
}

impl CheckRun {
    /// The check's name for people.
    pub fn label(&self) -> &'static str {
        match self.check {
            "envelope" => "dV/ds",
            other => other,
        }
    }
}

/// The result of a run: `summary.json` is its serialization (by [`crate::output::run_writer::RunWriter`],
/// streamed to the file). The fields are in alphabetical order, the order of the keys in
/// `summary.json` (which has always listed them sorted).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub check_tolerance: f64,
    /// The three checks: adjoint, reference, envelope (in that order).
    pub checks: Vec<CheckRun>,
    pub converged_at: Option<u64>,
    /// Goods whose dV/ds was computed by finite differences (check 3), out of the goods with
    /// a market (endogenous, with users), and how they were chosen ([`fd_sample`]). The
    /// others have `envelope: null` and are not failed for it.
    pub envelope_goods_checkable: usize,
    pub envelope_goods_checked: usize,
    pub envelope_selection: String,
    pub goods: GoodChecks,
    pub max_error_adjoint: f64,
    pub max_error_envelope: Option<f64>,
    pub max_error_reference: Option<f64>,
    pub max_spread: f64,
    pub outcome: &'static str,
    /// Detail of the outcome (tick and cause of divergence, ...).
    pub outcome_detail: String,
    pub pass: bool,
    /// What produced the run: the scenario file, its hash and the `--set` overrides (set by
    /// the command line; a library caller may leave it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// Why the reference checks are missing, if they are.
    pub reference_note: Option<String>,
    /// The checks that must have run for the run to pass.
    pub require: Require,
    pub scenario: String,
    pub seed: u64,
    /// Why a run that ended at `max_ticks` did not converge ([`crate::check::stall`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall: Option<Stall>,
    /// The window a stationary run was measured over (left out of other runs' `summary.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stationary: Option<stationary::Window>,
    pub ticks: u64,
    /// Always there after [`execute`]; left out of `summary.json` when `None` (`--no-timing`:
    /// the file is then bit-identical across runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
    pub version: &'static str,
    #[serde(skip)]
    pub outcome_kind: Option<Outcome>,
}

/// Run an economy to its outcome, logging into `sink` every `economy.log.every` ticks.
/// `progress` is called now and then with the tick; `stop` ends the run at the end of a tick.
/// A noisy run ends `stationary` as [`stationary::Settings::default`] judges it.
pub fn execute(
    economy: Economy,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(Progress),
    stop: &AtomicBool,
) -> std::io::Result<Report> {
    execute_with(economy, sink, progress, stop, &stationary::Settings::default())
}

/// [`execute`], judging and measuring a noisy run by `settings` (e.g. a longer window for
/// tighter intervals).
pub fn execute_with(
    economy: Economy,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(Progress),
    stop: &AtomicBool,
    settings: &stationary::Settings,
) -> std::io::Result<Report> {
    let start = Instant::now();
    let t_ref = Instant::now();
    let mut diagnostics = Diagnostics::new(&economy);
    let mut reference_seconds = t_ref.elapsed().as_secs_f64();
    let run = economy.run.clone();
    let log = economy.log.clone();
    let noisy = stationary::applies(&economy);
    let mut engine = Engine::new(economy);
    // A noisy run watches its market goods' prices for stationarity (and, over a window that
    // may end the run, the plans): memory per good and edge, none per tick.
    let market: Vec<usize> = (0..engine.prices.len()).filter(|&g| engine.traded[g]).collect();
    let mut watch = noisy.then(|| {
        (
            Detector::new(market.len(), settings.clone()),
            Plans::new(engine.x.len(), market.len(), settings.batches),
        )
    });
    let mut last_check: Option<(u64, u64, u64, Check)> = None;
    let mut rows: Vec<GoodSample> = Vec::with_capacity(log.goods.len());
    let mut calm = 0u64;
    let mut outcome = Outcome::MaxTicks;
    // how shocks travel up the chain, from every tick's prices
    let mut wave = Tracker::default();
    // the last ticks' excess, to say why if the run runs out of ticks
    let mut stall_watch = StallWatch::default();
    while engine.tick < run.max_ticks {
        let step = engine.step();
        let tick = step.tick;
        wave.observe(tick, &engine.prices);
        stall_watch.observe(step.max_rel_excess);
        let within = step.max_rel_excess <= run.tolerance && step.max_rel_change <= run.tolerance;
        calm = if within { calm + 1 } else { 0 };
        let diverged = step.diverged.clone();
        let mut settled = false;
        if let Some((detector, plans)) = watch
            .as_mut()
            .filter(|_| diverged.is_none() && !engine.shocks_pending())
        {
            // tick t's row: the prices p_t the firms saw and the plans x_t they placed
            let candidate = detector.candidate();
            let b = detector.batch_ticks();
            let event = detector.observe(tick, |i| engine.prev_prices[market[i]]);
            if candidate {
                if !plans.is_open() {
                    plans.start();
                }
                plans.add(&engine.x);
            }
            let closed = match &event {
                Event::Value => None,
                Event::Batch { half, .. } => Some(*half),
                Event::Window { half, .. } => Some(*half),
            };
            if let (Some(half), true) = (closed, candidate) {
                let means = detector.batch_means();
                plans.close(b, half, &engine.economy, &mut diagnostics, &market, means);
            }
            if let Event::Window { check, .. } = event {
                settled = check == Check::Stationary;
                if !settled {
                    plans.stop();
                }
                last_check = Some((detector.window_start(), tick, b, check));
            }
        }
        let done = diverged.is_some()
            || settled
            || (calm >= run.patience && !engine.shocks_pending())
            || tick + 1 >= run.max_ticks;
        // rows record the tick's shocks; they apply after measuring
        if diverged.is_none() && (log.logs(tick, run.max_ticks) || done || !step.shocks.is_empty()) {
            rows.clear();
            let metrics = diagnostics.measure(&engine, &step, &log.goods, &mut rows);
            sink.record(&engine.economy, &metrics, &rows)?;
        }
        engine.finish_tick(&step);
        if !step.shocks.is_empty() {
            calm = 0;
            let t = Instant::now();
            diagnostics.solve_reference(&engine.economy);
            reference_seconds += t.elapsed().as_secs_f64();
            let reference = diagnostics.reference.as_ref();
            wave.shock(&engine.economy, tick, &engine.prices, &engine.traded, reference);
        }
        if let Some(what) = diverged {
            outcome = Outcome::Diverged { tick, what };
            break;
        }
        if calm >= run.patience && !engine.shocks_pending() {
            outcome = Outcome::Converged { tick };
            break;
        }
        if settled {
            outcome = Outcome::Stationary { tick };
            break;
        }
        if tick.is_multiple_of(256) {
            progress(Progress {
                tick,
                max_rel_excess: step.max_rel_excess,
            });
        }
        if stop.load(Ordering::Relaxed) {
            outcome = Outcome::Interrupted { tick };
            break;
        }
    }
    if wave.any() {
        sink.propagation(&engine.economy, &wave.finish(&engine.prices))?;
    }
    sink.firms(&engine.economy, &engine.prices, &engine.x, &engine.y)?;
    let simulate_seconds = start.elapsed().as_secs_f64() - reference_seconds;

    // --- final checks ---------------------------------------------------------------------
    let t = Instant::now();
    // The final adjoints reuse the diagnostics' buffers (a second set took about 40 bytes per
    // edge), and the engine's per-edge state is freed once they are computed: the report of
    // every good is built without them.
    // A stationary run is judged at its time averages over the window: the mean prices, and
    // backprop at the mean plans.
    let measured = match (&outcome, &watch) {
        (Outcome::Stationary { .. }, Some((detector, plans))) => Some(Measured::new(detector, plans, settings)),
        _ => None,
    };
    let plans_judged = measured.as_ref().map_or(&engine.x, |m| &m.plans);
    let (reference, reference_note, mut adj) = diagnostics.finish(&engine.economy, plans_judged);
    // the report reads only the per-good adjoints: the per-edge ones go before the finite
    // differences of V allocate their own per-edge states
    adj.keep_goods_only();
    let stall = matches!(outcome, Outcome::MaxTicks).then(|| {
        let mut stall = stall_watch.diagnose(noisy, run.tolerance);
        if noisy {
            stall.detail = Some(match &last_check {
                Some((first, last, b, check)) => format!(
                    "no stationary window was found: the last one (ticks {first}–{last}, {} batches of {b} ticks) {}",
                    settings.batches,
                    describe(check, |i| &engine.economy.goods.name[market[i]])
                ),
                None => "no window of the price process was complete".to_string(),
            });
        }
        stall
    });
    drop(watch);
    let (mut final_economy, prices, traded, ticks, supply, demand) = final_engine(engine);
    let economy = &final_economy;
    // the price each good is judged by: the last tick's, or of a stationary run the mean
    let mut judged_price = prices.clone();
    // per market good of a stationary run: the mean price's interval, the bias and its interval
    let mut intervals: Vec<Option<Intervals>> = vec![None; economy.goods.len()];
    if let Some(m) = &measured {
        for (i, &g) in market.iter().enumerate() {
            let (mean, h) = m.price[i];
            judged_price[g] = mean;
            let bias = mean - adj.nearest(g, mean);
            let hb = m.bias_half_width[i];
            intervals[g] = Some(([mean - h, mean + h], bias, [bias - hb, bias + hb]));
        }
    }
    let diverged = matches!(outcome, Outcome::Diverged { .. });
    let floor = price_floor(economy);
    // Finite differences (check 3) on every good with a market when there are few, else on
    // a sample led by the goods whose price disagrees most with checks 1 and 2.
    let checkable: Vec<usize> = (0..economy.goods.len()).filter(|&g| traded[g]).collect();
    let fd_goods = match &reference {
        Some(eq) if !diverged => {
            let disagreement: Vec<f64> = checkable
                .iter()
                .map(|&g| {
                    let p = judged_price[g];
                    rel_error(p, adj.nearest(g, p), floor).max(rel_error(p, eq.prices[g], floor))
                })
                .collect();
            fd_sample(&checkable, &disagreement)
        }
        _ => Vec::new(),
    };
    let envelope = match &reference {
        Some(eq) if !fd_goods.is_empty() => Some(reference::envelope_for(economy, eq, &fd_goods)),
        _ => None,
    };
    reference_seconds += t.elapsed().as_secs_f64();
    let mut reference_note = reference_note;
    let envelope = match envelope {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            reference_note = Some(format!("finite differences of V failed: {e}"));
            None
        }
        None => None,
    };
    let envelope_selection = if envelope.is_none() {
        "none".to_string()
    } else if fd_goods.len() == checkable.len() {
        "all".to_string()
    } else {
        format!(
            "the {} goods whose price differs most from its adjoint or reference price, and {} evenly spaced over \
             the others (in file order)",
            FD_WORST.min(fd_goods.len()),
            fd_goods.len() - FD_WORST.min(fd_goods.len())
        )
    };
    let envelope_goods_checked = if envelope.is_some() { fd_goods.len() } else { 0 };
    let tol = run.check_tolerance;
    let finite = |v: f64| v.is_finite().then_some(v);
    let mut goods = Vec::with_capacity(economy.goods.len());
    let (mut max_adj, mut max_ref, mut max_env, mut max_spread) = (0.0f64, None::<f64>, None::<f64>, 0.0f64);
    for g in 0..economy.goods.len() {
        let fixed = economy.goods.fixed[g];
        let price = judged_price[g];
        let traded = traded[g];
        let reference = reference.as_ref().map(|r| r.prices[g]);
        let env = envelope.as_ref().and_then(|v| v.get(g).copied().flatten());
        let check = |q: Option<f64>| {
            if fixed || diverged || !traded {
                None
            } else {
                q.map(|q| rel_error(price, q, floor))
            }
        };
        // the nearest point of the adjoint interval: 0 error when the price lies inside it
        let adjoint = adj.nearest(g, price);
        let e_adj = check(Some(adjoint));
        let e_ref = check(reference);
        let e_env = check(env);
        // a stationary run's checks judge the distance from the derivative to the interval:
        // of the bias to 0 (adjoint), of the mean price to the reference and dV/ds
        let beyond = |lo: f64, hi: f64, q: f64| (lo - q).max(q - hi).max(0.0) / q.abs().max(floor);
        let judged = match intervals[g] {
            Some(([lo, hi], _, [blo, bhi])) => [
                e_adj.map(|_| blo.max(-bhi).max(0.0) / adjoint.abs().max(floor)),
                e_ref.and(reference).map(|q| beyond(lo, hi, q)),
                e_env.and(env).map(|q| beyond(lo, hi, q)),
            ],
            None => [e_adj, e_ref, e_env],
        };
        let spread = if fixed || !traded {
            0.0
        } else {
            adj.spread[g] / adj.good[g].abs().max(floor)
        };
        let pass = judged.iter().all(|e| e.is_none_or(|e| e <= tol));
        max_adj = max_adj.max(e_adj.unwrap_or(0.0));
        if let Some(e) = e_ref {
            max_ref = Some(max_ref.unwrap_or(0.0).max(e));
        }
        if let Some(e) = e_env {
            max_env = Some(max_env.unwrap_or(0.0).max(e));
        }
        max_spread = max_spread.max(spread);
        let (mean_price, mean_price_ci, bias, bias_ci) = match intervals[g] {
            Some((ci, bias, bias_ci)) => (Some(price), Some(ci), Some(bias), Some(bias_ci)),
            None => (None, None, None, None),
        };
        goods.push(GoodCheck {
            good: g as u32,
            fixed_price: fixed,
            price: finite(prices[g]).unwrap_or(f64::NAN),
            mean_price,
            mean_price_ci,
            bias,
            bias_ci,
            judged,
            adjoint,
            adjoint_interval: adj.is_interval(g).then(|| [adj.low(g), adj.high(g)]),
            reference: reference.and_then(finite),
            envelope: env.and_then(finite),
            error_adjoint: e_adj.and_then(finite),
            error_reference: e_ref.and_then(finite),
            error_envelope: e_env.and_then(finite),
            spread,
            pass,
            supply: supply[g],
            demand: demand[g],
        });
    }
    let checks = {
        let name = |g: u32| economy.goods.name[g as usize].to_string();
        let diverged_reason = "the run diverged: there is no final allocation to compare".to_string();
        let reference_reason = reference_note
            .clone()
            .unwrap_or_else(|| "the reference equilibrium is missing".to_string());
        let adjoint_reason = (diverged).then(|| diverged_reason.clone());
        let ref_reason = if diverged {
            Some(diverged_reason.clone())
        } else if reference.is_none() {
            Some(reference_reason.clone())
        } else {
            None
        };
        let env_reason = if diverged {
            Some(diverged_reason)
        } else if reference.is_none() {
            Some(NEEDS_REFERENCE.to_string())
        } else if envelope.is_none() {
            Some(reference_note.clone().unwrap_or_else(|| "no good to check".to_string()))
        } else {
            (envelope_selection != "all").then(|| envelope_selection.clone())
        };
        let market = checkable.len();
        vec![
            summarise_check(
                ("adjoint", 0),
                &goods,
                |c| c.error_adjoint,
                market,
                tol,
                adjoint_reason,
                name,
            ),
            summarise_check(
                ("reference", 1),
                &goods,
                |c| c.error_reference,
                market,
                tol,
                ref_reason,
                name,
            ),
            summarise_check(
                ("envelope", 2),
                &goods,
                |c| c.error_envelope,
                market,
                tol,
                env_reason,
                name,
            ),
        ]
    };
    // the report takes over the goods' names
    let scenario = economy.name.clone();
    let names = std::mem::take(&mut final_economy.goods.name);
    let converged_at = match outcome {
        Outcome::Converged { tick } => Some(tick),
        _ => None,
    };
    let require = Require::default();
    let window = measured.map(|m| m.window);
    let pass = verdict_pass(converged_at.is_some() || window.is_some(), &checks, require)
        && window.as_ref().is_none_or(|w| w.judgeable());
    let outcome_detail = match (&outcome, &window) {
        (Outcome::Stationary { .. }, Some(w)) => format!(
            "stationary: measured over ticks {}–{} ({} batches of {} ticks)",
            w.first_tick, w.last_tick, w.batches, w.batch_ticks
        ),
        _ => outcome_detail(&outcome, &run),
    };
    Ok(Report {
        scenario,
        seed: run.seed,
        stall,
        stationary: window,
        provenance: None,
        version: env!("CARGO_PKG_VERSION"),
        outcome: outcome.label(),
        outcome_detail,
        ticks,
        converged_at,
        check_tolerance: tol,
        checks,
        require,
        pass,
        max_error_adjoint: max_adj,
        max_error_reference: max_ref,
        max_error_envelope: max_env,
        max_spread,
        reference_note,
        envelope_goods_checked,
        envelope_goods_checkable: checkable.len(),
        envelope_selection,
        goods: GoodChecks { names, checks: goods },
        timings: Some(Timings {
            simulate_seconds,
            reference_seconds,
            total_seconds: start.elapsed().as_secs_f64(),
            threads: rayon::current_num_threads(),
        }),
        outcome_kind: Some(outcome),
    })
}

/// What `outcome` means, in words (of a run that did not end stationary).
fn outcome_detail(outcome: &Outcome, run: &crate::economy::RunSettings) -> String {
    match outcome {
        Outcome::Converged { tick } => format!("converged at tick {tick}"),
        Outcome::Diverged { tick, what } => format!("diverged at tick {tick}: {what}"),
        Outcome::Stationary { tick } => format!("stationary at tick {tick}"),
        Outcome::MaxTicks => format!(
            "did not converge within max_ticks = {} (tolerance {:e})",
            run.max_ticks, run.tolerance
        ),
        Outcome::Interrupted { tick } => format!("interrupted at tick {tick}"),
    }
}

/// A good's mean price interval, bias, and bias interval, of a stationary run.
type Intervals = ([f64; 2], f64, [f64; 2]);

/// One check over the goods: it ran unless `reason_not_run` says why not (a reason given for
/// a check that ran, e.g. how a sample was chosen, is kept as its `reason`).
fn summarise_check(
    (check, judged): (&'static str, usize),
    goods: &[GoodCheck],
    error: impl Fn(&GoodCheck) -> Option<f64>,
    of: usize,
    tol: f64,
    reason: Option<String>,
    name: impl Fn(u32) -> String,
) -> CheckRun {
    let mut compared = 0;
    let mut worst: Option<(f64, u32)> = None;
    // the judged errors are the errors, or of a stationary run the distances to the intervals
    let mut within = true;
    for c in goods {
        if let Some(e) = c.judged[judged] {
            within &= e <= tol;
        }
        if let Some(e) = error(c) {
            compared += 1;
            // NaN (no comparison possible) counts as the worst
            let e = if e.is_nan() { f64::INFINITY } else { e };
            if worst.is_none_or(|(w, _)| e > w) {
                worst = Some((e, c.good));
            }
        }
    }
    // A check ran when it compared a good, or when there was none to compare and nothing
    // stopped it.
    let ran = compared > 0 || (reason.is_none() && of == 0);
    let reason = match reason {
        None if !ran => Some("no good could be compared".to_string()),
        r => r,
    };
    CheckRun {
        check,
        goods: compared,
        max_error: if ran { Some(worst.map_or(0.0, |(e, _)| e)) } else { None },
        of,
        pass: ran && within,
        ran,
        reason,
        worst_good: worst.map(|(_, g)| name(g)),
    }
}

/// Why dV/ds did not run when the reference equilibrium is missing (the reference check
/// gives the reason it is).
pub const NEEDS_REFERENCE: &str = "finite differences of V need the reference equilibrium, which is missing";

/// Whether a run passes: it converged (or became stationary), every check that ran passed, and
/// the checks that `require` names ran. (A stationary run also needs intervals narrow enough to
/// judge by: [`stationary::Window::judgeable`].)
pub fn verdict_pass(converged: bool, checks: &[CheckRun], require: Require) -> bool {
    let required = |c: &CheckRun| match require {
        Require::All => true,
        Require::Adjoint => c.check == "adjoint",
    };
    converged && checks.iter().all(|c| if c.ran { c.pass } else { !required(c) })
}

impl Report {
    /// Judge the run again under `require` (the report is made under [`Require::All`]).
    pub fn set_require(&mut self, require: Require) {
        self.require = require;
        self.pass = verdict_pass(self.settled(), &self.checks, require)
            && self.stationary.as_ref().is_none_or(|w| w.judgeable());
    }

    /// Whether the run converged or became stationary (the checks can judge it).
    pub fn settled(&self) -> bool {
        self.converged_at.is_some() || self.stationary.is_some()
    }

    /// The check named `check` (`adjoint`, `reference`, `envelope`).
    pub fn check(&self, check: &str) -> Option<&CheckRun> {
        self.checks.iter().find(|c| c.check == check)
    }
}

/// What the final checks keep of the engine: the economy, the prices, which goods are
/// traded, the ticks run (its per-edge state is freed).
/// What the report needs of the engine: the economy, prices, which goods trade, the ticks, and
/// each good's final supply and demand (everything else is freed).
#[allow(clippy::type_complexity)]
fn final_engine(engine: Engine) -> (Economy, Vec<f64>, Vec<bool>, u64, Vec<f64>, Vec<f64>) {
    let Engine {
        economy,
        prices,
        traded,
        tick,
        supply,
        demand,
        ..
    } = engine;
    (economy, prices, traded, tick, supply, demand)
}

/// Up to this many goods with a market, finite differences check every one.
pub const FD_ALL_UP_TO: usize = 40;
/// Beyond that, the sample starts with this many goods whose price disagrees most with its
/// adjoint or reference price.
pub const FD_WORST: usize = 10;

/// The goods whose dV/ds the final checks compute by finite differences: all of
/// `checkable` when there are at most [`FD_ALL_UP_TO`]; otherwise the [`FD_WORST`] with the
/// largest `disagreement` (ties: the earlier good), then `FD_ALL_UP_TO - FD_WORST` evenly
/// spaced over the rest in file order (the i-th of k at position floor((2i + 1) n / 2k)).
/// Deterministic; sorted.
pub fn fd_sample(checkable: &[usize], disagreement: &[f64]) -> Vec<usize> {
    let n = checkable.len();
    if n <= FD_ALL_UP_TO {
        return checkable.to_vec();
    }
    let mut order: Vec<usize> = (0..n).collect();
    // NaN (no comparison possible) counts as the largest disagreement
    let key = |i: usize| {
        let d = disagreement.get(i).copied().unwrap_or(0.0);
        if d.is_nan() {
            f64::INFINITY
        } else {
            d
        }
    };
    order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
    let mut chosen = vec![false; n];
    for &i in order.iter().take(FD_WORST) {
        chosen[i] = true;
    }
    let rest: Vec<usize> = (0..n).filter(|&i| !chosen[i]).collect();
    let k = FD_ALL_UP_TO - FD_WORST;
    for i in 0..k {
        chosen[rest[(2 * i + 1) * rest.len() / (2 * k)]] = true;
    }
    (0..n).filter(|&i| chosen[i]).map(|i| checkable[i]).collect()
}
