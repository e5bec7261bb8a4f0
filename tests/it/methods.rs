//! Which gradient method the market runs (docs/OUT_OF_EQUILIBRIUM.md), checked step by step.
//!
//! The planner's Lagrangian is L(x, p) = sum_f [P_f(p) F_f(x_f) - p . x_f] + p . s, with
//! grad_x L = P_f dF_f/dx - p (each firm's own profit gradient) and grad_p L = S(x) - D(x).
//! For every firm rule and market rule, the engine's step from (x_{t-1}, p_t) to x_t and from
//! (x_t, p_t) to p_{t+1} must equal the step of the method the document names, computed here
//! from L's gradient written out by hand for each production function (checked against finite
//! differences of L), never from the engine's own derivatives:
//!
//! | firm rule | firm step (ascent on L in x) |
//! |---|---|
//! | gradient, additive | x + a grad_x L, kept above x / 1000 (projected gradient ascent) |
//! | gradient, relative | x exp(a clip(grad_x L / p, -1, 1)) (mirror ascent, entropy) |
//! | optimistic, additive | x + a (2 g_t - g_{t-1}) (optimistic gradient ascent) |
//! | optimistic, relative | x exp(a clip(2 r_t - r_{t-1}, -1, 1)), r = clip(g / p, -1, 1) |
//! | best_response, rate b | x + b (x*(p) - x): relaxed best response |
//!
//! | market rule | price step (descent on L in p) |
//! |---|---|
//! | additive | max(0, p - eta grad_p L) (projected gradient descent) |
//! | multiplicative | p exp(-eta grad_p L / max(S, D)) (mirror descent, entropy) |
//!
//! And with best-responding firms at rate 1, the price step is (mirror) gradient descent on
//! the dual potential Phi(p) = sum_f pi*_f(p) + p . s, whose gradient S*(p) - D*(p) is checked
//! against finite differences of Phi.

use pricegrad::economy::Economy;
use pricegrad::scenario;
use pricegrad::sim::engine::Engine;
use proptest::prelude::*;

/// A production function with its derivative and profit-maximising plan written out by hand.
#[derive(Debug, Clone)]
enum Tech {
    /// sqrt(x)
    Sqrt,
    /// 1 - 1 / (x + 1)
    Saturating,
    /// ln(x)
    Ln,
    /// scale * prod x_i^alpha_i, sum alpha < 1
    CobbDouglas { scale: f64, alpha: Vec<f64> },
}

impl Tech {
    fn value(&self, x: &[f64]) -> f64 {
        match self {
            Tech::Sqrt => x[0].sqrt(),
            Tech::Saturating => 1.0 - 1.0 / (x[0] + 1.0),
            Tech::Ln => x[0].ln(),
            Tech::CobbDouglas { scale, alpha } => scale * x.iter().zip(alpha).map(|(x, a)| x.powf(*a)).product::<f64>(),
        }
    }

    fn gradient(&self, x: &[f64]) -> Vec<f64> {
        match self {
            Tech::Sqrt => vec![0.5 / x[0].sqrt()],
            Tech::Saturating => vec![1.0 / ((x[0] + 1.0) * (x[0] + 1.0))],
            Tech::Ln => vec![1.0 / x[0]],
            Tech::CobbDouglas { alpha, .. } => {
                let f = self.value(x);
                alpha.iter().zip(x).map(|(a, x)| a * f / x).collect()
            }
        }
    }

    /// argmax_x R F(x) - p . x (interior where it exists; 0 at a corner).
    fn best_response(&self, r: f64, p: &[f64]) -> Vec<f64> {
        match self {
            Tech::Sqrt => vec![(r / (2.0 * p[0])).powi(2)],
            Tech::Saturating => vec![((r / p[0]).sqrt() - 1.0).max(0.0)],
            Tech::Ln => vec![r / p[0]],
            Tech::CobbDouglas { scale, alpha } => {
                // F* = (scale R^s prod (a_i / p_i)^a_i)^(1 / (1 - s)), x_i = a_i R F* / p_i
                let s: f64 = alpha.iter().sum();
                let k: f64 = alpha.iter().zip(p).map(|(a, p)| (a / p).powf(*a)).product();
                let f = (scale * r.powf(s) * k).powf(1.0 / (1.0 - s));
                alpha.iter().zip(p).map(|(a, p)| a * r * f / p).collect()
            }
        }
    }
}

