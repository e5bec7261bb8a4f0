//! The reference equilibrium solver against numbers worked out by hand in each test (never
//! the solver's own earlier output), its error reporting, the envelope theorem
//! p_g = dV/ds_g, and a 300-firm economy checked against the families' closed-form
//! profit-maximising plans.

use crate::common::{generated, good, load};
use pricegrad::check::reference::{self, Equilibrium, ReferenceError};
use pricegrad::economy::Economy;
use pricegrad::scenario;

fn firm(e: &Economy, name: &str) -> usize {
    (0..e.firms.len())
        .find(|&f| e.firm_name(f) == name)
        .unwrap_or_else(|| panic!("no firm {name}"))
}

/// Quantity of `input` used by firm `name`.
fn input(e: &Economy, eq: &Equilibrium, name: &str, input: &str) -> f64 {
    let f = firm(e, name);
    let g = good(e, input);
    let edge = e
        .firms
        .inputs(f)
        .find(|&k| e.firms.input_good[k] as usize == g)
        .expect("firm uses the input");
    eq.x[edge]
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    let err = (got - want).abs() / want.abs().max(1e-300);
    assert!(
        err <= rel,
        "{what}: got {got:.15e}, want {want:.15e} (relative error {err:.2e} > {rel:.0e})"
    );
}

fn solve(e: &Economy) -> Equilibrium {
    let eq = reference::solve(e).unwrap_or_else(|err| panic!("solve failed: {err}"));
    assert!(eq.kkt_residual < 1e-9, "KKT residual {:.2e}", eq.kkt_residual);
    eq
}

/// The envelope theorem: dV/ds_g (finite differences of the re-solved optimum) equals the
/// price of every endogenous good with users, to 1e-6.
fn check_envelope(e: &Economy, eq: &Equilibrium) {
    let d = reference::envelope(e, eq).unwrap_or_else(|err| panic!("envelope failed: {err}"));
    assert_eq!(d.len(), e.goods.len());
    for (g, dg) in d.iter().enumerate() {
        let used = !e.goods.uses(g).is_empty();
        if e.goods.fixed[g] || !used {
            assert!(
                dg.is_none(),
                "{}: fixed or unused goods have no envelope derivative",
                &e.goods.name[g]
            );
        } else {
            let dv = dg.expect("derivative for a used endogenous good");
            close(&format!("dV/ds_{} vs price", &e.goods.name[g]), dv, eq.prices[g], 1e-6);
        }
    }
}

// ------------------------------------------------------------------------------------------
// 1. The essay's chain
// ------------------------------------------------------------------------------------------

/// natgas 4 -> A: sqrt -> B: 1 - 1/(e+1) -> C: ln -> tupperware (price 1). Forward: ethylene 2,
/// polyethylene 2/3, V = ln(2/3). Prices = derivatives: polyethylene 1/b = 3/2, ethylene
/// (3/2)/(a+1)^2 = 1/6, natgas (1/6)/(2 sqrt 4) = 1/24.
#[test]
fn tupperware_chain_prices_are_the_essays_derivatives() {
    let e = load(scenario::TUPPERWARE);
    let eq = solve(&e);
    close("natgas", eq.prices[good(&e, "natgas")], 1.0 / 24.0, 1e-9);
    close("ethylene", eq.prices[good(&e, "ethylene")], 1.0 / 6.0, 1e-9);
    close("polyethylene", eq.prices[good(&e, "polyethylene")], 1.5, 1e-9);
    close("tupperware", eq.prices[good(&e, "tupperware")], 1.0, 0.0);
    close("V", eq.value, (2.0f64 / 3.0).ln(), 1e-9);
    close("natgas used", input(&e, &eq, "A", "natgas"), 4.0, 1e-9);
    close("ethylene made", eq.y[firm(&e, "A")], 2.0, 1e-9);
    close("polyethylene made", eq.y[firm(&e, "B")], 2.0 / 3.0, 1e-9);
    check_envelope(&e, &eq);
}

/// The essay's chain with stages that are negative or undefined near 0 (issue 14: the
/// solver's starting point used to give B too little ethylene for a positive output and
/// called the programme infeasible). `stage_b` makes polyethylene from ethylene.
fn chain_with(stage_b: &str) -> Economy {
    let text = scenario::TUPPERWARE.replace("\"1 - 1/(ethylene + 1)\"", &format!("\"{stage_b}\""));
    assert!(text.contains(stage_b), "the essay chain has B's production to replace");
    load(&text)
}

/// natgas 4 -> A: sqrt -> B: ln -> C: ln -> tupperware (price 1). Forward: ethylene 2,
/// polyethylene ln 2, V = ln(ln 2). Prices = derivatives: polyethylene 1/ln 2, ethylene
/// (1/ln 2) * (1/2), natgas (1/(2 ln 2)) / (2 sqrt 4) = 1/(8 ln 2).
#[test]
fn chain_with_a_log_stage_is_solved() {
    let e = chain_with("ln(ethylene)");
    let eq = solve(&e);
    let l2 = 2.0f64.ln();
    close("polyethylene", eq.prices[good(&e, "polyethylene")], 1.0 / l2, 1e-9);
    close("ethylene", eq.prices[good(&e, "ethylene")], 1.0 / (2.0 * l2), 1e-9);
    close("natgas", eq.prices[good(&e, "natgas")], 1.0 / (8.0 * l2), 1e-9);
    close("V", eq.value, l2.ln(), 1e-9);
    close("polyethylene made", eq.y[firm(&e, "B")], l2, 1e-9);
    check_envelope(&e, &eq);
}

