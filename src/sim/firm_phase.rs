//! The firm phase of a tick (docs/MODEL.md, "One tick"): every firm moves its plan in place
//! and sets its output, in parallel over chunks of firms. Which kernel a firm takes is
//! decided once, when the engine starts: runs of Cobb–Douglas firms under the default rule
//! take [`crate::sim::cobb_douglas`], every other firm [`agents::update`] one at a time.
//! Each task owns the firms of its chunks and their input edges, split off the engine's
//! buffers, so no firm can touch another's numbers.

use crate::economy::agent_settings;
use crate::economy::Economy;
use crate::numeric::random;
use crate::sim::agents::{self, FirmView, Scratch};
use crate::sim::cobb_douglas;
use crate::sim::fused_demand::{DemandSink, FusedDemand};

/// Firms per parallel task in the firm phase.
pub(super) const FIRM_CHUNK: usize = 2048;

/// How the firms of one group update their plans.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kernel {
    /// [`cobb_douglas`]: Cobb–Douglas, gradient rule, relative form, no noise, always active,
    /// plans of positive and finite size. The common case of large generated economies.
    CobbDouglas { scale: f64, rate: f64 },
    /// [`agents::update`]: any technology and rule; `constant_returns` switches on the
    /// stabiliser of constant-returns firms.
    General { constant_returns: bool },
}

impl Kernel {
    fn of(economy: &Economy, group: usize) -> Kernel {
        let g = &economy.groups[group];
        let s = economy.group_agent(group);
        let technology = economy.group_technology(group);
        // replicas share the technology; their parameters are the group's
        let constant_returns = g.count > 0 && {
            let r = economy.firms.inputs(g.first as usize);
            technology.constant_returns(&economy.firms.input_param[r.clone()], r.len())
        };
        match *technology {
            crate::production::Technology::CobbDouglas { scale }
                if s.rule == agent_settings::Rule::Gradient
                    && s.form == agent_settings::Form::Relative
                    && s.noise == 0.0
                    && s.activation >= 1.0
                    && !constant_returns =>
            {
                Kernel::CobbDouglas { scale, rate: s.rate }
            }
            _ => Kernel::General { constant_returns },
        }
    }
}

/// What the firm phase keeps from tick to tick besides the plans and outputs: the kernel of
/// each group, the runs of Cobb–Douglas firms, and the state of the kernels.
pub(super) struct FirmPhase {
    /// Last normalised profit gradient per edge (memory of the optimistic rule; empty when no
    /// firm uses that rule).
    last: Vec<f64>,
    /// How each firm group updates (a specialised kernel where one applies).
    kernels: Vec<Kernel>,
    /// The runs of Cobb–Douglas firms, and for each chunk of the firm phase the index of its
    /// first run (one entry more than chunks).
    cd_runs: Vec<cobb_douglas::Run>,
    chunk_runs: Vec<usize>,
    /// ln x per edge and F(x) per firm, kept by the Cobb–Douglas kernel (empty when no firm
    /// uses it; meaningful only on that kernel's firms).
    ln_x: Vec<f64>,
    f_value: Vec<f64>,
    /// Whether any firm draws noise or activation.
    randomised: bool,
}

impl FirmPhase {
    /// The kernels of `economy`'s firms and their state at the plans `x`.
    pub(super) fn new(economy: &Economy, x: &[f64]) -> FirmPhase {
        let firms = &economy.firms;
        let randomised = economy
            .groups
            .iter()
            .any(|g| economy.agents[g.agent as usize].noise > 0.0 || economy.agents[g.agent as usize].activation < 1.0);
        // the gradient memory: for optimistic firms and for stabilised constant-returns firms
        let optimistic = economy.groups.iter().enumerate().any(|(i, g)| {
            economy.agents[g.agent as usize].rule == agent_settings::Rule::Optimistic
                || (economy.agents[g.agent as usize].rule == agent_settings::Rule::Gradient
                    && matches!(Kernel::of(economy, i), Kernel::General { constant_returns: true }))
        });
        let kernels: Vec<Kernel> = (0..economy.groups.len()).map(|g| Kernel::of(economy, g)).collect();
        let cd_kernel = |f: usize| match kernels[firms.group[f] as usize] {
            Kernel::CobbDouglas { scale, rate } => Some((scale, rate)),
            Kernel::General { .. } => None,
        };
        let cd_runs = cobb_douglas::Run::find(economy, cd_kernel, FIRM_CHUNK);
        let chunks = firms.len().div_ceil(FIRM_CHUNK);
        let chunk_runs: Vec<usize> = (0..=chunks)
            .map(|c| cd_runs.partition_point(|r| r.firms.start < c * FIRM_CHUNK))
            .collect();
        let (mut ln_x, mut f_value) = (Vec::new(), Vec::new());
        if kernels.iter().any(|k| matches!(k, Kernel::CobbDouglas { .. })) {
            ln_x = vec![0.0; firms.edges()];
            f_value = vec![0.0; firms.len()];
            for f in 0..firms.len() {
                if let Kernel::CobbDouglas { scale, .. } = kernels[firms.group[f] as usize] {
                    let r = firms.inputs(f);
                    let mut ln_f = 0.0;
                    for e in r {
                        ln_x[e] = x[e].ln();
                        ln_f += firms.input_param[e] * ln_x[e];
                    }
                    f_value[f] = scale * ln_f.exp();
                }
            }
        }
        FirmPhase {
            last: if optimistic {
                vec![0.0; firms.edges()]
            } else {
                Vec::new()
            },
            kernels,
            cd_runs,
            chunk_runs,
            ln_x,
            f_value,
            randomised,
        }
    }

