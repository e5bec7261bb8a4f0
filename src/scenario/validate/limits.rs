//! Limits on size: the firm cap, the 32-bit numbering of edges, and the memory a run would
//! need (estimated per firm and edge, and compared with what the machine has available), so
//! that a scenario too large to run is refused, with the numbers, before anything is built.

use super::batch::Batch;
use super::problems::Check;
use crate::scenario::error::Location;
use crate::scenario::format::Int;

/// Most firms one scenario may ask for (replicas included).
pub const MAX_FIRMS: u64 = 50_000_000;
/// Bytes a run needs per firm and per input edge: the economy, the engine's state, the
/// diagnostics and the reference solver (measured: about 180 bytes for a one-input firm).
const BYTES_PER_FIRM: u64 = 100;
const BYTES_PER_EDGE: u64 = 80;
/// Below this estimate the machine's memory is not consulted.
const MEMORY_CHECK_FROM: u64 = 1 << 30;

fn estimated_bytes(firms: u64, edges: u64) -> u64 {
    firms
        .saturating_mul(BYTES_PER_FIRM)
        .saturating_add(edges.saturating_mul(BYTES_PER_EDGE))
}

/// "about 180.0 TB of memory; this machine has 23.1 GB available".
pub(super) fn memory_needed(firms: u64, edges: u64) -> String {
    let mut s = format!("about {} of memory", human_bytes(estimated_bytes(firms, edges)));
    if let Some(avail) = available_memory() {
        s.push_str(&format!("; this machine has {} available", human_bytes(avail)));
    }
    s
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 7] = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} bytes")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Memory the machine can give a new process (Linux: MemAvailable in /proc/meminfo).
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// What the firms of all batches together ask for, and whether it fits.
pub(super) struct Sizes {
    /// `[[firms]]` entries.
    pub(super) groups: usize,
    /// Firms, input edges and output slots (replicas included).
    pub(super) firms: u64,
    pub(super) edges: u64,
    pub(super) slots: u64,
    /// The largest `count` given (the last of equal ones), where the problem points.
    largest_count: Option<Int>,
    too_many: bool,
    too_many_edges: bool,
    /// Whether the economy may be built: no limit is exceeded.
    pub(super) fits: bool,
}

impl Sizes {
    pub(super) fn of(batches: &[Batch]) -> Sizes {
        let n_groups: usize = batches.iter().map(Batch::len).sum();
        let total_firms: u64 = batches.iter().map(|b| b.total).sum();
        let (total_edges, total_slots) = batches
            .iter()
            .map(Batch::edges_and_slots)
            .fold((0u64, 0u64), |(e, s), (be, bs)| (e + be, s + bs));
        // the largest `count` given (the last of equal ones)
        let largest_count = batches
            .iter()
            .filter_map(|b| b.largest_count.as_ref())
            .fold(None, |m: Option<&Int>, n| match m {
                Some(m) if n.value < m.value => Some(m),
                _ => Some(n),
            })
            .cloned();
        let bytes = estimated_bytes(total_firms, total_edges);
        let too_many = total_firms > MAX_FIRMS;
        // input edges and output slots are numbered with 32 bits
        let too_many_edges = total_edges.max(total_slots) > u64::from(u32::MAX);
        let too_big = bytes > MEMORY_CHECK_FROM && available_memory().is_some_and(|avail| bytes > avail);
        let fits = !(too_many || too_many_edges || too_big);
        Sizes {
            groups: n_groups,
            firms: total_firms,
            edges: total_edges,
            slots: total_slots,
            largest_count,
            too_many,
            too_many_edges,
            fits,
        }
    }

    /// When the firms do not fit: the problem, at the largest count (the one to lower).
    pub(super) fn check(&self, c: &mut Check) {
        if self.fits {
            return;
        }
        let (total_firms, total_edges, total_slots) = (self.firms, self.edges, self.slots);
        // point at the largest count, the one to lower
        let largest = self
            .largest_count
            .as_ref()
            .map_or(Location::File, |n| (&n.origin).into());
        let limit = if self.too_many {
            format!("at most {MAX_FIRMS} firms in all")
        } else if self.too_many_edges {
            format!(
                "at most {} input edges and as many output slots in all (count x inputs, here {total_edges} and {total_slots})",
                u32::MAX
            )
        } else {
            "firms that fit in memory".to_string()
        };
        c.push(
            largest,
            format!(
                "the scenario asks for {total_firms} firms in all, which would need {}",
                memory_needed(total_firms, total_edges)
            ),
            format!("pricegrad holds {limit}; lower the `count` of the largest [[firms]] entries"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_estimates_read_well() {
        assert_eq!(human_bytes(999), "999 bytes");
        assert_eq!(human_bytes(180_000_000_000_000), "180.0 TB");
        assert!(estimated_bytes(u64::MAX, u64::MAX) == u64::MAX);
    }
}
