//! The independent reference equilibrium: the planner's programme (docs/MODEL.md, "The reference equilibrium")
//! solved by a second-order method, deliberately different from the simulated market
//! dynamics (tatonnement is a first-order gradient method on the dual), so agreement between
//! the two is evidence, not an echo. Nothing here shares code with the engine, the agents,
//! the markets, backprop or the diagnostics: only the economy and `src/production/`.
//!
//! # Two algorithms, and which one runs ([`solve`], [`Method`])
//!
//! - *Dense interior point* (this file): a primal-dual interior-point method on the
//!   planner's programme, then Newton's method on the KKT equations of the identified active
//!   set. It handles every firm the scenario format has (constant returns, Leontief, firms
//!   that shut down, free goods), but factorises a dense system of one row per constrained
//!   good (plus the inputs of constant-returns firms): it runs while that system has at most
//!   [`MAX_DENSE`] rows, which covers every shipped scenario.
//! - *Damped Newton on the dual potential* (`dual.rs`, `firm.rs`, `dual_fd.rs`): minimises
//!   `Phi(p) = sum_f pi*_f(p) + sum_g p_g s_g` over the prices, each Newton system solved by
//!   conjugate gradients with Hessian-vector products computed firm by firm, so it scales
//!   with the number of edges (1e6 firms in minutes). It needs unique, smooth best
//!   responses: every firm smooth and strictly concave (decreasing returns), every price
//!   positive at the answer. It runs for larger economies, and where the interior point
//!   gives up on a nearly degenerate small one. Why not a sparse direct factorisation: see
//!   `dual.rs` (the fill-in figure).
//!
//! Larger economies that the dual cannot take (a constant-returns or Leontief firm among
//! more than [`MAX_DENSE`] constrained goods) get [`ReferenceError::TooLarge`] with both
//! reasons. [`envelope_for`] dispatches the same way.
//!
//! # The dense interior point
//!
//! ## The programme
//!
//! Variables: one quantity `x_v >= 0` per input edge; a Leontief firm (not smooth) is
//! re-parameterised by its activity level `u_f >= 0` with inputs `x_fi = r_i u_f` and
//! `F = scale * u_f` (no waste at an optimum), which keeps the programme smooth. Output
//! `y_f = productivity_f * F_f(x_f)`.
//!
//! maximise  V(x) = sum_{g fixed} p_g (sum_f w_fg y_f - sum_{uses of g} x)
//! subject to c_g(x) = s_g + sum_f w_fg y_f - sum_{uses of g} x >= 0   (endogenous g with users)
//!
//! F concave and non-decreasing makes this a convex programme. The equilibrium price of an
//! endogenous good is the KKT multiplier of `c_g`; fixed-price goods keep their prices;
//! endogenous goods that no firm uses are not constrained (free disposal) and cost 0.
//!
//! ## The algorithm
//!
//! 1. *Strictly feasible start.* Firms are walked in topological order; each use of an
//!    endogenous good gets an equal share of half its available supply (endowment plus what
//!    its producers make at the start), each fixed-price input one unit (more if the firm
//!    would make nothing). Where a producer then makes nothing (`ln(x)`, `1 - 1/x`: negative
//!    near 0), the walk is repeated keeping back less of each supply (1/10 down to 1e-6).
//!    A used good with no positive supply even so leaves the programme without an interior
//!    (and its price undetermined): [`ReferenceError::Infeasible`].
//! 2. *Primal-dual interior point* with slacks: unknowns `x > 0`, bound multipliers `z > 0`,
//!    slacks `t > 0` of the market constraints and prices `p > 0`; Newton steps on the
//!    perturbed KKT system `grad V + A p + z = 0, c(x) = t, x z = mu, p t = mu`, with exact
//!    Hessians of F, a fraction-to-the-boundary rule and backtracking on the norm of that
//!    residual (the Newton direction decreases it at rate 1). The slacks let steps follow
//!    the curved boundary of a market constraint instead of crawling along it. `mu` starts
//!    at the economy's value scale over the number of barrier terms and falls tenfold (then
//!    superlinearly, below 1e-6 of the value scale) each time the iterate is centred.
//! 3. *Linear algebra.* The Hessian of the Lagrangian is block diagonal (one block per firm)
//!    and the constraints couple blocks only through goods. Firms whose Hessian block is
//!    well conditioned and substantially curved (decreasing returns) are eliminated by a
//!    per-firm Cholesky factorisation into a Schur complement on goods; the others (linear,
//!    Leontief, constant-returns Cobb-Douglas/CES, nearly flat directions) keep their
//!    variables in the dense system, which avoids the huge entries that eliminating them
//!    with a vanishing barrier term would create. The dense system (goods + kept
//!    variables) is equilibrated and solved by LU with partial pivoting. Its size is capped:
//!    [`ReferenceError::TooLarge`].
//! 4. *Polish.* Once `mu` is below 1e-9 of the value scale, the active set is read off the
//!    last two centred iterates (Tapia indicators: an input in use keeps its quantity while
//!    its multiplier shrinks with mu, an unused one the other way round; likewise a scarce
//!    good keeps its price while its slack shrinks; degenerate pairs, where both shrink,
//!    count as unused). Unused inputs and free goods are set to 0 and Newton's method on the
//!    square KKT system (first-order conditions of the inputs in use, market clearing of the
//!    scarce goods) brings the answer to machine precision. Inputs with an infinite marginal
//!    product at 0 (sqrt, Cobb-Douglas, CES) are always in use when their output is worth
//!    something, and take their steps in log coordinates (so that a firm that all but shuts
//!    down, with inputs of 1e-30, is still solved exactly). The active set is corrected when
//!    the answer contradicts it (a quantity or price turning negative leaves; an unused
//!    input worth more than its price, a free good running short or still wanted joins),
//!    and a good that nothing in use touches (so its price is any value between what idle
//!    users would pay and idle producers would need) is priced at the lower end, dV/ds from
//!    above. The polished point is kept only if its KKT residual is smaller than the
//!    interior-point one; answers whose residual exceeds [`ACCEPT_RESIDUAL`] are reported as
//!    [`ReferenceError::NoConvergence`], naming the worst violated condition.
//!
//! Unbounded programmes (a constant-returns firm turning fixed-price inputs into output
//! worth more than their cost) are detected when the iterates grow by more than 1e15 over
//! their starting scale, or, when the interior point stalls, by a probe (damped Newton on
//! the primal log-barrier function at the first mu, which has a maximiser exactly when the
//! programme is bounded), and reported as [`ReferenceError::Unbounded`], naming the firm.
//! Expressions that use `min`/`max` are not smooth and are reported as
//! [`ReferenceError::Unsupported`] (Leontief firms are handled by the re-parameterisation).
//!
//! [`envelope`] and [`envelope_for`] check the envelope theorem `p_g = dV/ds_g` by finite
//! differences of the optimal value (Richardson-extrapolated, step chosen per good),
//! re-solving the programme at `s_g +- h` and `s_g +- h/2` by Newton steps with the
//! equilibrium's factorised KKT matrix, falling back to a full polish and a cold solve.
//!
//! Set `PRICEGRAD_REFERENCE_TRACE=1` to follow the solver's progress on stderr.

use crate::economy::Economy;
use crate::numeric::linalg;
use crate::production::Technology;

mod dual;
mod dual_fd;
mod dual_start;
mod firm;

/// Largest dense system (constrained goods + variables of constant-returns firms).
pub const MAX_DENSE: usize = 1500;
/// Largest number of variables (input edges).
pub const MAX_VARIABLES: usize = 2_000_000;
/// Largest number of inputs of one firm (its Hessian block is dense).
pub const MAX_FIRM_INPUTS: usize = 300;

const MAX_NEWTON: usize = 400;
/// Relative mu (mu / value scale) below which the interior point hands over to the polish.
const MU_POLISH: f64 = 1e-9;
/// Relative mu floor when the polish fails and the interior point goes on alone.
const MU_FLOOR: f64 = 1e-14;
/// Growth over the starting scale taken as proof of an unbounded programme.
const UNBOUNDED_GROWTH: f64 = 1e15;
/// Largest KKT residual of an answer returned as an equilibrium (above: NoConvergence).
pub const ACCEPT_RESIDUAL: f64 = 1e-6;
/// Safeguard on multipliers: they stay within this factor of the central path.
const KAPPA_SIGMA: f64 = 1e10;
const NONE: usize = usize::MAX;

/// The planner's optimum and its prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Equilibrium {
    /// Per good: fixed goods their price; endogenous goods the multiplier of their market
    /// (0 for goods in excess supply and for goods no firm uses).
    pub prices: Vec<f64>,
    /// Per input edge.
    pub x: Vec<f64>,
    /// Per firm output: productivity * F(x_f).
    pub y: Vec<f64>,
    /// V at the optimum: the value of net fixed-price output.
    pub value: f64,
    /// Newton steps in all (interior point and polish).
    pub iterations: usize,
    /// Max relative violation of the KKT conditions at the answer (stationarity relative to
    /// marginal value + cost, market clearing relative to the good's gross flow,
    /// complementarity as the smaller of the two relative sides).
    pub kkt_residual: f64,
}

/// Why the reference equilibrium could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReferenceError {
    #[error(
        "the economy is too large for the reference solver ({endogenous_goods} constrained goods, \
         {variables} variables): {reason}"
    )]
    TooLarge {
        endogenous_goods: usize,
        variables: usize,
        reason: String,
    },
    #[error("the planner's programme is infeasible: {0}")]
    Infeasible(String),
    #[error("the planner's programme is unbounded: {0}")]
    Unbounded(String),
    #[error("the reference solver does not support this economy: {0}")]
    Unsupported(String),
    #[error("the reference solver did not converge: {0}")]
    NoConvergence(String),
}

/// Solve the planner's programme for the economy's current fixed prices, endowments and
/// productivities.
pub fn solve(economy: &Economy) -> Result<Equilibrium, ReferenceError> {
    solve_by(economy, Method::Auto)
}

/// The reference solver's algorithms (module docs): [`solve`] and [`envelope_for`] use
/// `Auto`; the others are for tests and benchmarks that compare the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Dense interior point while the dense system has at most [`MAX_DENSE`] rows, else
    /// damped Newton on the dual potential.
    Auto,
    /// The dense interior point (TooLarge above [`MAX_DENSE`] rows).
    Dense,
    /// Damped Newton on the dual potential (Unsupported unless every firm is smooth and
    /// strictly concave).
    Dual,
}

/// [`solve`] with a chosen algorithm.
pub fn solve_by(economy: &Economy, method: Method) -> Result<Equilibrium, ReferenceError> {
    if method == Method::Dual {
        if let Some(why) = dual::unsuitable(economy) {
            return Err(ReferenceError::Unsupported(why));
        }
        return solve_dual(economy, dense_too_large(economy));
    }
    if method == Method::Dense || dense_rows(economy) <= MAX_DENSE {
        if method == Method::Dense {
            return Problem::new(economy)?.solve_cold();
        }
        match Problem::new(economy).and_then(|prob| prob.solve_cold()) {
            Err(e @ ReferenceError::TooLarge { .. }) => return solve_dual(economy, e),
            // a nearly degenerate economy the interior point gives up on: the dual path
            // answers when it applies (else the interior point's reason stands)
            Err(e @ ReferenceError::NoConvergence(_)) if dual::unsuitable(economy).is_none() => {
                return solve_dual(economy, e.clone()).map_err(|_| e)
            }
            other => return other,
        }
    }
    solve_dual(economy, dense_too_large(economy))
}

/// The large-economy path ([`dual`]), or `dense_error` with the reason it does not apply.
fn solve_dual(economy: &Economy, dense_error: ReferenceError) -> Result<Equilibrium, ReferenceError> {
    if let Some(why) = dual::unsuitable(economy) {
        return Err(with_reason(dense_error, &why));
    }
    let d = dual::Dual::new(economy)?;
    let (st, iterations) = d.solve()?;
    let eq = d.equilibrium(&st, iterations);
    if eq.kkt_residual > ACCEPT_RESIDUAL {
        return Err(ReferenceError::NoConvergence(format!(
            "Newton's method on the dual potential ended with a KKT residual of {:.2e}",
            eq.kkt_residual
        )));
    }
    Ok(eq)
}

