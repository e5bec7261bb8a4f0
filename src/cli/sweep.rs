//! `pricegrad sweep` (run a scenario over a grid of parameter values, in parallel, resumable,
//! shardable) and `pricegrad merge` (combine shard outputs).

use super::{EXIT_BAD_INPUT, EXIT_FAIL, EXIT_PASS};
use crate::output::format::Format;
use crate::plot::ChartSize;
use crate::sweep::{self, Error, Kind, Options, Progress, Request, Row, Shard};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Set by SIGINT/SIGTERM: no new run starts, runs in flight stop; --resume continues.
static STOP: AtomicBool = AtomicBool::new(false);

const SWEEP_HELP: &str = "\
Each swept parameter is a --set path (market.step, agents.rate, goods.NAME.endowment,
firms.NAME.rate, run.max_ticks, agents.rule, ...) with a SPEC of values:
  0.1,0.2,0.5        a list (words such as rule names too: gradient,best_response)
  lin:A:B:N          N evenly spaced values from A to B
  log:A:B:N          N values evenly spaced in log from A to B (A, B > 0)
The grid is every combination; each point runs --replicates times, with seeds derived from
the scenario seed and (point, replicate). Every point is validated before anything runs.

Instead of a grid, --design FILE.csv runs one point per row of a CSV table whose header names
--set paths (point i is data row i+1), e.g. a Latin hypercube or Sobol sample from SALib or
EMA Workbench:
  market.step,agents.rate
  0.31,0.12
  1.70,0.45
