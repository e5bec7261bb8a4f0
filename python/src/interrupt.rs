//! Running the engine with the GIL released, and Ctrl-C: the work runs on its own thread
//! while the calling thread waits, taking the GIL for a moment every 50 ms to let Python
//! run its signal handlers. A KeyboardInterrupt (or any exception a handler raises) sets the
//! stop flag, which ends a run at the end of its tick (outcome "interrupted") and a sweep
//! before its next run; the exception is raised once the work has returned.
//!
//! The check cannot live in the engine's progress callback: that runs on a thread of the
//! rayon pool, and CPython runs signal handlers only on the main thread.

use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How often the waiting thread looks for signals.
const POLL: Duration = Duration::from_millis(50);

/// Run `work(stop)` without the GIL; its result, and the exception a signal handler raised
/// meanwhile (the caller raises it after looking at the result).
pub fn run<T: Send>(py: Python<'_>, work: impl FnOnce(&AtomicBool) -> T + Send) -> (T, Option<PyErr>) {
    let stop = AtomicBool::new(false);
    py.detach(|| {
        std::thread::scope(|s| {
            let (done, finished) = mpsc::channel::<()>();
            let stop = &stop;
            let worker = s.spawn(move || {
                let result = work(stop);
                let _ = done.send(());
                result
            });
            let mut raised = None;
            // until the worker is done (or panicked: join passes the panic on)
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(POLL) {
                if raised.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        stop.store(true, Ordering::Relaxed);
                        raised = Some(e);
                    }
                }
            }
            match worker.join() {
                Ok(result) => (result, raised),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    })
}
