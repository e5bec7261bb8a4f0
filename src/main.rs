fn main() -> std::process::ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`pricegrad run | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default action of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Under a file-size limit (`ulimit -f`) a write past it would kill the process with
    // SIGXFSZ, leaving temporary files behind; ignored, the write fails with EFBIG instead,
    // which is reported like a full disk and cleaned up.
    #[cfg(unix)]
    // SAFETY: setting a signal disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    pricegrad::cli::main()
}