/// An economy written out by hand: goods (fixed price or endowment) and single-output firms.
struct Hand {
    names: Vec<&'static str>,
    /// Some(price) for fixed-price goods.
    fixed: Vec<Option<f64>>,
    endowment: Vec<f64>,
    /// (inputs, output, technology)
    firms: Vec<(Vec<usize>, usize, Tech)>,
    text: &'static str,
}

const CHAIN: &str = r#"
name = "chain"
[goods.natgas]
endowment = 4.0
[goods.ethylene]
[goods.polyethylene]
[goods.tupperware]
price = 1.0
[[firms]]
name = "A"
output = "ethylene"
production = "sqrt(natgas)"
[[firms]]
name = "B"
output = "polyethylene"
production = "1 - 1/(ethylene + 1)"
[[firms]]
name = "C"
output = "tupperware"
production = "ln(polyethylene)"
"#;

const SPLITS: &str = r#"
name = "splits"
[goods.a]
endowment = 2.0
[goods.b]
endowment = 3.0
[goods.m]
[goods.f1]
price = 1.0
[goods.f2]
price = 1.5
[[firms]]
name = "M"
output = "m"
production = { cobb_douglas = { scale = 1.0, exponents = { a = 0.3, b = 0.4 } } }
[[firms]]
name = "U1"
output = "f1"
production = { cobb_douglas = { scale = 1.2, exponents = { a = 0.2, m = 0.5 } } }
[[firms]]
name = "U2"
output = "f2"
production = { cobb_douglas = { scale = 0.8, exponents = { b = 0.3, m = 0.4 } } }
"#;

fn chain() -> Hand {
    Hand {
        names: vec!["natgas", "ethylene", "polyethylene", "tupperware"],
        fixed: vec![None, None, None, Some(1.0)],
        endowment: vec![4.0, 0.0, 0.0, 0.0],
        firms: vec![
            (vec![0], 1, Tech::Sqrt),
            (vec![1], 2, Tech::Saturating),
            (vec![2], 3, Tech::Ln),
        ],
        text: CHAIN,
    }
}

fn splits() -> Hand {
    let cd = |scale: f64, alpha: &[f64]| Tech::CobbDouglas {
        scale,
        alpha: alpha.to_vec(),
    };
    Hand {
        names: vec!["a", "b", "m", "f1", "f2"],
        fixed: vec![None, None, None, Some(1.0), Some(1.5)],
        endowment: vec![2.0, 3.0, 0.0, 0.0, 0.0],
        firms: vec![
            (vec![0, 1], 2, cd(1.0, &[0.3, 0.4])),
            (vec![0, 2], 3, cd(1.2, &[0.2, 0.5])),
            (vec![1, 2], 4, cd(0.8, &[0.3, 0.4])),
        ],
        text: SPLITS,
    }
}

/// The hand economy's state in the engine's layout: the engine's edge e is input `slot` of
/// hand firm `firm`; hand good i is the engine's good `good[i]`.
struct Layout {
    edge: Vec<(usize, usize)>,
    good: Vec<usize>,
}

impl Hand {
    fn layout(&self, economy: &Economy) -> Layout {
        let good: Vec<usize> = self.names.iter().map(|n| economy.goods.index(n).unwrap()).collect();
        let mut edge = Vec::new();
        for e in 0..economy.firms.edges() {
            let f = economy.firms.edge_firm[e] as usize;
            let g = economy.firms.input_good[e] as usize;
            let slot = self.firms[f].0.iter().position(|&i| good[i] == g).unwrap();
            edge.push((f, slot));
        }
        Layout { edge, good }
    }