/// Rows of the dense system: constrained goods plus the inputs of constant-returns and
/// Leontief firms (an O(edges) count made before anything is allocated).
fn dense_rows(eco: &Economy) -> usize {
    let goods = &eco.goods;
    let firms = &eco.firms;
    let mut rows = goods.endogenous().filter(|&g| !goods.uses(g).is_empty()).count();
    if rows > MAX_DENSE {
        return rows;
    }
    for f in 0..firms.len() {
        let params = &firms.input_param[firms.inputs(f)];
        let tech = eco.technology(f);
        if matches!(tech, Technology::Leontief { .. }) {
            rows += 1;
        } else if tech.returns(params) == crate::production::Returns::Constant {
            rows += params.len();
        }
        if rows > MAX_DENSE {
            break;
        }
    }
    rows
}

fn dense_too_large(eco: &Economy) -> ReferenceError {
    let goods = &eco.goods;
    ReferenceError::TooLarge {
        endogenous_goods: goods.endogenous().filter(|&g| !goods.uses(g).is_empty()).count(),
        variables: eco.firms.edges(),
        reason: format!(
            "the dense system would have more than {MAX_DENSE} rows (one per constrained good plus one per input of \
             each constant-returns firm)"
        ),
    }
}

/// A TooLarge error with why the large-economy path does not apply either.
fn with_reason(e: ReferenceError, why: &str) -> ReferenceError {
    match e {
        ReferenceError::TooLarge {
            endogenous_goods,
            variables,
            reason,
        } => ReferenceError::TooLarge {
            endogenous_goods,
            variables,
            reason: format!("{reason}; and the large-economy solver does not apply: {why}"),
        },
        other => other,
    }
}

/// dV/ds_g for every endogenous good with users, by finite differences of the optimal
/// value with respect to the good's endowment (an extra exogenous supply for goods without
/// one): [`envelope_for`] over all goods.
pub fn envelope(economy: &Economy, eq: &Equilibrium) -> Result<Vec<Option<f64>>, ReferenceError> {
    let all: Vec<usize> = (0..economy.goods.len()).collect();
    envelope_for(economy, eq, &all)
}

/// Smallest relative step of the finite differences (h / the good's supply scale); the step
/// grows up to [`FD_STEP_MAX`] where rounding in V would dominate (see [`envelope_for`]).
pub const FD_STEP: f64 = 1e-3;
/// Largest relative step of the finite differences.
pub const FD_STEP_MAX: f64 = 5e-2;

/// dV/ds_g for the goods in `goods` (others: `None`), by finite differences of the optimal
/// value V with respect to each good's endowment (an extra exogenous supply for goods
/// without one). `None` also for fixed-price goods and goods without users (their price is 0
/// by free disposal).
///
/// - *Step.* h = eta times the good's supply scale: the smaller of its gross supply
///   (endowment plus production) and the supply change that would move its price by 100%
///   (p / |dp/ds|, from the tangent of the KKT system at `eq`). eta balances the two errors:
///   rounding in V (about 1e-16 of the economy's gross value, divided by h p) and the
///   truncation of the extrapolated differences (about 0.05 eta^4), within [`FD_STEP`] and
///   [`FD_STEP_MAX`]. On a 1,000-firm generated economy every good's dV/ds came within 5e-8
///   of its price (most within 1e-10). Rounding sets the limit: goods whose value flow is a
///   tiny share of the economy's gross value (or whose price moves fast with supply, so
///   that h p is small) are the least accurate.
/// - *Formula.* Central differences at h and h/2, combined by Richardson extrapolation,
///   (4 D(h/2) - D(h)) / 3, whose error is of order h^4.
/// - *Perturbed solves.* The KKT system of `eq`'s active set is factorised once; each
///   perturbed programme is solved from `eq` by Newton steps with that frozen matrix (each
///   costs two triangular solves and gains about three digits), and accepted only when the
///   full KKT residual, complementarity included, is below 1e-12. Otherwise Newton's method
///   with fresh matrices and active-set corrections (as in the polish) takes over, then a
///   cold solve. V is read as the Lagrangian V(x) + p.c(x), whose error is second order in
///   the residual.
/// - *Kinks.* A perturbed programme that leaves `eq`'s active set (the frozen-matrix solve
///   fails) means V may have a kink within h: the step shrinks tenfold, at most twice. If
///   the kink stays, it is at s, and the one-sided differences from above,
///   (-3 V(s) + 4 V(s+h) - V(s+2h)) / 2h at h and h/2, extrapolated (error of order h^3),
///   give the value of one more unit: the price the solver reports for a good whose price
///   is not pinned down (anywhere between its idle users' value and its idle producers'
///   cost). Free goods (price 0 in `eq`: below s the planner would have to make some, above
///   it the extra unit is thrown away) and goods whose s - h cannot be solved take the
///   one-sided differences directly.
///
/// Goods are independent and computed in parallel (rayon); the answer does not depend on
/// the number of threads.
pub fn envelope_for(economy: &Economy, eq: &Equilibrium, goods: &[usize]) -> Result<Vec<Option<f64>>, ReferenceError> {
    envelope_for_by(economy, eq, goods, Method::Auto)
}

/// [`envelope_for`] with a chosen algorithm.
pub fn envelope_for_by(
    economy: &Economy,
    eq: &Equilibrium,
    goods: &[usize],
    method: Method,
) -> Result<Vec<Option<f64>>, ReferenceError> {
    let sizes_differ = eq.prices.len() != economy.goods.len()
        || eq.x.len() != economy.firms.edges()
        || eq.y.len() != economy.firms.len();
    let dual = match method {
        Method::Auto => dense_rows(economy) > MAX_DENSE,
        Method::Dense => false,
        Method::Dual => true,
    };
    if dual && !sizes_differ {
        if let Some(why) = dual::unsuitable(economy) {
            return Err(with_reason(dense_too_large(economy), &why));
        }
        return dual_fd::envelope_for(economy, eq, goods);
    }
    let dense = envelope_dense(economy, eq, goods);
    match dense {
        // where the interior point gave up on the economy (so that `eq` came from the dual
        // path), its finite differences may too: the dual path's answer when it applies
        Err(ReferenceError::NoConvergence(_)) if method == Method::Auto && !sizes_differ => {
            match dual::unsuitable(economy) {
                None => dual_fd::envelope_for(economy, eq, goods).or(dense),
                Some(_) => dense,
            }
        }
        other => other,
    }
}

/// [`envelope_for`] by the dense path.
fn envelope_dense(economy: &Economy, eq: &Equilibrium, goods: &[usize]) -> Result<Vec<Option<f64>>, ReferenceError> {
    use rayon::prelude::*;
    let prob = Problem::new(economy)?;
    let ng = economy.goods.len();
    if eq.prices.len() != ng || eq.x.len() != economy.firms.edges() || eq.y.len() != economy.firms.len() {
        return Err(ReferenceError::Unsupported(
            "the equilibrium passed to envelope() does not belong to this economy (sizes differ)".into(),
        ));
    }
    let mut ks: Vec<usize> = goods
        .iter()
        .filter(|&&g| g < ng && prob.con_of[g] != NONE)
        .map(|&g| prob.con_of[g])
        .collect();
    ks.sort_unstable();
    ks.dedup();
    let mut out = vec![None; ng];
    if ks.is_empty() {
        return Ok(out);
    }
    let base = prob.fd_base(eq);
    let results: Vec<Result<f64, ReferenceError>> = ks
        .par_iter()
        .map(|&k| {
            let mut local = prob.clone();
            local.fd_derivative(k, eq, &base)
        })
        .collect();
    for (&k, r) in ks.iter().zip(results) {
        out[prob.con_good[k]] = Some(r?);
    }
    Ok(out)
}

/// Relative KKT residual below which a perturbed solve is accepted.
const FD_ACCEPT: f64 = 1e-12;
/// Frozen-matrix Newton steps allowed per perturbed solve.
const FD_CHORD_STEPS: usize = 30;

/// The unperturbed optimum as the finite differences need it: its active set, the
/// factorised KKT matrix there, and V (as the Lagrangian).
struct FdBase {
    x0: Vec<f64>,
    p0: Vec<f64>,
    var_on: Vec<bool>,
    con_on: Vec<bool>,
    factors: Option<NewtonFactors>,
    value: f64,
    /// Gross value of the flows (the scale of V's rounding error).
    gross: f64,
}

// ------------------------------------------------------------------------------------------
// The programme
// ------------------------------------------------------------------------------------------

/// The planner's programme laid out for the solver.
#[derive(Clone)]
struct Problem<'a> {
    eco: &'a Economy,
    nf: usize,
    /// Variables of firm f: `var_start[f]..var_start[f+1]`.
    var_start: Vec<usize>,
    var_firm: Vec<usize>,
    /// Some(scale) for Leontief firms (one activity variable).
    leontief: Vec<Option<f64>>,
    /// Goods used by each variable, with units per unit of the variable.
    use_start: Vec<usize>,
    use_good: Vec<usize>,
    use_coef: Vec<f64>,
    /// Constrained goods (endogenous, with users): constraint k is good `con_good[k]`.
    con_good: Vec<usize>,
    con_of: Vec<usize>,
    /// s_k per constraint (the endowment, perturbed by `envelope`).
    supply: Vec<f64>,
    /// Constraints touched by firm f: `loc_con[loc_start[f]..loc_start[f+1]]`.
    loc_start: Vec<usize>,
    loc_con: Vec<usize>,
    hess_start: Vec<usize>,
    /// The firm of each output slot.
    firm_of_slot: Vec<usize>,
}

/// F and its derivatives at one point, for all firms.
#[derive(Clone, Default)]
struct Eval {
    y: Vec<f64>,
    /// productivity * dG/dv per variable.
    grad: Vec<f64>,
    /// productivity * Hessian of G, per firm block (row-major).
    hess: Vec<f64>,
    /// c_k per constraint.
    c: Vec<f64>,
    value: f64,
}

/// Prices and the quantities derived from them.
struct Priced {
    /// Revenue per unit of y per firm.
    rf: Vec<f64>,
    /// Marginal value rf * grad per variable.
    mv: Vec<f64>,
    /// Cost per unit of the variable (sum of coef * pi over its uses).
    cost: Vec<f64>,
}

/// One iterate of the interior point.
#[derive(Clone)]
struct State {
    x: Vec<f64>,
    z: Vec<f64>,
    p: Vec<f64>,
    t: Vec<f64>,
    mu: f64,
}

enum SolveFail {
    Singular,
    TooLarge(usize),
}

/// A solved point, before conversion to an [`Equilibrium`].
struct Answer {
    x: Vec<f64>,
    p: Vec<f64>,
    ev: Eval,
    residual: f64,
    iterations: usize,
}

/// One firm's part of a factorised Newton system.
struct Block {
    f: usize,
    /// Active variables (indices into the firm's variables) and constraints touched.
    av: Vec<usize>,
    lc: Vec<usize>,
    a: Vec<f64>,
    /// eliminated: Y = M^-1 A (na x kc); kept: M (na x na).
    y: Vec<f64>,
    /// eliminated: the Cholesky factor of M.
    chol: Vec<f64>,
    kept: bool,
}

/// A factorised Newton system ([`Problem::factor_newton`]): solving it again for another
/// right-hand side costs two triangular solves, not a factorisation.
struct NewtonFactors {
    blocks: Vec<Block>,
    con_row: Vec<usize>,
    kept_row: Vec<usize>,
    dim: usize,
    /// LU factors of the equilibrated dense system, its pivots and the equilibration passes.
    lu: Vec<f64>,
    piv: Vec<usize>,
    scaling: Vec<Vec<f64>>,
}

