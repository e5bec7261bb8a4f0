//! Scenarios: the TOML format (version 1), `--set` overrides, and validation into an
//! [`crate::economy::Economy`]. Every problem is reported with the file, line and
//! column, and how to fix it.

pub mod chunked;
pub mod error;
pub mod format;
pub mod overrides;
pub mod sweep_spec;
pub mod validate;

pub use error::{InputError, Location, Problem};
pub use format::{Origin, ScenarioFile};
pub use validate::{valid_scenario_name, validate};

use crate::economy::Economy;

/// The built-in default scenario: the essay's tupperware chain.
pub const TUPPERWARE: &str = include_str!("../../scenarios/tupperware.toml");
/// The file label used for the built-in scenario in messages.
pub const TUPPERWARE_LABEL: &str = "<built-in tupperware.toml>";

/// Largest scenario file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// Read a scenario file from disk.
pub fn read(path: &std::path::Path) -> Result<String, InputError> {
    let label = path.display().to_string();
    check_file(path, &label)?;
    let bytes = std::fs::read(path).map_err(|e| {
        InputError::plain(
            &label,
            format!("cannot read the scenario file: {e}"),
            "check the file's permissions",
        )
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        not_utf8(&label, &e.into_bytes(), offset)
    })
}

/// The error for a file that is not UTF-8 from byte `offset` on.
fn not_utf8(label: &str, bytes: &[u8], offset: usize) -> InputError {
    let text = String::from_utf8_lossy(&bytes[..offset]).into_owned();
    InputError::new(
        label,
        &text,
        vec![Problem::at(
            offset..offset + 1,
            "the file is not UTF-8 text",
            "scenario files are TOML text; is this the right file?",
        )],
    )
}