/// B: polyethylene = 1 - 1/ethylene (negative below 1). Forward: ethylene 2, polyethylene
/// 1/2, V = ln(1/2). Prices: polyethylene 1/(1/2) = 2, ethylene 2 / 2^2 = 1/2, natgas
/// (1/2) / (2 sqrt 4) = 1/8.
#[test]
fn chain_with_a_stage_negative_near_zero_is_solved() {
    let e = chain_with("1 - 1/ethylene");
    let eq = solve(&e);
    close("polyethylene", eq.prices[good(&e, "polyethylene")], 2.0, 1e-9);
    close("ethylene", eq.prices[good(&e, "ethylene")], 0.5, 1e-9);
    close("natgas", eq.prices[good(&e, "natgas")], 0.125, 1e-9);
    close("V", eq.value, 0.5f64.ln(), 1e-9);
    check_envelope(&e, &eq);
}

/// `pricegrad compile "sqrt(x) + ln(x)" --at x=4`: x 4 is copied into x_1 and x_2 (one unit
/// of each per unit of x), v1 = sqrt(x_1), v2 = ln(x_2), f = v1 + v2 (price 1). At x = 4:
/// v1 and v2 are worth 1 each (f is linear in them), x_1 is worth d sqrt(x)/dx = 1/(2 sqrt 4)
/// = 1/4, x_2 d ln(x)/dx = 1/4, and x (the copier's input) their sum 1/2; V = 2 + ln 4.
#[test]
fn compiled_sqrt_plus_ln_is_solved() {
    let c = pricegrad::compile::compile("sqrt(x) + ln(x)", &[("x".to_string(), 4.0)], &Default::default())
        .unwrap_or_else(|e| panic!("compile: {e}"));
    let e = load(&c.toml);
    let eq = solve(&e);
    for (name, want) in [("x", 0.5), ("v1", 1.0), ("v2", 1.0), ("x_1", 0.25), ("x_2", 0.25)] {
        close(name, eq.prices[good(&e, name)], want, 1e-9);
    }
    close("V", eq.value, 2.0 + 4.0f64.ln(), 1e-9);
    check_envelope(&e, &eq);
}

// ------------------------------------------------------------------------------------------
// 2. A split
// ------------------------------------------------------------------------------------------

const SPLIT: &str = r#"
name = "split"
[goods.raw]
endowment = 5.0
[goods.final]
price = 1.0
[[firms]]
name = "one"
output = "final"
production = { power = { scale = 2.0, exponent = 0.5, input = "raw" } }
[[firms]]
name = "two"
output = "final"
production = { power = { scale = 1.0, exponent = 0.5, input = "raw" } }
"#;

/// FOCs: 1/sqrt(x1) = p, 1/(2 sqrt(x2)) = p, x1 + x2 = 5 => x1 = 1/p^2, x2 = 1/(4p^2),
/// 5/(4p^2) = 5 => p = 1/2, x1 = 4, x2 = 1, V = 2*2 + 1 = 5.
#[test]
fn split_equalises_marginal_values() {
    let e = load(SPLIT);
    let eq = solve(&e);
    close("p_raw", eq.prices[good(&e, "raw")], 0.5, 1e-10);
    close("x1", input(&e, &eq, "one", "raw"), 4.0, 1e-10);
    close("x2", input(&e, &eq, "two", "raw"), 1.0, 1e-10);
    close("V", eq.value, 5.0, 1e-12);
    check_envelope(&e, &eq);
}

// ------------------------------------------------------------------------------------------
// 3. Fixed-price inputs
// ------------------------------------------------------------------------------------------

const LABOUR: &str = r#"
name = "labour"
[goods.labour]
price = 2.0
[goods.widget]
price = 3.0
[goods.gadget]
price = 4.0
[goods.capital]
endowment = 8.0
[[firms]]
name = "W"
output = "widget"
production = { power = { scale = 1.5, exponent = 0.5, input = "labour" } }
[[firms]]
name = "G"
output = "gadget"
production = { cobb_douglas = { scale = 1.0, exponents = { capital = 0.25, labour = 0.5 } } }
"#;

/// W: max 3 * 1.5 L^a - 2 L, a = 1/2: L* = (a A P / w)^(1/(1-a)) = (0.5*1.5*3/2)^2 = 1.265625;
/// V_W = 4.5 sqrt(L*) - 2 L* = 5.0625 - 2.53125 = 2.53125.
/// G: capital has one user, so all 8 units are used; labour: 4 * 0.5 * k^0.25 L^-0.5 = 2
/// => L = (k^0.25)^2 = sqrt(8); price of capital = 4 * 0.25 * k^-0.75 L^0.5 = 8^-0.75 8^0.25 = 1/sqrt(8).
/// V_G = 4 k^0.25 L^0.5 - 2 L = 4 sqrt(8) - 2 sqrt(8) = 2 sqrt(8).
#[test]
fn fixed_price_inputs_follow_the_closed_forms() {
    let e = load(LABOUR);
    let eq = solve(&e);
    let (a, big_a, p, w) = (0.5f64, 1.5f64, 3.0f64, 2.0f64);
    let l_w = (a * big_a * p / w).powf(1.0 / (1.0 - a));
    close("L_W", input(&e, &eq, "W", "labour"), l_w, 1e-10);
    close("L_W by hand", l_w, 1.265625, 1e-15);
    close("capital used", input(&e, &eq, "G", "capital"), 8.0, 1e-10);
    close("L_G", input(&e, &eq, "G", "labour"), 8f64.sqrt(), 1e-10);
    close("p_capital", eq.prices[good(&e, "capital")], 1.0 / 8f64.sqrt(), 1e-10);
    close("labour keeps its wage", eq.prices[good(&e, "labour")], 2.0, 0.0);
    close("V", eq.value, 2.53125 + 2.0 * 8f64.sqrt(), 1e-12);
    check_envelope(&e, &eq);
}

