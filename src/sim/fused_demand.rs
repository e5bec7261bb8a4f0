//! Demand summed where the plans are made: which goods the firm phase can sum itself, and the
//! scatter that does it. A good's demand is the sum of its users' plans in CSR order, which is
//! ascending edge order (`Goods::use_edge` is filled edge by edge; a good listed otherwise is
//! left to the market phase). The firm phase runs each
//! *segment* of firms (a fixed range of chunks, one per thread) in ascending edge order, so a
//! good whose users all lie in one segment gets the same additions in the same order when that
//! segment adds each new plan to the good's demand right after computing it (one scattered
//! read-modify-write of an 8-byte demand per edge, into the small goods array, while the plan
//! is still in L1) instead of the market phase reading the plans back from the large plans
//! array (one scattered load per edge). Goods whose users straddle segments are summed by the
//! market phase as before. The bits do not depend on the number of threads.

use crate::economy::Economy;

/// The owner of a good with users in more than one segment: the market phase sums it.
pub(super) const CROSSING: u8 = u8::MAX;
/// The owner of a good nobody uses (its demand is 0 whoever sums it).
const UNUSED: u8 = u8::MAX - 1;
/// Most segments (owners are bytes, below [`UNUSED`]).
const MAX_SEGMENTS: usize = UNUSED as usize;

/// The segments of the firm phase and which of them sums each good's demand.
#[derive(Debug, Default)]
pub(super) struct FusedDemand {
    /// Segment s holds chunks `bounds[s]..bounds[s + 1]` of the firm phase.
    pub(super) bounds: Vec<usize>,
    /// Per good: the segment that sums its demand, [`CROSSING`] or [`UNUSED`].
    pub(super) owner: Vec<u8>,
    /// Whether some good is [`CROSSING`].
    pub(super) any_crossing: bool,
    /// The thread count the segments were made for (0: not yet made).
    pub(super) threads: usize,
}

impl FusedDemand {
    /// Segments for `threads` threads over `chunks` chunks of `chunk` firms, split where the
    /// input edges divide evenly, and the owner of each good. Reuses its buffers.
    pub(super) fn plan(&mut self, economy: &Economy, threads: usize, chunks: usize, chunk: usize) {
        let firms = &economy.firms;
        let segments = threads.clamp(1, MAX_SEGMENTS).min(chunks.max(1));
        let edges = firms.edges();
        let chunk_edge = |c: usize| firms.input_start[(c * chunk).min(firms.len())] as usize;
        self.bounds.clear();
        self.bounds.push(0);
        for s in 1..segments {
            let target = edges * s / segments;
            // the first chunk starting at or after the target, kept increasing
            let c = (0..chunks).find(|&c| chunk_edge(c) >= target).unwrap_or(chunks);
            let last = *self.bounds.last().expect("bounds start with 0");
            self.bounds.push(c.clamp(last, chunks));
        }
        self.bounds.push(chunks);
        self.owner.clear();
        self.owner.resize(economy.goods.len(), UNUSED);
        let mut segment = 0u8;
        for f in 0..firms.len() {
            while f >= self.bounds[segment as usize + 1] * chunk {
                segment += 1;
            }
            for &g in &firms.input_good[firms.inputs(f)] {
                let o = &mut self.owner[g as usize];
                *o = match *o {
                    UNUSED => segment,
                    s if s == segment => s,
                    _ => CROSSING,
                };
            }
        }
        // the scatter adds in edge order: a good whose users are not listed in that order (no
        // loader writes them so, but nothing else promises it) is summed by the market phase
        let goods = &economy.goods;
        for g in 0..goods.len() {
            if !goods.uses(g).windows(2).all(|w| w[0] < w[1]) {
                self.owner[g] = CROSSING;
            }
        }
        self.any_crossing = self.owner.contains(&CROSSING);
        self.threads = threads;
    }

    /// The number of segments.
    pub(super) fn segments(&self) -> usize {
        self.bounds.len() - 1
    }
}

/// The engine's demand per good, written by the segments of the firm phase at once: each
/// writes only the goods it owns.
#[derive(Clone, Copy)]
pub(super) struct DemandSink<'a> {
    ptr: *mut f64,
    owner: &'a [u8],
}

// SAFETY: segments running on different threads write disjoint entries (each good has one
// owner, see `add`), and nobody reads the demand during the firm phase.
unsafe impl Send for DemandSink<'_> {}
unsafe impl Sync for DemandSink<'_> {}

