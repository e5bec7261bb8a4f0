//! Backprop over supply chains against numbers worked out by hand, and against finite
//! differences of the forward pass.

use crate::common::{generated, good, load};
use pricegrad::check::backprop::{backprop, forward};
use pricegrad::economy::Economy;
use pricegrad::scenario;
use proptest::prelude::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}

#[test]
fn the_essays_chain_forward_and_backward() {
    let e = load(scenario::TUPPERWARE);
    let fwd = forward(&e, &e.goods.price).unwrap();
    let adj = backprop(&e, &e.goods.price, &fwd.x);
    // forward: natgas 4, ethylene 2, polyethylene 2/3, tupperware ln(2/3)
    assert!(close(fwd.supply[good(&e, "ethylene")], 2.0, 1e-15));
    assert!(close(fwd.supply[good(&e, "polyethylene")], 2.0 / 3.0, 1e-15));
    assert!(close(fwd.value, (2.0f64 / 3.0).ln(), 1e-14));
    // backward: 3/2, 1/6, 1/24
    assert!(close(adj.good[good(&e, "polyethylene")], 1.5, 1e-12));
    assert!(close(adj.good[good(&e, "ethylene")], 1.0 / 6.0, 1e-12));
    assert!(close(adj.good[good(&e, "natgas")], 1.0 / 24.0, 1e-12));
}

#[test]
fn cobb_douglas_with_two_inputs_by_hand() {
    // F = 2 L^0.5 K^0.25 at L = 4, K = 16: F = 2 * 2 * 2 = 8, output price 3.
    // dF/dL = 0.5 F / L = 1, dF/dK = 0.25 F / K = 1/8; adjoints 3 and 3/8; V = 24.
    let e = load(
        r#"name = "cd"
[goods.labor]
endowment = 4.0
[goods.capital]
endowment = 16.0
[goods.widget]
price = 3.0
[[firms]]
name = "W"
output = "widget"
production = { cobb_douglas = { scale = 2.0, exponents = { labor = 0.5, capital = 0.25 } } }
"#,
    );
    let fwd = forward(&e, &e.goods.price).unwrap();
    assert!(close(fwd.value, 24.0, 1e-14));
    let adj = backprop(&e, &e.goods.price, &fwd.x);
    assert!(close(adj.good[good(&e, "labor")], 3.0, 1e-14));
    assert!(close(adj.good[good(&e, "capital")], 0.375, 1e-14));
}

const SPLIT: &str = r#"name = "split"
[goods.s]
endowment = 5.0
[goods.final]
price = 1.0
[[firms]]
name = "one"
output = "final"
production = "2 * sqrt(s)"
[[firms]]
name = "two"
output = "final"
production = "sqrt(s)"
"#;

#[test]
fn a_split_good_averages_its_uses_by_quantity() {
    let e = load(SPLIT);
    assert!(forward(&e, &e.goods.price).is_err(), "a split has no forward pass");
    // Edges in file order: one uses s (edge 0), two uses s (edge 1).
    // At x1 = 1, x2 = 3 (not efficient): u1 = 2 * 1/(2 sqrt 1) = 1, u2 = 1/(2 sqrt 3);
    // a = (1 * u1 + 3 * u2) / 4; spread = max |u - a|.
    let adj = backprop(&e, &e.goods.price, &[1.0, 3.0]);
    let u2 = 1.0 / (2.0 * 3f64.sqrt());
    let a = (1.0 + 3.0 * u2) / 4.0;
    assert!(close(adj.per_use[0], 1.0, 1e-15));
    assert!(close(adj.per_use[1], u2, 1e-15));
    assert!(close(adj.good[good(&e, "s")], a, 1e-15));
    assert!(close(adj.spread[good(&e, "s")], 1.0 - a, 1e-14));
    // At the efficient split x1 = 4, x2 = 1 both uses are worth 1/2: no spread, price 1/2.
    let adj = backprop(&e, &e.goods.price, &[4.0, 1.0]);
    assert!(close(adj.good[good(&e, "s")], 0.5, 1e-15));
    assert_eq!(adj.spread[good(&e, "s")], 0.0);
}