/// That `path` is a file pricegrad reads: it exists, is not a directory, is not too long.
fn check_file(path: &std::path::Path, label: &str) -> Result<u64, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        InputError::plain(
            label,
            format!("cannot read the scenario file: {e}"),
            "check the path; scenario files end in .toml, e.g. scenarios/tupperware.toml",
        )
    })?;
    if meta.is_dir() {
        return Err(InputError::plain(
            label,
            "this is a directory, not a scenario file",
            "give the path of a .toml file, e.g. scenarios/tupperware.toml",
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(InputError::plain(
            label,
            format!(
                "the file is {} bytes, more than the {} bytes pricegrad reads",
                meta.len(),
                MAX_FILE_BYTES
            ),
            "use `count = N` for many identical firms, or split the economy",
        ));
    }
    Ok(meta.len())
}

/// The text of a scenario file: read into memory, or, for a large file, mapped, so that the
/// loader can give back the pages it has parsed ([`Source::release`]): the whole text of a
/// file of a million firms (66 bytes per edge) is then never resident at once. Reading a
/// page again (for an error message) brings it back from the page cache. As with any mapped
/// file, one that another program truncates while it is being loaded ends the process
/// (SIGBUS); one rewritten meanwhile may load as a mix of both versions.
pub struct Source(Held);

enum Held {
    Owned(String),
    /// A mapping checked to be UTF-8.
    #[cfg(unix)]
    Mapped(Mapping),
}

impl Source {
    /// A text held in memory.
    pub fn owned(text: String) -> Source {
        Source(Held::Owned(text))
    }

    /// Give back the resident pages wholly inside `range` of a mapped text (for a text in
    /// memory, nothing).
    pub fn release(&self, range: std::ops::Range<usize>) {
        match &self.0 {
            Held::Owned(_) => {}
            #[cfg(unix)]
            Held::Mapped(m) => m.release(range),
        }
    }
}

impl std::ops::Deref for Source {
    type Target = str;
    fn deref(&self) -> &str {
        match &self.0 {
            Held::Owned(s) => s,
            // SAFETY: checked to be UTF-8 when mapped (`map_file`), and never written.
            #[cfg(unix)]
            Held::Mapped(m) => unsafe { std::str::from_utf8_unchecked(m.bytes()) },
        }
    }
}

/// A private read-only mapping of a whole file, unmapped on drop.
#[cfg(unix)]
struct Mapping {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and unmapped only on drop; its bytes may be read from any
// thread.
#[cfg(unix)]
unsafe impl Send for Mapping {}
#[cfg(unix)]
unsafe impl Sync for Mapping {}

#[cfg(unix)]
impl Mapping {
    fn map(file: &std::fs::File, len: usize) -> Option<Mapping> {
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh private read-only mapping of `len` bytes; checked for failure.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        (ptr != libc::MAP_FAILED && len > 0).then_some(Mapping {
            ptr: ptr as *const u8,
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `len` readable bytes, mapped as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    fn release(&self, range: std::ops::Range<usize>) {
        // SAFETY: sysconf has no preconditions.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            p if p > 0 => p as usize,
            _ => return,
        };
        let base = self.ptr as usize;
        let start = (base + range.start.min(self.len)).div_ceil(page) * page;
        let end = (base + range.end.min(self.len)) / page * page;
        if end > start {
            // SAFETY: whole pages of this read-only private mapping: dropped from the process,
            // they are read back from the file when touched again.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

#[cfg(unix)]
impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `Mapping::map`; nothing borrows it any more.
        unsafe {
            libc::munmap(self.ptr as *mut libc::c_void, self.len);
        }
    }
}

/// Read a scenario file as [`read`] does, mapping it when it is at least
/// [`chunked::CHUNKED_FROM`] bytes long (where mapping fails, it is read).
pub fn read_source(path: &std::path::Path) -> Result<Source, InputError> {
    #[cfg(unix)]
    {
        let label = path.display().to_string();
        let len = check_file(path, &label)?;
        if len >= chunked::CHUNKED_FROM as u64 {
            if let Some(m) = std::fs::File::open(path)
                .ok()
                .and_then(|f| Mapping::map(&f, len as usize))
            {
                check_utf8(&m, &label)?;
                return Ok(Source(Held::Mapped(m)));
            }
        }
    }
    read(path).map(Source::owned)
}

/// Check that a mapped file is UTF-8, in blocks checked in parallel, giving back each
/// block's pages once checked. The error is the first invalid byte, as for [`read`].
#[cfg(unix)]
fn check_utf8(m: &Mapping, label: &str) -> Result<(), InputError> {
    use rayon::prelude::*;
    const BLOCK: usize = 8 << 20;
    let bytes = m.bytes();
    // block boundaries at character starts (a run of continuation bytes is invalid anyway)
    let mut bounds = vec![0];
    while let Some(&start) = bounds.last().filter(|&&s| s < bytes.len()) {
        let mut end = (start + BLOCK).min(bytes.len());
        while end < bytes.len() && end > start + 1 && (bytes[end] & 0xc0) == 0x80 {
            end -= 1;
        }
        bounds.push(end);
    }
    let first_error = bounds
        .par_windows(2)
        .map(|w| {
            let checked = std::str::from_utf8(&bytes[w[0]..w[1]]).map_err(|e| w[0] + e.valid_up_to());
            m.release(w[0]..w[1]);
            checked.err()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .next();
    match first_error {
        Some(offset) => Err(not_utf8(label, bytes, offset)),
        None => Ok(()),
    }
}

/// Parse TOML text into the format structures (syntax, types, unknown keys).
pub fn parse(label: &str, text: &str) -> Result<ScenarioFile, InputError> {
    toml::from_str::<ScenarioFile>(text).map_err(|e| {
        let problem = if is_blank(text) {
            Problem::at(
                0..0,
                if text.trim().is_empty() {
                    "the scenario file is empty"
                } else {
                    "the scenario file has only comments"
                },
                "a scenario needs a name, [goods.NAME] tables and [[firms]] tables; \
                 start from scenarios/tupperware.toml (README.md describes the format)",
            )
        } else {
            toml_problem(&e, text)
        };
        InputError::new(label, text, vec![problem])
    })
}

/// Whether TOML text holds nothing but whitespace and comments.
fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim_start();
        l.is_empty() || l.starts_with('#')
    })
}

/// Parse, apply `--set` overrides, and validate. Large files load in chunks, in parallel
/// ([`chunked`]); the result and the errors are those of [`load_whole`].
pub fn load_str(label: &str, text: &str, sets: &[String], seed: Option<u64>) -> Result<Economy, InputError> {
    load_text(label, text, &|_| {}, sets, seed)
}

/// [`load_str`] from a [`Source`], whose pages are given back as they are parsed.
pub fn load_source(label: &str, source: &Source, sets: &[String], seed: Option<u64>) -> Result<Economy, InputError> {
    load_text(label, source, &|r| source.release(r), sets, seed)
}

fn load_text(
    label: &str,
    text: &str,
    release: &(dyn Fn(std::ops::Range<usize>) + Sync),
    sets: &[String],
    seed: Option<u64>,
) -> Result<Economy, InputError> {
    if text.len() >= chunked::CHUNKED_FROM {
        if let Some(result) = chunked::load_releasing(label, text, sets, seed, chunked::CHUNK_BYTES, release) {
            release_free_memory();
            return result;
        }
    }
    load_whole(label, text, sets, seed)
}

/// Give the memory that loading freed back to the system. The chunks are parsed and
/// validated on worker threads, whose allocator arenas otherwise keep the freed pages (about
/// 70 bytes per edge at a million firms) resident through the whole run.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// [`load_str`] through one parse of the whole document into [`ScenarioFile`].
pub fn load_whole(label: &str, text: &str, sets: &[String], seed: Option<u64>) -> Result<Economy, InputError> {
    let mut file = parse(label, text)?;
    apply_overrides(&mut file, label, text, sets)?;
    let economy = validate::validate(&file, text, seed).map_err(|p| InputError::new(label, text, p))?;
    // `sweep` reads the [sweep] table; every other command still checks it, so that a typo
    // in it is found by `validate` rather than when a sweep starts.
    let problems = validate::sweep_table(&file);
    if !problems.is_empty() {
        return Err(InputError::new(label, text, problems));
    }
    Ok(economy)
}

/// Apply `--set PATH=VALUE` arguments in order.
pub fn apply_overrides(file: &mut ScenarioFile, label: &str, text: &str, sets: &[String]) -> Result<(), InputError> {
    for s in sets {
        overrides::apply(file, s).map_err(|msg| {
            InputError::new(
                label,
                text,
                vec![Problem::new(
                    Location::Set(s.clone()),
                    msg,
                    "fix the --set argument; `pricegrad run --help` lists the paths",
                )],
            )
        })?;
    }
    Ok(())
}

/// Read a file (or the built-in scenario when `path` is None) and load it.
pub fn load(
    path: Option<&std::path::Path>,
    sets: &[String],
    seed: Option<u64>,
) -> Result<(Economy, String, Source), InputError> {
    let (label, source) = match path {
        Some(p) => (p.display().to_string(), read_source(p)?),
        None => (TUPPERWARE_LABEL.to_string(), Source::owned(TUPPERWARE.to_string())),
    };
    let economy = load_source(&label, &source, sets, seed)?;
    Ok((economy, label, source))
}

/// Turn a toml error into a located problem with a fix.
pub(crate) fn toml_problem(e: &toml::de::Error, text: &str) -> Problem {
    let msg = e.message().trim().to_string();
    let span = e.span().unwrap_or(0..0);
    let found = text.get(span.start..).and_then(|t| t.chars().next());
    if msg.is_empty() {
        // toml gives no message for some syntax errors, e.g. a control character in a comment
        return unexplained_toml_problem(span, found);
    }
    let help = if let Some(rest) = msg.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        format!(
            "{}unknown keys are errors so that a typo is never silently ignored; allowed here: {}",
            error::did_you_mean(field, expected.iter().copied()),
            expected.join(", ")
        )
    } else if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let field = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        format!(
            "{}production families are: {}",
            error::did_you_mean(field, expected.iter().copied()),
            expected.join(", ")
        )
    } else if msg.starts_with("the production table names") {
        "write exactly one family, e.g. production = { cobb_douglas = { exponents = { labor = 0.3, capital = 0.6 } } }, \
         or an expression, e.g. production = \"sqrt(labor)\""
            .to_string()
    } else if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or("");
        let example = match field {
            "name" => "name = \"tupperware\" at the top of the file",
            "goods" => "[goods.natgas] with endowment = 4.0, and [goods.tupperware] with price = 1.0",
            "production" => "production = \"sqrt(natgas)\" in this [[firms]] entry",
            "tick" => "tick = 5000 in this [[shocks]] entry",
            _ => "see the scenario format in README.md",
        };
        format!("add `{field}`, e.g. {example}")
    } else if msg.starts_with("invalid type") {
        type_help(&msg).to_string()
    } else if msg.contains("number too large") || msg.contains("number too small") {
        "whole numbers are at most 9223372036854775807 in size; use a smaller value".to_string()
    } else if msg.contains("recursion limit") {
        "values are nested too deeply: arrays and inline tables in a scenario need only a few levels; remove the extra brackets".to_string()
    } else if msg.contains("duplicate key `\"firms\"`") || msg.contains("duplicate key `\"shocks\"`") {
        "firms and shocks are lists: write each entry as [[firms]] or [[shocks]], with double brackets".to_string()
    } else if msg.contains("duplicate key") {
        "each key, good and table may appear once; remove or rename the repeated one".to_string()
    } else if let Some(c) = found.filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        format!(
            "the file holds a control character (U+{:04X}) here; remove it (is this a text file?)",
            c as u32
        )
    } else if msg.starts_with("invalid floating-point number") {
        "write a decimal number such as 0.5, 2e-3 or 1e6; a number must fit in a double (at most about 1.8e308)"
            .to_string()
    } else if msg.starts_with("invalid table header") && msg.contains("expected `.`, `]`") {
        "close the table header with ']', e.g. [goods.natgas]".to_string()
    } else if msg.starts_with("invalid string") {
        "a value is missing or not quoted: text is written in quotes (rule = \"gradient\"), numbers without (rate = 0.5)"
            .to_string()
    } else if msg.starts_with("invalid basic string") || msg.starts_with("invalid literal string") {
        "close the string with its quote on the same line (use triple quotes \"\"\" for text over several lines)"
            .to_string()
    } else {
        "fix the TOML syntax at this place (see https://toml.io for the format)".to_string()
    };
    Problem::at(span, msg, help)
}