    /// The number of chunks of the firm phase.
    pub(super) fn chunks(&self, economy: &Economy) -> usize {
        economy.firms.len().div_ceil(FIRM_CHUNK)
    }

    /// Whether some firm takes the Cobb–Douglas kernel.
    #[cfg(test)]
    pub(super) fn has_cobb_douglas_runs(&self) -> bool {
        !self.cd_runs.is_empty()
    }

    /// Every firm moves its plan `x` (in place) from the prices of tick `tick` and sets its
    /// output `y`, in parallel over chunks of firms; each firm touches only its own edges and
    /// output.
    ///
    /// Each segment of `fused` runs its chunks in order on one thread and adds every new plan
    /// to the demand of its good where it owns the good (`demand` must be zero).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step(
        &mut self,
        economy: &Economy,
        prices: &[f64],
        tick: u64,
        x: &mut [f64],
        y: &mut [f64],
        fused: &FusedDemand,
        demand: &mut [f64],
    ) {
        let firms = &economy.firms;
        let kernels = &self.kernels;
        let seed = economy.run.seed;
        let tick = self.randomised.then_some(tick);
        let has_memory = !self.last.is_empty();
        let (cd_runs, chunk_runs) = (&self.cd_runs, &self.chunk_runs);
        let cd_kernel = |f: usize| match kernels[firms.group[f] as usize] {
            Kernel::CobbDouglas { scale, rate } => (scale, rate),
            Kernel::General { .. } => unreachable!("a Cobb–Douglas run"),
        };
        // any other firm, one at a time
        let general = |f: usize, share: &mut Share| {
            let r = firms.inputs(f);
            let edges = r.start - share.edge0..r.end - share.edge0;
            let Kernel::General { constant_returns } = kernels[firms.group[f] as usize] else {
                unreachable!("Cobb–Douglas firms run in runs")
            };
            let memory = if has_memory {
                Some(&mut share.last[edges.clone()])
            } else {
                None
            };
            let x = &mut share.x[edges];
            share.y[f - share.firm0] = general_update(economy, f, prices, seed, tick, constant_returns, x, memory);
        };
        let all = Share {
            chunks: 0..firms.len().div_ceil(FIRM_CHUNK),
            firm0: 0,
            edge0: 0,
            y,
            x,
            last: &mut self.last,
            ln_x: &mut self.ln_x,
            f_value: &mut self.f_value,
        };
        let sink = DemandSink::new(demand, &fused.owner);
        let only = fused.segments() == 1;
        // a segment runs the firms of its chunks in order, adding each plan to its good's
        // demand right after making it
        let body = |mut share: Share, segment: u8| {
            let mut f = share.firm0;
            let one = |f: usize, share: &mut Share| {
                general(f, share);
                let r = firms.inputs(f);
                sink.add(
                    segment,
                    only,
                    &firms.input_good[r.clone()],
                    &share.x[r.start - share.edge0..r.end - share.edge0],
                );
            };
            for run in &cd_runs[chunk_runs[share.chunks.start]..chunk_runs[share.chunks.end]] {
                while f < run.firms.start {
                    one(f, &mut share);
                    f += 1;
                }
                let own = run.firms.start - share.firm0..run.firms.end - share.firm0;
                let global = firms.input_start[run.firms.start] as usize..firms.input_start[run.firms.end] as usize;
                let edges = global.start - share.edge0..global.end - share.edge0;
                cobb_douglas::step_run(
                    economy,
                    cd_kernel,
                    run,
                    prices,
                    &mut share.x[edges.clone()],
                    &mut share.ln_x[edges.clone()],
                    &mut share.f_value[own.clone()],
                    &mut share.y[own],
                );
                sink.add(segment, only, &firms.input_good[global], &share.x[edges]);
                f = run.firms.end;
            }
            while f < share.firm0 + share.y.len() {
                one(f, &mut share);
                f += 1;
            }
        };
        run_segments(all, &fused.bounds, 0, &firms.input_start, &body);
    }
}

