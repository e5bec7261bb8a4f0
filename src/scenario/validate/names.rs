//! The name table: a name -> position index over millions of good or firm names, built
//! once and looked up by every firm's inputs and outputs (and by duplicate-name checks);
//! tested against a plain `HashMap` (the reference) below.

/// A name -> position index over a list of names: open addressing over 8-byte slots (a hash
/// tag and an offset into a copy of the names), so that a lookup among millions of names
/// touches two cache lines. The first of equal names wins.
pub(crate) struct NameIndex {
    /// tag (24 bits) << 40 | offset of the entry in `arena`; EMPTY when free.
    slots: Vec<u64>,
    /// Entries: position (u32), length (u32), the name's bytes.
    arena: Vec<u8>,
    mask: usize,
}

const EMPTY: u64 = u64::MAX;
const OFFSET_BITS: u32 = 40;

impl NameIndex {
    /// An index over `n` names, name i being `name_of(i)`, and whether the names are all
    /// different.
    pub(crate) fn build_checked<'a>(n: usize, name_of: impl Fn(usize) -> &'a str) -> (NameIndex, bool) {
        let mut unique = true;
        let cap = (n + n / 2 + 1).next_power_of_two().max(8);
        let mut slots = Vec::with_capacity(cap);
        huge_pages(&slots);
        slots.resize(cap, EMPTY);
        let arena = Vec::with_capacity((0..n).map(|i| 8 + name_of(i).len()).sum());
        huge_pages(&arena);
        let mut index = NameIndex {
            slots,
            arena,
            mask: cap - 1,
        };
        for i in 0..n {
            // the slot of a name some places ahead is fetched meanwhile (random inserts into
            // a table of millions of slots wait on memory)
            if i + 16 < n {
                index.prefetch_slot(name_of(i + 16));
            }
            let name = name_of(i);
            let (mut h, tag) = index.probe_start(name);
            loop {
                let s = index.slots[h];
                if s == EMPTY {
                    let off = index.arena.len() as u64;
                    assert!(off < 1 << OFFSET_BITS, "too many names to index");
                    index.arena.extend_from_slice(&(i as u32).to_le_bytes());
                    index.arena.extend_from_slice(&(name.len() as u32).to_le_bytes());
                    index.arena.extend_from_slice(name.as_bytes());
                    index.slots[h] = tag << OFFSET_BITS | off;
                    break;
                }
                if s >> OFFSET_BITS == tag && index.entry(s).1 == name.as_bytes() {
                    unique = false;
                    break;
                }
                h = (h + 1) & index.mask;
            }
        }
        index.arena.shrink_to_fit();
        (index, unique)
    }

    fn probe_start(&self, name: &str) -> (usize, u64) {
        let h = name_hash(name) as u64;
        ((h as usize) & self.mask, h >> OFFSET_BITS)
    }

    /// (position, name bytes) of the entry a slot points at.
    fn entry(&self, slot: u64) -> (usize, &[u8]) {
        let off = (slot & ((1 << OFFSET_BITS) - 1)) as usize;
        let word = |o: usize| u32::from_le_bytes(self.arena[o..o + 4].try_into().expect("4 bytes")) as usize;
        let len = word(off + 4);
        (word(off), &self.arena[off + 8..off + 8 + len])
    }

    /// Ask the CPU to fetch the slot a lookup of `key` starts at: a lookup among millions
    /// of names waits on memory twice (the slot, then its entry); done some firms ahead,
    /// [`NameIndex::prefetch_entry`] then [`NameIndex::get`] find them in the cache.
    #[inline]
    pub(crate) fn prefetch_slot(&self, key: &str) {
        let (h, _) = self.probe_start(key);
        prefetch(self.slots.as_ptr().wrapping_add(h).cast());
    }

    /// Ask the CPU to fetch the entry the slot of `key` points at (after
    /// [`NameIndex::prefetch_slot`] had time to bring the slot).
    #[inline]
    pub(crate) fn prefetch_entry(&self, key: &str) {
        let (h, _) = self.probe_start(key);
        let s = self.slots[h];
        if s != EMPTY {
            let off = (s & ((1 << OFFSET_BITS) - 1)) as usize;
            prefetch(self.arena.as_ptr().wrapping_add(off));
        }
    }

    /// The position of the first name equal to `key`.
    pub(crate) fn get(&self, key: &str) -> Option<usize> {
        let (mut h, tag) = self.probe_start(key);
        loop {
            let s = self.slots[h];
            if s == EMPTY {
                return None;
            }
            if s >> OFFSET_BITS == tag {
                let (i, name) = self.entry(s);
                if name == key.as_bytes() {
                    return Some(i);
                }
            }
            h = (h + 1) & self.mask;
        }
    }
}

/// Whether two of the `n` names (name i being `name_of(i)`) may be equal: false proves them
/// all different, from their sorted hashes (8 bytes a name, in order; an index of the names
/// costs 32 and a random access each).
pub(crate) fn may_repeat<'a>(n: usize, name_of: impl Fn(usize) -> &'a str + Sync) -> bool {
    use rayon::prelude::*;
    let mut hashes: Vec<u64> = (0..n).into_par_iter().map(|i| name_hash(name_of(i)) as u64).collect();
    hashes.par_sort_unstable();
    hashes.windows(2).any(|w| w[0] == w[1])
}

/// Ask for transparent huge pages on a large, not yet touched buffer: random lookups in
/// hundreds of megabytes then miss the TLB far less often. Only a hint.
fn huge_pages<T>(v: &Vec<T>) {
    const HUGE: usize = 2 << 20;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 4 * HUGE {
        return;
    }
    let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
    let end = (v.as_ptr() as usize + bytes) / HUGE * HUGE;
    if end > start {
        // SAFETY: the range lies inside the vector's own allocation; MADV_HUGEPAGE changes
        // only how the kernel backs it, never its contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

/// A hint to bring the cache line at `p` closer; no effect on results, nothing if the
/// target has no such instruction.
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing the program sees, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

fn name_hash(s: &str) -> usize {
    // FNV-1a, then a final mix so that the low bits depend on every byte
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 32;
    h as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// The reference: the first position of each name, by a HashMap.
    fn reference(names: &[String]) -> HashMap<&str, usize> {
        let mut first = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            first.entry(n.as_str()).or_insert(i);
        }
        first
    }

    proptest! {
        /// Names short and long (a shared 8-byte head, other tails), repeated or not: every
        /// name is found at its first position, `unique` says whether any repeats, and names
        /// not in the list (a byte more, a byte less, another tail) are not found.
        #[test]
        fn the_index_finds_what_a_hashmap_finds(
            picks in proptest::collection::vec((0usize..6, 0u32..50), 0..300),
        ) {
            let stems = ["", "a", "g3_", "g3_41907", "g10_4190", "commodity_of_layer_"];
            let names: Vec<String> = picks.iter().map(|&(s, k)| format!("{}{k}", stems[s])).collect();
            let (index, unique) = NameIndex::build_checked(names.len(), |i| &names[i]);
            let want = reference(&names);
            prop_assert_eq!(unique, want.len() == names.len());
            for (name, &i) in &want {
                prop_assert_eq!(index.get(name), Some(i), "{}", name);
                for other in [format!("{name}x"), format!("x{name}"), name[..name.len().saturating_sub(1)].to_string()] {
                    prop_assert_eq!(index.get(&other), want.get(other.as_str()).copied(), "{}", other);
                }
            }
        }
    }
}
