//! Reading a scenario file: checked to be a readable file of at most [`MAX_FILE_BYTES`]
//! bytes of UTF-8 text, and held as a [`Source`]: read into memory, or, for a large file,
//! mapped (`source/mapping.rs`), so that the loader can give back the pages it has parsed.

#[cfg(unix)]
mod hash;
mod mapping;

pub use hash::{sha256_file, sha256_hex};

use super::error::{InputError, Problem};

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
/// (SIGBUS); one rewritten meanwhile may load as a mix of both versions (the Safety section
/// of `mapping::Mapping`).
pub struct Source(Held);

enum Held {
    Owned(String),
    /// A mapping checked to be UTF-8.
    #[cfg(unix)]
    Mapped(mapping::MappedText),
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
            #[cfg(unix)]
            Held::Mapped(m) => m.text(),
        }
    }
}

/// Read a scenario file as [`read`] does, mapping it when it is at least
/// [`CHUNKED_FROM`](super::chunked::CHUNKED_FROM) bytes long (where mapping fails, it is read). The UTF-8 check of
/// a mapped file gives back each block's pages once checked; its error is the first invalid
/// byte, as for [`read`].
pub fn read_source(path: &std::path::Path) -> Result<Source, InputError> {
    #[cfg(unix)]
    {
        let label = path.display().to_string();
        let len = check_file(path, &label)?;
        if len >= super::chunked::CHUNKED_FROM as u64 {
            if let Some(m) = std::fs::File::open(path)
                .ok()
                .and_then(|f| mapping::Mapping::map(&f, len as usize))
            {
                return match m.into_text() {
                    Ok(text) => Ok(Source(Held::Mapped(text))),
                    Err((m, offset)) => Err(not_utf8(&label, m.bytes(), offset)),
                };
            }
        }
    }
    read(path).map(Source::owned)
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
