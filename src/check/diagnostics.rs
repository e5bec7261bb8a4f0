//! Diagnostics of the out-of-equilibrium trajectory (docs/MODEL.md, "Diagnostics"): per logged tick
//! and good, price, supply, demand, excess, the backprop adjoint at the current allocation and
//! the reference price; per logged tick, the worst relative errors, the dual potential
//! Phi(p_t), its gap to min Phi, the cosine between the actual price step and -grad Phi (1 =
//! the market is doing exact gradient descent on Phi), and the misallocation spread.

use crate::check::backprop::{self, Adjoints, Schedule};
use crate::check::lyapunov::Lyapunov;
use crate::check::reference::{self, Equilibrium};
use crate::economy::Economy;
use crate::sim::agents::{self, Scratch};
use crate::sim::engine::{Engine, Step};
use rayon::prelude::*;

/// One logged good at one logged tick, as a run measures it (the good by its index). Written
/// to `trajectory.csv` as the file's row type, `output::rows::TrajectoryRow`, with the good's
/// name.
#[derive(Debug, Clone, PartialEq)]
pub struct GoodSample {
    pub tick: u64,
    pub good: usize,
    pub price: f64,
    pub supply: f64,
    pub demand: f64,
    pub excess: f64,
    pub adjoint: f64,
    pub reference: Option<f64>,
    /// The part of the excess demand due to the prices, relative to the traded volume:
    /// (D*(p_t) - S*(p_t)) / max(S, D), with D* and S* the best responses to p_t (so the
    /// numerator is -dPhi/dp_g). None where Phi is not finite.
    pub mispricing: Option<f64>,
    /// The rest, due to plans that lag their best responses: (z - z*) / max(S, D), so that
    /// `mispricing + firm_lag = excess / max(S, D)`.
    pub firm_lag: Option<f64>,
}

/// One logged tick, as a run measures it. Written to `metrics.csv` as the file's row type,
/// `output::rows::TickSample`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TickSample {
    pub tick: u64,
    pub max_rel_excess: f64,
    pub max_rel_price_change: f64,
    pub max_rel_adjoint_error: f64,
    pub max_rel_reference_error: Option<f64>,
    pub phi: Option<f64>,
    pub phi_gap: Option<f64>,
    pub cosine: Option<f64>,
    /// The cosine in the market rule's own geometry: for multiplicative markets between the
    /// log-price step ln(p_{t+1} / p_t) and -grad Phi scaled per good as the rule scales it,
    /// (D* - S*) / max(S, D); for additive markets the same as `cosine`.
    pub cosine_mirror: Option<f64>,
    /// The distance of (x_t, p_t) from the reference equilibrium in the rules' own geometry
    /// ([`crate::check::lyapunov`]); None without a reference equilibrium.
    pub lyapunov: Option<f64>,
    /// || D*(p_t) - S*(p_t) || / || max(S, D) || over traded goods (Euclidean norms): the
    /// excess demand the prices cause (-grad Phi), relative to the traded volume.
    pub mispricing: Option<f64>,
    /// || z - z* || / || max(S, D) ||: the excess demand due to plans lagging their best
    /// responses.
    pub firm_lag: Option<f64>,
    pub spread: f64,
    /// The shocks that applied at the end of this tick, `;`-separated (empty: none).
    pub shock: String,
}

/// The dual potential Phi(p) = sum_f pi*_f(p) + sum_g s_g p_g and its gradient
/// dPhi/dp_g = S*_g - D*_g (supply minus demand when every firm best-responds to p).
#[derive(Debug, Clone, PartialEq)]
pub struct Potential {
    pub value: f64,
    pub gradient: Vec<f64>,
}

/// Relative error |p - q| / max(|q|, floor).
pub fn rel_error(p: f64, q: f64, floor: f64) -> f64 {
    (p - q).abs() / q.abs().max(floor)
}

/// A floor for relative errors of prices: 1e-9 of the largest fixed price, so that a price
/// that is 0 to working precision (a free good) matches a derivative of 0.
pub fn price_floor(economy: &Economy) -> f64 {
    let scale = (0..economy.goods.len())
        .filter(|&g| economy.goods.fixed[g])
        .map(|g| economy.goods.price[g])
        .fold(0.0, f64::max);
    1e-9 * scale.max(1e-300)
}

