//! How a shock travels through the supply chain: for each good, how many firms lie between it
//! and the shock (its depth), and the first tick after the shock at which its price has moved
//! by 10% of its final change (its arrival). Written as `propagation.csv` for every run with a
//! shock; docs/OUT_OF_EQUILIBRIUM.md shows the wave on the essay's chain.
//!
//! The arrival is taken from the engine's prices every tick, not from the logged rows, so it is
//! exact for any `log.every`. Where the post-shock reference equilibrium is known, the final
//! change is known when the shock applies (the reference price is the price the run converges
//! to), and each good costs one comparison per tick until it arrives. Without a reference (large
//! economies), the nearest [`MAX_TRACKED`] goods keep the ticks at which their largest move so
//! far grew by [`RECORD_STEP`] or more, and the arrival is read from these records once the final
//! change is known: exact unless the 10% level lies within 0.1% above a recorded move.

use crate::check::reference::Equilibrium;
use crate::economy::{Economy, ShockKind};

/// The share of the final change a price must have moved by to have "arrived".
pub const ARRIVAL_SHARE: f64 = 0.1;
/// Without a reference equilibrium, at most this many goods (the nearest to the shock) are
/// tracked.
pub const MAX_TRACKED: usize = 4096;
/// Without a reference equilibrium, a good's move is recorded when it exceeds its largest
/// recorded move by this factor.
pub const RECORD_STEP: f64 = 1.001;
/// Records kept per good at most.
const MAX_RECORDS: usize = 4096;
/// A final change below this share of the price counts as no change (the good did not move).
const NO_CHANGE: f64 = 1e-9;

/// How a shock reached one good, as a run records it (the good by its index). Written to
/// `propagation.csv` as the file's row type, `output::rows::Arrival`, with the good's
/// name.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// The tick at whose end the shock applied.
    pub shock_tick: u64,
    pub good: u32,
    /// Fewest firms on a path from the shock to the good (a good touched by a shocked firm,
    /// or bought or sold by a firm that also trades the shocked good, has depth 1).
    pub depth: u32,
    /// The first tick t after the shock whose price p_t differs from the price right after
    /// the shock by at least 10% of the final change; None when the good did not move or
    /// had not moved that far when the next shock came or the run ended.
    pub arrival_tick: Option<u64>,
    /// The price at the end (of the run, or right after the next shock) minus the price right
    /// after this shock.
    pub final_change: f64,
}

/// One shock (all shocks of one tick) and the goods it is followed to.
#[derive(Debug, Clone)]
struct Event {
    tick: u64,
    goods: Vec<u32>,
    depth: Vec<u32>,
    base: Vec<f64>,
    /// The move that counts as arrival, per good; NaN while unknown (no reference).
    threshold: Vec<f64>,
    arrival: Vec<Option<u64>>,
    /// Goods (indices into `goods`) still to arrive, when thresholds are known.
    pending: Vec<u32>,
    /// Without a reference: per good, (tick, move) each time the move grew by RECORD_STEP.
    records: Vec<Vec<(u64, f64)>>,
    final_price: Vec<f64>,
}

/// Follows the shocks of a run (see the module's documentation).
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    done: Vec<Event>,
    current: Option<Event>,
}

impl Tracker {
    /// Whether any shock has applied.
    pub fn any(&self) -> bool {
        self.current.is_some() || !self.done.is_empty()
    }

