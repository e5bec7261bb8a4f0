//! Why noisy markets are biased: mean prices against the gradient as the firms' observation
//! noise grows, measured and predicted.
//!
//! cargo run --release --example noise_bias -- [--window 262144] [--out docs]
//!
//! Runs the essay's chain (scenarios/tupperware.toml) and a split economy
//! (scenarios/diamond.toml) with `agents.noise` from 0 to 0.2, and at noise 0.05 with
//! `agents.activation` from 1 to 0.2, each until its prices are stationary and then over a
//! measuring window of at least `--window` ticks (`pricegrad::run::execute_with`). Per market
//! good it records the mean price's bias against backprop at the mean plans and against the
//! reference, with their 95% intervals, and the price's relative spread (the standard deviation
//! of ln p over the window); and the second-order prediction of each ([`theory`]).
//!
//! Writes OUT/noise_bias.csv (one row per run and good) and OUT/noise_bias.png (the chart in
//! docs/NOISE.md), and prints the table of docs/NOISE.md.

// The prediction's small dense matrices are indexed by several arrays at once.
#![allow(clippy::needless_range_loop)]

mod theory;

#[path = "../common/png.rs"]
mod png_out;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use pricegrad::check::diagnostics::{GoodSample, TickSample};
use pricegrad::check::stationary::Settings;
use pricegrad::economy::Economy;
use pricegrad::run::{self, Sink};
use pricegrad::scenario;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

const NOISES: [f64; 7] = [0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2];
const ACTIVATIONS: [f64; 5] = [1.0, 0.8, 0.6, 0.4, 0.2];
/// The noise of the activation sweep.
const ACTIVATION_NOISE: f64 = 0.05;
const SCENARIOS: [&str; 2] = ["tupperware", "diamond"];

struct Args {
    window: u64,
    out: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        window: 1 << 18,
        out: PathBuf::from("docs"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--window" => a.window = v.parse().expect("--window TICKS"),
            "--out" => a.out = PathBuf::from(v),
            _ => panic!("unknown option {k} (use --window, --out)"),
        }
    }
    a
}

/// One run and good: what was measured, and what the theory predicts.
#[derive(Clone)]
struct Row {
    scenario: &'static str,
    noise: f64,
    activation: f64,
    good: String,
    outcome: String,
    ticks: u64,
    window: u64,
    /// Relative to backprop at the mean plans: the bias and its interval.
    bias: f64,
    bias_ci: [f64; 2],
    /// Relative to the reference: the mean price's difference and its interval.
    vs_reference: f64,
    vs_reference_ci: [f64; 2],
    /// The standard deviation of ln p over the window.
    spread: f64,
    /// The predictions (NaN where the theory gives none).
    theory_bias: f64,
    theory_vs_reference: f64,
    theory_spread: f64,
}

/// Keeps the logged prices of the market goods, per tick, for their spread over the window.
#[derive(Default)]
struct Prices {
    ticks: Vec<u64>,
    prices: Vec<Vec<f64>>,
}

impl Sink for Prices {
    fn record(&mut self, _: &Economy, m: &TickSample, goods: &[GoodSample]) -> std::io::Result<()> {
        self.ticks.push(m.tick);
        self.prices.push(goods.iter().map(|g| g.price).collect());
        Ok(())
    }
}

/// The scenario `name` with every firm's noise and activation set, run with `seed`.
fn economy(name: &str, noise: f64, activation: f64, seed: u64) -> Economy {
    let path = format!("scenarios/{name}.toml");
    let mut e = scenario::load(Some(Path::new(&path)), &[], Some(seed))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .0;
    for a in e.agents.iter_mut() {
        a.noise = noise;
        a.activation = activation;
    }
    e.run.max_ticks = 50_000_000;
    // every other tick logged, however long the run (for the spread)
    e.log.every = 2;
    e.log.thin = false;
    e
}