/// Phi and its gradient at `prices`, or None where Phi is not finite (a firm without a
/// finite best response, e.g. constant returns). `warm` holds per-edge starting guesses
/// and receives the best responses.
pub fn potential(economy: &Economy, prices: &[f64], warm: &mut [f64]) -> Option<Potential> {
    let firms = &economy.firms;
    let goods = &economy.goods;
    let n = firms.len();
    let mut y_star = vec![0.0; n];
    let mut profit = vec![0.0; n];
    // the best responses of firms `first..`, whose input edges are `x`, one firm at a time
    let solve = |first: usize, x: &mut [f64], y: &mut [f64], profit: &mut [f64]| -> Option<()> {
        let (mut scratch, mut p_in) = (Scratch::default(), Vec::new());
        let offset = firms.input_start[first] as usize;
        for i in 0..y.len() {
            let f = first + i;
            let r = firms.inputs(f);
            p_in.clear();
            p_in.extend(firms.input_good[r.clone()].iter().map(|&g| prices[g as usize]));
            let revenue = economy.revenue(f, prices) * firms.productivity[f];
            let x = &mut x[r.start - offset..r.end - offset];
            let (technology, params) = (economy.technology(f), &firms.input_param[r]);
            let (pi, value) = agents::best_response_and_output(technology, params, revenue, &p_in, x, &mut scratch)?;
            // productivity * F(x*), as `Economy::output` computes it
            (profit[i], y[i]) = (pi, firms.productivity[f] * value);
        }
        Some(())
    };
    if n < PARALLEL_FIRMS {
        solve(0, warm, &mut y_star, &mut profit)?;
    } else {
        // chunks of firms, each with its own slice of `warm`
        let mut chunks: Vec<(usize, &mut [f64])> = Vec::with_capacity(n.div_ceil(POTENTIAL_CHUNK));
        let mut rest: &mut [f64] = &mut *warm;
        for first in (0..n).step_by(POTENTIAL_CHUNK) {
            let last = (first + POTENTIAL_CHUNK).min(n);
            let edges = (firms.input_start[last] - firms.input_start[first]) as usize;
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(edges);
            chunks.push((first, head));
            rest = tail;
        }
        chunks
            .into_par_iter()
            .zip(y_star.par_chunks_mut(POTENTIAL_CHUNK))
            .zip(profit.par_chunks_mut(POTENTIAL_CHUNK))
            .map(|(((first, x), y), profit)| solve(first, x, y, profit))
            .collect::<Option<()>>()?;
    }
    // summed in firm order, whatever the thread count
    let mut value: f64 = profit.iter().sum();
    for g in goods.endogenous() {
        value += goods.endowment[g] * prices[g];
    }
    let warm = &*warm;
    let gradient_of = |g: usize| {
        if goods.fixed[g] {
            return 0.0;
        }
        let mut s = goods.endowment[g];
        for &k in goods.producers(g) {
            s += firms.output_weight[k as usize] * y_star[firms.output_firm[k as usize] as usize];
        }
        let d: f64 = goods.uses(g).iter().map(|&e| warm[e as usize]).sum();
        s - d
    };
    let mut gradient = vec![0.0; goods.len()];
    if n < PARALLEL_FIRMS {
        gradient.iter_mut().enumerate().for_each(|(g, v)| *v = gradient_of(g));
    } else {
        gradient
            .par_iter_mut()
            .enumerate()
            .with_min_len(1024)
            .for_each(|(g, v)| *v = gradient_of(g));
    }
    value.is_finite().then_some(Potential { value, gradient })
}

/// Whether every firm can have a finite best response (no firm has constant returns), so that
/// Phi can be finite.
pub fn has_best_responses(economy: &Economy) -> bool {
    economy.groups.iter().enumerate().all(|(i, g)| {
        g.count == 0 || {
            let r = economy.firms.inputs(g.first as usize);
            economy.group_technology(i).returns(&economy.firms.input_param[r]) != crate::production::Returns::Constant
        }
    })
}