    /// Hand prices (per hand good) from the engine's.
    fn prices(&self, l: &Layout, engine_prices: &[f64]) -> Vec<f64> {
        l.good.iter().map(|&g| engine_prices[g]).collect()
    }

    /// Per hand firm, its plan (in its input order) from the engine's per-edge plans.
    fn plans(&self, l: &Layout, x: &[f64]) -> Vec<Vec<f64>> {
        let mut plans: Vec<Vec<f64>> = self.firms.iter().map(|f| vec![0.0; f.0.len()]).collect();
        for (e, &(f, slot)) in l.edge.iter().enumerate() {
            plans[f][slot] = x[e];
        }
        plans
    }

    fn revenue(&self, f: usize, p: &[f64]) -> f64 {
        p[self.firms[f].1]
    }

    /// L(x, p).
    fn lagrangian(&self, x: &[Vec<f64>], p: &[f64]) -> f64 {
        let mut l = 0.0;
        for (f, (inputs, _, tech)) in self.firms.iter().enumerate() {
            l += self.revenue(f, p) * tech.value(&x[f]);
            l -= inputs.iter().zip(&x[f]).map(|(&g, x)| p[g] * x).sum::<f64>();
        }
        l + self.endowment.iter().zip(p).map(|(s, p)| s * p).sum::<f64>()
    }

    /// grad_x L per firm and input: P_f dF/dx - p.
    fn grad_x(&self, x: &[Vec<f64>], p: &[f64]) -> Vec<Vec<f64>> {
        self.firms
            .iter()
            .enumerate()
            .map(|(f, (inputs, _, tech))| {
                let r = self.revenue(f, p);
                tech.gradient(&x[f])
                    .iter()
                    .zip(inputs)
                    .map(|(d, &g)| r * d - p[g])
                    .collect()
            })
            .collect()
    }

    /// Supply and demand per good at plans x.
    fn supply_demand(&self, x: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
        let mut s = self.endowment.clone();
        let mut d = vec![0.0; self.names.len()];
        for (f, (inputs, output, tech)) in self.firms.iter().enumerate() {
            s[*output] += tech.value(&x[f]);
            for (&g, v) in inputs.iter().zip(&x[f]) {
                d[g] += v;
            }
        }
        (s, d)
    }

    /// grad_p L = S(x) - D(x) (endogenous goods).
    fn grad_p(&self, x: &[Vec<f64>]) -> Vec<f64> {
        let (s, d) = self.supply_demand(x);
        s.iter().zip(&d).map(|(s, d)| s - d).collect()
    }

    fn best_responses(&self, p: &[f64]) -> Vec<Vec<f64>> {
        self.firms
            .iter()
            .enumerate()
            .map(|(f, (inputs, _, tech))| {
                let pin: Vec<f64> = inputs.iter().map(|&g| p[g]).collect();
                tech.best_response(self.revenue(f, p), &pin)
            })
            .collect()
    }

    /// Phi(p) = max_x L(x, p).
    fn phi(&self, p: &[f64]) -> f64 {
        self.lagrangian(&self.best_responses(p), p)
    }
}

/// The firm and market rules, as `--set` values.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FirmRule {
    GradientRelative,
    GradientAdditive,
    OptimisticRelative,
    OptimisticAdditive,
    BestResponse,
}