impl NewtonFactors {
    fn solve(&self, prob: &Problem, b1: &[f64], b2: &[f64]) -> Result<(Vec<f64>, Vec<f64>), SolveFail> {
        let m = prob.m();
        let dim = self.dim;
        let mut rhs = vec![0.0; dim];
        for k in 0..m {
            if self.con_row[k] != NONE {
                rhs[self.con_row[k]] += b2[k];
            }
        }
        let mut us: Vec<Vec<f64>> = Vec::with_capacity(self.blocks.len());
        for (bi, b) in self.blocks.iter().enumerate() {
            let na = b.av.len();
            let kc = b.lc.len();
            let r0 = prob.var_start[b.f];
            if b.kept {
                let base = self.kept_row[bi];
                for i in 0..na {
                    rhs[base + i] = b1[r0 + b.av[i]];
                }
                us.push(Vec::new());
            } else {
                let mut u: Vec<f64> = b.av.iter().map(|&i| b1[r0 + i]).collect();
                linalg::cholesky_substitute(&b.chol, na, &mut u);
                for i in 0..kc {
                    let ri = self.con_row[b.lc[i]];
                    let s: f64 = (0..na).map(|v| b.a[v * kc + i] * u[v]).sum();
                    rhs[ri] += s;
                }
                us.push(u);
            }
        }
        if dim > 0 && !equilibrated_substitute(&self.lu, &self.piv, &self.scaling, &mut rhs, dim) {
            return Err(SolveFail::Singular);
        }
        let mut dp = vec![0.0; m];
        for k in 0..m {
            if self.con_row[k] != NONE {
                dp[k] = rhs[self.con_row[k]];
            }
        }
        let mut dx = vec![0.0; prob.n()];
        for (bi, b) in self.blocks.iter().enumerate() {
            let na = b.av.len();
            let kc = b.lc.len();
            let r0 = prob.var_start[b.f];
            if b.kept {
                for i in 0..na {
                    dx[r0 + b.av[i]] = rhs[self.kept_row[bi] + i];
                }
            } else {
                let u = &us[bi];
                for i in 0..na {
                    let s: f64 = (0..kc).map(|j| b.y[i * kc + j] * dp[b.lc[j]]).sum();
                    dx[r0 + b.av[i]] = s - u[i];
                }
            }
        }
        if dx.iter().chain(&dp).all(|v| v.is_finite()) {
            Ok((dx, dp))
        } else {
            Err(SolveFail::Singular)
        }
    }
}

impl<'a> Problem<'a> {
    fn new(eco: &'a Economy) -> Result<Self, ReferenceError> {
        let goods = &eco.goods;
        let firms = &eco.firms;
        let nf = firms.len();
        let mut var_start = Vec::with_capacity(nf + 1);
        let mut var_firm = Vec::new();
        let mut leontief = Vec::with_capacity(nf);
        let mut use_start = vec![0];
        let mut use_good = Vec::new();
        let mut use_coef = Vec::new();
        var_start.push(0);
        for f in 0..nf {
            let tech = eco.technology(f);
            let inputs = firms.inputs(f);
            if inputs.len() > MAX_FIRM_INPUTS {
                return Err(ReferenceError::TooLarge {
                    endogenous_goods: 0,
                    variables: firms.edges(),
                    reason: format!(
                        "firm '{}' has {} inputs; the solver factorises each firm's Hessian densely and takes at most {MAX_FIRM_INPUTS}",
                        eco.firm_name(f),
                        inputs.len()
                    ),
                });
            }
            match *tech {
                Technology::Leontief { scale } => {
                    leontief.push(Some(scale));
                    for e in inputs {
                        let r = firms.input_param[e];
                        if !(r > 0.0 && r.is_finite()) {
                            return Err(ReferenceError::Unsupported(format!(
                                "firm '{}' is Leontief with requirement {r} for '{}'; requirements must be positive",
                                eco.firm_name(f),
                                &goods.name[firms.input_good[e] as usize]
                            )));
                        }
                        use_good.push(firms.input_good[e] as usize);
                        use_coef.push(r);
                    }
                    use_start.push(use_good.len());
                    var_firm.push(f);
                }
                _ => {
                    if !tech.is_smooth() {
                        return Err(ReferenceError::Unsupported(format!(
                            "firm '{}' has a production function that is not smooth (an expression using min or max): \
                             its derivatives are only subgradients, and the Newton-based reference solver needs \
                             second derivatives; write it as a Leontief family (which the solver handles exactly) \
                             or smooth it (e.g. a CES with a very negative rho)",
                            eco.firm_name(f)
                        )));
                    }
                    leontief.push(None);
                    for e in inputs {
                        use_good.push(firms.input_good[e] as usize);
                        use_coef.push(1.0);
                        use_start.push(use_good.len());
                        var_firm.push(f);
                    }
                }
            }
            var_start.push(var_firm.len());
        }
        let n = var_firm.len();
        let mut con_of = vec![NONE; goods.len()];
        let mut con_good = Vec::new();
        let mut supply = Vec::new();
        let mut used = vec![false; goods.len()];
        for &g in &use_good {
            used[g] = true;
        }
        for g in goods.endogenous() {
            if used[g] {
                con_of[g] = con_good.len();
                con_good.push(g);
                supply.push(goods.endowment[g]);
            }
        }
        let m = con_good.len();
        if n > MAX_VARIABLES {
            return Err(ReferenceError::TooLarge {
                endogenous_goods: m,
                variables: n,
                reason: format!("more than {MAX_VARIABLES} variables"),
            });
        }
        let mut firm_of_slot = vec![0; firms.output_good.len()];
        let mut loc_start = vec![0];
        let mut loc_con = Vec::new();
        let mut hess_start = vec![0];
        let mut dense_estimate = m;
        for f in 0..nf {
            let first = loc_con.len();
            for k in firms.outputs(f) {
                firm_of_slot[k] = f;
                let c = con_of[firms.output_good[k] as usize];
                if c != NONE && !loc_con[first..].contains(&c) {
                    loc_con.push(c);
                }
            }
            for v in var_start[f]..var_start[f + 1] {
                for u in use_start[v]..use_start[v + 1] {
                    let c = con_of[use_good[u]];
                    if c != NONE && !loc_con[first..].contains(&c) {
                        loc_con.push(c);
                    }
                }
            }
            loc_start.push(loc_con.len());
            let nv = var_start[f + 1] - var_start[f];
            hess_start.push(hess_start[f] + nv * nv);
            let params = &firms.input_param[firms.inputs(f)];
            if leontief[f].is_some() || eco.technology(f).returns(params) == crate::production::Returns::Constant {
                dense_estimate += nv;
            }
        }
        if dense_estimate > MAX_DENSE {
            return Err(ReferenceError::TooLarge {
                endogenous_goods: m,
                variables: n,
                reason: format!(
                    "the dense system would have {dense_estimate} rows (one per constrained good plus one per input of \
                     each constant-returns firm), more than {MAX_DENSE}; the reference solver is meant as a check on \
                     small and medium economies"
                ),
            });
        }
        Ok(Problem {
            eco,
            nf,
            var_start,
            var_firm,
            leontief,
            use_start,
            use_good,
            use_coef,
            con_good,
            con_of,
            supply,
            loc_start,
            loc_con,
            hess_start,
            firm_of_slot,
        })
    }

    fn n(&self) -> usize {
        self.var_firm.len()
    }
    fn m(&self) -> usize {
        self.con_good.len()
    }
    fn vars(&self, f: usize) -> std::ops::Range<usize> {
        self.var_start[f]..self.var_start[f + 1]
    }
    fn uses(&self, v: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        (self.use_start[v]..self.use_start[v + 1]).map(move |u| (self.use_good[u], self.use_coef[u]))
    }
    fn good_name(&self, g: usize) -> &str {
        &self.eco.goods.name[g]
    }

    fn new_eval(&self) -> Eval {
        Eval {
            y: vec![0.0; self.nf],
            grad: vec![0.0; self.n()],
            hess: vec![0.0; self.hess_start[self.nf]],
            c: vec![0.0; self.m()],
            value: 0.0,
        }
    }

    /// G_f (before productivity) and optionally its derivatives (times productivity).
    fn firm_eval(&self, f: usize, x: &[f64], ev: &mut Eval, derivs: bool) -> f64 {
        let firms = &self.eco.firms;
        let r = self.vars(f);
        let prod = firms.productivity[f];
        let xs = &x[r.clone()];
        let hs = self.hess_start[f]..self.hess_start[f + 1];
        if let Some(scale) = self.leontief[f] {
            if derivs {
                ev.grad[r.start] = prod * scale;
                ev.hess[hs].fill(0.0);
            }
            return scale * xs[0];
        }
        let tech = self.eco.technology(f);
        let params = &firms.input_param[firms.inputs(f)];
        if derivs {
            let grad = &mut ev.grad[r];
            let hess = &mut ev.hess[hs];
            grad.fill(0.0);
            hess.fill(0.0);
            let v = tech.hessian(xs, params, grad, hess);
            grad.iter_mut().for_each(|g| *g *= prod);
            hess.iter_mut().for_each(|h| *h *= prod);
            if xs.contains(&0.0) {
                // an unused input (polish, residuals): an infinite or undefined marginal
                // product at 0 (sqrt, Cobb-Douglas) is "infinitely valuable"; the curvature
                // of unused inputs is never needed
                for (i, g) in grad.iter_mut().enumerate() {
                    if !g.is_finite() && xs[i] == 0.0 {
                        *g = f64::MAX;
                    }
                }
                hess.iter_mut().for_each(|h| {
                    if !h.is_finite() {
                        *h = 0.0;
                    }
                });
            }
            v
        } else {
            tech.value(xs, params)
        }
    }

    /// Evaluate outputs, V and c (and derivatives). False when something is not finite.
    fn eval(&self, x: &[f64], derivs: bool, ev: &mut Eval) -> bool {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        ev.c.copy_from_slice(&self.supply);
        let mut value = 0.0;
        for f in 0..self.nf {
            let y = firms.productivity[f] * self.firm_eval(f, x, ev, derivs);
            if !y.is_finite() {
                return false;
            }
            ev.y[f] = y;
            for k in firms.outputs(f) {
                let g = firms.output_good[k] as usize;
                let w = firms.output_weight[k];
                if goods.fixed[g] {
                    value += goods.price[g] * w * y;
                } else if self.con_of[g] != NONE {
                    ev.c[self.con_of[g]] += w * y;
                }
            }
            for v in self.vars(f) {
                for (h, a) in self.uses(v) {
                    if goods.fixed[h] {
                        value -= goods.price[h] * a * x[v];
                    } else {
                        ev.c[self.con_of[h]] -= a * x[v];
                    }
                }
            }
        }
        ev.value = value;
        if derivs && !(ev.grad.iter().all(|g| g.is_finite()) && ev.hess.iter().all(|h| h.is_finite())) {
            return false;
        }
        value.is_finite() && ev.c.iter().all(|c| c.is_finite())
    }

    fn price(&self, p: &[f64]) -> Priced {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        let mut pi = vec![0.0; goods.len()];
        for g in 0..goods.len() {
            if goods.fixed[g] {
                pi[g] = goods.price[g];
            } else if self.con_of[g] != NONE {
                pi[g] = p[self.con_of[g]];
            }
        }
        let mut rf = vec![0.0; self.nf];
        for f in 0..self.nf {
            for k in firms.outputs(f) {
                rf[f] += firms.output_weight[k] * pi[firms.output_good[k] as usize];
            }
        }
        let n = self.n();
        let mut cost = vec![0.0; n];
        for v in 0..n {
            for (h, a) in self.uses(v) {
                cost[v] += a * pi[h];
            }
        }
        Priced {
            rf,
            mv: vec![0.0; n],
            cost,
        }
    }

    fn price_at(&self, p: &[f64], ev: &Eval) -> Priced {
        let mut pr = self.price(p);
        for v in 0..self.n() {
            pr.mv[v] = pr.rf[self.var_firm[v]] * ev.grad[v];
        }
        pr
    }

    /// Columns of the constraint Jacobian restricted to firm f: `a[i * kc + j]` = dc_{loc j}/dx_{var i}.
    fn local_a(&self, f: usize, ev: &Eval, a: &mut Vec<f64>) {
        let firms = &self.eco.firms;
        let lc = &self.loc_con[self.loc_start[f]..self.loc_start[f + 1]];
        let kc = lc.len();
        let r = self.vars(f);
        a.clear();
        a.resize(r.len() * kc, 0.0);
        for k in firms.outputs(f) {
            let c = self.con_of[firms.output_good[k] as usize];
            if c == NONE {
                continue;
            }
            let j = lc.iter().position(|&q| q == c).unwrap_or(0);
            let w = firms.output_weight[k];
            for (i, v) in r.clone().enumerate() {
                a[i * kc + j] += w * ev.grad[v];
            }
        }
        for (i, v) in r.enumerate() {
            for (h, coef) in self.uses(v) {
                let c = self.con_of[h];
                if c != NONE {
                    let j = lc.iter().position(|&q| q == c).unwrap_or(0);
                    a[i * kc + j] -= coef;
                }
            }
        }
    }