const CES: &str = r#"
name = "ces"
[goods.a]
endowment = 1.0
[goods.b]
endowment = 4.0
[goods.out]
price = 2.0
[[firms]]
name = "C"
output = "out"
production = { ces = { scale = 1.0, rho = -1.0, returns = 0.8, weights = { a = 0.5, b = 0.5 } } }
"#;

/// One user of each endowed input, so x = (1, 4). S = 0.5 a^rho + 0.5 b^rho = 0.5 + 0.125;
/// dF/da = nu S^(nu/rho - 1) 0.5 a^(rho-1), dF/db = nu S^(nu/rho - 1) 0.5 b^(rho-1); price = 2 dF.
#[test]
fn ces_prices_are_marginal_products() {
    let e = load(CES);
    let eq = solve(&e);
    let (nu, rho) = (0.8f64, -1.0f64);
    let s = 0.5 + 0.5 * 4f64.powf(rho);
    let common = nu * s.powf(nu / rho - 1.0) * 0.5;
    close("p_a", eq.prices[good(&e, "a")], 2.0 * common, 1e-10);
    close(
        "p_b",
        eq.prices[good(&e, "b")],
        2.0 * common * 4f64.powf(rho - 1.0),
        1e-10,
    );
    close("V", eq.value, 2.0 * s.powf(nu / rho), 1e-12);
    check_envelope(&e, &eq);
}

// ------------------------------------------------------------------------------------------
// 4. A copier: joint production
// ------------------------------------------------------------------------------------------

const COPIER: &str = r#"
name = "copier"
[goods.x]
endowment = 4.0
[goods.x1]
[goods.x2]
[goods.final]
price = 1.0
[[firms]]
name = "copy"
outputs = { x1 = 1.0, x2 = 1.0 }
production = { linear = { coefficients = { x = 1.0 } } }
[[firms]]
name = "U1"
output = "final"
production = { power = { scale = 2.0, exponent = 0.5, input = "x1" } }
[[firms]]
name = "U2"
output = "final"
production = { power = { scale = 1.0, exponent = 0.5, input = "x2" } }
"#;

/// The copier turns all 4 units of x into 4 of x1 and 4 of x2 (both uses have positive
/// marginal value). p_x1 = d(2 sqrt x1)/dx1 = 1/sqrt 4 = 1/2, p_x2 = 1/(2 sqrt 4) = 1/4, and
/// the copy's input price is the SUM: p_x = 3/4 (reverse-mode AD's fan-out rule).
/// V = 2*2 + 2 = 6.
#[test]
fn copier_input_price_is_the_sum_of_its_outputs() {
    let e = load(COPIER);
    let eq = solve(&e);
    close("p_x1", eq.prices[good(&e, "x1")], 0.5, 1e-10);
    close("p_x2", eq.prices[good(&e, "x2")], 0.25, 1e-10);
    close("p_x", eq.prices[good(&e, "x")], 0.75, 1e-10);
    close("copied", eq.y[firm(&e, "copy")], 4.0, 1e-10);
    close("x1 used", input(&e, &eq, "U1", "x1"), 4.0, 1e-10);
    close("V", eq.value, 6.0, 1e-12);
    check_envelope(&e, &eq);
}

// ------------------------------------------------------------------------------------------
// 5. Leontief
// ------------------------------------------------------------------------------------------

const LEONTIEF: &str = r#"
name = "leontief"
[goods.a]
endowment = 3.0
[goods.b]
endowment = 10.0
[goods.m]
[goods.k]
endowment = 2.0
[goods.labour]
price = 1.0
[goods.final]
price = 1.0
[goods.tool]
price = 3.0
[[firms]]
name = "L"
output = "m"
production = { leontief = { scale = 1.5, requirements = { a = 1.0, b = 2.0 } } }
[[firms]]
name = "U"
output = "final"
production = { power = { scale = 2.0, exponent = 0.5, input = "m" } }
[[firms]]
name = "T"
output = "tool"
production = { leontief = { scale = 1.0, requirements = { k = 1.0, labour = 0.5 } } }
"#;

/// L: a binds (3/1 < 10/2), activity u = 3, m = 1.5 * 3 = 4.5, b used 6 < 10 so p_b = 0.
/// p_m = d(2 sqrt m)/dm = 1/sqrt(4.5); zero profit: 1 p_a + 2 p_b = 1.5 p_m => p_a = sqrt(1/2).
/// T: all 2 units of k (price 3 per tool > labour cost 0.5), labour 1;
/// zero profit 1 p_k + 0.5 * 1 = 3 * 1 => p_k = 2.5.
#[test]
fn leontief_prices_satisfy_zero_profit_and_markets_clear() {
    let e = load(LEONTIEF);
    let eq = solve(&e);
    let (pa, pb, pm, pk) = (
        eq.prices[good(&e, "a")],
        eq.prices[good(&e, "b")],
        eq.prices[good(&e, "m")],
        eq.prices[good(&e, "k")],
    );
    close("p_m", pm, 1.0 / 4.5f64.sqrt(), 1e-10);
    close("p_a", pa, 0.5f64.sqrt(), 1e-10);
    assert!(pb.abs() <= 1e-12, "b is in excess supply, its price is 0 (got {pb:e})");
    close("zero profit L: r.p = P scale", 1.0 * pa + 2.0 * pb, 1.5 * pm, 1e-10);
    close("a clears", input(&e, &eq, "L", "a"), 3.0, 1e-10);
    close("b used", input(&e, &eq, "L", "b"), 6.0, 1e-10);
    close("m clears", input(&e, &eq, "U", "m"), eq.y[firm(&e, "L")], 1e-12);
    close("m made", eq.y[firm(&e, "L")], 4.5, 1e-10);
    close("p_k", pk, 2.5, 1e-10);
    close("zero profit T", 1.0 * pk + 0.5 * 1.0, 3.0 * 1.0, 1e-10);
    close("k clears", input(&e, &eq, "T", "k"), 2.0, 1e-10);
    close("labour of T", input(&e, &eq, "T", "labour"), 1.0, 1e-10);
    // V = 2 sqrt(4.5) + 3 * 2 - 1 * 1
    close("V", eq.value, 2.0 * 4.5f64.sqrt() + 5.0, 1e-12);
    check_envelope(&e, &eq);
}

