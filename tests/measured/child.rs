//! Running the `pricegrad` binary as a child process and measuring what it cost: exit code,
//! signal, standard error, wall and CPU time, and peak resident memory (getrusage of the
//! child alone, via wait4).

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child still running after this long is killed (a hang must fail, not block the suite).
pub const KILL_AFTER: Duration = Duration::from_secs(60);

/// One finished child: how it ended, what it said, what it cost.
pub struct Outcome {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stderr: String,
    pub wall: Duration,
    pub cpu: Duration,
    /// Peak resident memory in bytes. Linux counts a spawned child's peak from the memory
    /// of the process that spawned it (exec records the old address space's peak), so this
    /// is max(the child's own peak, this test process's peak at the spawn): an exact figure
    /// when `rss_exact`, else an upper bound. Either way `own peak <= max_rss`, so a budget
    /// check on it is sound.
    pub max_rss: u64,
    pub rss_exact: bool,
}

/// This process's peak resident memory so far, in bytes.
pub fn own_peak() -> u64 {
    // SAFETY: getrusage with a valid out-pointer.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    usage.ru_maxrss as u64 * 1024
}

/// Run the binary with `args` in `cwd`; measure its wall time, CPU time and peak memory
/// (getrusage of this child alone, via wait4). Killed after KILL_AFTER.
// The child is reaped by wait4 (for its rusage), not by Child::wait.
#[allow(clippy::zombie_processes)]
pub fn run_child(args: &[OsString], cwd: &Path) -> Outcome {
    let parent_peak = own_peak();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("pricegrad"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pricegrad");
    let start = Instant::now();
    let pid = child.id() as libc::pid_t;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).ok();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).ok();
        v
    });
    // The watchdog kills only while the child is not reaped (its pid cannot be reused).
    let done = Arc::new(Mutex::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            while start.elapsed() < KILL_AFTER {
                if *done.lock().unwrap() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let d = done.lock().unwrap();
            if !*d {
                // SAFETY: kill(2) on our own unreaped child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        })
    };
    // Wait for the exit without reaping, stop the watchdog, then reap with the rusage.
    // SAFETY: plain system calls on our own child with valid out-pointers.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        while libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) != 0 {
            assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::EINTR));
        }
    }
    let wall = start.elapsed();
    *done.lock().unwrap() = true;
    watchdog.join().unwrap();
    let mut status = 0;
    // SAFETY: as above; rusage is plain old data.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let r = libc::wait4(pid, &mut status, 0, &mut usage);
        assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
        usage
    };
    let _ = out_reader.join();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    Outcome {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stderr,
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss: usage.ru_maxrss as u64 * 1024, // kilobytes on Linux
        rss_exact: usage.ru_maxrss as u64 * 1024 > parent_peak,
    }
}