impl<'a> DemandSink<'a> {
    /// `demand` (one entry per good, zeroed) for the goods of `owner`.
    pub(super) fn new(demand: &'a mut [f64], owner: &'a [u8]) -> DemandSink<'a> {
        assert_eq!(demand.len(), owner.len());
        DemandSink {
            ptr: demand.as_mut_ptr(),
            owner,
        }
    }

    /// Add each plan `x[i]` to the demand of its good `goods[i]`, in order, for the goods that
    /// `segment` owns; `only` says that it owns every good that has a user (one segment).
    #[inline]
    pub(super) fn add(&self, segment: u8, only: bool, goods: &[u32], x: &[f64]) {
        assert_eq!(goods.len(), x.len());
        let n = self.owner.len();
        if only {
            for (&g, &x) in goods.iter().zip(x) {
                let g = g as usize;
                assert!(g < n);
                // SAFETY: g < n, the length of the demand; one segment runs, so no other
                // thread writes the demand.
                unsafe { *self.ptr.add(g) += x };
            }
            return;
        }
        let mut sink = 0.0;
        for (&g, &x) in goods.iter().zip(x) {
            let g = g as usize;
            let target: *mut f64 = if self.owner[g] == segment {
                // SAFETY: g < n (the owner lookup above checked it); only `segment` writes
                // the goods it owns, and the segment runs on one thread, in order.
                unsafe { self.ptr.add(g) }
            } else {
                &mut sink
            };
            // SAFETY: `target` is the owned entry or the local sink.
            unsafe { *target += x };
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario;
    use crate::sim::engine::Engine;
    use crate::sim::market_phase::market_totals;

    /// A layered economy of `width` goods per layer over `layers` production layers, each
    /// firm making good i of its layer from goods i and (7 i + 1) mod width of the layer
    /// below: some goods have both users in one stretch of firms, others users far apart.
    /// Every 10th firm is CES (the general kernel), the rest Cobb–Douglas.
    fn layered(width: usize, layers: usize) -> String {
        let mut s = String::from("name = \"layered\"\n\n[goods]\n");
        for i in 0..width {
            s += &format!("g0_{i} = {{ endowment = {} }}\n", 1.0 + (i % 7) as f64 / 10.0);
        }
        for l in 1..=layers {
            for i in 0..width {
                if l == layers {
                    s += &format!("g{l}_{i} = {{ price = {} }}\n", 1.0 + (i % 5) as f64 / 10.0);
                } else {
                    s += &format!("g{l}_{i} = {{}}\n");
                }
            }
        }
        for l in 1..=layers {
            for i in 0..width {
                let (a, b) = (i, (7 * i + 1) % width);
                let production = if i % 10 == 3 {
                    format!("{{ ces = {{ scale = 1.5, rho = 0.25, returns = 0.9, weights = {{ g{}_{a} = 0.4, g{}_{b} = 0.6 }} }} }}", l - 1, l - 1)
                } else {
                    format!(
                        "{{ cobb_douglas = {{ scale = 2.0, exponents = {{ g{}_{a} = 0.3, g{}_{b} = 0.5 }} }} }}",
                        l - 1,
                        l - 1
                    )
                };
                s += &format!("[[firms]]\nname = \"f{l}_{i}\"\noutput = \"g{l}_{i}\"\nproduction = {production}\n");
            }
        }
        s
    }

    /// Whatever the number of threads, the demand the firm phase sums (owned goods) and the
    /// one the market phase sums (crossing goods) are the bits of the plain CSR-order sum of
    /// the plans, and every number is the same as on one thread.
    #[test]
    fn fused_demand_is_the_csr_sum_for_any_thread_count() {
        let economy = scenario::load_str("layered", &layered(3000, 3), &[], None).unwrap();
        assert!(economy.firms.len() > 4 * super::super::firm_phase::FIRM_CHUNK);
        let mut first: Option<(Vec<u64>, Vec<u64>, Vec<u64>)> = None;
        for threads in [1, 2, 3, 4] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut engine = Engine::new(economy.clone());
            for _ in 0..5 {
                let step = pool.install(|| engine.step());
                engine.finish_tick(&step);
                for g in 0..engine.economy.goods.len() {
                    let (_, demand) = market_totals(&engine.economy, &engine.x, &engine.y, g);
                    assert_eq!(
                        engine.demand[g].to_bits(),
                        demand.to_bits(),
                        "good {g}, {threads} threads"
                    );
                }
            }
            let fused = &engine.fused;
            assert_eq!(fused.segments(), threads);
            if threads > 1 {
                // both kinds of goods occur
                assert!(fused.any_crossing);
                assert!(fused.owner.iter().any(|&o| (o as usize) < threads));
            }
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
            let state = (bits(&engine.prices), bits(&engine.x), bits(&engine.demand));
            match &first {
                None => first = Some(state),
                Some(one) => assert!(one == &state, "{threads} threads differ from one"),
            }
        }
    }
}
