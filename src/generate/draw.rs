//! Drawing a generated economy: the endowments and fixed prices, then layer by layer the
//! wiring and each firm's technology, handed in file order to a writer ([`Emit`]). The random
//! numbers are drawn in one order whatever the writer, so every format holds the same economy.

use super::{Family, Plan};
use crate::numeric::random::{self, Purpose};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::io;

/// A good as drawn.
pub(super) enum GoodKind<'a> {
    /// A raw good (layer 0) with this endowment.
    Endowment(&'a str),
    /// A final good (the last layer) sold at this fixed price.
    Price(&'a str),
    /// A good made and used inside the economy.
    Made,
}

/// A firm's technology as drawn, its numbers written as in the scenario file
/// (6 significant digits, the shortest text that reads back to the same f64).
pub(super) enum Production<'a> {
    /// `inputs`: (good, exponent).
    CobbDouglas {
        scale: &'a str,
        inputs: &'a [(String, String)],
    },
    /// `inputs`: (good, weight).
    Ces {
        scale: &'a str,
        rho: &'a str,
        returns: &'a str,
        inputs: &'a [(String, String)],
    },
    Power {
        exponent: &'a str,
        input: &'a str,
    },
    Expression(&'a str),
}

/// Where the drawn economy goes, good by good, then firm by firm.
pub(super) trait Emit {
    fn good(&mut self, name: &str, kind: GoodKind) -> io::Result<()>;
    /// The firms of production layer `l` follow.
    fn layer(&mut self, l: usize) -> io::Result<()>;
    fn firm(&mut self, name: &str, output: &str, production: &Production) -> io::Result<()>;
}

/// Draw the economy of `plan` into `out`.
pub(super) fn draw(plan: &Plan, out: &mut dyn Emit) -> io::Result<()> {
    let spec = &plan.spec;
    let (layers, w, k) = (spec.layers, spec.width, spec.inputs);
    let mut rng = random::stream(spec.seed, Purpose::Generate, 0);
    // --- goods ---------------------------------------------------------------------------------
    let mut name = String::with_capacity(32);
    for i in 0..w {
        name.clear();
        let _ = write!(name, "g0_{i}");
        out.good(&name, GoodKind::Endowment(&num(uniform(&mut rng, 1.0, 2.0))))?;
    }
    for l in 1..layers {
        for i in 0..w {
            name.clear();
            let _ = write!(name, "g{l}_{i}");
            out.good(&name, GoodKind::Made)?;
        }
    }
    for i in 0..w {
        name.clear();
        let _ = write!(name, "g{layers}_{i}");
        out.good(&name, GoodKind::Price(&num(uniform(&mut rng, 0.5, 2.0))))?;
    }
    // --- firms, layer by layer -----------------------------------------------------------------
    let mut inputs: Vec<u32> = Vec::new();
    let mut weights = vec![0.0f64; k];
    let mut table: Vec<(String, String)> = Vec::with_capacity(k);
    let (mut firm, mut output, mut text) = (String::new(), String::new(), String::new());
    let kf = k as f64;
    for l in 1..=layers {
        let mut rng = random::stream(spec.seed, Purpose::Generate, l as u64);
        wire(&mut rng, w, k, plan.split_goods, &mut inputs);
        out.layer(l)?;
        for f in 0..w {
            let ins = &inputs[f * k..(f + 1) * k];
            firm.clear();
            let _ = write!(firm, "f{l}_{f}");
            output.clear();
            let _ = write!(output, "g{l}_{f}");
            let below = l - 1;
            match spec.family {
                Family::CobbDouglas | Family::Ces => {
                    for x in weights.iter_mut() {
                        *x = uniform(&mut rng, 0.5, 1.5);
                    }
                    let total: f64 = weights.iter().sum();
                    let scale = num(kf.powf(spec.returns));
                    let (rho, unit) = if spec.family == Family::CobbDouglas {
                        (None, spec.returns / total)
                    } else {
                        const RHO: [f64; 5] = [-2.0, -1.0, -0.5, 0.25, 0.5];
                        (Some(RHO[rng.gen_range(0..RHO.len())]), 1.0 / total)
                    };
                    table.clear();
                    table.extend(
                        ins.iter()
                            .zip(&weights)
                            .map(|(&g, &x)| (format!("g{below}_{g}"), num(x * unit))),
                    );
                    let production = match rho {
                        None => Production::CobbDouglas {
                            scale: &scale,
                            inputs: &table,
                        },
                        Some(rho) => Production::Ces {
                            scale: &scale,
                            rho: &format!("{rho:?}"),
                            returns: &num(spec.returns),
                            inputs: &table,
                        },
                    };
                    out.firm(&firm, &output, &production)?;
                }
                Family::Power => {
                    let e = uniform(&mut rng, 0.5, spec.returns);
                    let input = format!("g{below}_{}", ins[0]);
                    out.firm(
                        &firm,
                        &output,
                        &Production::Power {
                            exponent: &num(e),
                            input: &input,
                        },
                    )?;
                }
                Family::Expression => {
                    const EXPONENTS: [f64; 3] = [0.3, 0.5, 0.7];
                    let mut terms = String::new();
                    let mut level = 0.0;
                    for x in weights.iter_mut() {
                        *x = uniform(&mut rng, 0.5, 1.5);
                    }
                    let total: f64 = weights.iter().sum();
                    for (j, &g) in ins.iter().enumerate() {
                        let e = EXPONENTS[rng.gen_range(0..EXPONENTS.len())];
                        let wj: f64 = num(weights[j] / total).parse().unwrap_or(weights[j] / total);
                        level += wj * kf.powf(-e);
                        let sep = if j == 0 { "" } else { " + " };
                        if e == 0.5 {
                            let _ = write!(terms, "{sep}{wj:?}*sqrt(g{below}_{g})");
                        } else {
                            let _ = write!(terms, "{sep}{wj:?}*g{below}_{g}^{e:?}");
                        }
                    }
                    text.clear();
                    let _ = write!(text, "{}*({terms})", num(1.0 / level));
                    out.firm(&firm, &output, &Production::Expression(&text))?;
                }
            }
        }
    }
    Ok(())
}

/// Fisher-Yates with the stream's own integers (independent of `rand`'s slice helpers).
fn shuffle(rng: &mut ChaCha8Rng, v: &mut [u32]) {
    for i in (1..v.len()).rev() {
        let j = rng.gen_range(0..=i);
        v.swap(i, j);
    }
}

/// Wire one layer: `inputs[f * k..(f + 1) * k]` = the goods (indices in the layer below) of
/// firm f, distinct, sorted. `m` goods have 2 or more users, the rest exactly one.
fn wire(rng: &mut ChaCha8Rng, w: usize, k: usize, m: usize, inputs: &mut Vec<u32>) {
    let e = w * k;
    inputs.clear();
    inputs.resize(e, 0);
    let mut perm: Vec<u32> = (0..w as u32).collect();
    shuffle(rng, &mut perm);
    // uses per good (by position in perm): the first m are split
    let mut deg = vec![1u32; w];
    if k > 1 {
        for d in deg.iter_mut().take(m) {
            *d = 2;
        }
        for _ in 0..w * (k - 1) - m {
            let mut j = rng.gen_range(0..m);
            while deg[j] as usize >= w {
                j = (j + 1) % m;
            }
            deg[j] += 1;
        }
    }
    // deal the uses round-robin: a good's uses are consecutive, so they go to distinct firms
    let mut slot = 0usize;
    for (j, &g) in perm.iter().enumerate() {
        for _ in 0..deg[j] {
            inputs[(slot % w) * k + slot / w] = g;
            slot += 1;
        }
    }
    debug_assert_eq!(slot, e);
    // randomise: swap the goods of two uses when both firms' inputs stay distinct
    if w > 1 {
        for _ in 0..2 * e {
            let a = rng.gen_range(0..e);
            let b = rng.gen_range(0..e);
            let (fa, fb) = (a / k, b / k);
            let (ga, gb) = (inputs[a], inputs[b]);
            if fa == fb
                || ga == gb
                || inputs[fa * k..(fa + 1) * k].contains(&gb)
                || inputs[fb * k..(fb + 1) * k].contains(&ga)
            {
                continue;
            }
            inputs.swap(a, b);
        }
    }
    for f in 0..w {
        inputs[f * k..(f + 1) * k].sort_unstable();
    }
}

/// `v` rounded to 6 significant digits, written as the shortest TOML/expression number.
fn num(v: f64) -> String {
    let r: f64 = format!("{v:.5e}").parse().unwrap_or(v);
    format!("{r:?}")
}

/// Uniform in [lo, hi).
fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.gen::<f64>()
}
