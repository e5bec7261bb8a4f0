//! A scenario file mapped into memory read-only (with the `memmap2` crate) and checked to be
//! UTF-8 text, whose pages can be given back once they are parsed. Every `unsafe` of mapping
//! a file is in this file; the caveat that comes with it is [`Mapping`]'s Safety section.

use memmap2::{Mmap, MmapOptions, UncheckedAdvice};
use rayon::prelude::*;
use std::fs::File;
use std::ops::Range;

/// A private read-only mapping of the first `len` bytes of a file, unmapped on drop.
///
/// # Safety
///
/// The bytes of a mapped file are memory that other processes can change: memmap2's mapping
/// functions are `unsafe` for that reason. pricegrad maps only the scenario file it is asked
/// to load, read-only, and accepts this caveat rather than copying hundreds of megabytes:
/// if another process truncates the file while it is mapped, touching a page past the new
/// end raises SIGBUS, which ends the process (no wrong result is produced); if another
/// process rewrites the file meanwhile, the text may load as a mix of both versions, which
/// then need not be the UTF-8 that [`Mapping::into_text`] checked.
pub(super) struct Mapping {
    map: Mmap,
    /// The size of a page of memory, in bytes.
    page: usize,
}

impl Mapping {
    /// Map the first `len` bytes of `file`; None where that fails (or `len` is 0).
    pub(super) fn map(file: &File, len: usize) -> Option<Mapping> {
        // SAFETY: a private read-only mapping, with the caveat stated on `Mapping`: the file
        // must not be truncated or rewritten while it is mapped.
        let map = unsafe { MmapOptions::new().len(len).map_copy_read_only(file) }.ok()?;
        // SAFETY: sysconf has no preconditions.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            p if p > 0 => p as usize,
            _ => 0,
        };
        (len > 0).then_some(Mapping { map, page })
    }

    /// The mapped bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Give back the resident pages wholly inside `range`: they are dropped from the process
    /// and read again from the file (the page cache) when touched.
    pub(super) fn release(&self, range: Range<usize>) {
        if self.page == 0 {
            return;
        }
        let (len, page) = (self.map.len(), self.page);
        let base = self.map.as_ptr() as usize;
        let start = (base + range.start.min(len)).div_ceil(page) * page;
        let end = (base + range.end.min(len)) / page * page;
        if end > start {
            // SAFETY: whole pages inside this read-only private mapping, which nothing ever
            // writes: MADV_DONTNEED drops them, and they read back unchanged from the file.
            // A failure only leaves the pages resident.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(UncheckedAdvice::DontNeed, start - base, end - start)
            };
        }
    }

    /// The mapping as text, checked to be UTF-8 in blocks (in parallel), each block's pages
    /// given back once checked; or the mapping and the offset of its first invalid byte.
    pub(super) fn into_text(self) -> Result<MappedText, (Mapping, usize)> {
        const BLOCK: usize = 8 << 20;
        let bytes = self.bytes();
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
                self.release(w[0]..w[1]);
                checked.err()
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .next();
        match first_error {
            Some(offset) => Err((self, offset)),
            None => Ok(MappedText(self)),
        }
    }
}

/// A [`Mapping`] checked to be UTF-8 ([`Mapping::into_text`]).
pub(super) struct MappedText(Mapping);

impl MappedText {
    /// The text.
    pub(super) fn text(&self) -> &str {
        // SAFETY: checked to be UTF-8 by `Mapping::into_text`, and never written (see the
        // caveat on `Mapping` for a file rewritten by another process).
        unsafe { std::str::from_utf8_unchecked(self.0.bytes()) }
    }

    /// [`Mapping::release`].
    pub(super) fn release(&self, range: Range<usize>) {
        self.0.release(range)
    }
}