// ------------------------------------------------------------------------------------------
// 6. Errors, never panics
// ------------------------------------------------------------------------------------------

#[test]
fn constant_returns_from_fixed_inputs_to_a_dearer_output_is_unbounded() {
    let e = load(
        r#"
name = "money_pump"
[goods.labour]
price = 1.0
[goods.gold]
price = 2.0
[[firms]]
name = "pump"
output = "gold"
production = { linear = { coefficients = { labour = 1.0 } } }
"#,
    );
    match reference::solve(&e) {
        Err(ReferenceError::Unbounded(msg)) => assert!(msg.contains("pump"), "names the firm: {msg}"),
        other => panic!("expected Unbounded, got {other:?}"),
    }
    // the same with Cobb-Douglas constant returns through an endogenous intermediate
    let e = load(
        r#"
name = "crs_chain"
[goods.labour]
price = 1.0
[goods.capital]
price = 1.0
[goods.part]
[goods.car]
price = 10.0
[[firms]]
name = "parts"
output = "part"
production = { cobb_douglas = { scale = 1.0, exponents = { labour = 0.5, capital = 0.5 } } }
[[firms]]
name = "cars"
output = "car"
production = { linear = { coefficients = { part = 1.0 } } }
"#,
    );
    let r = reference::solve(&e);
    assert!(matches!(r, Err(ReferenceError::Unbounded(_))), "{r:?}");
    // but a cheaper output is fine: the firm shuts down
    let e = load(
        r#"
name = "shutdown"
[goods.labour]
price = 3.0
[goods.gold]
price = 2.0
[goods.ore]
endowment = 1.0
[[firms]]
name = "pump"
output = "gold"
production = { linear = { coefficients = { labour = 1.0 } } }
[[firms]]
name = "mine"
output = "gold"
production = { power = { scale = 1.0, exponent = 0.5, input = "ore" } }
"#,
    );
    let eq = solve(&e);
    assert!(
        input(&e, &eq, "pump", "labour") < 1e-9,
        "the unprofitable firm shuts down"
    );
    close("p_ore = 2 * 0.5 / sqrt(1)", eq.prices[good(&e, "ore")], 1.0, 1e-10);
    close("V = 2", eq.value, 2.0, 1e-12);
}

#[test]
fn no_supply_is_infeasible_with_a_clear_message() {
    for endowment in [-1.0, 0.0] {
        let mut e = load(SPLIT);
        let raw = good(&e, "raw");
        e.goods.endowment[raw] = endowment; // as a shock would set it
        match reference::solve(&e) {
            Err(ReferenceError::Infeasible(msg)) => assert!(msg.contains("raw"), "names the good: {msg}"),
            other => panic!("endowment {endowment}: expected Infeasible, got {other:?}"),
        }
        match reference::envelope(&e, &solve(&load(SPLIT))) {
            Err(ReferenceError::Infeasible(_)) | Ok(_) => {}
            Err(other) => panic!("envelope on an infeasible economy: unexpected {other:?}"),
        }
    }
    // a firm with no productivity cannot supply its users either
    let mut e = load(COPIER);
    let c = firm(&e, "copy");
    e.firms.productivity[c] = 0.0;
    assert!(matches!(reference::solve(&e), Err(ReferenceError::Infeasible(_))));
}

#[test]
fn errors_render_for_a_researcher() {
    let err = ReferenceError::TooLarge {
        endogenous_goods: 5000,
        variables: 10,
        reason: "why".into(),
    };
    assert!(err.to_string().contains("5000"));
    assert!(ReferenceError::Unsupported("min".into())
        .to_string()
        .contains("does not support"));
}

// ------------------------------------------------------------------------------------------
// Shocks: the solver reads the economy's current prices, endowments and productivities
// ------------------------------------------------------------------------------------------

/// The split with the final price P = 2 and raw endowment s = 20 (as shocks would set them):
/// FOCs P/sqrt(x1) = p and P/(2 sqrt(x2)) = p give x1 = P^2/p^2, x2 = P^2/(4p^2), so
/// 5P^2/(4p^2) = s and p = P sqrt(5/(4s)) = 1/2. With productivity 4 on firm one:
/// 4P/sqrt(x1) = p, x1 = 16P^2/p^2, and 65P^2/(4p^2) = s gives p = sqrt(65 P^2/(4s)).
#[test]
fn shocked_economies_use_current_parameters() {
    let mut e = load(SPLIT);
    let raw = good(&e, "raw");
    let fin = good(&e, "final");
    e.goods.endowment[raw] = 20.0;
    e.goods.price[fin] = 2.0;
    let eq = solve(&e);
    close("p after price and endowment shocks", eq.prices[raw], 0.5, 1e-10);
    let one = firm(&e, "one");
    e.firms.productivity[one] = 4.0;
    let eq = solve(&e);
    let p = (65.0f64 * 4.0 / (4.0 * 20.0)).sqrt();
    close("p after a productivity shock", eq.prices[raw], p, 1e-10);
    close("x1", input(&e, &eq, "one", "raw"), 16.0 * 4.0 / (p * p), 1e-10);
    check_envelope(&e, &eq);
}

// ------------------------------------------------------------------------------------------
// A larger economy: 300 firms in three competitive stages
// ------------------------------------------------------------------------------------------

