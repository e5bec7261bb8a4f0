//! Errors in big files cost no more than success (issue 18): a generated 19 MB economy with a
//! type error in its last firm is refused with the error at its place, in at most twice the
//! peak memory of validating the same file without the error. (Before, the error sent the
//! loader to the whole-document parse and kept a copy of the file: 14 times the memory.)

use crate::child::run_child;
use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

fn validate(file: &Path) -> crate::child::Outcome {
    let args: Vec<OsString> = vec!["validate".into(), file.as_os_str().to_owned()];
    run_child(&args, file.parent().unwrap())
}

/// Quote the last `scale = NUMBER` of the file (its last firm's), editing only its tail, so
/// that this process stays small (its peak bounds the children's measured peaks from below).
fn quote_last_scale(file: &Path) -> usize {
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(file).unwrap();
    let len = f.metadata().unwrap().len();
    let from = len.saturating_sub(4096);
    f.seek(SeekFrom::Start(from)).unwrap();
    let mut tail = String::new();
    f.read_to_string(&mut tail).unwrap();
    let at = tail.rfind("scale = ").expect("a Cobb-Douglas firm at the end") + "scale = ".len();
    let end = at + tail[at..].find(',').unwrap();
    let edited = format!("{}\"{}\"{}", &tail[..at], &tail[at..end], &tail[end..]);
    f.seek(SeekFrom::Start(from)).unwrap();
    f.write_all(edited.as_bytes()).unwrap();
    // the line of the edit: the lines before the tail plus those in it
    let mut count = std::fs::File::open(file).unwrap();
    let (mut buf, mut lines, mut read) = (vec![0u8; 1 << 16], 1, 0u64);
    while read < from {
        let n = count.read(&mut buf[..(from - read).min(1 << 16) as usize]).unwrap();
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
        read += n as u64;
    }
    lines + tail[..at].matches('\n').count()
}

#[test]
fn a_type_error_at_the_end_of_a_big_file_costs_at_most_twice_its_success() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("big.toml");
    let args: Vec<OsString> = [
        "generate", "--layers", "10", "--width", "10000", "--inputs", "3", "--seed", "1", "--out",
    ]
    .iter()
    .map(OsString::from)
    .chain([file.as_os_str().to_owned()])
    .collect();
    let g = run_child(&args, tmp.path());
    assert_eq!(g.code, Some(0), "{}", g.stderr);
    assert!(std::fs::metadata(&file).unwrap().len() > 18_000_000);
    let good = validate(&file);
    assert_eq!(good.code, Some(0), "{}", good.stderr);
    let line = quote_last_scale(&file);
    let bad = validate(&file);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("expected f64"), "{}", bad.stderr);
    assert!(
        bad.stderr.contains(&format!("big.toml:{line}:")),
        "line {line}: {}",
        bad.stderr
    );
    // both figures are bounds from above by this (small) process's own peak; the success's
    // is about 45 MB, and the whole-document parse took about 640 MB
    const MB: u64 = 1 << 20;
    assert!(
        bad.max_rss <= 2 * good.max_rss,
        "the error took {} MB, the success {} MB",
        bad.max_rss / MB,
        good.max_rss / MB
    );
}