/// Run one case and its prediction: a row per market good. Each case has its own seed, so that
/// the measurements' errors are independent (with one seed for all, the noise levels would
/// scale the same draws, and their errors would be alike).
fn measure(scenario: &'static str, noise: f64, activation: f64, window: u64, seed: u64) -> Vec<Row> {
    let e = economy(scenario, noise, activation, seed);
    let prediction = theory::predict(&e, noise, activation);
    if let Err(why) = &prediction {
        eprintln!("{scenario} noise {noise} activation {activation}: no prediction: {why}");
    }
    let logged = e.log.goods.clone();
    let settings = Settings {
        min_window: window,
        ..Settings::default()
    };
    let mut sink = Prices::default();
    let r = run::execute_with(e, &mut sink, &mut |_| {}, &AtomicBool::new(false), &settings).unwrap();
    eprintln!(
        "{scenario} noise {noise} activation {activation}: {} after {} ticks",
        r.outcome, r.ticks
    );
    let (first, last) = r.stationary.as_ref().map_or((0, 0), |w| (w.first_tick, w.last_tick));
    let mut rows = Vec::new();
    for g in r.goods.iter().filter(|g| !g.fixed_price) {
        let name = r.goods.name(g.good).to_string();
        let column = logged.iter().position(|&l| l == g.good as usize).unwrap();
        let logs: Vec<f64> = sink
            .ticks
            .iter()
            .zip(&sink.prices)
            .filter(|(t, _)| (first..=last).contains(*t))
            .map(|(_, p)| p[column].ln())
            .collect();
        let mean = logs.iter().sum::<f64>() / logs.len().max(1) as f64;
        let spread = (logs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (logs.len().max(2) - 1) as f64).sqrt();
        let predicted = |f: &dyn Fn(&theory::Prediction) -> &Vec<f64>| {
            prediction.as_ref().map_or(f64::NAN, |p| f(p)[g.good as usize])
        };
        let a = g.adjoint;
        let q = g.reference.unwrap_or(f64::NAN);
        let (bias, bias_ci, vs_reference, vs_reference_ci, spread) =
            match (g.bias, g.bias_ci, g.mean_price, g.mean_price_ci) {
                (Some(b), Some(bc), Some(m), Some(mc)) => (
                    b / a,
                    [bc[0] / a, bc[1] / a],
                    m / q - 1.0,
                    [mc[0] / q - 1.0, mc[1] / q - 1.0],
                    spread,
                ),
                // an exact run: the final price, no interval, no spread
                _ => {
                    let (b, v) = (g.price / a - 1.0, g.price / q - 1.0);
                    (b, [b, b], v, [v, v], 0.0)
                }
            };
        rows.push(Row {
            scenario,
            noise,
            activation,
            good: name,
            outcome: r.outcome.to_string(),
            ticks: r.ticks,
            window: if r.stationary.is_some() { last + 1 - first } else { 0 },
            bias,
            bias_ci,
            vs_reference,
            vs_reference_ci,
            spread,
            theory_bias: predicted(&|p| &p.bias),
            theory_vs_reference: predicted(&|p| &p.vs_reference),
            theory_spread: predicted(&|p| &p.spread),
        });
    }
    rows
}

fn main() {
    let a = args();
    std::fs::create_dir_all(&a.out).expect("create the output directory");
    let mut cases: Vec<(&'static str, f64, f64)> = Vec::new();
    for s in SCENARIOS {
        cases.extend(NOISES.iter().map(|&n| (s, n, 1.0)));
        cases.extend(ACTIVATIONS.iter().skip(1).map(|&act| (s, ACTIVATION_NOISE, act)));
    }
    // two runs at a time (each run is one thread: these economies are small)
    let next = Mutex::new(0usize);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(&(s, noise, act)) = cases.get(i) else { break };
                let rows = measure(s, noise, act, a.window, 1000 + i as u64);
                results.lock().unwrap().push((i, rows));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    let rows: Vec<Row> = results.into_iter().flat_map(|r| r.1).collect();
    let mut csv = String::from(
        "scenario,noise,activation,good,outcome,ticks,window,bias,bias_low,bias_high,vs_reference,vs_reference_low,\
         vs_reference_high,spread,theory_bias,theory_vs_reference,theory_spread\n",
    );
    for r in &rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e}",
            r.scenario,
            r.noise,
            r.activation,
            r.good,
            r.outcome,
            r.ticks,
            r.window,
            r.bias,
            r.bias_ci[0],
            r.bias_ci[1],
            r.vs_reference,
            r.vs_reference_ci[0],
            r.vs_reference_ci[1],
            r.spread,
            r.theory_bias,
            r.theory_vs_reference,
            r.theory_spread
        );
    }
    std::fs::write(a.out.join("noise_bias.csv"), csv).expect("write noise_bias.csv");
    print_table(&rows);
    let curves = theory_curves();
    std::fs::write(a.out.join("noise_bias.png"), chart(&rows, &curves)).expect("write noise_bias.png");
    eprintln!(
        "wrote {}/noise_bias.csv and {}/noise_bias.png",
        a.out.display(),
        a.out.display()
    );
}