const STAGES: &str = r#"
name = "stages"
[goods.ore]
endowment = 100.0
[goods.steel]
[goods.parts]
[goods.labour]
price = 1.0
[goods.cars]
price = 5.0
[[firms]]
name = "smelter"
output = "steel"
count = 100
productivity_spread = 0.2
production = { ces = { scale = 2.0, rho = 0.5, returns = 0.7, weights = { ore = 0.6, labour = 0.4 } } }
[[firms]]
name = "press"
output = "parts"
count = 100
productivity_spread = 0.2
production = { cobb_douglas = { scale = 1.0, exponents = { steel = 0.4, labour = 0.3 } } }
[[firms]]
name = "assembly"
output = "cars"
count = 100
productivity_spread = 0.2
production = { cobb_douglas = { scale = 1.0, exponents = { parts = 0.5, labour = 0.3 } } }
"#;

/// Every firm's plan must be its closed-form profit maximum at the solved prices (an
/// independent formula per family), every market must clear, the KKT residual must be tiny
/// and the envelope derivatives must match the prices.
#[test]
fn three_stage_economy_of_300_firms() {
    let e = load(STAGES);
    assert_eq!(e.firms.len(), 300);
    let t = std::time::Instant::now();
    let eq = solve(&e);
    eprintln!(
        "300 firms: solved in {:.3} s, {} Newton steps, KKT residual {:.2e}",
        t.elapsed().as_secs_f64(),
        eq.iterations,
        eq.kkt_residual
    );
    for f in 0..e.firms.len() {
        let r = e.firms.inputs(f);
        let prices: Vec<f64> = r.clone().map(|k| eq.prices[e.firms.input_good[k] as usize]).collect();
        let revenue = e.revenue(f, &eq.prices) * e.firms.productivity[f];
        let mut best = vec![0.0; r.len()];
        assert!(e
            .technology(f)
            .closed_form_optimum(&e.firms.input_param[r.clone()], revenue, &prices, &mut best));
        for (i, k) in r.enumerate() {
            close(&format!("{} input {i}", e.firm_name(f)), eq.x[k], best[i], 1e-8);
        }
    }
    for g in e.goods.endogenous() {
        let supply: f64 = e.goods.endowment[g]
            + e.goods
                .producers(g)
                .iter()
                .map(|&s| e.firms.output_weight[s as usize] * eq.y[producer(&e, s as usize)])
                .sum::<f64>();
        let demand: f64 = e.goods.uses(g).iter().map(|&k| eq.x[k as usize]).sum();
        close(&format!("{} clears", &e.goods.name[g]), demand, supply, 1e-10);
        assert!(eq.prices[g] > 0.0);
    }
    let t = std::time::Instant::now();
    check_envelope(&e, &eq);
    eprintln!("300 firms: envelope in {:.3} s", t.elapsed().as_secs_f64());
}

fn producer(e: &Economy, slot: usize) -> usize {
    (0..e.firms.len())
        .find(|&f| e.firms.outputs(f).contains(&slot))
        .unwrap()
}

// ------------------------------------------------------------------------------------------
// Random supply chains, checked against the equilibrium conditions directly
// ------------------------------------------------------------------------------------------

/// The equilibrium conditions of DESIGN.md section 1, evaluated from the production
/// functions' own gradients (not from the solver's internals): every input in use earns its
/// price (P_f dF/dx = p), unused inputs are not worth their price, Leontief firms make zero
/// profit when they operate, markets clear where the price is positive and are never short.
fn check_equilibrium(e: &Economy, eq: &Equilibrium, tol: f64) {
    use pricegrad::production::Technology;
    let firms = &e.firms;
    for f in 0..firms.len() {
        let r = firms.inputs(f);
        let revenue = e.revenue(f, &eq.prices) * firms.productivity[f];
        let x = &eq.x[r.clone()];
        let params = &firms.input_param[r.clone()];
        let cost = |i: usize| eq.prices[firms.input_good[r.start + i] as usize];
        let name = e.firm_name(f);
        if let Technology::Leontief { scale } = *e.technology(f) {
            let unit_cost: f64 = (0..x.len()).map(|i| params[i] * cost(i)).sum();
            let unit_value = revenue * scale;
            assert!(
                unit_cost >= unit_value * (1.0 - tol) - 1e-300,
                "{name}: Leontief unit cost {unit_cost} < value {unit_value}"
            );
            if eq.y[f] > 1e-9 * (1.0 + eq.y.iter().fold(0.0f64, |m, y| m.max(y.abs()))) {
                close(&format!("{name}: Leontief zero profit"), unit_cost, unit_value, tol);
            }
            continue;
        }
        let mut grad = vec![0.0; x.len()];
        e.technology(f).gradient(x, params, &mut grad);
        let total: f64 = (0..x.len()).map(|i| x[i] * cost(i)).sum::<f64>() + revenue.abs() * eq.y[f].abs();
        for i in 0..x.len() {
            // a firm whose output is worthless values its inputs at 0 (even where F' is infinite)
            let mv = if revenue == 0.0 { 0.0 } else { revenue * grad[i] };
            let p = cost(i);
            assert!(
                mv <= p + tol * (mv.abs() + p),
                "{name} input {i}: marginal value {mv} > price {p}"
            );
            if x[i] * (mv.abs() + p) > 1e-9 * total {
                assert!(
                    (mv - p).abs() <= tol * (mv.abs() + p),
                    "{name} input {i} (x = {}): marginal value {mv} != price {p}",
                    x[i]
                );
            }
        }
    }
    for g in e.goods.endogenous() {
        if e.goods.uses(g).is_empty() {
            assert_eq!(eq.prices[g], 0.0, "{}: unused goods are free", &e.goods.name[g]);
            continue;
        }
        let made: f64 = e
            .goods
            .producers(g)
            .iter()
            .map(|&s| firms.output_weight[s as usize] * eq.y[producer(e, s as usize)])
            .sum();
        let supply = e.goods.endowment[g] + made;
        let demand: f64 = e.goods.uses(g).iter().map(|&k| eq.x[k as usize]).sum();
        let flow = supply.abs() + demand;
        assert!(
            demand <= supply + tol * flow,
            "{}: demand {demand} exceeds supply {supply}",
            &e.goods.name[g]
        );
        assert!(eq.prices[g] >= 0.0);
        if eq.prices[g] > 0.0 && (supply - demand) > tol * flow {
            // slack: the price must be negligible next to the users' marginal values
            let uses_value: f64 = e
                .goods
                .uses(g)
                .iter()
                .map(|&k| {
                    let f = firms.edge_firm[k as usize] as usize;
                    e.revenue(f, &eq.prices) * firms.productivity[f]
                })
                .fold(0.0, f64::max);
            assert!(
                eq.prices[g] <= tol * uses_value.max(1e-300),
                "{}: slack {} with price {}",
                &e.goods.name[g],
                supply - demand,
                eq.prices[g]
            );
        }
    }
}