/// Firms per task of `potential`'s best responses.
const POTENTIAL_CHUNK: usize = 2048;

/// Below this many firms the best responses of `potential` run on one thread.
const PARALLEL_FIRMS: usize = 4096;

/// Diagnostics of a run: the reference equilibrium of the current regime and buffers.
pub struct Diagnostics {
    pub reference: Option<Equilibrium>,
    /// Why there is no reference (solver error), for the summary.
    pub reference_note: Option<String>,
    pub adjoints: Adjoints,
    /// The order of backprop over this economy (built once).
    schedule: Schedule,
    warm: Vec<f64>,
    floor: f64,
    /// The Lyapunov weights at the reference equilibrium (None without one).
    lyapunov: Option<Lyapunov>,
    /// Whether to compute Phi: off when some firm can have no finite best response at any
    /// prices (constant returns). Where Phi is not finite at some prices only (a price at 0),
    /// that tick's columns are empty.
    potential_enabled: bool,
}

impl Diagnostics {
    pub fn new(economy: &Economy) -> Diagnostics {
        let mut d = Diagnostics {
            reference: None,
            reference_note: None,
            adjoints: Adjoints::default(),
            schedule: Schedule::new(economy),
            warm: vec![1.0; economy.firms.edges()],
            floor: price_floor(economy),
            lyapunov: None,
            potential_enabled: has_best_responses(economy),
        };
        d.solve_reference(economy);
        d
    }

    /// Diagnostics with no reference equilibrium (for benchmarks and economies the reference
    /// solver does not take).
    pub fn without_reference(economy: &Economy, why: &str) -> Diagnostics {
        Diagnostics {
            reference: None,
            reference_note: Some(why.to_string()),
            adjoints: Adjoints::default(),
            schedule: Schedule::new(economy),
            warm: vec![1.0; economy.firms.edges()],
            floor: price_floor(economy),
            lyapunov: None,
            potential_enabled: has_best_responses(economy),
        }
    }

    /// Solve the reference equilibrium of the economy as it is now (after a shock).
    pub fn solve_reference(&mut self, economy: &Economy) {
        match reference::solve(economy) {
            Ok(eq) => {
                self.warm.copy_from_slice(&eq.x);
                self.lyapunov = Some(Lyapunov::new(economy, &eq));
                self.reference = Some(eq);
                self.reference_note = None;
            }
            Err(e) => {
                self.reference = None;
                self.lyapunov = None;
                self.reference_note = Some(e.to_string());
            }
        }
    }

    /// What the final checks of a run need, the rest freed: backprop at the final plans `x`
    /// (in the buffers and along the schedule of the logged ticks), the reference equilibrium
    /// and the note on it.
    pub fn finish(self, economy: &Economy, x: &[f64]) -> (Option<Equilibrium>, Option<String>, Adjoints) {
        let Diagnostics {
            reference,
            reference_note,
            mut adjoints,
            schedule,
            ..
        } = self;
        backprop::backprop_into(economy, &schedule, &economy.goods.price, x, &mut adjoints);
        (reference, reference_note, adjoints)
    }

    /// Backprop at plans `x` in the diagnostics' buffers (the next [`Diagnostics::measure`]
    /// overwrites them).
    pub fn adjoints_at(&mut self, economy: &Economy, x: &[f64]) -> &Adjoints {
        backprop::backprop_into(economy, &self.schedule, &economy.goods.price, x, &mut self.adjoints);
        &self.adjoints
    }