/// A problem for a toml syntax error that came without a message: say what is at the place.
fn unexplained_toml_problem(span: std::ops::Range<usize>, found: Option<char>) -> Problem {
    match found {
        Some(c) if c.is_control() && !matches!(c, '\n' | '\r' | '\t') => Problem::at(
            span,
            format!("control character U+{:04X} is not allowed in TOML text", u32::from(c)),
            "remove it (is this a text file?): TOML allows no control characters except tab, even in comments; \
             inside a string write it as an escape, e.g. \\u0001",
        ),
        Some(c) => Problem::at(
            span,
            format!("invalid TOML syntax at {c:?}"),
            "fix the TOML syntax at this place (see https://toml.io for the format)",
        ),
        None => Problem::at(
            span,
            "invalid TOML syntax at the end of the file",
            "the file ends in the middle of something; complete or remove the last line",
        ),
    }
}

/// How to fix a value of the wrong type, from serde's "expected ..." part of the message.
fn type_help(msg: &str) -> &'static str {
    let expected = msg.rsplit("expected ").next().unwrap_or("");
    if expected.starts_with("an expression string") {
        "write the production function as an expression in quotes, e.g. production = \"sqrt(natgas)\", or as a family table, e.g. production = { power = { exponent = 0.5, input = \"natgas\" } }"
    } else if expected.starts_with("i64") || expected.starts_with("u64") {
        "this key takes a whole number, written without a decimal point, exponent or quotes, e.g. max_ticks = 20000"
    } else if expected.starts_with("f64") {
        "this key takes a number, written without quotes, e.g. step = 0.5"
    } else if expected.contains("string") {
        "this key takes text in quotes, e.g. output = \"ethylene\""
    } else if expected.starts_with("struct GoodSpec") {
        "a good is a table: [goods.NAME] with its keys on the following lines, or NAME = { endowment = 1.0 } under [goods]"
    } else if expected.starts_with("a sequence") {
        "this key takes an array, e.g. goods = [\"natgas\"]; firms and shocks are written as [[firms]] and [[shocks]] tables"
    } else if expected.starts_with("struct") || expected.starts_with("a map") {
        "this key takes a table, e.g. [market] followed by step = 0.5 on the next line, or market = { step = 0.5 }"
    } else {
        "check the value's type: numbers are written without quotes (step = 0.5), names with quotes (output = \"ethylene\")"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A large file is mapped; its text, and its UTF-8 errors, are those `read` gives, also
    /// where a character straddles the 8 MiB blocks the check goes by.
    #[test]
    fn a_mapped_file_reads_like_a_read_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.toml");
        let mut text = "# \u{e9}\n".repeat((8 << 20) / 4 - 1);
        text.push_str("x\u{20ac}y\n# \u{1f600}\n");
        text.push_str(&"name = \"big\"\n".repeat(1000));
        std::fs::write(&path, &text).unwrap();
        let source = read_source(&path).unwrap();
        assert!(matches!(source.0, Held::Mapped(_)));
        assert_eq!(&*source, text);
        source.release(0..text.len());
        assert_eq!(&*source, text, "released pages read back");
        for at in [(8 << 20) - 1, 8 << 20, (8 << 20) + 1, 100, text.len() - 1] {
            let mut bytes = text.clone().into_bytes();
            bytes[at] = 0xff;
            std::fs::write(&path, &bytes).unwrap();
            let mapped = read_source(&path).err().expect("not UTF-8").to_string();
            assert_eq!(mapped, read(&path).unwrap_err().to_string(), "at {at}");
        }
        let small = dir.path().join("small.toml");
        std::fs::write(&small, "name = \"s\"").unwrap();
        assert!(matches!(read_source(&small).unwrap().0, Held::Owned(_)));
    }
}
