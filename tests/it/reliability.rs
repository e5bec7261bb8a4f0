//! Reliability through the binary: failing runs and interrupted work lose nothing.
//!
//! - output safety: an unwritable, non-directory or full output location gives a clear error
//!   (exit 2 before anything runs, exit 1 when a write fails during or after the run) and
//!   leaves no partial and no temporary file, and the previous results untouched;
//! - a directory pricegrad did not create is not written into without `--force`;
//! - runtime faults are outcomes: a production function leaving its domain mid-run,
//!   divergence and a stalled run exit 1 with a message, and no NaN or inf reaches a file;
//! - SIGINT and SIGTERM stop a run (exit 130, the run so far kept) and a sweep (exit 130,
//!   finished runs kept; `--resume` completes it, equal to an uninterrupted sweep).
//!
//! Read-only directories: tests may run as root, where `chmod 0555` does not stop writes.
//! [`ReadOnly`] then makes the directory immutable with `chattr +i` (needs
//! CAP_LINUX_IMMUTABLE and a file system that supports it); if neither works, that case is
//! skipped with a note, and the unwritable-location cases that work for everyone still run:
//! an `--out` path under a regular file (ENOTDIR) and under `/proc` (not writable, even by
//! root). A full disk is simulated with a file-size limit (RLIMIT_FSIZE, set in the child
//! before exec): writes past it fail with EFBIG, as on a full disk (pricegrad ignores the
//! SIGXFSZ that would otherwise kill it, so the same holds under `ulimit -f`).

use crate::common::{bin, journal_rows, pricegrad, TUPPERWARE};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run the binary with `args`; (exit code, stdout, stderr). A death by signal fails the test.
fn run(args: &[&str], cwd: Option<&Path>) -> (i32, String, String) {
    let mut c = pricegrad();
    c.args(args);
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let o = c.output().unwrap();
    let code = o
        .status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {:?}", o.status));
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(!err.contains("panicked"), "{err}");
    (code, out, err)
}

/// Names in a directory (sorted; empty if it does not exist).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every file of a directory with its bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    names(dir)
        .into_iter()
        .map(|n| {
            let b = fs::read(dir.join(&n)).unwrap_or_default();
            (n, b)
        })
        .collect()
}