    /// Look at the prices after tick `tick` (p_{tick+1}, what firms see next tick). Cheap when
    /// nothing is pending: no shock yet, or every followed good arrived.
    #[inline]
    pub fn observe(&mut self, tick: u64, prices: &[f64]) {
        let Some(ev) = self.current.as_mut() else {
            return;
        };
        if ev.records.is_empty() && ev.pending.is_empty() {
            return;
        }
        let t = tick + 1;
        if !ev.records.is_empty() {
            for (i, rec) in ev.records.iter_mut().enumerate() {
                let moved = (prices[ev.goods[i] as usize] - ev.base[i]).abs();
                let last = rec.last().map_or(0.0, |r| r.1);
                if moved > last * RECORD_STEP && rec.len() < MAX_RECORDS {
                    rec.push((t, moved));
                }
            }
            return;
        }
        let mut k = 0;
        while k < ev.pending.len() {
            let i = ev.pending[k] as usize;
            if (prices[ev.goods[i] as usize] - ev.base[i]).abs() >= ev.threshold[i] {
                ev.arrival[i] = Some(t);
                ev.pending.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// The shocks of tick `tick` have just applied (`prices` are the prices after them, what
    /// firms see next tick); `reference` is the equilibrium of the economy after them, if known.
    pub fn shock(
        &mut self,
        economy: &Economy,
        tick: u64,
        prices: &[f64],
        traded: &[bool],
        reference: Option<&Equilibrium>,
    ) {
        self.close(prices);
        let depth = depths(economy, tick);
        let mut order: Vec<u32> = (0..economy.goods.len() as u32)
            .filter(|&g| traded[g as usize] && depth[g as usize] != u32::MAX)
            .collect();
        order.sort_by_key(|&g| (depth[g as usize], g));
        if reference.is_none() {
            order.truncate(MAX_TRACKED);
        }
        let n = order.len();
        let base: Vec<f64> = order.iter().map(|&g| prices[g as usize]).collect();
        let (threshold, pending, records) = match reference {
            Some(eq) => {
                let mut threshold = vec![f64::NAN; n];
                let mut pending = Vec::with_capacity(n);
                for (i, &g) in order.iter().enumerate() {
                    let change = eq.prices[g as usize] - base[i];
                    if change.abs() > NO_CHANGE * base[i].abs().max(eq.prices[g as usize].abs()) {
                        threshold[i] = ARRIVAL_SHARE * change.abs();
                        pending.push(i as u32);
                    }
                }
                (threshold, pending, Vec::new())
            }
            None => (vec![f64::NAN; n], Vec::new(), vec![Vec::new(); n]),
        };
        self.current = Some(Event {
            tick,
            depth: order.iter().map(|&g| depth[g as usize]).collect(),
            goods: order,
            base,
            threshold,
            arrival: vec![None; n],
            pending,
            records,
            final_price: Vec::new(),
        });
    }

    /// Close the current shock's window at `prices`.
    fn close(&mut self, prices: &[f64]) {
        if let Some(mut ev) = self.current.take() {
            ev.final_price = ev.goods.iter().map(|&g| prices[g as usize]).collect();
            // without a reference: the arrival from the records, now that the change is known
            for (i, rec) in ev.records.iter().enumerate() {
                let change = ev.final_price[i] - ev.base[i];
                if change.abs() > NO_CHANGE * ev.base[i].abs().max(ev.final_price[i].abs()) {
                    let level = ARRIVAL_SHARE * change.abs();
                    ev.arrival[i] = rec.iter().find(|r| r.1 >= level).map(|r| r.0);
                }
            }
            ev.records = Vec::new();
            self.done.push(ev);
        }
    }

    /// The rows of `propagation.csv`, the run having ended at `prices`: by shock, then depth,
    /// then good.
    pub fn finish(mut self, prices: &[f64]) -> Vec<Arrival> {
        self.close(prices);
        let mut rows = Vec::new();
        for ev in &self.done {
            for i in 0..ev.goods.len() {
                rows.push(Arrival {
                    shock_tick: ev.tick,
                    good: ev.goods[i],
                    depth: ev.depth[i],
                    arrival_tick: ev.arrival[i],
                    final_change: ev.final_price[i] - ev.base[i],
                });
            }
        }
        rows
    }
}

/// The depth of every good from the shocks of tick `tick` (u32::MAX: not reached): breadth
/// first over the goods graph in both directions, through firms and endogenous goods (a
/// fixed price does not pass a change on). A price or endowment shock starts at its good
/// (depth 0); a productivity shock at its firms, whose goods have depth 1.
pub fn depths(economy: &Economy, tick: u64) -> Vec<u32> {
    let (goods, firms) = (&economy.goods, &economy.firms);
    let mut depth = vec![u32::MAX; goods.len()];
    let mut firm_seen = vec![false; firms.len()];
    let mut frontier: Vec<u32> = Vec::new();
    let mut next: Vec<u32> = Vec::new();
    // the goods of firm f not reached yet, at depth d
    let reach = |f: usize, d: u32, depth: &mut [u32], next: &mut Vec<u32>| {
        let inputs = firms.inputs(f).map(|e| firms.input_good[e]);
        let outputs = firms.outputs(f).map(|k| firms.output_good[k]);
        for h in inputs.chain(outputs) {
            let h = h as usize;
            if !goods.fixed[h] && depth[h] == u32::MAX {
                depth[h] = d;
                next.push(h as u32);
            }
        }
    };
    for s in economy.shocks.iter().filter(|s| s.tick == tick) {
        match s.kind {
            ShockKind::Price { good, .. } | ShockKind::Endowment { good, .. } => {
                if depth[good] != 0 {
                    depth[good] = 0;
                    frontier.push(good as u32);
                }
            }
            ShockKind::Productivity { group, .. } => {
                for f in economy.groups[group].firms() {
                    if !firm_seen[f] {
                        firm_seen[f] = true;
                        reach(f, 1, &mut depth, &mut next);
                    }
                }
            }
        }
    }
    let mut d = 0;
    while !frontier.is_empty() || !next.is_empty() {
        for &g in &frontier {
            let g = g as usize;
            let users = goods.uses(g).iter().map(|&e| firms.edge_firm[e as usize]);
            let makers = goods.producers(g).iter().map(|&k| firms.output_firm[k as usize]);
            for f in users.chain(makers) {
                let f = f as usize;
                if !firm_seen[f] {
                    firm_seen[f] = true;
                    reach(f, d + 1, &mut depth, &mut next);
                }
            }
        }
        // goods reached at depth d + 1 (a productivity shock's at depth 1 come first)
        frontier.clear();
        std::mem::swap(&mut frontier, &mut next);
        d += 1;
    }
    depth
}