/// A small deterministic generator (no dependence on the solver).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.next()
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() * n as f64) as usize).min(n - 1)
    }
}

/// A random layered economy: endowed raw goods, 1-3 layers of intermediates, fixed-price
/// labour and final goods; firms of every family (constant-returns ones only on endogenous
/// inputs, so the programme stays bounded), joint production and replicas.
fn random_economy(seed: u64) -> String {
    let mut rng = Lcg(seed.wrapping_mul(0x9E3779B97F4A7C15) ^ 0xABCDEF);
    let mut t = format!(
        "name = \"random{seed}\"\n[goods.labour]\nprice = {:.3}\n",
        rng.range(0.5, 2.0)
    );
    let n_final = 1 + rng.below(2);
    for j in 0..n_final {
        t += &format!("[goods.final{j}]\nprice = {:.3}\n", rng.range(1.0, 10.0));
    }
    let mut layers: Vec<Vec<String>> = Vec::new();
    let raw: Vec<String> = (0..1 + rng.below(3)).map(|j| format!("raw{j}")).collect();
    for g in &raw {
        t += &format!("[goods.{g}]\nendowment = {:.3}\n", rng.range(1.0, 50.0));
    }
    layers.push(raw);
    let depth = 1 + rng.below(3);
    for l in 1..=depth {
        let goods: Vec<String> = (0..1 + rng.below(3)).map(|j| format!("g{l}_{j}")).collect();
        for g in &goods {
            t += &format!("[goods.{g}]\n");
        }
        layers.push(goods);
    }
    let finals: Vec<String> = (0..n_final).map(|j| format!("final{j}")).collect();
    let mut fid = 0;
    let mut used: std::collections::HashSet<String> = Default::default();
    for l in 1..=depth + 1 {
        let outs: Vec<String> = if l <= depth { layers[l].clone() } else { finals.clone() };
        let below: Vec<String> = layers[..l].iter().flatten().cloned().collect();
        let prev: Vec<String> = layers[l - 1].clone();
        let n_firms = outs.len() + rng.below(3);
        for k in 0..n_firms {
            fid += 1;
            // inputs: at least one good of the previous layer (so every layer is reachable)
            let mut inputs = vec![prev[rng.below(prev.len())].clone()];
            if rng.next() < 0.5 {
                let extra = below[rng.below(below.len())].clone();
                if !inputs.contains(&extra) {
                    inputs.push(extra);
                }
            }
            for g in &inputs {
                used.insert(g.clone());
            }
            let out_line = if l <= depth && rng.next() < 0.25 && outs.len() >= 2 {
                format!(
                    "outputs = {{ {} = {:.3}, {} = {:.3} }}",
                    outs[0],
                    rng.range(0.5, 2.0),
                    outs[1],
                    rng.range(0.5, 2.0)
                )
            } else {
                format!(
                    "output = \"{}\"",
                    outs[if k < outs.len() { k } else { rng.below(outs.len()) }]
                )
            };
            let kind = rng.below(7);
            let production = match kind {
                0 => format!(
                    "{{ power = {{ scale = {:.3}, exponent = {:.3}, input = \"{}\" }} }}",
                    rng.range(0.5, 3.0),
                    rng.range(0.2, 0.8),
                    inputs[0]
                ),
                1 | 2 => {
                    let mut ins = inputs.clone();
                    if rng.next() < 0.6 {
                        ins.push("labour".into());
                    }
                    let share = rng.range(0.5, 0.9) / ins.len() as f64;
                    let ex: Vec<String> = ins
                        .iter()
                        .map(|g| format!("{g} = {:.3}", share * rng.range(0.7, 1.3)))
                        .collect();
                    format!(
                        "{{ cobb_douglas = {{ scale = {:.3}, exponents = {{ {} }} }} }}",
                        rng.range(0.5, 3.0),
                        ex.join(", ")
                    )
                }
                3 => {
                    let mut ins = inputs.clone();
                    ins.push("labour".into());
                    let w: Vec<String> = ins
                        .iter()
                        .map(|g| format!("{g} = {:.3}", rng.range(0.2, 1.0)))
                        .collect();
                    let rho = if rng.next() < 0.5 {
                        rng.range(-2.0, -0.2)
                    } else {
                        rng.range(0.2, 0.8)
                    };
                    format!(
                        "{{ ces = {{ scale = {:.3}, rho = {rho:.3}, returns = {:.3}, weights = {{ {} }} }} }}",
                        rng.range(0.5, 3.0),
                        rng.range(0.4, 0.9),
                        w.join(", ")
                    )
                }
                4 => {
                    let c: Vec<String> = inputs
                        .iter()
                        .map(|g| format!("{g} = {:.3}", rng.range(0.3, 2.0)))
                        .collect();
                    format!("{{ linear = {{ coefficients = {{ {} }} }} }}", c.join(", "))
                }
                5 => {
                    let r: Vec<String> = inputs
                        .iter()
                        .map(|g| format!("{g} = {:.3}", rng.range(0.3, 2.0)))
                        .collect();
                    format!(
                        "{{ leontief = {{ scale = {:.3}, requirements = {{ {} }} }} }}",
                        rng.range(0.5, 2.0),
                        r.join(", ")
                    )
                }
                _ => {
                    let terms: Vec<String> = inputs
                        .iter()
                        .enumerate()
                        .map(|(i, g)| match i % 2 {
                            0 => format!("{:.3} * sqrt({g})", rng.range(0.5, 2.0)),
                            _ => format!("{:.3} * ln(1 + {g})", rng.range(0.5, 2.0)),
                        })
                        .collect();
                    format!("\"{}\"", terms.join(" + "))
                }
            };
            let count = if rng.next() < 0.3 { 2 + rng.below(4) } else { 1 };
            t += &format!("[[firms]]\nname = \"F{fid}\"\n{out_line}\nproduction = {production}\n");
            if count > 1 {
                t += &format!("count = {count}\nproductivity_spread = 0.2\n");
            }
        }
    }
    t
}

