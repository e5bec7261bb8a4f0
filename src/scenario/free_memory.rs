//! Giving the memory that loading freed back to the system (glibc's `malloc_trim`): the
//! chunked loader and the merge of its batches free a lot on worker threads, whose
//! allocator arenas would otherwise keep those pages.

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
