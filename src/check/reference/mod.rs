//! The independent reference equilibrium: the planner's programme (docs/MODEL.md, "The reference equilibrium")
//! solved by a second-order method, deliberately different from the simulated market
//! dynamics (tatonnement is a first-order gradient method on the dual), so agreement between
//! the two is evidence, not an echo. Nothing here shares code with the engine, the agents,
//! the markets, backprop or the diagnostics: only the economy and `src/production/`.
//!
//! # Two algorithms, and which one runs ([`solve`], [`Method`])
//!
//! - *Dense interior point* (`problem.rs`, `start.rs`, `interior_point.rs`, `newton.rs`,
//!   `kkt.rs`, `polish.rs`, `dense_fd.rs`; below): a primal-dual interior-point method on the
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
//! # Where things are
//!
//! This file holds the public entry points and the choice of algorithm. The dense path:
//! `problem.rs` (the programme and its evaluation), `start.rs` (step 1), `interior_point.rs`
//! (step 2, and the unbounded probe), `newton.rs` (step 3), `polish.rs` (step 4), `kkt.rs`
//! (the KKT residual), `dense_fd.rs` (its finite differences). The dual path: `dual.rs`,
//! `dual_start.rs` (its starting prices), `firm.rs` (one firm's best response and
//! curvature), `dual_fd.rs`. `trace.rs` carries progress lines to the caller.
//!
//! [`solve_traced`] and [`envelope_for_traced`] pass the solver's progress to the caller line
//! by line (the library itself prints nothing).

use crate::economy::Economy;
use crate::production::Technology;

mod dense_fd;
mod dual;
mod dual_fd;
mod dual_start;
mod firm;
mod interior_point;
mod kkt;
mod newton;
mod polish;
mod problem;
mod start;
mod trace;

use problem::Problem;
use trace::Trace;

/// Largest dense system (constrained goods + variables of constant-returns firms).
pub const MAX_DENSE: usize = 1500;
/// Largest number of variables (input edges).
pub const MAX_VARIABLES: usize = 2_000_000;
/// Largest number of inputs of one firm (its Hessian block is dense).
pub const MAX_FIRM_INPUTS: usize = 300;

/// Largest KKT residual of an answer returned as an equilibrium (above: NoConvergence).
pub const ACCEPT_RESIDUAL: f64 = 1e-6;
/// "No index": a good without a constraint, a constraint without a row.
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
    solve_with(economy, method, &mut Trace::off())
}

/// [`solve_by`], handing the solver's progress to `trace` line by line (Newton steps, step
/// lengths, active-set changes: a debugging aid for economies the solver struggles with; the
/// lines are for people to read, not a format). The answer is the same as without it.
pub fn solve_traced(
    economy: &Economy,
    method: Method,
    trace: &mut dyn FnMut(&str),
) -> Result<Equilibrium, ReferenceError> {
    solve_with(economy, method, &mut Trace::to(trace))
}

/// [`solve_by`], its progress to `trace`.
fn solve_with(economy: &Economy, method: Method, trace: &mut Trace) -> Result<Equilibrium, ReferenceError> {
    if method == Method::Dual {
        if let Some(why) = dual::unsuitable(economy) {
            return Err(ReferenceError::Unsupported(why));
        }
        return solve_dual(economy, dense_too_large(economy), trace);
    }
    if method == Method::Dense || dense_rows(economy) <= MAX_DENSE {
        if method == Method::Dense {
            return Problem::new(economy)?.solve_cold(trace);
        }
        match Problem::new(economy).and_then(|prob| prob.solve_cold(trace)) {
            Err(e @ ReferenceError::TooLarge { .. }) => return solve_dual(economy, e, trace),
            // a nearly degenerate economy the interior point gives up on: the dual path
            // answers when it applies (else the interior point's reason stands)
            Err(e @ ReferenceError::NoConvergence(_)) if dual::unsuitable(economy).is_none() => {
                return solve_dual(economy, e.clone(), trace).map_err(|_| e)
            }
            other => return other,
        }
    }
    solve_dual(economy, dense_too_large(economy), trace)
}