/// Every answer must satisfy the equilibrium conditions (checked independently) and, for a
/// quarter of them, the envelope theorem. Near-degenerate corners of the generator (a price
/// that all but vanishes, a firm that all but shuts down) may defeat the polish; then the
/// solver must say so (NoConvergence), never return a wrong answer, and that must stay rare.
#[test]
fn random_supply_chains_satisfy_the_equilibrium_conditions() {
    let mut solved = 0;
    let mut gave_up = Vec::new();
    let seeds: u64 = std::env::var("PRICEGRAD_REFERENCE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    for seed in 0..seeds {
        let text = random_economy(seed);
        let e = match scenario::load_str("random.toml", &text, &[], None) {
            Ok(e) => e,
            Err(_) => continue, // e.g. a good nobody produces; the generator is not perfect
        };
        let eq = match reference::solve(&e) {
            Ok(eq) => eq,
            Err(ReferenceError::NoConvergence(msg)) => {
                gave_up.push((seed, msg));
                continue;
            }
            Err(err) => panic!("seed {seed}: {err}\n{text}"),
        };
        assert!(
            eq.kkt_residual < 1e-9,
            "seed {seed}: KKT residual {:.2e}\n{text}",
            eq.kkt_residual
        );
        check_equilibrium(&e, &eq, 1e-8);
        if seed % 4 == 0 {
            let d = reference::envelope(&e, &eq).unwrap_or_else(|err| panic!("seed {seed}: envelope: {err}\n{text}"));
            let top = eq.prices.iter().fold(0.0f64, |m, q| m.max(*q));
            for g in e.goods.endogenous() {
                if let Some(dv) = d[g] {
                    let p = eq.prices[g];
                    assert!(
                        (dv - p).abs() <= 1e-6 * p.abs().max(1e-3 * top),
                        "seed {seed}: dV/ds_{} = {dv} vs price {p}\n{text}",
                        &e.goods.name[g]
                    );
                }
            }
        }
        solved += 1;
    }
    assert!(
        solved >= 100 * seeds as usize / 150,
        "only {solved} random economies were solved"
    );
    assert!(
        gave_up.len() * 50 <= solved,
        "the solver gave up on too many: {gave_up:?}"
    );
}