#[test]
fn a_copier_sums_the_adjoints_of_its_copies() {
    // x (4) -> copier (F = x, outputs x1 = 1, x2 = 1); a: sqrt(x1), b: 2 sqrt(x2), both final.
    // V(s) = 3 sqrt(s): dV/ds = 3 / (2 sqrt 4) = 3/4 = 1/4 (via x1) + 1/2 (via x2).
    let e = load(
        r#"name = "copy"
[goods.x]
endowment = 4.0
[goods.x1]
[goods.x2]
[goods.final]
price = 1.0
[[firms]]
name = "copier"
outputs = { x1 = 1.0, x2 = 1.0 }
production = { linear = { coefficients = { x = 1.0 } } }
[[firms]]
name = "a"
output = "final"
production = "sqrt(x1)"
[[firms]]
name = "b"
output = "final"
production = "2 * sqrt(x2)"
"#,
    );
    let fwd = forward(&e, &e.goods.price).unwrap();
    assert!(close(fwd.value, 6.0, 1e-15));
    let adj = backprop(&e, &e.goods.price, &fwd.x);
    assert!(close(adj.good[good(&e, "x1")], 0.25, 1e-15));
    assert!(close(adj.good[good(&e, "x2")], 0.5, 1e-15));
    assert!(close(adj.good[good(&e, "x")], 0.75, 1e-15));
}