#[track_caller]
fn assert_no_temporary_files(dir: &Path) {
    let tmp: Vec<String> = names(dir).into_iter().filter(|n| n.ends_with(".tmp")).collect();
    assert!(tmp.is_empty(), "temporary files left in {}: {tmp:?}", dir.display());
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Unwritable output locations
// ---------------------------------------------------------------------------------------------

/// A directory made unwritable: `chmod 0555`, or (as root, where that does not stop writes)
/// `chattr +i`. Restored on drop so the temporary directory can be removed.
struct ReadOnly {
    dir: PathBuf,
    immutable: bool,
}

impl ReadOnly {
    fn make(dir: &Path) -> Option<ReadOnly> {
        let writable = || {
            let probe = dir.join("probe");
            let ok = fs::write(&probe, b"x").is_ok();
            let _ = fs::remove_file(&probe);
            ok
        };
        fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
        if !writable() {
            return Some(ReadOnly {
                dir: dir.to_path_buf(),
                immutable: false,
            });
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        // root: chmod does not stop writes; try the immutable attribute
        let chattr = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .stderr(Stdio::null())
            .status();
        if chattr.is_ok_and(|s| s.success()) {
            let ro = ReadOnly {
                dir: dir.to_path_buf(),
                immutable: true,
            };
            if !writable() {
                return Some(ro);
            }
        }
        None
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.immutable {
            let _ = std::process::Command::new("chattr").arg("-i").arg(&self.dir).status();
        }
        let _ = fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn an_unwritable_output_directory_is_exit_2_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    // an empty directory that cannot be written, and one holding an earlier run
    let empty = root.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let earlier = root.path().join("earlier");
    let (code, _, err) = run(&["run", "--quiet", "--out", path_str(&earlier)], None);
    assert_eq!(code, 0, "{err}");
    let before = contents(&earlier);
    let (Some(_e), Some(_r)) = (ReadOnly::make(&empty), ReadOnly::make(&earlier)) else {
        eprintln!("note: cannot make a read-only directory here (root without chattr +i): case skipped");
        return;
    };
    for (dir, was) in [(&empty, vec![]), (&earlier, before)] {
        let (code, _, err) = run(&["run", "--quiet", "--out", path_str(dir)], None);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(path_str(dir)), "the message names the directory:\n{err}");
        assert!(
            err.contains("not writable") && err.contains("--out"),
            "what to do:\n{err}"
        );
        assert_eq!(contents(dir), was, "the directory changed");
    }
    // a sweep too
    let (code, _, err) = run(
        &[
            "sweep",
            "scenarios/tupperware.toml",
            "--param",
            "market.step=0.2,0.5",
            "--quiet",
            "--out",
            path_str(&empty),
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not writable"), "{err}");
    assert!(names(&empty).is_empty());
}

#[test]
fn an_out_path_that_cannot_be_a_directory_is_exit_2() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("file");
    fs::write(&file, "mine").unwrap();
    // under a regular file (ENOTDIR): works the same for root
    let (code, _, err) = run(&["run", "--quiet", "--out", path_str(&file.join("out"))], None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("Not a directory") && err.contains("a part of the path is a file"),
        "{err}"
    );
    // the file itself
    let (code, _, err) = run(&["run", "--quiet", "--force", "--out", path_str(&file)], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a file, not a directory"), "{err}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "mine");
    // under /proc, which nobody can write to, root included
    if Path::new("/proc/self").exists() {
        let out = format!("/proc/pricegrad-test-{}", std::process::id());
        let (code, _, err) = run(&["run", "--quiet", "--out", &out], None);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&out) && err.contains("cannot create the output directory"),
            "{err}"
        );
    }
    assert_eq!(names(root.path()), ["file"]);
}

// ---------------------------------------------------------------------------------------------
// A full disk
// ---------------------------------------------------------------------------------------------

/// Run the binary with a file-size limit of `bytes` (RLIMIT_FSIZE): a write past it fails
/// with EFBIG, like a write to a full disk.
fn run_limited(bytes: u64, args: &[&str]) -> Output {
    let mut c = std::process::Command::new(bin());
    c.args(args);
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
    unsafe {
        c.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.output().unwrap()
}

#[track_caller]
fn assert_clean_write_failure(o: &Output, file: &str) -> String {
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failed write exits 1, not by a signal: {:?}\n{err}",
        o.status
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(file), "the message names the file:\n{err}");
    assert!(
        err.contains("File too large") && err.contains("ulimit -f"),
        "the cause and what to do:\n{err}"
    );
    err
}

#[test]
fn a_full_disk_during_a_run_leaves_no_partial_file_and_keeps_the_previous_results() {
    let root = tempfile::tempdir().unwrap();
    let noisy = ["--set", "agents.noise=0.01", "--set", "run.max_ticks=4000"];
    // mid-run: trajectory.csv passes 64 KiB long before the run ends
    let out = root.path().join("mid");
    let mut args = vec!["run", "scenarios/tupperware.toml", "--quiet", "--out", path_str(&out)];
    args.extend(noisy);
    let o = run_limited(64 * 1024, &args);
    let err = assert_clean_write_failure(&o, "trajectory.csv");
    assert!(err.contains("no result of this run was written"), "{err}");
    assert_eq!(names(&out), [".pricegrad"], "only the marker");

    // an earlier run's results are kept whole when the next run cannot write
    let (code, _, err) = run(&["run", "--quiet", "--no-timing", "--out", path_str(&out)], None);
    assert_eq!(code, 0, "{err}");
    let before = contents(&out);
    let o = run_limited(64 * 1024, &args);
    assert_clean_write_failure(&o, "trajectory.csv");
    assert_eq!(contents(&out), before, "the previous results changed");

    // at the end: every CSV fits, the chart does not; nothing is renamed into place
    let size = |n: &str| fs::metadata(out.join(n)).unwrap().len();
    let csv = size("trajectory.csv")
        .max(size("metrics.csv"))
        .max(size("summary.json"));
    let png = size("convergence.png");
    assert!(png > csv + 1000, "test assumption: the chart is the largest file");
    let fresh = root.path().join("end");
    let o = run_limited(
        (csv + png) / 2,
        &["run", "--quiet", "--no-timing", "--out", path_str(&fresh)],
    );
    assert_clean_write_failure(&o, "convergence.png");
    assert_eq!(names(&fresh), [".pricegrad"], "nothing renamed into place");
}

#[test]
fn a_full_disk_during_a_sweep_keeps_whole_journal_lines_and_resume_completes_it() {
    let root = tempfile::tempdir().unwrap();
    let grid = [
        "sweep",
        "scenarios/tupperware.toml",
        "--param",
        "market.step=0.2,0.35,0.5",
        "--param",
        "agents.rate=0.2,0.35,0.5",
        "--replicates",
        "2",
        "--no-timing",
        "--quiet",
        "--jobs",
        "2",
    ];
    let with_out = |out: &Path, more: &[&'static str]| {
        let mut a: Vec<String> = grid.iter().map(|s| s.to_string()).collect();
        a.extend(["--out".to_string(), path_str(out).to_string()]);
        a.extend(more.iter().map(|s| s.to_string()));
        a
    };
    let reference = root.path().join("reference");
    let a = with_out(&reference, &[]);
    let (code, _, err) = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert_eq!(code, 0, "{err}");

    // the journal (header + 18 rows) passes 1 KiB part-way through the sweep
    let out = root.path().join("full");
    let a = with_out(&out, &[]);
    let o = run_limited(1024, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_clean_write_failure(&o, "sweep-journal.csv");
    assert_no_temporary_files(&out);
    assert!(!out.join("sweep.csv").exists());
    let journal = fs::read_to_string(out.join("sweep-journal.csv")).unwrap();
    assert!(
        journal.ends_with('\n'),
        "a failed append is cut back to whole lines:\n{journal}"
    );
    let a = with_out(&out, &["--resume"]);
    let (code, _, err) = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs::read(out.join("sweep.csv")).unwrap(),
        fs::read(reference.join("sweep.csv")).unwrap()
    );

    // the final files: sweep.png does not fit; none of them is renamed into place
    let out = root.path().join("end");
    let png = fs::metadata(reference.join("sweep.png")).unwrap().len();
    let a = with_out(&out, &[]);
    let o = run_limited(png / 2, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_clean_write_failure(&o, "sweep.png");
    assert_no_temporary_files(&out);
    assert!(!out.join("sweep.csv").exists() && !out.join("sweep.png").exists());
    let manifest: serde_json::Value = serde_json::from_slice(&fs::read(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], false);
}

// ---------------------------------------------------------------------------------------------
// Directories pricegrad did not create
// ---------------------------------------------------------------------------------------------

#[test]
fn a_foreign_directory_needs_force_and_keeps_its_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("thesis");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("chapter1.tex"), "my work").unwrap();
    fs::write(dir.join("summary.json"), "not pricegrad's").unwrap();
    let before = contents(&dir);
    let d = path_str(&dir);

    for args in [
        vec!["run", "--quiet", "--out", d],
        vec![
            "sweep",
            "scenarios/tupperware.toml",
            "--param",
            "market.step=0.2,0.5",
            "--quiet",
            "--out",
            d,
        ],
    ] {
        let (code, _, err) = run(&args, None);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(d) && err.contains("--force") && err.contains("chapter1.tex"),
            "names the directory, a file in it, and the way out:\n{err}"
        );
        assert_eq!(contents(&dir), before, "a refused directory is untouched");
    }
    // merge into it
    let shards = root.path().join("shards");
    let (code, _, err) = run(
        &[
            "sweep",
            "scenarios/tupperware.toml",
            "--param",
            "market.step=0.2,0.5",
            "--quiet",
            "--shard",
            "1/1",
            "--out",
            path_str(&shards),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        names(&shards),
        [".pricegrad", "shard-1-of-1"],
        "the shards' directory is marked"
    );
    let (code, _, err) = run(&["merge", path_str(&shards), "--out", d], None);
    assert_eq!(code, 2, "{err}");
    assert_eq!(contents(&dir), before);

    // --force: written into, nothing of the owner's removed (a file with one of pricegrad's
    // names is replaced: that is what --force allows)
    let (code, _, err) = run(&["run", "--quiet", "--force", "--out", d], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(fs::read_to_string(dir.join("chapter1.tex")).unwrap(), "my work");
    assert!(dir.join(".pricegrad").exists());
    // marked now: no --force needed again
    let (code, _, err) = run(&["run", "--quiet", "--out", d], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["merge", path_str(&shards), "--out", d], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(fs::read_to_string(dir.join("chapter1.tex")).unwrap(), "my work");
}

#[test]
fn empty_marked_and_earlier_version_directories_are_used() {
    let root = tempfile::tempdir().unwrap();
    // empty
    let empty = root.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let (code, _, err) = run(&["run", "--quiet", "--out", path_str(&empty)], None);
    assert_eq!(code, 0, "{err}");
    let marker = fs::read_to_string(empty.join(".pricegrad")).unwrap();
    assert!(marker.contains("pricegrad run"), "{marker}");
    // an earlier version's output: pricegrad's file names only (and a stray temporary file)
    let old = root.path().join("old");
    fs::create_dir(&old).unwrap();
    for n in [
        "summary.json",
        "trajectory.csv",
        "metrics.csv",
        "convergence.png",
        ".metrics.csv.tmp",
    ] {
        fs::write(old.join(n), "old").unwrap();
    }
    let (code, _, err) = run(&["run", "--quiet", "--out", path_str(&old)], None);
    assert_eq!(code, 0, "{err}");
    assert_ne!(fs::read_to_string(old.join("summary.json")).unwrap(), "old");
    // the default output/<name>, run again and again (`cargo run --release` with no arguments)
    let cwd = root.path().join("project");
    fs::create_dir(&cwd).unwrap();
    for i in 0..3 {
        if i == 2 {
            // as an earlier version left it
            fs::remove_file(cwd.join("output/tupperware/.pricegrad")).unwrap();
        }
        let o = pricegrad().current_dir(&cwd).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "run {i}: {}", text(&o.stderr));
        assert!(text(&o.stdout).contains("PASS"));
    }
    assert_eq!(
        names(&cwd.join("output/tupperware")),
        [
            ".pricegrad",
            "convergence.png",
            "firms.csv",
            "metrics.csv",
            "scenario.toml",
            "summary.json",
            "trajectory.csv"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Runtime faults are outcomes
// ---------------------------------------------------------------------------------------------

/// Every CSV cell is empty, text, or a finite number; every JSON file parses (so it holds no
/// NaN or Infinity) and its numbers are finite.
#[track_caller]
fn assert_all_finite(dir: &Path) {
    for (name, bytes) in contents(dir) {
        let t = text(&bytes);
        if name.ends_with(".csv") {
            for (i, line) in t.lines().enumerate() {
                for cell in line.split(',') {
                    if let Ok(v) = cell.trim().parse::<f64>() {
                        assert!(v.is_finite(), "{name} line {}: {cell:?}", i + 1);
                    }
                }
            }
        } else if name.ends_with(".json") {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_else(|e| panic!("{name}: {e}"));
            fn walk(v: &serde_json::Value, name: &str) {
                match v {
                    serde_json::Value::Number(n) => {
                        assert!(n.as_f64().is_some_and(f64::is_finite), "{name}: {n}")
                    }
                    serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, name)),
                    serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, name)),
                    _ => {}
                }
            }
            walk(&v, &name);
        }
    }
}