/// The table of docs/NOISE.md: per run and good, the bias (measured with its interval, and
/// predicted), the difference from the reference and the spread.
fn print_table(rows: &[Row]) {
    println!("| economy | noise | activation | good | bias, measured (95% CI) | predicted | vs reference, measured | predicted | spread, measured | predicted | ticks |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let pct = |v: f64| {
        if v.is_finite() {
            format!("{:+.3}%", 100.0 * v)
        } else {
            "-".to_string()
        }
    };
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} ({} to {}) | {} | {} | {} | {:.2}% | {} | {} |",
            r.scenario,
            r.noise,
            r.activation,
            r.good,
            pct(r.bias),
            pct(r.bias_ci[0]),
            pct(r.bias_ci[1]),
            pct(r.theory_bias),
            pct(r.vs_reference),
            pct(r.theory_vs_reference),
            100.0 * r.spread,
            if r.theory_spread.is_finite() {
                format!("{:.2}%", 100.0 * r.theory_spread)
            } else {
                "-".into()
            },
            r.ticks
        );
    }
}

/// The predictions on fine grids: (scenario, good, x, bias, spread) for the noise sweep and
/// the activation sweep.
struct Curves {
    noise: Vec<(&'static str, String, f64, f64, f64)>,
    activation: Vec<(&'static str, String, f64, f64, f64)>,
}

fn theory_curves() -> Curves {
    let mut c = Curves {
        noise: Vec::new(),
        activation: Vec::new(),
    };
    for s in SCENARIOS {
        for i in 0..=40 {
            let noise = 0.005 * i as f64;
            let e = economy(s, noise, 1.0, 0);
            if let Ok(p) = theory::predict(&e, noise, 1.0) {
                for g in e.goods.endogenous() {
                    c.noise
                        .push((s, e.goods.name[g].to_string(), noise, p.bias[g], p.spread[g]));
                }
            }
        }
        for i in 0..=32 {
            let act = 1.0 - 0.025 * i as f64;
            let e = economy(s, ACTIVATION_NOISE, act, 0);
            if let Ok(p) = theory::predict(&e, ACTIVATION_NOISE, act) {
                for g in e.goods.endogenous() {
                    c.activation
                        .push((s, e.goods.name[g].to_string(), act, p.bias[g], p.spread[g]));
                }
            }
        }
    }
    c
}

/// What a panel draws: points (good, x, y, interval low, high), lines (good, points), the
/// axes' titles and the caption.
type Panel = (
    Vec<(usize, f64, f64, f64, f64)>,
    Vec<(usize, Vec<(f64, f64)>)>,
    &'static str,
    &'static str,
    String,
);

const COLORS: [RGBColor; 3] = [RGBColor(0, 114, 178), RGBColor(230, 159, 0), RGBColor(0, 158, 115)];

/// Four rows of two panels (the chain, the split economy): the bias against the noise, the bias
/// over the noise squared, the spread against the noise, the bias against the activation at
/// noise 0.05.
fn chart(rows: &[Row], curves: &Curves) -> Vec<u8> {
    static FONT: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/DejaVuSans.ttf"));
    let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    let (w, h) = (1600u32, 2150u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).unwrap();
        root.draw(&Text::new(
            "Noisy firms bias mean prices by a second-order amount: measured (dots, 95% CI) and predicted (lines)",
            (30, 16),
            ("sans-serif", 27).into_font(),
        ))
        .unwrap();
        let body = root.margin(56, 0, 0, 0);
        let panels = body.split_evenly((4, 2));
        for (k, area) in panels.iter().enumerate() {
            let (row, col) = (k / 2, k % 2);
            let s = SCENARIOS[col];
            let label = match s {
                "tupperware" => "the essay's chain (tupperware)",
                _ => "a split economy (diamond)",
            };
            let goods: Vec<String> = {
                let mut g: Vec<String> = Vec::new();
                for r in rows.iter().filter(|r| r.scenario == s) {
                    if !g.contains(&r.good) {
                        g.push(r.good.clone());
                    }
                }
                g
            };
            let (points, lines, x_desc, y_desc, caption): Panel = match row {
                0..=2 => {
                    let sel: Vec<&Row> = rows
                        .iter()
                        .filter(|r| r.scenario == s && r.activation == 1.0 && (row != 1 || r.noise > 0.0))
                        .collect();
                    let pts = sel
                        .iter()
                        .map(|r| {
                            let gi = goods.iter().position(|g| *g == r.good).unwrap();
                            let n2 = r.noise * r.noise;
                            match row {
                                0 => (gi, r.noise, 100.0 * r.bias, 100.0 * r.bias_ci[0], 100.0 * r.bias_ci[1]),
                                1 => (gi, r.noise, r.bias / n2, r.bias_ci[0] / n2, r.bias_ci[1] / n2),
                                _ => (gi, r.noise, 100.0 * r.spread, f64::NAN, f64::NAN),
                            }
                        })
                        .collect();
                    let lines = goods
                        .iter()
                        .enumerate()
                        .map(|(gi, g)| {
                            let l = curves
                                .noise
                                .iter()
                                .filter(|c| c.0 == s && c.1 == *g && (row != 1 || c.2 > 0.0))
                                .map(|c| match row {
                                    0 => (c.2, 100.0 * c.3),
                                    1 => (c.2, c.3 / (c.2 * c.2)),
                                    _ => (c.2, 100.0 * c.4),
                                })
                                .collect();
                            (gi, l)
                        })
                        .collect();
                    let (yd, what) = match row {
                        0 => (
                            "bias: mean price vs backprop at the mean plans (%)",
                            "Bias against the noise",
                        ),
                        1 => (
                            "bias / noise² (a constant if the bias is of second order)",
                            "Bias over noise²",
                        ),
                        _ => ("spread: standard deviation of ln p (%)", "Spread against the noise"),
                    };
                    (
                        pts,
                        lines,
                        "agents.noise (standard deviation of the log observation error)",
                        yd,
                        format!("{what}: {label}"),
                    )
                }
                _ => {
                    let sel: Vec<&Row> = rows
                        .iter()
                        .filter(|r| r.scenario == s && r.noise == ACTIVATION_NOISE)
                        .collect();
                    let pts = sel
                        .iter()
                        .map(|r| {
                            let gi = goods.iter().position(|g| *g == r.good).unwrap();
                            (
                                gi,
                                r.activation,
                                100.0 * r.bias,
                                100.0 * r.bias_ci[0],
                                100.0 * r.bias_ci[1],
                            )
                        })
                        .collect();
                    let lines = goods
                        .iter()
                        .enumerate()
                        .map(|(gi, g)| {
                            let l = curves
                                .activation
                                .iter()
                                .filter(|c| c.0 == s && c.1 == *g)
                                .map(|c| (c.2, 100.0 * c.3))
                                .collect();
                            (gi, l)
                        })
                        .collect();
                    (
                        pts,
                        lines,
                        "agents.activation (share of ticks a firm updates)",
                        "bias (%)",
                        format!("Bias against the activation at noise {ACTIVATION_NOISE}: {label}"),
                    )
                }
            };
            let xs = if row == 3 { (0.15, 1.03) } else { (-0.005, 0.21) };
            // runs whose prices are unstable (a mean over 100% off, or no interval) are not drawn
            let unstable: Vec<f64> = points
                .iter()
                .filter(|p| !(p.2.abs() < 100.0 && p.3.is_finite() == p.4.is_finite()))
                .map(|p| p.1)
                .collect();
            let points: Vec<(usize, f64, f64, f64, f64)> =
                points.into_iter().filter(|p| !unstable.contains(&p.1)).collect();
            // the range of the measurements; the predictions are drawn where they fall in it
            let ys: Vec<f64> = points
                .iter()
                .flat_map(|p| [p.2, p.3, p.4])
                .filter(|v| v.is_finite())
                .collect();
            let lo = ys.iter().copied().fold(0.0, f64::min);
            let hi = ys.iter().copied().fold(0.0, f64::max);
            let pad = 0.06 * (hi - lo).max(1e-9);
            let lines: Vec<(usize, Vec<(f64, f64)>)> = lines
                .into_iter()
                .map(|(gi, l)| {
                    (
                        gi,
                        l.into_iter().filter(|q| q.1 >= lo - pad && q.1 <= hi + pad).collect(),
                    )
                })
                .collect();
            let mut c = ChartBuilder::on(area)
                .margin(14)
                .caption(caption, ("sans-serif", 21))
                .x_label_area_size(48)
                .y_label_area_size(70)
                .build_cartesian_2d(xs.0..xs.1, (lo - pad)..(hi + pad))
                .unwrap();
            c.configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .label_style(("sans-serif", 15))
                .axis_desc_style(("sans-serif", 16))
                .draw()
                .unwrap();
            c.draw_series(LineSeries::new(
                vec![(xs.0, 0.0), (xs.1, 0.0)],
                BLACK.mix(0.5).stroke_width(1),
            ))
            .unwrap();
            for (gi, l) in &lines {
                let color = COLORS[*gi % COLORS.len()];
                c.draw_series(LineSeries::new(l.clone(), color.stroke_width(2)))
                    .unwrap();
            }
            for (gi, name) in goods.iter().enumerate() {
                let color = COLORS[gi % COLORS.len()];
                let pts: Vec<&(usize, f64, f64, f64, f64)> = points.iter().filter(|p| p.0 == gi).collect();
                for p in &pts {
                    if p.3.is_finite() && p.4.is_finite() && p.4 > p.3 {
                        c.draw_series(std::iter::once(PathElement::new(
                            vec![(p.1, p.3), (p.1, p.4)],
                            color.stroke_width(2),
                        )))
                        .unwrap();
                    }
                }
                c.draw_series(pts.iter().map(|p| Circle::new((p.1, p.2), 5, color.filled())))
                    .unwrap()
                    .label(name.clone())
                    .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
            }
            c.draw_series(std::iter::once(PathElement::new(vec![(xs.0, 0.0), (xs.0, 0.0)], BLACK)))
                .unwrap()
                .label("line: second-order prediction")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
            if !unstable.is_empty() {
                let mut at: Vec<String> = unstable.iter().map(|v| format!("{v}")).collect();
                at.dedup();
                c.draw_series(std::iter::once(PathElement::new(vec![(xs.0, 0.0), (xs.0, 0.0)], WHITE)))
                    .unwrap()
                    .label(format!("unstable at {} (not drawn)", at.join(", ")))
                    .legend(|(x, y)| Cross::new((x + 10, y), 5, RGBColor(213, 94, 0).stroke_width(2)));
            }
            c.configure_series_labels()
                .position(match row {
                    1 => SeriesLabelPosition::LowerRight,
                    3 => SeriesLabelPosition::UpperRight,
                    _ => SeriesLabelPosition::UpperLeft,
                })
                .label_font(("sans-serif", 15))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.3))
                .draw()
                .unwrap();
        }
        root.present().unwrap();
    }
    png_out::encode(&buf, w, h)
}