    /// Solve the (reduced) Newton system
    ///   -M dx + A dp = b1   (active variables; M = diag(sigma) - W)
    ///   A^T dx + D dp = b2  (active constraints)
    /// eliminating firms whose Hessian is well conditioned and keeping the others dense.
    #[allow(clippy::too_many_arguments)]
    fn newton(
        &self,
        x: &[f64],
        ev: &Eval,
        pr: &Priced,
        sigma: &[f64],
        dcon: &[f64],
        b1: &[f64],
        b2: &[f64],
        var_on: &[bool],
        con_on: &[bool],
    ) -> Result<(Vec<f64>, Vec<f64>), SolveFail> {
        self.factor_newton(x, ev, pr, sigma, dcon, var_on, con_on)?
            .solve(self, b1, b2)
    }

    /// Factorise the Newton system of [`Problem::newton`] (the matrix only), for one or
    /// several right-hand sides ([`NewtonFactors::solve`]).
    #[allow(clippy::too_many_arguments)]
    fn factor_newton(
        &self,
        x: &[f64],
        ev: &Eval,
        pr: &Priced,
        sigma: &[f64],
        dcon: &[f64],
        var_on: &[bool],
        con_on: &[bool],
    ) -> Result<NewtonFactors, SolveFail> {
        let m = self.m();
        let mut con_row = vec![NONE; m];
        let mut rows = 0;
        for k in 0..m {
            if con_on[k] {
                con_row[k] = rows;
                rows += 1;
            }
        }
        let mut blocks: Vec<Block> = Vec::new();
        let mut a_full = Vec::new();
        for f in 0..self.nf {
            let r = self.vars(f);
            let nv = r.len();
            let av: Vec<usize> = (0..nv).filter(|&i| var_on[r.start + i]).collect();
            let na = av.len();
            if na == 0 {
                continue;
            }
            let lc_all = &self.loc_con[self.loc_start[f]..self.loc_start[f + 1]];
            let lj: Vec<usize> = (0..lc_all.len()).filter(|&j| con_on[lc_all[j]]).collect();
            let kc = lj.len();
            self.local_a(f, ev, &mut a_full);
            let kall = lc_all.len();
            let mut a = vec![0.0; na * kc];
            for (ii, &i) in av.iter().enumerate() {
                for (jj, &j) in lj.iter().enumerate() {
                    a[ii * kc + jj] = a_full[i * kall + j];
                }
            }
            let h = &ev.hess[self.hess_start[f]..self.hess_start[f + 1]];
            let mut nmat = vec![0.0; na * na];
            for (ii, &i) in av.iter().enumerate() {
                for (jj, &j) in av.iter().enumerate() {
                    nmat[ii * na + jj] = -pr.rf[f] * h[i * nv + j];
                }
            }
            // Eliminate only blocks whose curvature is substantial next to the firm's value
            // flows (x^2 |F''| vs x F'): a nearly flat direction (constant returns, or an
            // input whose marginal product has all but vanished) would put huge entries
            // into the Schur complement and drown the other goods' prices in rounding.
            let value: f64 = av
                .iter()
                .map(|&i| x[r.start + i] * (pr.mv[r.start + i].abs() + pr.cost[r.start + i]))
                .sum();
            let curved = av
                .iter()
                .enumerate()
                .all(|(ii, &i)| x[r.start + i] * x[r.start + i] * nmat[ii * na + ii] >= 1e-10 * value);
            let eliminate = curved && well_conditioned(&nmat, na);
            let mut mmat = nmat;
            for (ii, &i) in av.iter().enumerate() {
                mmat[ii * na + ii] += sigma[r.start + i];
            }
            let lc: Vec<usize> = lj.iter().map(|&j| lc_all[j]).collect();
            if eliminate && linalg::cholesky(&mut mmat, na) {
                let mut y = vec![0.0; na * kc];
                let mut col = vec![0.0; na];
                for j in 0..kc {
                    for i in 0..na {
                        col[i] = a[i * kc + j];
                    }
                    linalg::cholesky_substitute(&mmat, na, &mut col);
                    for i in 0..na {
                        y[i * kc + j] = col[i];
                    }
                }
                blocks.push(Block {
                    f,
                    av,
                    lc,
                    a,
                    y,
                    chol: mmat,
                    kept: false,
                });
            } else {
                let mut mmat = mmat;
                // the failed Cholesky may have overwritten it: rebuild
                if eliminate {
                    mmat = vec![0.0; na * na];
                    for (ii, &i) in av.iter().enumerate() {
                        for (jj, &j) in av.iter().enumerate() {
                            mmat[ii * na + jj] = -pr.rf[f] * h[i * nv + j];
                        }
                        mmat[ii * na + ii] += sigma[r.start + i];
                    }
                }
                blocks.push(Block {
                    f,
                    av,
                    lc,
                    a,
                    y: mmat,
                    chol: Vec::new(),
                    kept: true,
                });
                rows += na;
            }
        }
        let dim = rows;
        if dim > 2 * MAX_DENSE {
            return Err(SolveFail::TooLarge(dim));
        }
        let mut jm = vec![0.0; dim * dim];
        for k in 0..m {
            if con_on[k] {
                let r = con_row[k];
                jm[r * dim + r] += dcon[k];
            }
        }
        let mut next_row = con_row.iter().filter(|&&r| r != NONE).count();
        let mut kept_row = vec![NONE; blocks.len()];
        for (bi, b) in blocks.iter().enumerate() {
            let na = b.av.len();
            let kc = b.lc.len();
            if b.kept {
                let base = next_row;
                kept_row[bi] = base;
                next_row += na;
                for i in 0..na {
                    for j in 0..na {
                        jm[(base + i) * dim + base + j] = -b.y[i * na + j];
                    }
                    for j in 0..kc {
                        let cr = con_row[b.lc[j]];
                        jm[(base + i) * dim + cr] += b.a[i * kc + j];
                        jm[cr * dim + base + i] += b.a[i * kc + j];
                    }
                }
            } else {
                for i in 0..kc {
                    let ri = con_row[b.lc[i]];
                    for j in 0..kc {
                        let rj = con_row[b.lc[j]];
                        let s: f64 = (0..na).map(|v| b.a[v * kc + i] * b.y[v * kc + j]).sum();
                        jm[ri * dim + rj] += s;
                    }
                }
            }
        }
        let mut fac = NewtonFactors {
            blocks,
            con_row,
            kept_row,
            dim,
            lu: jm,
            piv: Vec::new(),
            scaling: Vec::new(),
        };
        if dim > 0 && !equilibrated_factor(&mut fac.lu, &mut fac.piv, &mut fac.scaling, dim) {
            return Err(SolveFail::Singular);
        }
        Ok(fac)
    }

    /// The value scale: gross value of input flows at the given prices.
    fn value_scale(&self, x: &[f64], pr: &Priced, ev: &Eval) -> f64 {
        let mut s = 0.0;
        for v in 0..self.n() {
            s += x[v].abs() * (pr.mv[v].abs() + pr.cost[v]);
        }
        for f in 0..self.nf {
            if self.vars(f).is_empty() {
                s += (pr.rf[f] * ev.y[f]).abs();
            }
        }
        if s.is_finite() && s > 0.0 {
            s
        } else {
            1.0
        }
    }