/// `body` for each segment `first + s` of `share` (segment s holds chunks `bounds[s]..bounds[s
/// + 1]`), the segments in parallel.
fn run_segments<'a>(
    share: Share<'a>,
    bounds: &[usize],
    first: usize,
    input_start: &[u32],
    body: &(dyn Fn(Share<'a>, u8) + Sync),
) {
    if bounds.len() <= 2 {
        body(share, first as u8);
        return;
    }
    let mid = (bounds.len() - 1) / 2;
    let (left, right) = share.split_at(bounds[mid], input_start);
    rayon::join(
        || run_segments(left, &bounds[..=mid], first, input_start, body),
        || run_segments(right, &bounds[mid..], first + mid, input_start, body),
    );
}

/// The firms of the chunks `chunks` and their numbers, split off the engine's buffers: what
/// one task of the firm phase owns.
struct Share<'a> {
    chunks: std::ops::Range<usize>,
    /// The first firm and the first input edge of these chunks.
    firm0: usize,
    edge0: usize,
    /// Output per firm, plan per edge.
    y: &'a mut [f64],
    x: &'a mut [f64],
    /// Per edge (empty when no firm keeps a memory).
    last: &'a mut [f64],
    /// ln x per edge and F per firm (empty when no firm takes the Cobb–Douglas kernel).
    ln_x: &'a mut [f64],
    f_value: &'a mut [f64],
}

impl<'a> Share<'a> {
    /// The chunks before `mid` and those from `mid` on (`mid` within the chunks).
    fn split_at(self, mid: usize, input_start: &[u32]) -> (Share<'a>, Share<'a>) {
        assert!(self.chunks.start <= mid && mid <= self.chunks.end);
        let firms = input_start.len() - 1;
        let firm = (mid * FIRM_CHUNK).min(firms).max(self.firm0);
        let edge = input_start[firm] as usize;
        let (y, y_rest) = self.y.split_at_mut(firm - self.firm0);
        let (x, x_rest) = self.x.split_at_mut(edge - self.edge0);
        let (last, last_rest) = split(self.last, edge - self.edge0);
        let (ln_x, ln_x_rest) = split(self.ln_x, edge - self.edge0);
        let (f_value, f_value_rest) = split(self.f_value, firm - self.firm0);
        let first = Share {
            chunks: self.chunks.start..mid,
            firm0: self.firm0,
            edge0: self.edge0,
            y,
            x,
            last,
            ln_x,
            f_value,
        };
        let rest = Share {
            chunks: mid..self.chunks.end,
            firm0: firm,
            edge0: edge,
            y: y_rest,
            x: x_rest,
            last: last_rest,
            ln_x: ln_x_rest,
            f_value: f_value_rest,
        };
        (first, rest)
    }
}

/// `v` split at `at`, or two empty slices when `v` is empty (a buffer no firm uses).
fn split(v: &mut [f64], at: usize) -> (&mut [f64], &mut [f64]) {
    if v.is_empty() {
        (Default::default(), Default::default())
    } else {
        v.split_at_mut(at)
    }
}

/// Per-thread buffers of [`general_update`], reused from tick to tick.
#[derive(Default)]
struct Buffers {
    scratch: Scratch,
    prices: Vec<f64>,
    x: Vec<f64>,
    memory: Vec<f64>,
    memory_next: Vec<f64>,
}

thread_local! {
    static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers::default());
}

/// Firm f's update by [`agents::update`] (any technology and rule), in place on its plan `x`
/// and gradient memory; `tick` is Some when firms draw noise or activation.
#[allow(clippy::too_many_arguments)]
fn general_update(
    economy: &Economy,
    f: usize,
    prices: &[f64],
    seed: u64,
    tick: Option<u64>,
    constant_returns: bool,
    x: &mut [f64],
    memory: Option<&mut [f64]>,
) -> f64 {
    let firms = &economy.firms;
    let r = firms.inputs(f);
    BUFFERS.with_borrow_mut(|b| {
        let n = r.len();
        b.prices.clear();
        b.prices
            .extend(firms.input_good[r.clone()].iter().map(|&g| prices[g as usize]));
        b.x.clear();
        b.x.extend_from_slice(x);
        b.memory.clear();
        match &memory {
            Some(m) => b.memory.extend_from_slice(m),
            None => b.memory.resize(n, 0.0),
        }
        b.memory_next.resize(n, 0.0);
        let view = FirmView {
            settings: economy.agent(f),
            technology: economy.technology(f),
            params: &firms.input_param[r],
            productivity: firms.productivity[f],
            revenue: economy.revenue(f, prices),
            input_prices: &b.prices,
            constant_returns,
        };
        let mut rng = tick.map(|tick| {
            let mut rng = random::stream(seed, random::Purpose::Agent, f as u64);
            rng.set_word_pos((tick as u128) << 24);
            rng
        });
        let y = agents::update(
            &view,
            rng.as_mut(),
            &b.x,
            &b.memory,
            x,
            &mut b.memory_next,
            &mut b.scratch,
        );
        if let Some(m) = memory {
            m.copy_from_slice(&b.memory_next);
        }
        y
    })
}