Replicates, seeds, --resume, --shard and merge work as for a grid (sweep.json records the
table's SHA-256 and rows; resuming with another table is refused). --design replaces the
file's [sweep] params and cannot be combined with --param.

Writes to DIR (default output/<scenario name>-sweep/):
  sweep.csv           one row per run: point,replicate,<parameters...>,seed,outcome,ticks,
                      max_rel_error,max_rel_excess,mean_cosine,wall_seconds
  sweep.png           a line chart (one parameter) or a heatmap (two or more), or for a
                      design that is not a full grid a scatter of the first two parameters;
                      a shard draws none (merge does)
  sweep.json          the manifest: scenario SHA-256, parameters and values (or the design
                      table's SHA-256 and rows), replicates, ...
  sweep-journal.csv   finished runs, appended one line at a time (what --resume reads)
  sweep.parquet       with --format parquet: sweep.csv's rows and columns, typed
sweep.csv is byte-identical for any --jobs and any sharding (with --no-timing). Any row is
reproduced by `pricegrad run FILE --set PATH=VALUE ... --seed SEED`.

Examples:
  pricegrad sweep scenarios/sweep_stability.toml
  pricegrad sweep scenarios/tupperware.toml --param market.step=log:0.05:2:8 \\
      --param agents.rate=0.1,0.2,0.5 --replicates 3 --jobs 8
  pricegrad sweep scenarios/tupperware.toml --design lhs.csv --replicates 2
  pricegrad sweep scenarios/sweep_noise.toml --resume        # continue a killed sweep
  pricegrad sweep FILE --shard 2/4 --out results             # writes results/shard-2-of-4/
  pricegrad sweep FILE --shard auto --out results            # in a Slurm array job
  pricegrad merge results                                    # then combine the shards

Output safety: sweep.csv, sweep.png and sweep.json are written under temporary names and
renamed into place together; the journal is appended one whole line at a time (a failed
append is cut back). pricegrad marks the directories it creates with a .pricegrad file and
refuses an existing, non-empty directory without one unless --force (a directory holding only
pricegrad's own file names, as earlier versions wrote them, counts as its own).

Exit codes: 0 the sweep completed (even if some runs diverged: the summary says how many),
1 it could not finish (I/O, e.g. a full disk: finished runs are kept, continue with --resume),
2 bad input or an --out DIR that cannot be used (not writable, a file, someone else's
directory; nothing is written), 130 stopped by SIGINT or SIGTERM (finished runs are kept:
continue with --resume).";

/// `pricegrad sweep`.
#[derive(Debug, Args)]
#[command(after_long_help = SWEEP_HELP, after_help = "Examples and the output files: pricegrad sweep --help")]
pub struct SweepArgs {
    /// Scenario file (TOML). A [sweep] table in it gives default parameters and replicates:
    /// [sweep] params = { "market.step" = "log:0.05:2:8" }, replicates = 3
    pub file: PathBuf,
    /// A swept parameter, PATH=SPEC; repeatable (the grid is every combination). SPEC is
    /// 0.1,0.2,0.5 or lin:A:B:N or log:A:B:N. When given, the file's [sweep] params are not used.
    #[arg(long = "param", short = 'p', value_name = "PATH=SPEC")]
    pub params: Vec<String>,
    /// A design table: a CSV file whose header names --set paths and whose every row is one
    /// point (e.g. a Latin hypercube from SALib). Replaces the grid; not with --param.
    #[arg(long, value_name = "FILE.csv")]
    pub design: Option<PathBuf>,
    /// Runs per point, each with its own seed [default: [sweep] replicates, else 1].
    #[arg(long, short = 'r', value_name = "R")]
    pub replicates: Option<u64>,
    /// Runs in parallel [default: all cores]. Results are identical for any number.
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Output directory [default: output/<scenario name>-sweep]. A shard writes to
    /// DIR/shard-K-of-N/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into an existing --out DIR that pricegrad did not create (only pricegrad's own
    /// file names in it are replaced; nothing else is touched).
    #[arg(long)]
    pub force: bool,
    /// Continue an interrupted sweep in DIR: runs already finished are kept, not redone.
    /// Refuses if DIR holds a different sweep (scenario, --set, --seed, grid or design, replicates).
    #[arg(long)]
    pub resume: bool,
    /// Run one slice of the points: points with index % N == K-1, into DIR/shard-K-of-N/.
    /// `auto` takes K and N from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT.
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<String>,
    /// Override a field for every point, by its dotted path; repeatable. E.g. --set run.max_ticks=5000
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Base random seed (overrides run.seed); each run's seed derives from it.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Measure the diagnostics (cosine, excess) every K ticks instead of the scenario's
    /// log.every: faster; mean_cosine then averages over every K-th tick.
    #[arg(long, value_name = "K")]
    pub log_every: Option<u64>,
    /// Leave the wall_seconds column out of sweep.csv (then it is byte-identical across runs).
    #[arg(long)]
    pub no_timing: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Size of sweep.png in pixels.
    #[arg(long, value_name = "WxH", default_value = "1600x1200", value_parser = super::plot::parse_size)]
    pub chart_size: ChartSize,
    /// 'parquet' writes sweep.parquet too: the rows of sweep.csv, with typed columns (sweep.csv
    /// stays: resume, merge and plot read it) [default: the scenario's `[log] format`, else csv].
    #[arg(long, value_name = "csv|parquet")]
    pub format: Option<Format>,
}

const MERGE_HELP: &str = "\
Each DIR is a shard directory (written by `pricegrad sweep --shard K/N`, named
shard-K-of-N) or a directory holding shard-K-of-N subdirectories. The manifests must agree
(scenario, --set, --seed, parameters, replicates, version). The merged sweep.csv is
byte-identical to the one an unsharded sweep writes. If a shard is missing or unfinished,
merge lists the missing points by shard, writes nothing and exits 1. An --out DIR that
pricegrad did not create (no .pricegrad file, other files in it) needs --force (exit 2).

Examples:
  pricegrad merge results                          # results/shard-*-of-*/ -> results/
  pricegrad merge host1/results host2/results --out merged
  pricegrad merge results/shard-1-of-2 results/shard-2-of-2";

/// `pricegrad merge`.
#[derive(Debug, Args)]
#[command(after_long_help = MERGE_HELP, after_help = "Examples: pricegrad merge --help")]
pub struct MergeArgs {
    /// Shard directories, or directories holding shard-K-of-N subdirectories.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged sweep [default: the directory that holds the shards].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into an existing --out DIR that pricegrad did not create (only pricegrad's own
    /// file names in it are replaced; nothing else is touched).
    #[arg(long)]
    pub force: bool,
    /// Leave the wall_seconds column out of sweep.csv.
    #[arg(long)]
    pub no_timing: bool,
    /// Size of sweep.png in pixels.
    #[arg(long, value_name = "WxH", default_value = "1600x1200", value_parser = super::plot::parse_size)]
    pub chart_size: ChartSize,
    /// 'parquet' writes sweep.parquet too: the rows of sweep.csv, with typed columns (sweep.csv
    /// stays: resume, merge and plot read it).
    #[arg(long, value_name = "csv|parquet", default_value = "csv")]
    pub format: Format,
}

/// The progress bar: done/total, rate, ETA, and how many runs failed (diverged, or ran out of
/// ticks without converging).
struct Bar {
    bar: ProgressBar,
    diverged: AtomicU64,
    max_ticks: AtomicU64,
}

impl Bar {
    fn new(show: bool) -> Bar {
        let target = if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30.cyan/blue} {human_pos}/{human_len} runs [{elapsed_precise}] {rate} ETA {eta} {msg}",
            )
            .expect("valid template")
            .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{} runs/s", super::thousands(s.per_sec() as usize));
            })
            .progress_chars("=> "),
        );
        Bar {
            bar,
            diverged: AtomicU64::new(0),
            max_ticks: AtomicU64::new(0),
        }
    }

    fn count(&self, row: &Row) {
        match row.outcome {
            crate::sweep::Outcome::Diverged => self.diverged.fetch_add(1, Ordering::Relaxed),
            crate::sweep::Outcome::MaxTicks => self.max_ticks.fetch_add(1, Ordering::Relaxed),
            crate::sweep::Outcome::Converged | crate::sweep::Outcome::Stationary => return,
        };
        self.bar.set_message(format!(
            "failed: {} diverged, {} out of ticks",
            self.diverged.load(Ordering::Relaxed),
            self.max_ticks.load(Ordering::Relaxed)
        ));
    }
}