/// The relative gradient g / p of the relative rules, clipped to [-1, 1] (a free input, p = 0:
/// the limit +1).
fn relative(g: f64, p: f64) -> f64 {
    if p > 0.0 {
        (g / p).clamp(-1.0, 1.0)
    } else {
        1.0
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    a.is_finite() && b.is_finite() && (a - b).abs() <= rel * a.abs().max(b.abs()) + 1e-300
}

/// Run `ticks` ticks of `hand` under the rules and compare every firm step and price step
/// with the method's, computed from L's gradient by hand. `tol` is the relative tolerance
/// (rounding, or the Newton solve's tolerance for best responses without a closed form).
#[allow(clippy::too_many_arguments)]
fn check_steps(
    hand: &Hand,
    firm: FirmRule,
    multiplicative: bool,
    rate: f64,
    step: f64,
    initial_price: f64,
    ticks: u64,
    tol: f64,
) -> Result<u64, TestCaseError> {
    let (rule, form) = match firm {
        FirmRule::GradientRelative => ("gradient", "relative"),
        FirmRule::GradientAdditive => ("gradient", "additive"),
        FirmRule::OptimisticRelative => ("optimistic", "relative"),
        FirmRule::OptimisticAdditive => ("optimistic", "additive"),
        FirmRule::BestResponse => ("best_response", "relative"),
    };
    let sets = vec![
        format!("agents.rule={rule}"),
        format!("agents.form={form}"),
        format!("agents.rate={rate}"),
        format!(
            "market.rule={}",
            if multiplicative { "multiplicative" } else { "additive" }
        ),
        format!("market.step={step}"),
        format!("market.initial_price={initial_price}"),
    ];
    let economy = scenario::load_str("methods.toml", hand.text, &sets, None).expect("valid scenario");
    let layout = hand.layout(&economy);
    let mut engine = Engine::new(economy);
    // the optimistic rules' memory: the last (normalised) gradient, 0 before the first tick
    let mut memory: Vec<Vec<f64>> = hand.firms.iter().map(|f| vec![0.0; f.0.len()]).collect();
    let mut checked = 0;
    for _ in 0..ticks {
        let x_prev = hand.plans(&layout, &engine.x);
        let p = hand.prices(&layout, &engine.prices);
        let g = hand.grad_x(&x_prev, &p);
        let br = hand.best_responses(&p);
        let s = engine.step();
        if s.diverged.is_some() {
            break;
        }
        // --- the firms: ascent on L in x ---
        let x = hand.plans(&layout, &engine.x);
        for (f, (inputs, _, _)) in hand.firms.iter().enumerate() {
            for i in 0..inputs.len() {
                let (x0, gi, pi) = (x_prev[f][i], g[f][i], p[inputs[i]]);
                let want = match firm {
                    FirmRule::GradientAdditive => (x0 + rate * gi).max(x0 * 1e-3),
                    FirmRule::GradientRelative => x0 * (rate * relative(gi, pi)).exp(),
                    FirmRule::OptimisticAdditive => {
                        let v = (x0 + rate * (2.0 * gi - memory[f][i])).max(x0 * 1e-3);
                        memory[f][i] = gi;
                        v
                    }
                    FirmRule::OptimisticRelative => {
                        let r = relative(gi, pi);
                        let v = x0 * (rate * (2.0 * r - memory[f][i]).clamp(-1.0, 1.0)).exp();
                        memory[f][i] = r;
                        v
                    }
                    // no finite best response where an input is free (price 0): the plan stays
                    FirmRule::BestResponse if !br[f].iter().all(|b| b.is_finite()) => x0,
                    FirmRule::BestResponse => (x0 + rate * (br[f][i] - x0)).max(x0 * 1e-3),
                };
                // (a best response at a corner: where the plans are below 1e-15, the chain's
                // `1 - 1/(x + 1)` rounds to a step function of x (1 + x is 1 to rounding), so
                // the engine's Newton solve and the closed form's floor are both the corner to
                // rounding, and need not agree in their digits)
                let at_the_corner = want < 1e-15 && x[f][i] < 1e-15;
                prop_assert!(
                    close(x[f][i], want, tol)
                        || (firm == FirmRule::BestResponse && ((x[f][i] - want).abs() <= 1e-9 * x0 || at_the_corner)),
                    "tick {}: firm {f} input {i}: engine {} vs method {want} (x {x0}, g {gi}, p {pi})",
                    s.tick,
                    x[f][i]
                );
            }
        }
        // --- the markets: descent on L in p, at the new plans ---
        let grad = hand.grad_p(&x);
        let (supply, demand) = hand.supply_demand(&x);
        for (i, &g) in layout.good.iter().enumerate() {
            if hand.fixed[i].is_some() {
                continue;
            }
            let want = if multiplicative {
                p[i] * (-step * grad[i] / supply[i].max(demand[i])).exp()
            } else {
                (p[i] - step * grad[i]).max(0.0)
            };
            let got = engine.prices[g];
            prop_assert!(
                close(got, want, tol) || (want < 1e-290 && got <= 1e-290),
                "tick {}: price of {}: engine {got} vs method {want}",
                s.tick,
                hand.names[i]
            );
        }
        // with firms at their best responses, the price step is (mirror) gradient descent on
        // Phi; not where a best response is at a corner (0), as a plan shrinks by at most a
        // factor 1000 per tick
        let interior = br
            .iter()
            .zip(&x_prev)
            .all(|(b, x)| b.iter().zip(x).all(|(b, x)| b.is_finite() && *b > 1e-3 * x));
        if firm == FirmRule::BestResponse && rate == 1.0 && interior {
            let (s_star, d_star) = hand.supply_demand(&br);
            for (i, &g) in layout.good.iter().enumerate() {
                if hand.fixed[i].is_some() {
                    continue;
                }
                let dphi = s_star[i] - d_star[i];
                let want = if multiplicative {
                    p[i] * (-step * dphi / s_star[i].max(d_star[i])).exp()
                } else {
                    (p[i] - step * dphi).max(0.0)
                };
                prop_assert!(
                    close(engine.prices[g], want, tol.max(1e-9)),
                    "tick {}: descent on Phi, {}: {} vs {want} (p {p:?}, br {br:?}, x {x:?}, S* {s_star:?}, D* {d_star:?})",
                    s.tick,
                    hand.names[i],
                    engine.prices[g]
                );
            }
        }
        checked += 1;
        engine.finish_tick(&s);
    }
    Ok(checked)
}

fn firm_rule() -> impl Strategy<Value = FirmRule> {
    prop_oneof![
        Just(FirmRule::GradientRelative),
        Just(FirmRule::GradientAdditive),
        Just(FirmRule::OptimisticRelative),
        Just(FirmRule::OptimisticAdditive),
        Just(FirmRule::BestResponse),
    ]
}

/// One property per rule pair (the firm rule is drawn inside, the market rule fixed), on the
/// essay's chain (expressions; best responses by the engine's Newton solve) and on an
/// economy of Cobb-Douglas firms with split goods (closed forms; the gradient-relative case
/// runs the engine's vectorised Cobb-Douglas kernel).
fn pair(
    firm: FirmRule,
    multiplicative: bool,
    economy: usize,
    rate: f64,
    step: f64,
    price: f64,
    ticks: u64,
) -> Result<u64, TestCaseError> {
    let hand = if economy == 0 { chain() } else { splits() };
    // a best response without a closed form is the engine's Newton solve, whose line search
    // compares profits and stops where they are flat to rounding: plans to about the square
    // root of rounding (1e-8 to 1e-6 relative where the profit is a small difference)
    let tol = if firm == FirmRule::BestResponse && economy == 0 {
        1e-6
    } else {
        1e-12
    };
    // additive rules are not scale-free: smaller steps keep plans and prices in range
    let rate = match firm {
        FirmRule::GradientAdditive | FirmRule::OptimisticAdditive => rate * 0.2,
        FirmRule::BestResponse => (rate * 1.6).min(1.0),
        _ => rate,
    };
    let step = if multiplicative { step } else { step * 0.1 };
    check_steps(&hand, firm, multiplicative, rate, step, price, ticks, tol)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn firm_rules_with_additive_markets_are_the_documented_methods(
        firm in firm_rule(), economy in 0usize..2, rate in 0.02f64..0.7, step in 0.02f64..1.0,
        price in 0.2f64..3.0, ticks in 1u64..30,
    ) {
        pair(firm, false, economy, rate, step, price, ticks)?;
    }

    #[test]
    fn firm_rules_with_multiplicative_markets_are_the_documented_methods(
        firm in firm_rule(), economy in 0usize..2, rate in 0.02f64..0.7, step in 0.02f64..1.0,
        price in 0.2f64..3.0, ticks in 1u64..30,
    ) {
        pair(firm, true, economy, rate, step, price, ticks)?;
    }

    /// Best response at rate 1: tatonnement is gradient descent on Phi (additive markets) or
    /// mirror descent on Phi with the entropy and per-good steps eta / max(S*, D*)
    /// (multiplicative markets); checked inside `check_steps`.
    #[test]
    fn best_response_at_rate_one_is_descent_on_phi(
        economy in 0usize..2, multiplicative in any::<bool>(), step in 0.02f64..1.0,
        price in 0.2f64..3.0, ticks in 1u64..30,
    ) {
        let hand = if economy == 0 { chain() } else { splits() };
        let tol = if economy == 0 { 1e-6 } else { 1e-12 };
        let step = if multiplicative { step } else { step * 0.1 };
        check_steps(&hand, FirmRule::BestResponse, multiplicative, 1.0, step, price, ticks, tol)?;
    }
}

/// Every rule pair is exercised (proptest may draw some firm rules rarely): each pair once, on
/// both economies, for 25 ticks at moderate settings.
#[test]
fn every_rule_pair_takes_the_methods_steps() {
    for firm in [
        FirmRule::GradientRelative,
        FirmRule::GradientAdditive,
        FirmRule::OptimisticRelative,
        FirmRule::OptimisticAdditive,
        FirmRule::BestResponse,
    ] {
        for multiplicative in [false, true] {
            for economy in 0..2 {
                let checked = pair(firm, multiplicative, economy, 0.3, 0.4, 0.8, 25)
                    .unwrap_or_else(|e| panic!("{firm:?}, multiplicative {multiplicative}, economy {economy}: {e}"));
                assert_eq!(
                    checked, 25,
                    "{firm:?}, multiplicative {multiplicative}, economy {economy}"
                );
            }
        }
    }
}

/// The hand-written gradients are the gradients of L and Phi (central differences).
#[test]
fn hand_gradients_are_the_lagrangians() {
    for hand in [chain(), splits()] {
        let p: Vec<f64> = hand
            .fixed
            .iter()
            .enumerate()
            .map(|(i, f)| f.unwrap_or(0.3 + 0.2 * i as f64))
            .collect();
        let x: Vec<Vec<f64>> = hand
            .firms
            .iter()
            .map(|f| (0..f.0.len()).map(|i| 0.7 + 0.3 * i as f64).collect())
            .collect();
        let g = hand.grad_x(&x, &p);
        for f in 0..x.len() {
            for i in 0..x[f].len() {
                let h = 1e-6;
                let (mut up, mut down) = (x.clone(), x.clone());
                up[f][i] += h;
                down[f][i] -= h;
                let fd = (hand.lagrangian(&up, &p) - hand.lagrangian(&down, &p)) / (2.0 * h);
                assert!((fd - g[f][i]).abs() < 1e-7, "dL/dx: {fd} vs {}", g[f][i]);
            }
        }
        let gp = hand.grad_p(&x);
        let br = hand.best_responses(&p);
        let (s, d) = hand.supply_demand(&br);
        for i in 0..p.len() {
            if hand.fixed[i].is_some() {
                continue;
            }
            let h = 1e-6 * p[i];
            let (mut up, mut down) = (p.clone(), p.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (hand.lagrangian(&x, &up) - hand.lagrangian(&x, &down)) / (2.0 * h);
            assert!((fd - gp[i]).abs() < 1e-7, "dL/dp: {fd} vs {}", gp[i]);
            // Danskin: dPhi/dp = S*(p) - D*(p)
            let fd = (hand.phi(&up) - hand.phi(&down)) / (2.0 * h);
            assert!(
                (fd - (s[i] - d[i])).abs() < 1e-5 * (1.0 + fd.abs()),
                "dPhi/dp: {fd} vs {}",
                s[i] - d[i]
            );
        }
    }
}
