//! Long runs stay bounded (README.md, Outputs): a run's peak memory does not grow with its
//! number of ticks, also when every tick is logged, and by default a long run's log is thinned
//! so that its files stay bounded too.

use crate::child::run_child;
use std::ffi::OsString;
use std::path::Path;

/// The essay's chain with the additive price rule, which never meets its tolerance there
/// (the prices cycle), so a run lasts all its `max_ticks`.
fn run(dir: &Path, ticks: u64, every: Option<u64>) -> u64 {
    let mut args: Vec<OsString> = [
        "run",
        "--quiet",
        "--no-timing",
        "--set",
        "market.rule=additive",
        "--set",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(format!("run.max_ticks={ticks}").into());
    if let Some(every) = every {
        args.push("--set".into());
        args.push(format!("log.every={every}").into());
    }
    args.push("--out".into());
    args.push(dir.as_os_str().to_owned());
    let o = run_child(&args, dir.parent().unwrap());
    // exit 1: the run did not converge, as intended
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(o.stderr.contains("help:"), "{}", o.stderr);
    // an upper bound of the child's peak (max of its own and this process's at the spawn):
    // sound for a bound, and for the comparison below, since this process stays the same
    o.max_rss
}

/// Data rows of a CSV file, counted in a small buffer (reading a whole file would raise this
/// process's peak, which hides the peak of the children it starts after).
fn rows(path: &Path) -> usize {
    use std::io::Read;
    let mut file = std::fs::File::open(path).unwrap();
    let (mut buf, mut lines) = (vec![0u8; 1 << 16], 0);
    loop {
        match file.read(&mut buf).unwrap() {
            0 => return lines - 1,
            n => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
        }
    }
}

#[test]
fn memory_does_not_grow_with_the_ticks_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let (short, long) = (tmp.path().join("short"), tmp.path().join("long"));
    // the chart reads at most 20,000 logged ticks (a longer log is decimated), so memory
    // grows up to that many and not beyond
    let peak_short = run(&short, 20_000, Some(1));
    let peak_long = run(&long, 100_000, Some(1));
    // every tick was logged: five times the rows, in the same memory (before the log was
    // streamed, the history held in memory grew by about 800 bytes a tick here: 70 MB more)
    assert_eq!(rows(&long.join("metrics.csv")), 100_000);
    assert_eq!(rows(&long.join("trajectory.csv")), 300_000);
    assert_eq!(rows(&short.join("metrics.csv")), 20_000);
    const MB: u64 = 1 << 20;
    assert!(
        peak_long <= peak_short + 4 * MB,
        "peak {} MB at 100,000 logged ticks against {} MB at 20,000",
        peak_long / MB,
        peak_short / MB
    );
    assert!(peak_long <= 100 * MB, "peak {} MB", peak_long / MB);
}

#[test]
fn a_long_runs_default_log_is_thinned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("long");
    run(&dir, 100_000, None);
    // every tick up to 10,000, then every 9th: 20,000 logged ticks, and the last
    let logged = rows(&dir.join("metrics.csv"));
    assert!((19_990..=20_002).contains(&logged), "{logged} ticks logged");
    assert_eq!(rows(&dir.join("trajectory.csv")), 3 * logged);
}