impl Progress for Bar {
    fn start(&self, total: u64, done: &[Row]) {
        self.bar.set_length(total);
        self.bar.set_position(done.len() as u64);
        self.bar.reset_eta();
        self.bar.set_message("failed: 0 diverged, 0 out of ticks");
        done.iter().for_each(|r| self.count(r));
    }
    fn done(&self, row: &Row) {
        self.count(row);
        self.bar.inc(1);
    }
}

/// A sweep error as the terminal shows it: `error: ...` and `= help: ...` lines, or the
/// scenario's own diagnostic (with a note naming the swept value), or the output directory's.
fn render(e: &Error) -> String {
    match e {
        Error::Scenario(error) | Error::Design(error) => error.to_string(),
        Error::Value { error, note } => format!("{error}  = note: {note}; sweep values are applied like --set\n"),
        Error::Dir(error) => super::render(error, error.help()),
        Error::Message { .. } | Error::PointInvalid { .. } | Error::Run { .. } | Error::Io { .. } => {
            super::render(e, e.help().unwrap_or_default())
        }
    }
}

/// Print a sweep error; its exit code.
fn code(e: &Error) -> u8 {
    eprint!("{}", render(e));
    match e.kind() {
        Kind::Input => EXIT_BAD_INPUT,
        Kind::Failed => EXIT_FAIL,
    }
}

fn pool(jobs: Option<usize>) -> Result<rayon::ThreadPool, u8> {
    if jobs == Some(0) {
        eprint!(
            "{}",
            super::render(
                "--jobs 0: a sweep needs at least one thread",
                "leave --jobs out to use every core, or give a number >= 1"
            )
        );
        return Err(EXIT_BAD_INPUT);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| {
            let message = format!("cannot start {} threads: {e}", jobs.unwrap_or(0));
            eprint!("{}", super::render(message, "use fewer --jobs"));
            EXIT_FAIL
        })
}