    /// Measure the tick just run (before its shocks apply). Good rows go to `rows`.
    pub fn measure(&mut self, engine: &Engine, step: &Step, goods: &[usize], rows: &mut Vec<GoodSample>) -> TickSample {
        let economy = &engine.economy;
        backprop::backprop_into(
            economy,
            &self.schedule,
            &economy.goods.price,
            &engine.x,
            &mut self.adjoints,
        );
        let p_t = &engine.prev_prices;
        let mut m = TickSample {
            tick: step.tick,
            max_rel_excess: step.max_rel_excess,
            max_rel_price_change: step.max_rel_change,
            shock: step.shocks.join(";"),
            ..TickSample::default()
        };
        let mut ref_err: f64 = 0.0;
        for g in economy.goods.endogenous().filter(|&g| engine.traded[g]) {
            let a = self.adjoints.good[g];
            let nearest = self.adjoints.nearest(g, p_t[g]);
            m.max_rel_adjoint_error = m.max_rel_adjoint_error.max(rel_error(p_t[g], nearest, self.floor));
            m.spread = m.spread.max(self.adjoints.spread[g] / a.abs().max(self.floor));
            if let Some(r) = &self.reference {
                ref_err = ref_err.max(rel_error(p_t[g], r.prices[g], self.floor));
            }
        }
        if self.reference.is_some() {
            m.max_rel_reference_error = Some(ref_err);
        }
        if let (Some(r), Some(l)) = (&self.reference, &self.lyapunov) {
            m.lyapunov = Some(l.value(economy, r, &engine.x, p_t)).filter(|w| w.is_finite());
        }
        let mut best: Option<Potential> = None;
        if self.potential_enabled {
            if let Some(phi) = potential(economy, p_t, &mut self.warm) {
                m.phi = Some(phi.value);
                m.phi_gap = self.reference.as_ref().map(|r| phi.value - r.value);
                let multiplicative = economy.market.rule == crate::economy::market_settings::Rule::Multiplicative;
                // Over the traded goods: the cosine between the price step and -grad Phi;
                // over those that are not free (excess supply at a price that is 0 to
                // working precision), the same in the rule's own geometry and the split of
                // the excess demand z = z* + (z - z*), z* = D*(p_t) - S*(p_t) = -grad Phi.
                let (mut dot, mut n1, mut n2) = (0.0, 0.0, 0.0);
                let (mut mdot, mut m1, mut m2) = (0.0, 0.0, 0.0);
                let (mut mis, mut lag, mut vol) = (0.0, 0.0, 0.0);
                for g in economy.goods.endogenous().filter(|&g| engine.traded[g]) {
                    let (s, d) = (engine.supply[g], engine.demand[g]);
                    let dp = engine.prices[g] - p_t[g];
                    let down = -phi.gradient[g];
                    dot += dp * down;
                    n1 += dp * dp;
                    n2 += down * down;
                    if d <= s && p_t[g] <= self.floor {
                        continue;
                    }
                    let scale = s.max(d);
                    let (step, dir) = if multiplicative {
                        let step = if engine.prices[g] > 0.0 && p_t[g] > 0.0 {
                            (engine.prices[g] / p_t[g]).ln()
                        } else {
                            0.0
                        };
                        (step, if scale > 0.0 { down / scale } else { 0.0 })
                    } else {
                        (dp, down)
                    };
                    mdot += step * dir;
                    m1 += step * step;
                    m2 += dir * dir;
                    mis += down * down;
                    let rest = (d - s) - down;
                    lag += rest * rest;
                    vol += scale * scale;
                }
                if n1 > 0.0 && n2 > 0.0 {
                    m.cosine = Some((dot / (n1.sqrt() * n2.sqrt())).clamp(-1.0, 1.0));
                }
                if m1 > 0.0 && m2 > 0.0 {
                    m.cosine_mirror = Some((mdot / (m1.sqrt() * m2.sqrt())).clamp(-1.0, 1.0));
                }
                if vol > 0.0 {
                    m.mispricing = Some((mis / vol).sqrt());
                    m.firm_lag = Some((lag / vol).sqrt());
                }
                best = Some(phi);
            }
        }
        for &g in goods {
            let (s, d) = (engine.supply[g], engine.demand[g]);
            let scale = s.max(d);
            let split = best.as_ref().filter(|_| scale > 0.0).map(|phi| {
                let down = -phi.gradient[g];
                (down / scale, ((d - s) - down) / scale)
            });
            rows.push(GoodSample {
                tick: step.tick,
                good: g,
                price: p_t[g],
                supply: s,
                demand: d,
                excess: d - s,
                adjoint: self.adjoints.good[g],
                reference: self.reference.as_ref().map(|r| r.prices[g]),
                mispricing: split.map(|v| v.0),
                firm_lag: split.map(|v| v.1),
            });
        }
        m
    }
}