#[test]
fn non_smooth_expressions_are_unsupported_and_huge_economies_too_large() {
    let e = load(
        r#"
name = "kinked"
[goods.a]
endowment = 1.0
[goods.b]
endowment = 2.0
[goods.out]
price = 1.0
[[firms]]
name = "K"
output = "out"
production = "min(a, sqrt(b))"
"#,
    );
    match reference::solve(&e) {
        Err(ReferenceError::Unsupported(msg)) => assert!(msg.contains("'K'") && msg.contains("Leontief"), "{msg}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    // 1,600 intermediate goods: too many for the dense system; with constant-returns users
    // the large-economy path does not apply either, and the error says why (decided up front)
    let wide = |user: &str| {
        let mut t = String::from("name = \"wide\"\n[goods.raw]\nendowment = 1.0\n[goods.out]\nprice = 1.0\n");
        for i in 0..1600 {
            t += &format!("[goods.m{i}]\n[[firms]]\nname = \"P{i}\"\noutput = \"m{i}\"\nproduction = \"sqrt(raw)\"\n");
            t += &format!(
                "[[firms]]\nname = \"U{i}\"\noutput = \"out\"\nproduction = \"{}\"\n",
                user.replace('#', &format!("m{i}"))
            );
        }
        load(&t)
    };
    let e = wide("2 * #");
    let start = std::time::Instant::now();
    match reference::solve(&e) {
        Err(ReferenceError::TooLarge {
            endogenous_goods,
            reason,
            ..
        }) => {
            assert_eq!(endogenous_goods, 1601);
            assert!(
                reason.contains("constant returns") && reason.contains("'U0'"),
                "{reason}"
            );
        }
        other => panic!("expected TooLarge, got {:?}", other.map(|eq| eq.iterations)),
    }
    assert!(start.elapsed().as_secs_f64() < 5.0, "TooLarge is decided up front");
    // with decreasing returns it is solved by Newton on the dual potential: 1600 symmetric
    // branches out = sqrt(sqrt(r_i)) share the raw endowment 1, r_i = 1/1600, so raw is
    // worth (1/4) r^(-3/4) = 1600^(3/4) / 4 and m_i = sqrt(r_i) = 1/40 is worth
    // 1 / (2 sqrt(m_i)) = sqrt(40) / 2
    let e = wide("sqrt(#)");
    let eq = solve(&e);
    close("raw", eq.prices[good(&e, "raw")], 1600f64.powf(0.75) / 4.0, 1e-9);
    close("m7", eq.prices[good(&e, "m7")], 40f64.sqrt() / 2.0, 1e-9);
    close("V", eq.value, 1600.0 * (1.0f64 / 1600.0).powf(0.25), 1e-12);
}

/// Where the dense interior point gives up (the 500-firm CES economy of seed 1), `solve`
/// falls back to the dual path when every firm is smooth and strictly concave.
#[test]
fn dense_failures_fall_back_to_the_dual_path() {
    use pricegrad::generate::Family;
    let e = generated(5, 100, 3, 1, Family::Ces);
    assert!(matches!(
        reference::solve_by(&e, reference::Method::Dense),
        Err(ReferenceError::NoConvergence(_))
    ));
    let eq = solve(&e);
    check_equilibrium(&e, &eq, 1e-10);
}

// ------------------------------------------------------------------------------------------
// The large-economy path (Newton on the dual potential) against the dense interior point
// ------------------------------------------------------------------------------------------

/// On generated economies small enough for both, the two algorithms give the same prices
/// (to 1e-9), allocation and value, and the large path's finite differences match its
/// prices. (Seed 3: with seeds 1 and 2 the dense interior point gives up on the CES
/// economy, a nearly degenerate price, and the dual path answers instead.)
#[test]
fn dual_path_agrees_with_the_dense_interior_point() {
    use pricegrad::generate::Family;
    use reference::Method;
    for family in [Family::CobbDouglas, Family::Ces, Family::Expression] {
        let e = generated(5, 100, 3, 3, family);
        let dense = reference::solve_by(&e, Method::Dense).unwrap_or_else(|err| panic!("{family:?} dense: {err}"));
        let dual = reference::solve_by(&e, Method::Dual).unwrap_or_else(|err| panic!("{family:?} dual: {err}"));
        assert!(
            dual.kkt_residual < 1e-12,
            "{family:?}: KKT residual {:.2e}",
            dual.kkt_residual
        );
        for g in e.goods.endogenous() {
            close(
                &format!("{family:?} price of {}", &e.goods.name[g]),
                dual.prices[g],
                dense.prices[g],
                1e-9,
            );
        }
        for (k, (a, b)) in dual.x.iter().zip(&dense.x).enumerate() {
            close(&format!("{family:?} x[{k}]"), *a, *b, 1e-8);
        }
        close(&format!("{family:?} V"), dual.value, dense.value, 1e-12);
        let goods: Vec<usize> = e.goods.endogenous().step_by(97).collect();
        let d = reference::envelope_for_by(&e, &dual, &goods, Method::Dual)
            .unwrap_or_else(|err| panic!("{family:?} envelope: {err}"));
        for &g in &goods {
            close(
                &format!("{family:?} dV/ds_{}", &e.goods.name[g]),
                d[g].expect("a derivative"),
                dual.prices[g],
                1e-7,
            );
        }
    }
}

/// The large path sums in a fixed order: 1 and 2 threads give the same bits (an economy of
/// several work items of 1,024 firms).
#[test]
fn dual_path_is_bit_identical_for_any_number_of_threads() {
    use pricegrad::generate::Family;
    use reference::Method;
    let e = generated(4, 700, 3, 1, Family::CobbDouglas);
    let goods: Vec<usize> = e.goods.endogenous().step_by(500).collect();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let eq = reference::solve_by(&e, Method::Dual).unwrap();
                let d = reference::envelope_for_by(&e, &eq, &goods, Method::Dual).unwrap();
                (eq, d)
            })
    };
    let (a, da) = run(1);
    let (b, db) = run(2);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.prices), bits(&b.prices));
    assert_eq!(bits(&a.x), bits(&b.x));
    assert_eq!(a.value.to_bits(), b.value.to_bits());
    let flat = |d: &[Option<f64>]| d.iter().map(|v| v.map(f64::to_bits)).collect::<Vec<_>>();
    assert_eq!(flat(&da), flat(&db));
}

/// A generated economy of 10,000 firms (11,000 goods: far beyond the dense system) is
/// solved by the large path: every firm's plan is its closed-form profit maximum at the
/// solved prices (the families' own formulas, not the solver's), and every market clears.
#[test]
fn generated_economy_of_10_000_firms_is_solved() {
    use pricegrad::generate::Family;
    let e = generated(10, 1000, 3, 1, Family::CobbDouglas);
    let t = std::time::Instant::now();
    let eq = solve(&e);
    eprintln!(
        "10,000 firms: solved in {:.3} s, {} Newton steps, KKT residual {:.2e}",
        t.elapsed().as_secs_f64(),
        eq.iterations,
        eq.kkt_residual
    );
    for f in (0..e.firms.len()).step_by(37) {
        let r = e.firms.inputs(f);
        let prices: Vec<f64> = r.clone().map(|k| eq.prices[e.firms.input_good[k] as usize]).collect();
        let revenue = e.revenue(f, &eq.prices) * e.firms.productivity[f];
        let mut best = vec![0.0; r.len()];
        assert!(e
            .technology(f)
            .closed_form_optimum(&e.firms.input_param[r.clone()], revenue, &prices, &mut best));
        for (i, k) in r.enumerate() {
            close(&format!("{} input {i}", e.firm_name(f)), eq.x[k], best[i], 1e-9);
        }
    }
    let mut supply = e.goods.endowment.clone();
    let mut demand = vec![0.0; e.goods.len()];
    for f in 0..e.firms.len() {
        for k in e.firms.outputs(f) {
            supply[e.firms.output_good[k] as usize] += e.firms.output_weight[k] * eq.y[f];
        }
        for k in e.firms.inputs(f) {
            demand[e.firms.input_good[k] as usize] += eq.x[k];
        }
    }
    for g in e.goods.endogenous() {
        if demand[g] > 0.0 {
            close(&format!("{} clears", &e.goods.name[g]), demand[g], supply[g], 1e-11);
        }
    }
}