    /// Strictly feasible starting point: the forward pass of [`Problem::start_keeping`] keeping
    /// half of each good's supply back, then (for production functions that are negative or
    /// undefined near 0, such as `ln(x)` or `1 - 1/x`, whose producers need more than a small
    /// share to make a positive amount) keeping back less and less, down to 1e-6 of it. The
    /// programme has no interior point only if even that leaves a used good without supply.
    fn start(&self) -> Result<Vec<f64>, ReferenceError> {
        let mut last = None;
        for keep in [0.5, 0.1, 1e-2, 1e-3, 1e-4, 1e-6] {
            match self.start_keeping(keep) {
                Ok(x) => return Ok(x),
                Err(e @ ReferenceError::Infeasible(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// The forward pass from the endowments: firms in topological order, each use of an
    /// endogenous good gets an equal share of the fraction `1 - keep` of its available supply
    /// (endowment plus what its producers make at this point), so that every market keeps a
    /// slack of `keep` of its supply.
    fn start_keeping(&self, keep: f64) -> Result<Vec<f64>, ReferenceError> {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        let n = self.n();
        let mut x = vec![0.0; n];
        let mut avail = vec![0.0; goods.len()];
        let mut produced = vec![0.0; goods.len()];
        let mut n_uses = vec![0usize; goods.len()];
        for v in 0..n {
            for (h, _) in self.uses(v) {
                n_uses[h] += 1;
            }
        }
        for g in goods.endogenous() {
            avail[g] = goods.endowment[g];
        }
        if self.supply.len() == self.m() {
            for k in 0..self.m() {
                avail[self.con_good[k]] = self.supply[k];
            }
        }
        let mut ev = self.new_eval();
        let mut checked = vec![false; goods.len()];
        for &f in &firms.topo_order {
            let f = f as usize;
            for v in self.vars(f) {
                let mut share = f64::INFINITY;
                let mut any_endog = false;
                for (h, a) in self.uses(v) {
                    if goods.fixed[h] {
                        continue;
                    }
                    any_endog = true;
                    if !checked[h] {
                        checked[h] = true;
                        if !positive(avail[h]) {
                            return Err(self.no_supply(h, produced[h]));
                        }
                    }
                    share = share.min(avail[h] * (1.0 - keep) / (n_uses[h] as f64 * a));
                }
                x[v] = if any_endog { share } else { 1.0 };
            }
            // fixed-price inputs: scale up if the output is not positive at one unit
            let mut y = firms.productivity[f] * self.firm_eval(f, &x, &mut ev, false);
            let only_fixed: Vec<usize> = self
                .vars(f)
                .filter(|&v| self.uses(v).all(|(h, _)| goods.fixed[h]))
                .collect();
            let mut tries = 0;
            while !positive(y) && !only_fixed.is_empty() && tries < 12 {
                for &v in &only_fixed {
                    x[v] *= 10.0;
                }
                y = firms.productivity[f] * self.firm_eval(f, &x, &mut ev, false);
                tries += 1;
            }
            if !y.is_finite() {
                return Err(ReferenceError::Infeasible(format!(
                    "firm '{}' has no finite output at the solver's starting point (inputs {}); its production \
                     function must be finite for all positive inputs",
                    self.eco.firm_name(f),
                    self.describe_inputs(f, &x)
                )));
            }
            for k in firms.outputs(f) {
                let g = firms.output_good[k] as usize;
                avail[g] += firms.output_weight[k] * y;
                produced[g] += firms.output_weight[k] * y;
            }
        }
        for k in 0..self.m() {
            let g = self.con_good[k];
            if !checked[g] && !positive(avail[g]) {
                return Err(self.no_supply(g, produced[g]));
            }
        }
        Ok(x)
    }

    fn no_supply(&self, g: usize, produced: f64) -> ReferenceError {
        let k = self.con_of[g];
        let s = if k != NONE {
            self.supply[k]
        } else {
            self.eco.goods.endowment[g]
        };
        ReferenceError::Infeasible(format!(
            "good '{}' is used by firms but has no positive supply to share (endowment {s}, production {produced} \
             when every use gets an equal share of all but 1e-6 of the supply of its good): the programme has no \
             interior point, the users of '{}' cannot operate and its price is not determined; give it a \
             positive endowment or a producer with positive output",
            self.good_name(g),
            self.good_name(g)
        ))
    }

    fn describe_inputs(&self, f: usize, x: &[f64]) -> String {
        self.vars(f)
            .map(|v| {
                let names: Vec<&str> = self.uses(v).map(|(h, _)| self.good_name(h)).collect();
                format!("{} = {:.4e}", names.join("+"), x[v])
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Gross flow through each constrained good: |endowment| + production + uses.
    fn flows(&self, x: &[f64], ev: &Eval) -> Vec<f64> {
        let firms = &self.eco.firms;
        let mut flow: Vec<f64> = self.supply.iter().map(|s| s.abs()).collect();
        for f in 0..self.nf {
            for k in firms.outputs(f) {
                let c = self.con_of[firms.output_good[k] as usize];
                if c != NONE {
                    flow[c] += firms.output_weight[k] * ev.y[f].abs();
                }
            }
            for v in self.vars(f) {
                for (h, a) in self.uses(v) {
                    let c = self.con_of[h];
                    if c != NONE {
                        flow[c] += a * x[v].abs();
                    }
                }
            }
        }
        flow
    }

    /// The KKT residual (mu = 0) at (x, p): see [`Equilibrium::kkt_residual`].
    fn kkt_residual(&self, x: &[f64], p: &[f64], ev: &Eval) -> f64 {
        self.kkt_worst(x, p, ev).0
    }

    /// The KKT residual and which condition is worst (for messages).
    fn kkt_worst(&self, x: &[f64], p: &[f64], ev: &Eval) -> (f64, String) {
        let pr = self.price_at(p, ev);
        let scale = self.value_scale(x, &pr, ev);
        let m = self.m();
        let mut res: f64 = 0.0;
        let mut worst = String::new();
        let mut note = |r: f64, what: &dyn Fn() -> String| {
            if r > res || r.is_nan() {
                res = if r.is_nan() { f64::INFINITY } else { r };
                worst = what();
            }
        };
        let mut pscale = vec![0.0f64; m];
        for v in 0..self.n() {
            let g = pr.mv[v] - pr.cost[v];
            let d = (pr.mv[v].abs() + pr.cost[v]).max(f64::MIN_POSITIVE);
            let var = || {
                let names: Vec<&str> = self.uses(v).map(|(h, _)| self.good_name(h)).collect();
                format!(
                    "firm '{}', input '{}' (x = {:.6e})",
                    self.eco.firm_name(self.var_firm[v]),
                    names.join("', '"),
                    x[v]
                )
            };
            note(g.max(0.0) / d, &|| {
                format!(
                    "{}: marginal value {:.6e} exceeds cost {:.6e}",
                    var(),
                    pr.mv[v],
                    pr.cost[v]
                )
            });
            note((g.abs() / d).min(x[v].abs() * d / scale), &|| {
                format!(
                    "{}: in use but marginal value {:.6e} differs from cost {:.6e}",
                    var(),
                    pr.mv[v],
                    pr.cost[v]
                )
            });
            if x[v] < 0.0 {
                note(-x[v] * d / scale, &|| format!("{}: negative quantity", var()));
            }
            for (h, a) in self.uses(v) {
                let k = self.con_of[h];
                if k != NONE {
                    pscale[k] = pscale[k].max(d / a);
                }
            }
        }
        let flow = self.flows(x, ev);
        for k in 0..m {
            let fl = flow[k].max(f64::MIN_POSITIVE);
            let ps = pscale[k].max(p[k].abs()).max(f64::MIN_POSITIVE);
            let c = ev.c[k];
            let name = self.good_name(self.con_good[k]);
            note((-c).max(0.0) / fl, &|| {
                format!("good '{name}': demand exceeds supply by {:.6e}", -c)
            });
            note((-p[k]).max(0.0) / ps, &|| {
                format!("good '{name}': negative price {:.6e}", p[k])
            });
            note((c.max(0.0) / fl).min(p[k].max(0.0) / ps), &|| {
                format!("good '{name}': excess supply {c:.6e} at a positive price {:.6e}", p[k])
            });
        }
        (res, worst)
    }

    // --------------------------------------------------------------------------------------
    // The interior point
    // --------------------------------------------------------------------------------------

    fn solve_cold(&self) -> Result<Equilibrium, ReferenceError> {
        let ans = self.interior_point()?;
        if ans.residual > ACCEPT_RESIDUAL {
            let (r, worst) = self.kkt_worst(&ans.x, &ans.p, &ans.ev);
            return Err(ReferenceError::NoConvergence(format!(
                "the best point found violates the equilibrium conditions by {r:.2e} (relative), more than                  {ACCEPT_RESIDUAL:.0e}; worst: {worst}. This happens in nearly degenerate economies (a price that                  all but vanishes, a firm that all but shuts down)"
            )));
        }
        Ok(self.equilibrium(ans))
    }

    fn interior_point(&self) -> Result<Answer, ReferenceError> {
        let n = self.n();
        let m = self.m();
        let trace = tracing();
        let x0 = self.start()?;
        let mut ev = self.new_eval();
        if !self.eval(&x0, true, &mut ev) {
            return Err(ReferenceError::Infeasible(
                "the production functions are not finite (or their derivatives are not) at the solver's starting point"
                    .into(),
            ));
        }
        // price guess for the scale: backprop-style adjoints at the start
        let adj = self.start_adjoints(&x0, &ev);
        let pr0 = self.price_at(&adj, &ev);
        let scale0 = self.value_scale(&x0, &pr0, &ev);
        let value0 = ev.value;
        let terms = (n + m).max(1) as f64;
        let mu0 = scale0 / terms;
        let mut st = State {
            z: x0.iter().map(|&xv| mu0 / xv).collect(),
            p: ev.c.iter().map(|&c| mu0 / c).collect(),
            t: ev.c.clone(),
            x: x0.clone(),
            mu: mu0,
        };
        if n == 0 {
            let residual = self.kkt_residual(&st.x, &vec![0.0; m], &ev);
            return Ok(Answer {
                x: st.x,
                p: vec![0.0; m],
                ev,
                residual,
                iterations: 0,
            });
        }
        let mut prev: Option<State> = None;
        let mut iterations = 0;
        let mut scale = scale0;
        let mut trial = self.new_eval();
        let mut best: Option<(f64, State)> = None;
        let var_on = vec![true; n];
        let con_on = vec![true; m];
        loop {
            // ev holds F and its derivatives at st.x
            let pr = self.price_at(&st.p, &ev);
            let mu = st.mu;
            let flow = self.flows(&st.x, &ev);
            // distance from the centre of the current barrier problem
            let mut stat: f64 = 0.0;
            let mut cent: f64 = 0.0;
            let mut infeas: f64 = 0.0;
            for v in 0..n {
                let r = pr.mv[v] - pr.cost[v] + st.z[v];
                stat = stat.max(r.abs() / (pr.mv[v].abs() + pr.cost[v] + st.z[v]));
                cent = cent.max((st.x[v] * st.z[v] / mu - 1.0).abs());
            }
            for k in 0..m {
                cent = cent.max((st.p[k] * st.t[k] / mu - 1.0).abs());
                infeas = infeas.max((ev.c[k] - st.t[k]).abs() / flow[k].max(f64::MIN_POSITIVE));
            }
            let mu_rel = mu / scale;
            if trace {
                eprintln!(
                    "reference: step {iterations} mu/scale {mu_rel:.3e} stationarity {stat:.3e} centrality {cent:.3e} \
                     infeasibility {infeas:.3e} V {:.12e}",
                    ev.value
                );
            }
            let tol = (10.0 * mu_rel).max(1e-13);
            if stat <= tol && infeas <= tol && cent <= 0.5 {
                if mu_rel <= MU_POLISH {
                    let ipm_res = self.kkt_residual(&st.x, &st.p, &ev);
                    if best.as_ref().is_none_or(|(r, _)| ipm_res <= *r) {
                        best = Some((ipm_res, st.clone()));
                    }
                    if let Some(pv) = &prev {
                        if let Some(ans) = self.polish_after_ipm(pv, &st, iterations) {
                            if trace {
                                eprintln!(
                                    "reference: polish -> KKT residual {:.3e} (interior point {ipm_res:.3e}); worst: {}",
                                    ans.residual,
                                    self.kkt_worst(&ans.x, &ans.p, &ans.ev).1
                                );
                            }
                            if ans.residual <= ipm_res {
                                return Ok(ans);
                            }
                        }
                    }
                    if mu_rel <= MU_FLOOR * 1.0001 {
                        break;
                    }
                }
                // next barrier parameter: linear, then superlinear decrease
                scale = self.value_scale(&st.x, &pr, &ev);
                let mr = mu / scale;
                let factor = if mr > 1e-6 { 0.1 } else { 0.1f64.min(mr.sqrt()) };
                prev = Some(st.clone());
                st.mu = (mu * factor).max(MU_FLOOR * scale);
                continue;
            }
            if iterations >= MAX_NEWTON {
                break;
            }
            iterations += 1;
            // Newton step on the perturbed KKT system
            let sigma: Vec<f64> = (0..n).map(|v| st.z[v] / st.x[v]).collect();
            let dcon: Vec<f64> = (0..m).map(|k| st.t[k] / st.p[k]).collect();
            let b1: Vec<f64> = (0..n).map(|v| -(pr.mv[v] - pr.cost[v]) - mu / st.x[v]).collect();
            let b2: Vec<f64> = (0..m).map(|k| mu / st.p[k] - ev.c[k]).collect();
            let (dx, dp) = match self.newton(&st.x, &ev, &pr, &sigma, &dcon, &b1, &b2, &var_on, &con_on) {
                Ok(d) => d,
                Err(SolveFail::TooLarge(dim)) => return Err(self.too_large(dim)),
                Err(SolveFail::Singular) => {
                    return self.give_up(
                        &x0,
                        mu0,
                        best,
                        iterations,
                        format!("the Newton system became singular at mu = {mu:.3e}"),
                    );
                }
            };
            let dz: Vec<f64> = (0..n)
                .map(|v| (mu - st.x[v] * st.z[v] - st.z[v] * dx[v]) / st.x[v])
                .collect();
            let dt: Vec<f64> = (0..m)
                .map(|k| (mu - st.p[k] * st.t[k] - st.t[k] * dp[k]) / st.p[k])
                .collect();
            let tau = (1.0 - mu_rel).clamp(0.99, 1.0 - 1e-12);
            let ap = max_step(&st.x, &dx, tau).min(max_step(&st.t, &dt, tau));
            let ad = max_step(&st.z, &dz, tau).min(max_step(&st.p, &dp, tau));
            // Backtracking on the norm of the perturbed KKT residual (the Newton direction
            // decreases it at rate 1), each block weighted to value units at the current point:
            // stationarity times x, complementarity, market clearing times p.
            let wx: Vec<f64> = st.x.clone();
            let wp: Vec<f64> = st.p.clone();
            let resid = |e: &Eval, x: &[f64], t: &[f64], p: &[f64], z: &[f64]| -> f64 {
                let pr = self.price_at(p, e);
                let mut r = 0.0;
                for v in 0..n {
                    let a = wx[v] * (pr.mv[v] - pr.cost[v] + z[v]);
                    let b = x[v] * z[v] - mu;
                    r += a * a + b * b;
                }
                for k in 0..m {
                    let a = wp[k] * (e.c[k] - t[k]);
                    let b = p[k] * t[k] - mu;
                    r += a * a + b * b;
                }
                r.sqrt() / scale
            };
            let r0 = resid(&ev, &st.x, &st.t, &st.p, &st.z);
            let mut alpha = ap.min(ad);
            let amax = alpha;
            let mut xn = vec![0.0; n];
            let mut tn = vec![0.0; m];
            let mut pn = vec![0.0; m];
            let mut zn = vec![0.0; n];
            let mut accepted = false;
            for _ in 0..60 {
                for v in 0..n {
                    xn[v] = st.x[v] + alpha * dx[v];
                    zn[v] = st.z[v] + alpha * dz[v];
                }
                for k in 0..m {
                    tn[k] = st.t[k] + alpha * dt[k];
                    pn[k] = st.p[k] + alpha * dp[k];
                }
                if xn.iter().chain(&tn).all(|&v| v > 0.0) && self.eval(&xn, true, &mut trial) {
                    let r1 = resid(&trial, &xn, &tn, &pn, &zn);
                    if r1.is_finite()
                        && (r1 <= (1.0 - 0.01 * alpha) * r0 || r1 <= 1e-15 * (1.0 + ev.value.abs() / scale))
                    {
                        accepted = true;
                        break;
                    }
                }
                alpha *= 0.5;
            }
            if trace {
                eprintln!("reference:   step length {alpha:.3e} (max {amax:.3e})");
            }
            if !accepted {
                return self.give_up(
                    &x0,
                    mu0,
                    best,
                    iterations,
                    format!("the line search failed at mu = {mu:.3e} (relative {:.3e})", mu / scale),
                );
            }
            st.x.copy_from_slice(&xn);
            st.t.copy_from_slice(&tn);
            std::mem::swap(&mut ev, &mut trial);
            for v in 0..n {
                let c = mu / st.x[v];
                st.z[v] = zn[v].clamp(c / KAPPA_SIGMA, c * KAPPA_SIGMA);
            }
            for k in 0..m {
                let c = mu / st.t[k];
                st.p[k] = pn[k].clamp(c / KAPPA_SIGMA, c * KAPPA_SIGMA);
            }
            // unbounded?
            let mut worst = (0.0, 0);
            for v in 0..n {
                let g = st.x[v] / x0[v];
                if g > worst.0 {
                    worst = (g, v);
                }
            }
            if worst.0 > UNBOUNDED_GROWTH || ev.value - value0 > UNBOUNDED_GROWTH * scale0 {
                return Err(self.unbounded(worst.1, x0[worst.1], st.x[worst.1], ev.value));
            }
        }
        self.give_up(
            &x0,
            mu0,
            best,
            iterations,
            format!("no accurate KKT point (mu = {:.3e})", st.mu),
        )
    }

    /// After a failure: is the programme unbounded? Damped Newton on the primal log-barrier
    /// function V + mu0 (sum ln c + sum ln x), keeping c > 0 and x > 0: it has a maximiser
    /// when the programme is bounded, and runs away (x and V growing without limit) when not.
    fn probe_unbounded(&self, x0: &[f64], mu: f64) -> Option<ReferenceError> {
        let n = self.n();
        let m = self.m();
        let mut x = x0.to_vec();
        let mut ev = self.new_eval();
        let mut trial = self.new_eval();
        if n == 0 || !self.eval(&x, true, &mut ev) {
            return None;
        }
        let value0 = ev.value;
        let scale0 = {
            let p: Vec<f64> = ev.c.iter().map(|c| mu / c).collect();
            self.value_scale(&x, &self.price_at(&p, &ev), &ev)
        };
        let var_on = vec![true; n];
        let con_on = vec![true; m];
        let barrier = |e: &Eval, x: &[f64]| -> f64 {
            let s: f64 =
                e.c.iter()
                    .chain(x.iter())
                    .map(|v| if *v > 0.0 { v.ln() } else { f64::NAN })
                    .sum();
            e.value + mu * s
        };
        for _ in 0..300 {
            let p: Vec<f64> = ev.c.iter().map(|c| mu / c).collect();
            let pr = self.price_at(&p, &ev);
            let sigma: Vec<f64> = x.iter().map(|xv| mu / (xv * xv)).collect();
            let dcon: Vec<f64> = ev.c.iter().map(|c| c * c / mu).collect();
            let b1: Vec<f64> = (0..n).map(|v| -(pr.mv[v] - pr.cost[v]) - mu / x[v]).collect();
            let b2 = vec![0.0; m];
            let runaway = |x: &[f64], value: f64, limit: f64| {
                let (g, v) = (0..n)
                    .map(|v| (x[v] / x0[v], v))
                    .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
                (g > limit && value - value0 > limit * scale0).then(|| self.unbounded(v, x0[v], x[v], value))
            };
            let Ok((dx, _)) = self.newton(&x, &ev, &pr, &sigma, &dcon, &b1, &b2, &var_on, &con_on) else {
                // the Newton system broke down: only a runaway already well under way counts
                return runaway(&x, ev.value, 1e4);
            };
            let slope: f64 = (0..n).map(|v| -b1[v] * dx[v]).sum();
            if tracing() {
                eprintln!(
                    "reference: unbounded probe: V {:.6e} slope {slope:.3e} x {:?}",
                    ev.value,
                    &x[..n.min(6)]
                );
            }
            if slope.is_nan() || slope <= 1e-14 * scale0 {
                return None; // at the barrier maximiser: bounded
            }
            let phi = barrier(&ev, &x);
            let mut alpha = max_step(&x, &dx, 0.99);
            let mut xn = vec![0.0; n];
            let mut ok = false;
            for _ in 0..60 {
                for v in 0..n {
                    xn[v] = x[v] + alpha * dx[v];
                }
                if self.eval(&xn, true, &mut trial) && trial.c.iter().all(|&c| c > 0.0) {
                    let phin = barrier(&trial, &xn);
                    if phin >= phi + 1e-4 * alpha * slope {
                        ok = true;
                        break;
                    }
                }
                alpha *= 0.5;
            }
            if !ok {
                return runaway(&x, ev.value, 1e4);
            }
            x.copy_from_slice(&xn);
            std::mem::swap(&mut ev, &mut trial);
            if let Some(e) = runaway(&x, ev.value, UNBOUNDED_GROWTH) {
                return Some(e);
            }
        }
        None
    }

    fn give_up(
        &self,
        x0: &[f64],
        mu0: f64,
        best: Option<(f64, State)>,
        iterations: usize,
        why: String,
    ) -> Result<Answer, ReferenceError> {
        if let Some(e) = self.probe_unbounded(x0, mu0) {
            return Err(e);
        }
        if let Some((res, st)) = best {
            if res <= ACCEPT_RESIDUAL {
                let mut ev = self.new_eval();
                if self.eval(&st.x, true, &mut ev) {
                    return Ok(Answer {
                        x: st.x,
                        p: st.p,
                        ev,
                        residual: res,
                        iterations,
                    });
                }
            }
        }
        Err(ReferenceError::NoConvergence(format!(
            "{why} after {iterations} Newton steps; the interior-point method could not reach a KKT point (a \
             badly scaled or nearly degenerate economy?)"
        )))
    }

    fn too_large(&self, dim: usize) -> ReferenceError {
        ReferenceError::TooLarge {
            endogenous_goods: self.m(),
            variables: self.n(),
            reason: format!(
                "the Newton system needed a dense block of {dim} rows (constrained goods plus variables of firms \
                 whose Hessian is singular), more than {}",
                2 * MAX_DENSE
            ),
        }
    }

    fn unbounded(&self, v: usize, from: f64, to: f64, value: f64) -> ReferenceError {
        let f = self.var_firm[v];
        let firms = &self.eco.firms;
        let inputs: Vec<&str> = self.uses(v).map(|(h, _)| self.good_name(h)).collect();
        let outputs: Vec<&str> = firms
            .outputs(f)
            .map(|k| self.good_name(firms.output_good[k] as usize))
            .collect();
        ReferenceError::Unbounded(format!(
            "the planner's value grows without limit (V = {value:.4e}): firm '{}' would use ever more '{}' \
             (from {from:.3e} to {to:.3e}) to make '{}'; at the fixed prices its output is worth more than the inputs \
             it needs, with returns that do not diminish. Lower the output's price, raise the inputs' prices, or \
             give the firm decreasing returns (e.g. exponents summing to less than 1)",
            self.eco.firm_name(f),
            inputs.join("', '"),
            outputs.join("', '")
        ))
    }

    /// Backprop-style adjoints at x (a price guess for the value scale).
    fn start_adjoints(&self, x: &[f64], ev: &Eval) -> Vec<f64> {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        let mut adj = vec![f64::NAN; goods.len()];
        let mut num = vec![0.0f64; goods.len()];
        let mut den = vec![0.0f64; goods.len()];
        for g in 0..goods.len() {
            if goods.fixed[g] {
                adj[g] = goods.price[g];
            }
        }
        for &f in firms.topo_order.iter().rev() {
            let f = f as usize;
            let mut rf = 0.0;
            for k in firms.outputs(f) {
                let g = firms.output_good[k] as usize;
                if adj[g].is_nan() {
                    adj[g] = if den[g] > 0.0 { (num[g] / den[g]).max(0.0) } else { 0.0 };
                }
                rf += firms.output_weight[k] * adj[g];
            }
            for v in self.vars(f) {
                let mv = rf * ev.grad[v];
                let fixed_cost: f64 = self
                    .uses(v)
                    .filter(|(h, _)| goods.fixed[*h])
                    .map(|(h, a)| a * goods.price[h])
                    .sum();
                let endog: Vec<(usize, f64)> = self.uses(v).filter(|(h, _)| !goods.fixed[*h]).collect();
                let total: f64 = endog.iter().map(|(_, a)| a).sum();
                for (h, a) in endog {
                    num[h] += a * x[v] * ((mv - fixed_cost).max(0.0) / total);
                    den[h] += a * x[v];
                }
            }
        }
        let mut p = vec![0.0; self.m()];
        for k in 0..self.m() {
            let g = self.con_good[k];
            let a = if adj[g].is_nan() {
                if den[g] > 0.0 {
                    num[g] / den[g]
                } else {
                    0.0
                }
            } else {
                adj[g]
            };
            p[k] = if a.is_finite() { a } else { 0.0 };
        }
        p
    }

    // --------------------------------------------------------------------------------------
    // Polish: Newton on the active set's KKT system
    // --------------------------------------------------------------------------------------

    fn polish_after_ipm(&self, prev: &State, last: &State, iterations: usize) -> Option<Answer> {
        // Tapia indicators: along the central path an input in use keeps its quantity while
        // its multiplier shrinks like mu, an unused one the other way round. In a degenerate
        // pair both shrink (like sqrt(mu)); those are classed as unused / slack, whose
        // equations are trivial, and the active-set correction repairs any mistake.
        let clear = |keep: f64, shrink: f64| keep >= shrink && keep >= 0.1;
        let var_on: Vec<bool> = (0..self.n())
            .map(|v| clear(last.x[v] / prev.x[v], last.z[v] / prev.z[v]))
            .collect();
        let con_on: Vec<bool> = (0..self.m())
            .map(|k| clear(last.p[k] / prev.p[k], last.t[k] / prev.t[k]))
            .collect();
        let first = self.polish_active(&last.x, &last.p, &var_on, &con_on);
        if first.as_ref().is_some_and(|a| a.residual <= 1e-13) {
            return first.map(|mut a| {
                a.iterations += iterations;
                a
            });
        }
        // second guess: also class as unused / slack whatever carries a negligible share of
        // the economy's value (degenerate branches that shut down, where both sides of a
        // complementarity pair vanish and the indicators are unreliable)
        let mut ev = self.new_eval();
        if !self.eval(&last.x, true, &mut ev) {
            return first;
        }
        let pr = self.price_at(&last.p, &ev);
        let scale = self.value_scale(&last.x, &pr, &ev);
        let flow = self.flows(&last.x, &ev);
        let var_on: Vec<bool> = (0..self.n())
            .map(|v| var_on[v] && last.x[v] * (pr.mv[v].abs() + pr.cost[v]) >= 1e-6 * scale)
            .collect();
        let con_on: Vec<bool> = (0..self.m())
            .map(|k| con_on[k] && last.p[k] * flow[k] >= 1e-6 * scale)
            .collect();
        let second = self.polish_active(&last.x, &last.p, &var_on, &con_on);
        let best = match (first, second) {
            (Some(a), Some(b)) => Some(if b.residual < a.residual { b } else { a }),
            (a, b) => a.or(b),
        };
        best.map(|mut a| {
            a.iterations += iterations;
            a
        })
    }

    /// Newton's method on the KKT equations of an active set, from (x, p), correcting the
    /// active set when the answer contradicts it: an input in use whose quantity would turn
    /// negative, or a scarce good whose price would, leaves the set; an unused input worth
    /// more than its price, or a slack good that runs short, joins it. The best point found
    /// (smallest KKT residual) is returned.
    fn polish_active(&self, x: &[f64], p: &[f64], var_on: &[bool], con_on: &[bool]) -> Option<Answer> {
        let first = self.polish_rounds(x, p, var_on, con_on, false);
        if first.as_ref().is_some_and(|a| a.residual <= 1e-13) {
            return first;
        }
        let second = self.polish_rounds(x, p, var_on, con_on, true);
        match (first, second) {
            (Some(a), Some(b)) => Some(if b.residual < a.residual { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// The rounds of [`Problem::polish_active`]. Inputs whose marginal product is infinite at
    /// 0 (sqrt, Cobb-Douglas, ...) are always in use unless their firm's output is worthless;
    /// that is decided from the first active set, or (`recheck`) again every round as goods
    /// join the scarce set (once in use they stay, so that rounds cannot cycle).
    fn polish_rounds(&self, x: &[f64], p: &[f64], var_on: &[bool], con_on: &[bool], recheck: bool) -> Option<Answer> {
        let mut von = var_on.to_vec();
        let mut con = con_on.to_vec();
        let zero_ok: Vec<bool> = (0..self.n()).map(|v| self.can_be_zero(v, x)).collect();
        let mut forced = vec![false; self.n()];
        let mut best: Option<Answer> = None;
        for round in 0..8 {
            let p_on: Vec<f64> = (0..self.m()).map(|k| if con[k] { p[k] } else { 0.0 }).collect();
            let rf = self.price(&p_on).rf;
            for v in 0..self.n() {
                if round == 0 || recheck {
                    forced[v] |= rf[self.var_firm[v]] > 0.0 && !zero_ok[v];
                }
            }
            for v in 0..self.n() {
                von[v] |= forced[v];
            }
            let (ans, var_flips, con_flips) = self.polish(x, p, &von, &con, &forced);
            if tracing() {
                let off: Vec<usize> = (0..self.n()).filter(|&v| !von[v]).collect();
                let coff: Vec<usize> = (0..self.m()).filter(|&k| !con[k]).collect();
                eprintln!("reference:   polish round: inactive vars {off:?} goods {coff:?}; flips {var_flips:?} {con_flips:?}");
            }
            let mut changed = !(var_flips.is_empty() && con_flips.is_empty());
            for v in var_flips {
                von[v] = false;
            }
            for k in con_flips {
                con[k] = false;
            }
            if let Some(ans) = ans {
                if !changed {
                    let pr = self.price_at(&ans.p, &ans.ev);
                    let flow = self.flows(&ans.x, &ans.ev);
                    for v in 0..self.n() {
                        if !von[v] && pr.mv[v] - pr.cost[v] > 1e-10 * (pr.mv[v].abs() + pr.cost[v]) {
                            if tracing() {
                                eprintln!(
                                    "reference:   var {v} joins: mv {:e} cost {:e} residual {:e}",
                                    pr.mv[v], pr.cost[v], ans.residual
                                );
                            }
                            von[v] = true;
                            changed = true;
                        }
                    }
                    for k in 0..self.m() {
                        if !con[k] && ans.ev.c[k] < -1e-12 * flow[k] {
                            con[k] = true;
                            changed = true;
                        }
                    }
                    // a free good whose users in action still want more is scarce after all
                    // (its price may be tiny, but it is not 0)
                    for v in 0..self.n() {
                        if von[v] && pr.mv[v] - pr.cost[v] > 1e-10 * (pr.mv[v].abs() + pr.cost[v]) {
                            for (h, _) in self.uses(v) {
                                let k = self.con_of[h];
                                if k != NONE && !con[k] {
                                    con[k] = true;
                                    changed = true;
                                }
                            }
                        }
                    }
                }
                let better = best.as_ref().is_none_or(|b| ans.residual < b.residual);
                if better {
                    best = Some(ans);
                }
            }
            if !changed {
                break;
            }
        }
        best
    }

    /// Whether variable v may be exactly 0 (its firm's F and gradient stay finite there).
    fn can_be_zero(&self, v: usize, x: &[f64]) -> bool {
        let f = self.var_firm[v];
        let mut xs = x.to_vec();
        xs[v] = 0.0;
        let mut ev = self.new_eval();
        let g = self.firm_eval(f, &xs, &mut ev, true);
        g.is_finite() && self.vars(f).all(|u| ev.grad[u].is_finite() && ev.grad[u] != f64::MAX)
    }

    /// Newton's method on the KKT equations of the given active set, from (x, p). Also
    /// returns the active inputs and goods whose quantity or price a step would have made
    /// non-positive.
    fn polish(
        &self,
        x: &[f64],
        p: &[f64],
        var_on: &[bool],
        con_on: &[bool],
        forced: &[bool],
    ) -> (Option<Answer>, Vec<usize>, Vec<usize>) {
        let n = self.n();
        let m = self.m();
        let mut x = x.to_vec();
        let mut p = p.to_vec();
        let keep_x = x.clone();
        for v in 0..n {
            if !var_on[v] {
                x[v] = 0.0;
            }
        }
        for k in 0..m {
            if !con_on[k] {
                p[k] = 0.0;
            }
        }
        let mut ev = self.new_eval();
        // a firm whose F is not finite with its unused inputs at 0 (ln x): leave them tiny
        for f in 0..self.nf {
            let r = self.vars(f);
            if r.clone().any(|v| !var_on[v]) && !self.firm_eval(f, &x, &mut ev, true).is_finite() {
                for v in r {
                    if !var_on[v] {
                        x[v] = keep_x[v];
                    }
                }
            }
        }
        if !self.eval(&x, true, &mut ev) {
            return (None, Vec::new(), Vec::new());
        }
        // A scarce good that nothing in use touches (no supply, every producer and user
        // idle) clears trivially and its price is not determined by the equations: any
        // value between its users' marginal value and its producers' unit cost will do.
        // It stays out of the Newton system; its price is set at the end.
        let firms = &self.eco.firms;
        let mut touched: Vec<bool> = self.supply.iter().map(|&s| s != 0.0).collect();
        for f in 0..self.nf {
            for v in self.vars(f) {
                if !var_on[v] {
                    continue;
                }
                for (h, _) in self.uses(v) {
                    if self.con_of[h] != NONE {
                        touched[self.con_of[h]] = true;
                    }
                }
                if ev.grad[v] != 0.0 {
                    for k in firms.outputs(f) {
                        let c = self.con_of[firms.output_good[k] as usize];
                        if c != NONE {
                            touched[c] = true;
                        }
                    }
                }
            }
        }
        let con_eff: Vec<bool> = (0..m).map(|k| con_on[k] && touched[k]).collect();
        let con_on_given = con_on;
        let con_on = &con_eff[..];
        let mut var_flips = Vec::new();
        let mut con_flips = Vec::new();
        let mut stalled = 0;
        let mut clamped_last = false;
        let mut negative = vec![0usize; m];
        let sigma = vec![0.0; n];
        let dcon = vec![0.0; m];
        let mut iterations = 0;
        let mut best: Option<(f64, Vec<f64>, Vec<f64>)> = None;
        loop {
            let pr = self.price_at(&p, &ev);
            let flow = self.flows(&x, &ev);
            // residual of the active-set equations
            let mut res: f64 = 0.0;
            let b1: Vec<f64> = (0..n)
                .map(|v| {
                    if var_on[v] {
                        let (mv, cost) = (pr.mv[v], pr.cost[v]);
                        let g = mv - cost;
                        res = res.max(g.abs() / (mv.abs() + cost).max(f64::MIN_POSITIVE));
                        -g
                    } else {
                        0.0
                    }
                })
                .collect();
            let b2: Vec<f64> = (0..m).map(|k| if con_on[k] { -ev.c[k] } else { 0.0 }).collect();
            for k in 0..m {
                if con_on[k] {
                    res = res.max(ev.c[k].abs() / flow[k].max(f64::MIN_POSITIVE));
                }
            }
            if tracing() {
                let w = (0..n)
                    .filter(|&v| var_on[v])
                    .map(|v| ((pr.mv[v] - pr.cost[v]).abs() / (pr.mv[v].abs() + pr.cost[v]), v))
                    .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
                eprintln!(
                    "reference:   polish step {iterations}: active-set residual {res:.3e} (variable {}: x {:.6e}, \
                     marginal value {:.6e}, cost {:.6e})",
                    w.1, x[w.1], pr.mv[w.1], pr.cost[w.1]
                );
            }
            if !res.is_finite() {
                break;
            }
            // quadratic convergence halves the residual at least; allow a few damped steps
            if best.as_ref().is_none_or(|(r, _, _)| res < 0.5 * *r) || clamped_last {
                stalled = 0;
            } else {
                stalled += 1;
            }
            if best.as_ref().is_none_or(|(r, _, _)| res < *r) {
                best = Some((res, x.clone(), p.clone()));
            }
            if res < 1e-15 || stalled >= 6 || iterations >= 60 {
                break;
            }
            let Ok((dx, dp)) = self.newton(&x, &ev, &pr, &sigma, &dcon, &b1, &b2, var_on, con_on) else {
                break;
            };
            iterations += 1;
            var_flips = (0..n)
                .filter(|&v| var_on[v] && !forced[v] && x[v] + dx[v] <= 0.0)
                .collect();
            // A price stepping below 0 suggests the good is not scarce after all; but a
            // vanishing positive price (a nearly satiated use) also overshoots 0 while the
            // quantities settle, so the price is first cut geometrically, and the good
            // leaves the active set only if that keeps happening.
            for k in 0..m {
                if con_on[k] && p[k] + dp[k] <= 0.0 {
                    negative[k] += 1;
                }
            }
            con_flips = (0..m)
                .filter(|&k| con_on[k] && p[k] + dp[k] <= 0.0 && negative[k] > 6)
                .collect();
            if !(var_flips.is_empty() && con_flips.is_empty()) {
                break;
            }
            // inputs that must stay in use (infinite marginal product at 0) take the Newton
            // step in log coordinates (the same linear system, dlog x = dx / x, limited to a
            // factor e^20 per step), which keeps them positive however small their optimum
            let mut clamped = false;
            for v in 0..n {
                if forced[v] {
                    let d = dx[v] / x[v];
                    clamped |= d.abs() > 20.0;
                    x[v] *= d.clamp(-20.0, 20.0).exp();
                } else {
                    x[v] += dx[v];
                }
            }
            clamped_last = clamped || (0..m).any(|k| con_on[k] && p[k] + dp[k] <= 0.0);
            for k in 0..m {
                p[k] = (p[k] + dp[k]).max(if con_on[k] { 1e-3 * p[k] } else { 0.0 });
            }
            if !self.eval(&x, true, &mut ev) {
                break;
            }
        }
        let Some((_, x, mut p)) = best else {
            return (None, var_flips, con_flips);
        };
        if !self.eval(&x, true, &mut ev) {
            return (None, var_flips, con_flips);
        }
        // Untouched goods: the price is any value between what its (idle) users would pay
        // and what its (idle) producers would need; report the lower end, the value of one
        // more unit (dV/ds from above), 0 when nobody wants it.
        for k in 0..m {
            if con_on_given[k] && !con_on[k] {
                p[k] = 0.0;
                let pr = self.price_at(&p, &ev);
                let g = self.con_good[k];
                for v in 0..n {
                    for (h, a) in self.uses(v) {
                        if h == g && pr.mv[v].is_finite() {
                            p[k] = p[k].max((pr.mv[v] - pr.cost[v]) / a);
                        }
                    }
                }
            }
        }
        let residual = self.kkt_residual(&x, &p, &ev);
        (
            Some(Answer {
                x,
                p,
                ev,
                residual,
                iterations,
            }),
            var_flips,
            con_flips,
        )
    }

    fn equilibrium(&self, ans: Answer) -> Equilibrium {
        let goods = &self.eco.goods;
        let firms = &self.eco.firms;
        let mut prices = vec![0.0; goods.len()];
        for g in 0..goods.len() {
            if goods.fixed[g] {
                prices[g] = goods.price[g];
            } else if self.con_of[g] != NONE {
                prices[g] = ans.p[self.con_of[g]].max(0.0);
            }
        }
        let mut x = vec![0.0; firms.edges()];
        for f in 0..self.nf {
            let r = self.vars(f);
            if self.leontief[f].is_some() {
                let u = ans.x[r.start];
                for e in firms.inputs(f) {
                    x[e] = firms.input_param[e] * u;
                }
            } else {
                for (e, v) in firms.inputs(f).zip(r) {
                    x[e] = ans.x[v];
                }
            }
        }
        Equilibrium {
            prices,
            x,
            y: ans.ev.y.clone(),
            value: ans.ev.value,
            iterations: ans.iterations,
            kkt_residual: ans.residual,
        }
    }

    /// Solver variables and constraint prices from an equilibrium.
    fn state_from(&self, eq: &Equilibrium) -> (Vec<f64>, Vec<f64>) {
        let firms = &self.eco.firms;
        let mut x = vec![0.0; self.n()];
        for f in 0..self.nf {
            let r = self.vars(f);
            if self.leontief[f].is_some() {
                x[r.start] = firms
                    .inputs(f)
                    .map(|e| eq.x[e] / firms.input_param[e])
                    .fold(f64::INFINITY, f64::min);
                if !x[r.start].is_finite() {
                    x[r.start] = 0.0;
                }
            } else {
                for (e, v) in firms.inputs(f).zip(r) {
                    x[v] = eq.x[e];
                }
            }
        }
        let p = self.con_good.iter().map(|&g| eq.prices[g]).collect();
        (x, p)
    }

    /// The active set of a solved point (the larger side of each complementarity pair), the
    /// KKT matrix there factorised, and V there (for [`envelope_for`]).
    fn fd_base(&self, eq: &Equilibrium) -> FdBase {
        let (x0, p0) = self.state_from(eq);
        let mut ev = self.new_eval();
        let mut base = FdBase {
            var_on: vec![false; self.n()],
            con_on: vec![false; self.m()],
            factors: None,
            value: eq.value,
            gross: eq.value.abs(),
            x0,
            p0,
        };
        if !self.eval(&base.x0, true, &mut ev) {
            return base;
        }
        let (x0, p0) = (&base.x0, &base.p0);
        let pr = self.price_at(p0, &ev);
        let scale = self.value_scale(x0, &pr, &ev);
        base.var_on = (0..self.n())
            .map(|v| {
                let d = (pr.mv[v].abs() + pr.cost[v]).max(f64::MIN_POSITIVE);
                x0[v] > 0.0 && x0[v] * d / scale >= (pr.mv[v] - pr.cost[v]).abs() / d
            })
            .collect();
        let flow = self.flows(x0, &ev);
        base.con_on = (0..self.m())
            .map(|k| {
                p0[k] > 0.0
                    && p0[k] / (p0[k] + pr_users(self, &pr, k)) >= ev.c[k].abs() / flow[k].max(f64::MIN_POSITIVE)
            })
            .collect();
        base.value = lagrangian(p0, &ev);
        base.gross = scale;
        let zeros_n = vec![0.0; self.n()];
        let zeros_m = vec![0.0; self.m()];
        base.factors = self
            .factor_newton(x0, &ev, &pr, &zeros_n, &zeros_m, &base.var_on, &base.con_on)
            .ok();
        base
    }

    /// dV/ds for constraint k (see [`envelope_for`]). `self.supply` is perturbed in place and
    /// restored.
    fn fd_derivative(&mut self, k: usize, eq: &Equilibrium, base: &FdBase) -> Result<f64, ReferenceError> {
        let g = self.con_good[k];
        let goods = &self.eco.goods;
        let mut production = 0.0;
        for &slot in goods.producers(g) {
            let slot = slot as usize;
            production += self.eco.firms.output_weight[slot] * eq.y[self.firm_of_slot[slot]].abs();
        }
        let s = self.supply[k];
        let price = base.p0[k];
        let flow = s.abs() + production;
        let mut scale = if flow > 0.0 { flow } else { 1.0 };
        // the supply change that would move the price by 100%: p / |dp/ds| from the tangent
        if let (Some(fac), true) = (&base.factors, base.con_on[k] && price > 0.0) {
            let b1 = vec![0.0; self.n()];
            let mut b2 = vec![0.0; self.m()];
            b2[k] = -1.0;
            if let Ok((_, dp)) = fac.solve(self, &b1, &b2) {
                let reach = price / dp[k].abs();
                if reach.is_finite() && reach > 0.0 {
                    scale = scale.min(reach);
                }
            }
        }
        // Rounding in V (about 1e-16 of the gross value) divided by h p, against the
        // truncation error of the extrapolated differences, about 0.05 (h / scale)^4: the
        // step that balances them, within [FD_STEP, FD_STEP_MAX].
        let rounding = 1e-16 * base.gross / (scale * price);
        let step = if rounding.is_finite() && rounding > 0.0 {
            (5.0 * rounding).powf(0.2).clamp(FD_STEP, FD_STEP_MAX)
        } else {
            FD_STEP
        };
        let h = step * scale;
        // V at s + delta, and whether the frozen-matrix solve (same active set) sufficed
        let value = |p: &mut Self, delta: f64| -> Result<(f64, bool), ReferenceError> {
            p.supply[k] = s + delta;
            let r = p.fd_value(base);
            p.supply[k] = s;
            r
        };
        let name = self.good_name(g).to_string();
        let trace = |d: f64, h: f64, how: &str| {
            if tracing() {
                eprintln!("reference: dV/ds '{name}' = {d:.15e} (price {price:.15e}, h {h:.3e}, {how})");
            }
        };
        if price > 0.0 {
            // central differences at h and h/2, extrapolated; a step that changes the active
            // set (V may have a kink within it) is cut tenfold, twice
            'steps: for h in [h, 0.1 * h, 0.01 * h] {
                let mut v = [0.0; 4];
                let mut smooth = true;
                for (i, delta) in [h, -h, 0.5 * h, -0.5 * h].into_iter().enumerate() {
                    match value(self, delta) {
                        Ok((val, chord)) => {
                            v[i] = val;
                            smooth &= chord;
                        }
                        Err(_) => break 'steps,
                    }
                }
                let d1 = (v[0] - v[1]) / (2.0 * h);
                let d2 = (v[2] - v[3]) / h;
                let d = d2 + (d2 - d1) / 3.0;
                if tracing() {
                    eprintln!("reference:   D(h) {d1:.15e} D(h/2) {d2:.15e} R {d:.15e}");
                }
                if smooth {
                    trace(d, h, "central");
                    return Ok(d);
                }
            }
        }
        // A free good, a kink at s (a good priced at the lower end of its range, the value
        // of one more unit), or s - h cannot be solved: the one-sided differences from
        // above at h and h/2, extrapolated.
        let (vp, _) = value(self, h)?;
        let (vp2, _) = value(self, 0.5 * h)?;
        let (v2, _) = value(self, 2.0 * h)?;
        let v0 = base.value;
        let d1 = (-3.0 * v0 + 4.0 * vp - v2) / (2.0 * h);
        let d2 = (-3.0 * v0 + 4.0 * vp2 - vp) / h;
        let d = d2 + (d2 - d1) / 3.0;
        trace(d, h, "from above");
        Ok(d)
    }

    /// V (as the Lagrangian) of the programme with the current (perturbed) supplies: Newton
    /// with the frozen KKT matrix of `base`, or when that does not reach an accurate KKT
    /// point, Newton with active-set corrections from `base`, then a cold solve. The flag
    /// says whether the frozen-matrix solve succeeded (so the active set did not change).
    fn fd_value(&self, base: &FdBase) -> Result<(f64, bool), ReferenceError> {
        if let Some(fac) = &base.factors {
            if let Some(v) = self.chord(base, fac) {
                return Ok((v, true));
            }
        }
        if let Some(ans) = self.polish_active(&base.x0, &base.p0, &base.var_on, &base.con_on) {
            if ans.residual <= FD_ACCEPT {
                return Ok((lagrangian(&ans.p, &ans.ev), false));
            }
        }
        self.interior_point().map(|a| (lagrangian(&a.p, &a.ev), false))
    }

    /// Newton's method on the KKT equations of `base`'s active set with `base`'s factorised
    /// matrix (a chord method: linear convergence at a rate of the order of the
    /// perturbation). Some(V) when the full KKT residual ends below [`FD_ACCEPT`].
    fn chord(&self, base: &FdBase, fac: &NewtonFactors) -> Option<f64> {
        let (n, m) = (self.n(), self.m());
        let mut x = base.x0.clone();
        let mut p = base.p0.clone();
        let mut ev = self.new_eval();
        let mut last = f64::INFINITY;
        let mut b1 = vec![0.0; n];
        let mut b2 = vec![0.0; m];
        for step in 0..=FD_CHORD_STEPS {
            if !self.eval(&x, true, &mut ev) {
                return None;
            }
            let pr = self.price_at(&p, &ev);
            let flow = self.flows(&x, &ev);
            let mut res: f64 = 0.0;
            for v in 0..n {
                b1[v] = 0.0;
                if base.var_on[v] {
                    let (mv, cost) = (pr.mv[v], pr.cost[v]);
                    res = res.max((mv - cost).abs() / (mv.abs() + cost).max(f64::MIN_POSITIVE));
                    b1[v] = cost - mv;
                }
            }
            for k in 0..m {
                b2[k] = 0.0;
                if base.con_on[k] {
                    res = res.max(ev.c[k].abs() / flow[k].max(f64::MIN_POSITIVE));
                    b2[k] = -ev.c[k];
                }
            }
            if tracing() {
                eprintln!("reference:   chord step {step}: residual {res:.3e}");
            }
            if !res.is_finite() {
                return None;
            }
            // converged, or no longer gaining (rounding): stop
            if res <= 1e-15 || (step > 0 && res > 0.5 * last) || step == FD_CHORD_STEPS {
                break;
            }
            last = res;
            let (dx, dp) = fac.solve(self, &b1, &b2).ok()?;
            for v in 0..n {
                if base.var_on[v] {
                    x[v] += dx[v];
                    if x[v] <= 0.0 {
                        return None;
                    }
                }
            }
            for k in 0..m {
                if base.con_on[k] {
                    p[k] += dp[k];
                    if p[k] <= 0.0 {
                        return None;
                    }
                }
            }
        }
        let (residual, worst) = self.kkt_worst(&x, &p, &ev);
        if tracing() {
            eprintln!("reference:   chord: KKT residual {residual:.3e}: {worst}");
        }
        (residual <= FD_ACCEPT).then(|| lagrangian(&p, &ev))
    }
}

/// The Lagrangian V(x) + p.c(x) at an evaluated point: equal to V at a KKT point, and
/// stationary there, so its error is second order in that of (x, p).
fn lagrangian(p: &[f64], ev: &Eval) -> f64 {
    ev.value + p.iter().zip(&ev.c).map(|(p, c)| p * c).sum::<f64>()
}

/// The largest marginal value among the users of constraint k's good (a price scale).
fn pr_users(prob: &Problem, pr: &Priced, k: usize) -> f64 {
    let g = prob.con_good[k];
    let mut s: f64 = 0.0;
    for v in 0..prob.n() {
        for (h, a) in prob.uses(v) {
            if h == g {
                s = s.max((pr.mv[v].abs() + pr.cost[v]) / a);
            }
        }
    }
    s
}

/// Factorise a symmetric (indefinite) system by LU after symmetric equilibration: rows and
/// columns are scaled by 1/sqrt of their largest entry (twice), so that the huge barrier
/// terms of unused inputs and slack goods do not swamp the pivot threshold of the rest.
/// `scaling` receives the two passes, for [`equilibrated_substitute`].
fn equilibrated_factor(a: &mut [f64], piv: &mut Vec<usize>, scaling: &mut Vec<Vec<f64>>, n: usize) -> bool {
    scaling.clear();
    for _ in 0..2 {
        let mut d = vec![1.0; n];
        for i in 0..n {
            let mx = a[i * n..(i + 1) * n].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            d[i] = if mx > 0.0 && mx.is_finite() {
                1.0 / mx.sqrt()
            } else {
                1.0
            };
        }
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] *= d[i] * d[j];
            }
        }
        scaling.push(d);
    }
    linalg::lu_factor(a, piv, n)
}

/// Solve with the factors of [`equilibrated_factor`], in place.
fn equilibrated_substitute(lu: &[f64], piv: &[usize], scaling: &[Vec<f64>], b: &mut [f64], n: usize) -> bool {
    let mut total = vec![1.0; n];
    for d in scaling {
        for i in 0..n {
            b[i] *= d[i];
            total[i] *= d[i];
        }
    }
    if !linalg::lu_substitute(lu, piv, b, n) {
        return false;
    }
    for i in 0..n {
        b[i] *= total[i];
    }
    true
}

/// Progress reports on stderr when the environment variable `PRICEGRAD_REFERENCE_TRACE` is
/// set (a debugging aid for economies the solver struggles with).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("PRICEGRAD_REFERENCE_TRACE").is_some())
}

/// A finite positive number.
fn positive(v: f64) -> bool {
    v > 0.0 && v.is_finite()
}

/// Largest step in [0, 1] keeping v + alpha dv >= (1 - tau) v.
fn max_step(v: &[f64], dv: &[f64], tau: f64) -> f64 {
    let mut a: f64 = 1.0;
    for (x, d) in v.iter().zip(dv) {
        if *d < 0.0 {
            a = a.min(-tau * x / d);
        }
    }
    a
}

/// Whether a symmetric positive semi-definite block is safely positive definite after
/// Jacobi scaling (so that eliminating it does not amplify rounding).
fn well_conditioned(a: &[f64], n: usize) -> bool {
    let mut s = vec![0.0; n];
    for i in 0..n {
        let d = a[i * n + i];
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        s[i] = 1.0 / d.sqrt();
    }
    let mut b = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            b[i * n + j] = a[i * n + j] * s[i] * s[j];
        }
    }
    if !linalg::cholesky(&mut b, n) {
        return false;
    }
    (0..n).all(|i| b[i * n + i] * b[i * n + i] >= 1e-8)
}