/// A random chain raw -> g1 -> ... -> final with a random concave link per stage.
fn chain_text(links: &[(u8, f64)], endowment: f64, price: f64) -> String {
    let mut t = format!("name = \"chain\"\n[goods.g0]\nendowment = {endowment}\n");
    for i in 1..links.len() {
        t += &format!("[goods.g{i}]\n");
    }
    t += &format!("[goods.final]\nprice = {price}\n");
    for (i, &(kind, k)) in links.iter().enumerate() {
        let input = format!("g{i}");
        let output = if i + 1 == links.len() {
            "final".to_string()
        } else {
            format!("g{}", i + 1)
        };
        let production = match kind % 4 {
            0 => format!("\"{k} * sqrt({input})\""),
            // 1 - 1/(x + 1 + k): positive for every x >= 0, so the next firm's input is too
            1 => format!("\"1 - 1/({input} + 1 + {k})\""),
            2 => format!("{{ power = {{ scale = {k}, exponent = 0.7, input = \"{input}\" }} }}"),
            _ => format!("\"ln(1 + {k} * {input})\""),
        };
        t += &format!("[[firms]]\nname = \"f{i}\"\noutput = \"{output}\"\nproduction = {production}\n");
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// For chains, the adjoint of the raw good is dV/ds: compare with central finite
    /// differences of the forward pass's value.
    #[test]
    fn raw_good_adjoint_is_the_derivative_of_value(
        links in proptest::collection::vec((0u8..4, 0.5f64..3.0), 1..5),
        endowment in 0.5f64..20.0,
        price in 0.1f64..10.0,
    ) {
        let e = load(&chain_text(&links, endowment, price));
        let fwd = forward(&e, &e.goods.price).unwrap();
        let adj = backprop(&e, &e.goods.price, &fwd.x);
        let h = 1e-5 * endowment;
        let value_at = |s: f64| {
            let mut e2 = e.clone();
            e2.goods.endowment[0] = s;
            forward(&e2, &e2.goods.price).unwrap().value
        };
        let fd = (value_at(endowment + h) - value_at(endowment - h)) / (2.0 * h);
        let a = adj.good[0];
        prop_assert!((a - fd).abs() <= 1e-6 * a.abs().max(1e-12), "adjoint {a} vs finite difference {fd}");
    }
}

/// Leontief: at a kink (both inputs binding) each input's adjoint is the interval
/// [0, P scale / r_i]; with one input binding alone it is that input's exact value and 0 for
/// the other. A price outside the interval is an error of the adjoint check.
#[test]
fn leontief_adjoints_are_supergradient_intervals() {
    let e = load(
        r#"
name = "l"
[goods.a]
endowment = 4.0
[goods.b]
endowment = 10.0
[goods.w]
price = 3.0
[[firms]]
name = "L"
output = "w"
production = { leontief = { scale = 2.0, requirements = { a = 1.0, b = 2.0 } } }
"#,
    );
    let (a, b) = (good(&e, "a"), good(&e, "b"));
    // on the ray: x_a / 1 = x_b / 2, a kink
    let adj = backprop(&e, &e.goods.price, &[4.0, 8.0]);
    assert!(adj.is_interval(a) && adj.is_interval(b));
    assert_eq!((adj.low(a), adj.high(a)), (0.0, 3.0 * 2.0 / 1.0));
    assert_eq!((adj.low(b), adj.high(b)), (0.0, 3.0 * 2.0 / 2.0));
    // any price inside is its own nearest point; one outside is not
    assert_eq!(adj.nearest(a, 1.5), 1.5);
    assert_eq!(adj.nearest(b, 5.0), 3.0);
    // off the ray, only b binds: a point adjoint for each input
    let adj = backprop(&e, &e.goods.price, &[5.0, 8.0]);
    assert!(!adj.is_interval(a) && !adj.is_interval(b));
    assert_eq!((adj.good[a], adj.good[b]), (0.0, 3.0));
    assert_eq!(adj.nearest(a, 1.5), 0.0);
}

/// The definition of DESIGN.md section 2 walked one firm at a time in reverse topological
/// order: the oracle for the level-parallel backprop. Returns per good (adjoint, low, high,
/// spread), per firm P^_f and per edge u_e.
#[allow(clippy::type_complexity)]
fn serial_walk(e: &Economy, x: &[f64]) -> (Vec<[f64; 4]>, Vec<f64>, Vec<[f64; 3]>) {
    let (goods, firms) = (&e.goods, &e.firms);
    let mut good: Vec<Option<[f64; 4]>> = (0..goods.len())
        .map(|g| goods.fixed[g].then_some([goods.price[g], goods.price[g], goods.price[g], 0.0]))
        .collect();
    let mut revenue = vec![0.0; firms.len()];
    let mut per_use = vec![[0.0; 3]; firms.edges()];
    let settle = |g: usize, per_use: &[[f64; 3]]| -> [f64; 4] {
        let uses = goods.uses(g);
        if uses.is_empty() {
            return [0.0; 4];
        }
        let mean = |k: usize| {
            let den: f64 = uses.iter().map(|&u| x[u as usize]).sum();
            if den > 0.0 {
                uses.iter()
                    .map(|&u| x[u as usize] * per_use[u as usize][k])
                    .sum::<f64>()
                    / den
            } else {
                uses.iter().map(|&u| per_use[u as usize][k]).sum::<f64>() / uses.len() as f64
            }
        };
        let a = mean(0);
        let spread = uses
            .iter()
            .map(|&u| (per_use[u as usize][0] - a).abs())
            .fold(0.0, f64::max);
        [a, mean(1), mean(2), spread]
    };
    for &f in firms.topo_order.iter().rev() {
        let f = f as usize;
        let mut p = [0.0; 3];
        for k in firms.outputs(f) {
            let g = firms.output_good[k] as usize;
            let v = *good[g].get_or_insert_with(|| settle(g, &per_use));
            for i in 0..3 {
                p[i] += firms.output_weight[k] * v[i];
            }
        }
        revenue[f] = p[0];
        let r = firms.inputs(f);
        let (t, plan, params) = (e.technology(f), &x[r.clone()], &firms.input_param[r.clone()]);
        let (mut grad, mut low, mut high) = (vec![0.0; r.len()], vec![0.0; r.len()], vec![0.0; r.len()]);
        t.gradient(plan, params, &mut grad);
        if t.is_smooth() {
            low.clone_from(&grad);
            high.clone_from(&grad);
        } else {
            t.supergradient_range(plan, params, &mut low, &mut high);
        }
        let a = firms.productivity[f];
        for (i, edge) in r.enumerate() {
            per_use[edge] = [p[0] * a * grad[i], p[1] * a * low[i], p[2] * a * high[i]];
        }
    }
    let good = (0..goods.len())
        .map(|g| good[g].unwrap_or_else(|| settle(g, &per_use)))
        .collect();
    (good, revenue, per_use)
}

/// Backprop runs level by level, in parallel within a level: it must give exactly the bits
/// of the serial walk, for every shipped scenario (splits, copies, joint outputs, Leontief
/// intervals) and for generated economies big enough to run in parallel, on 1 and 2 threads.
#[test]
fn levels_give_the_bits_of_a_serial_walk() {
    use pricegrad::generate::Family;
    use pricegrad::sim::engine::Engine;
    let mut economies: Vec<Economy> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            load(&std::fs::read_to_string(path).unwrap())
        })
        .collect();
    assert!(economies.len() >= 10);
    for family in [Family::CobbDouglas, Family::Ces, Family::Expression] {
        economies.push(generated(5, 1200, 3, 1, family)); // 6,000 firms: above the parallel threshold
    }
    for e in economies {
        // an allocation out of equilibrium: a few ticks from the start
        let mut engine = Engine::new(e.clone());
        for _ in 0..3 {
            let s = engine.step();
            engine.finish_tick(&s);
        }
        let x = engine.x.clone();
        let (good, revenue, per_use) = serial_walk(&e, &x);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let adj = pool.install(|| backprop(&e, &e.goods.price, &x));
            for (g, want) in good.iter().enumerate() {
                let got = [adj.good[g], adj.low(g), adj.high(g), adj.spread[g]];
                assert_eq!(
                    got.map(f64::to_bits),
                    want.map(f64::to_bits),
                    "{}: good {}",
                    e.name,
                    &e.goods.name[g]
                );
            }
            assert_eq!(
                adj.revenue.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                revenue.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{}",
                e.name
            );
            let walk: Vec<u64> = per_use.iter().map(|u| u[0].to_bits()).collect();
            assert_eq!(
                adj.per_use.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                walk,
                "{}",
                e.name
            );
        }
    }
}