/// The large-economy path ([`dual`]), or `dense_error` with the reason it does not apply.
fn solve_dual(
    economy: &Economy,
    dense_error: ReferenceError,
    trace: &mut Trace,
) -> Result<Equilibrium, ReferenceError> {
    if let Some(why) = dual::unsuitable(economy) {
        return Err(with_reason(dense_error, &why));
    }
    let d = dual::Dual::new(economy)?;
    let (st, iterations) = d.solve(trace)?;
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
    envelope_with(economy, eq, goods, method, &mut Trace::off())
}

/// [`envelope_for_by`], handing the solver's progress to `trace` line by line (as
/// [`solve_traced`]; the lines of goods computed in parallel come good by good, in the
/// order of the goods). The answer is the same as without it.
pub fn envelope_for_traced(
    economy: &Economy,
    eq: &Equilibrium,
    goods: &[usize],
    method: Method,
    trace: &mut dyn FnMut(&str),
) -> Result<Vec<Option<f64>>, ReferenceError> {
    envelope_with(economy, eq, goods, method, &mut Trace::to(trace))
}

/// [`envelope_for_by`], its progress to `trace`.
fn envelope_with(
    economy: &Economy,
    eq: &Equilibrium,
    goods: &[usize],
    method: Method,
    trace: &mut Trace,
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
        return dual_fd::envelope_for(economy, eq, goods, trace);
    }
    let dense = dense_fd::envelope_dense(economy, eq, goods, trace);
    match dense {
        // where the interior point gave up on the economy (so that `eq` came from the dual
        // path), its finite differences may too: the dual path's answer when it applies
        Err(ReferenceError::NoConvergence(_)) if method == Method::Auto && !sizes_differ => {
            match dual::unsuitable(economy) {
                None => dual_fd::envelope_for(economy, eq, goods, trace).or(dense),
                Some(_) => dense,
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two endowed goods, each turned by one firm into a fixed-price final good (smooth and
    /// strictly concave: both algorithms apply).
    const TWO: &str = r#"
name = "two"
[goods.raw]
endowment = 5.0
[goods.ore]
endowment = 2.0
[goods.final]
price = 1.0
[[firms]]
name = "one"
output = "final"
production = { power = { scale = 2.0, exponent = 0.5, input = "raw" } }
[[firms]]
name = "two"
output = "final"
production = { power = { scale = 1.0, exponent = 0.5, input = "ore" } }
"#;

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Tracing hands lines to the caller and changes no bit of the answer; the lines of the
    /// goods of the finite differences come in the order of the goods.
    #[test]
    fn tracing_reports_progress_without_changing_the_answer() {
        let e = crate::scenario::load_str("two.toml", TWO, &[], None).expect("a valid scenario");
        let goods = [e.goods.index("raw").unwrap(), e.goods.index("ore").unwrap()];
        for method in [Method::Dense, Method::Dual] {
            let plain = solve_by(&e, method).unwrap();
            let mut lines = Vec::new();
            let traced = solve_traced(&e, method, &mut |l| lines.push(l.to_owned())).unwrap();
            assert!(!lines.is_empty(), "{method:?}: no progress lines");
            assert_eq!(bits(&plain.prices), bits(&traced.prices), "{method:?}");
            assert_eq!(bits(&plain.x), bits(&traced.x), "{method:?}");
            assert_eq!(plain.value.to_bits(), traced.value.to_bits(), "{method:?}");
            assert_eq!(plain.iterations, traced.iterations, "{method:?}");

            let d = envelope_for_by(&e, &plain, &goods, method).unwrap();
            let mut lines = Vec::new();
            let dt = envelope_for_traced(&e, &plain, &goods, method, &mut |l| lines.push(l.to_owned())).unwrap();
            let flat = |d: &[Option<f64>]| d.iter().map(|v| v.map(f64::to_bits)).collect::<Vec<_>>();
            assert_eq!(flat(&d), flat(&dt), "{method:?}");
            let at = |name: &str| {
                lines
                    .iter()
                    .position(|l| l.contains(&format!("dV/ds '{name}'")))
                    .unwrap_or_else(|| panic!("{method:?}: no line for {name} in {lines:#?}"))
            };
            assert!(at("raw") < at("ore"), "{method:?}: {lines:#?}");
        }
    }
}