/// The tupperware chain with each (from, to) replaced and `extra` appended, in `dir`.
fn scenario(dir: &Path, name: &str, edits: &[(&str, &str)], extra: &str) -> PathBuf {
    let mut t = TUPPERWARE.to_string();
    for (from, to) in edits {
        assert!(t.contains(from), "test bug: {from:?}");
        t = t.replacen(from, to, 1);
    }
    let p = dir.join(format!("{name}.toml"));
    fs::write(&p, format!("{t}\n{extra}")).unwrap();
    p
}

/// sqrt(natgas - 0.005) is finite wherever the validation samples it (inputs >= 0.01); the
/// endowment shock at tick 50 drives firm A's plan below 0.005 mid-run.
const DOMAIN_SHOCK: &str = "[[shocks]]\ntick = 50\ngood = \"natgas\"\nendowment = 0.001\n";

#[test]
fn a_production_function_leaving_its_domain_mid_run_is_an_outcome_with_the_firm_named() {
    let root = tempfile::tempdir().unwrap();
    const A: (&str, &str) = ("production = \"sqrt(natgas)\"", "production = \"sqrt(natgas - 0.005)\"");
    let cases = [
        // the output of an intermediate firm
        (
            scenario(root.path(), "a", &[A], DOMAIN_SHOCK),
            "the output of firm 'A' is not a number",
            "sqrt(natgas - 0.005)",
        ),
        // the output of the firm that makes the fixed-price final good (no market checks it)
        (
            scenario(
                root.path(),
                "c",
                &[(
                    "production = \"ln(polyethylene)\"",
                    "production = \"ln(polyethylene - 0.005)\"",
                )],
                "[[shocks]]\ntick = 50\ngood = \"natgas\"\nendowment = 1e-7\n",
            ),
            "the output of firm 'C' is not a number",
            "ln(polyethylene - 0.005)",
        ),
        // already outside at the start: the plan's update step is not finite in tick 0
        (
            scenario(root.path(), "start", &[A, ("endowment = 4.0", "endowment = 0.004")], ""),
            "the input plan of firm 'A' for 'natgas' is not a number",
            "sqrt(natgas - 0.005)",
        ),
    ];
    for (file, what, formula) in cases {
        let out = root.path().join(file.file_stem().unwrap());
        let (code, stdout, err) = run(&["run", path_str(&file), "--quiet", "--out", path_str(&out)], None);
        assert_eq!(code, 1, "{stdout}{err}");
        for w in [what, formula, "left its domain", "diverged at tick"] {
            assert!(stdout.contains(w), "expected {w:?} in:\n{stdout}");
        }
        assert!(
            err.contains("help: write the production function to be finite"),
            "{err}"
        );
        let summary: serde_json::Value = serde_json::from_slice(&fs::read(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["outcome"], "diverged");
        assert!(summary["outcome_detail"].as_str().unwrap().contains(what), "{summary}");
        assert_all_finite(&out);
        assert_no_temporary_files(&out);
    }

    // in a sweep: a row like any diverged run, no NaN in sweep.csv
    let out = root.path().join("sweep");
    let file = root.path().join("a.toml");
    let (code, _, err) = run(
        &[
            "sweep",
            path_str(&file),
            "--param",
            "goods.natgas.endowment=4,0.001",
            "--quiet",
            "--out",
            path_str(&out),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let csv = fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(csv.lines().skip(1).all(|l| l.contains(",diverged,")), "{csv}");
    assert_all_finite(&out);
}

#[test]
fn divergence_and_a_stalled_run_exit_1_with_a_message_and_finite_files() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("diverged");
    let (code, stdout, err) = run(
        &["run", "--quiet", "--set", "market.step=1000", "--out", path_str(&out)],
        None,
    );
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(stdout.contains("FAIL: diverged at tick"), "{stdout}");
    assert!(err.contains("help:") && err.contains("market.step"), "{err}");
    assert_all_finite(&out);

    let out = root.path().join("stalled");
    let (code, stdout, err) = run(
        &["run", "--quiet", "--set", "run.max_ticks=30", "--out", path_str(&out)],
        None,
    );
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(
        stdout.contains("FAIL: did not converge within max_ticks = 30"),
        "{stdout}"
    );
    assert!(err.contains("run.max_ticks"), "{err}");
    let summary: serde_json::Value = serde_json::from_slice(&fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["outcome"], "max_ticks");
    assert_eq!(summary["ticks"], 30);
    assert_all_finite(&out);
    // check: the same verdicts, nothing written
    let (code, stdout, _) = run(&["check", "--set", "run.max_ticks=30"], Some(root.path()));
    assert_eq!(code, 1);
    assert!(
        stdout.contains(": FAIL: did not converge within max_ticks = 30"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------------

fn signal(child: &std::process::Child, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's process id.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill failed");
}

#[test]
fn sigterm_stops_a_run_at_the_end_of_a_tick_and_keeps_the_run_so_far() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("t");
    // a run that never converges (a noisy run would end stationary): prices cycle under a
    // market step this small
    let child = std::process::Command::new(bin())
        .args([
            "run",
            "scenarios/tupperware.toml",
            "--quiet",
            "--set",
            "market.step=0.0001",
        ])
        // every tick logged (a default cadence would thin a run this long)
        .args(["--set", "run.max_ticks=1000000000", "--set", "log.every=1", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // under way: its temporary files exist
    let t = Instant::now();
    while !names(&out).iter().any(|n| n.ends_with(".tmp")) {
        assert!(t.elapsed() < Duration::from_secs(60), "the run did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGTERM);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("interrupted"));
    let summary: serde_json::Value = serde_json::from_slice(&fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["outcome"], "interrupted");
    let ticks = summary["ticks"].as_u64().unwrap();
    let metrics = fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count() as u64, ticks + 1, "one whole row per tick");
    assert_no_temporary_files(&out);
    assert_all_finite(&out);
}

/// A sweep slow enough to be stopped part-way: 3 x 2 points x 5 replicates of noisy runs (each
/// ends stationary after some thousands of ticks, or at 20,000).
const SLOW: &[&str] = &[
    "sweep",
    "scenarios/tupperware.toml",
    "--param",
    "market.step=0.2,0.4,0.6",
    "--param",
    "agents.rate=0.2,0.5",
    "--replicates",
    "5",
    "--set",
    "agents.noise=0.01",
    "--set",
    "run.max_ticks=20000",
    "--set",
    "run.tolerance=1e-300",
    "--no-timing",
    "--quiet",
    "--jobs",
    "2",
];
const SLOW_RUNS: usize = 30;

#[test]
fn sigint_and_sigterm_stop_a_sweep_and_resume_equals_an_uninterrupted_sweep() {
    let root = tempfile::tempdir().unwrap();
    let reference = root.path().join("reference");
    let mut args = SLOW.to_vec();
    args.extend(["--out", path_str(&reference)]);
    let (code, _, err) = run(&args, None);
    assert_eq!(code, 0, "{err}");
    let expected = fs::read(reference.join("sweep.csv")).unwrap();

    for (sig, name) in [(libc::SIGINT, "int"), (libc::SIGTERM, "term")] {
        let out = root.path().join(name);
        let child = std::process::Command::new(bin())
            .args(SLOW)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while journal_rows(&out).len() < 3 {
            assert!(t.elapsed() < Duration::from_secs(120), "the sweep wrote no rows");
            std::thread::sleep(Duration::from_millis(5));
        }
        signal(&child, sig);
        let o = child.wait_with_output().unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{name}: {err}");
        assert!(err.contains("interrupted") && err.contains("--resume"), "{err}");
        let before = journal_rows(&out);
        assert!(before.len() < SLOW_RUNS, "{name}: the sweep finished before the signal");
        assert!(
            fs::read_to_string(out.join("sweep-journal.csv"))
                .unwrap()
                .ends_with('\n'),
            "a stopped sweep leaves whole journal lines"
        );
        assert!(!out.join("sweep.csv").exists());
        assert_no_temporary_files(&out);

        let resume = args_with(SLOW, &["--resume", "--out", path_str(&out)]);
        let (code, stdout, err) = run(&resume, None);
        assert_eq!(code, 0, "{err}");
        assert!(
            stdout.contains(&format!("({} ran now", SLOW_RUNS - before.len())),
            "finished runs are not run again: {stdout}"
        );
        assert_eq!(
            fs::read(out.join("sweep.csv")).unwrap(),
            expected,
            "{name}: resumed sweep differs"
        );
        assert_eq!(&journal_rows(&out)[..before.len()], &before[..]);
    }
}

fn args_with<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(more).copied().collect()
}