/// `pricegrad sweep FILE ...`.
pub fn run(args: &SweepArgs) -> u8 {
    let shard = match args
        .shard
        .as_deref()
        .map(|s| Shard::parse(s, |k| std::env::var(k).ok()))
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(m)) => {
            eprintln!("error: {m}");
            eprintln!("  = help: shards are numbered 1..N: --shard 1/4 ... --shard 4/4; see `pricegrad sweep --help`");
            return EXIT_BAD_INPUT;
        }
    };
    let pool = match pool(args.jobs) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let request = Request {
        file: args.file.clone(),
        params: args.params.clone(),
        design: args.design.clone(),
        sets: args.sets.clone(),
        replicates: args.replicates,
        seed: args.seed,
        shard,
        log_every: args.log_every,
    };
    let plan = match pool.install(|| sweep::prepare(&request)) {
        Ok(p) => p,
        Err(e) => return code(&e),
    };
    let show = !args.quiet && std::io::stderr().is_terminal();
    if !args.quiet {
        eprintln!(
            "sweep {}: {} = {} x {} = {}{}, {}",
            plan.name(),
            plan.points.summary(),
            super::plural(plan.points.count(), "point"),
            super::plural(plan.replicates, "replicate"),
            super::plural(plan.manifest.runs, "run"),
            plan.shard
                .map(|s| format!(" (shard {s}: {})", super::plural(plan.runs().len() as u64, "run")))
                .unwrap_or_default(),
            super::plural(pool.current_num_threads() as u64, "job")
        );
    }
    let bar = Bar::new(show);
    let opts = Options {
        out: args.out.clone(),
        resume: args.resume,
        timing: !args.no_timing,
        chart_size: args.chart_size,
        force: args.force,
        format: args
            .format
            .or(plan.base.log.format.map(Format::from))
            .unwrap_or_default(),
    };
    // Slurm sends SIGTERM before killing a job at its time limit: stop cleanly then
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));
    let result = pool.install(|| sweep::execute(&plan, &opts, &bar, &STOP));
    bar.bar.finish_and_clear();
    let s = match result {
        Ok(s) => s,
        Err(e) => return code(&e),
    };
    for n in &s.notes {
        if !args.quiet {
            eprintln!("note: {n}");
        }
    }
    if s.interrupted {
        eprintln!(
            "interrupted: {} of {} runs are done and kept in {}; continue with the same command and --resume",
            s.resumed + s.ran,
            s.total,
            s.dir.join(crate::output::files::SWEEP_JOURNAL).display()
        );
        return super::run::EXIT_INTERRUPTED;
    }
    let rate = if s.seconds > 0.0 { s.ran as f64 / s.seconds } else { 0.0 };
    println!(
        "{}{}: {} converged{}, {} diverged, {} hit max_ticks ({} ran now, in {:.2} s: {:.0} runs/s)",
        super::plural(s.total, "run"),
        plan.shard.map(|k| format!(" in shard {k}")).unwrap_or_default(),
        s.converged,
        if s.stationary > 0 {
            format!(", {} stationary", s.stationary)
        } else {
            String::new()
        },
        s.diverged,
        s.max_ticks,
        s.ran,
        s.seconds,
        rate
    );
    println!("wrote {}/ ({})", s.dir.display(), s.files.join(", "));
    if let Some(k) = plan.shard {
        println!(
            "when every shard is done: pricegrad merge {}",
            s.dir.parent().map_or_else(|| ".".into(), |p| p.display().to_string())
        );
        let _ = k;
    }
    EXIT_PASS
}

/// `pricegrad merge DIR...`.
pub fn merge(args: &MergeArgs) -> u8 {
    match sweep::merge(
        &args.dirs,
        args.out.as_deref(),
        !args.no_timing,
        args.chart_size,
        args.force,
        args.format,
    ) {
        Ok(s) => {
            println!(
                "merged {} shard directories: {} runs: {} converged{}, {} diverged, {} hit max_ticks",
                s.shards.len(),
                s.rows,
                s.converged,
                if s.stationary > 0 {
                    format!(", {} stationary", s.stationary)
                } else {
                    String::new()
                },
                s.diverged,
                s.max_ticks
            );
            println!("wrote {}/ ({})", s.dir.display(), s.files.join(", "));
            EXIT_PASS
        }
        Err(e) => code(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message and its help are worded as `error:` and `= help:` lines; a scenario error
    /// about a swept value keeps its own diagnostic and gains a note.
    #[test]
    fn errors_are_rendered_once_here() {
        let e = Error::Message {
            kind: Kind::Failed,
            message: "the sweep is incomplete".into(),
            help: "finish the shards".into(),
        };
        assert_eq!(
            render(&e),
            "error: the sweep is incomplete\n  = help: finish the shards\n"
        );
        let error = crate::scenario::InputError::plain("f.toml", "bad step", "a step is positive");
        let note = "the sweep sets market.step=-1".to_string();
        let value = render(&Error::Value {
            error: error.clone(),
            note,
        });
        assert_eq!(
            value,
            format!("{error}  = note: the sweep sets market.step=-1; sweep values are applied like --set\n")
        );
    }
}
