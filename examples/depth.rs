//! Depth against breadth: do deep supply chains adjust worse than broad ones?
//!
//! cargo run --release --example depth -- [--firms 1024] [--inputs 2] [--seeds 3] [--factor 2] [--out docs]
//!
//! For a fixed number of firms N, generated layered economies (`pricegrad generate`, Cobb-Douglas,
//! default settings) from 2 to 64 layers, width N / layers. Each runs from the default start until
//! it converges (`run.tolerance`, `run.patience`): the ticks to converge. Then every final good's
//! price is multiplied by `--factor` (default 2: a shock at the tick after convergence; every
//! equilibrium price is multiplied by it, quantities stay), and the run continues until it
//! converges again. The shock is followed good by good from
//! the engine's prices every tick (`pricegrad::check::propagation`, with the reference equilibrium after
//! the shock): the tick at which each price has moved by 10% of its change, against its depth (the
//! number of firms between it and the final goods). Reported per economy: ticks to converge, ticks
//! to converge again after the shock, and the ticks until the shock reached the raw goods (layer 0:
//! median and slowest).
//!
//! Writes OUT/depth.csv (one row per economy) and OUT/depth.png (the chart in docs/).

#[path = "common/png.rs"]
mod png_out;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use pricegrad::check::propagation::{Arrival, Tracker};
use pricegrad::check::reference;
use pricegrad::economy::{Economy, Shock, ShockKind};
use pricegrad::generate::{self, Spec};
use pricegrad::scenario;
use pricegrad::sim::engine::Engine;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

const LAYERS: [usize; 6] = [2, 4, 8, 16, 32, 64];

struct Args {
    firms: usize,
    inputs: usize,
    seeds: u64,
    /// The final prices are multiplied by this.
    factor: f64,
    out: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        firms: 1024,
        inputs: 2,
        seeds: 3,
        factor: 2.0,
        out: PathBuf::from("docs"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--firms" => a.firms = v.parse().expect("--firms N"),
            "--inputs" => a.inputs = v.parse().expect("--inputs K"),
            "--seeds" => a.seeds = v.parse().expect("--seeds K"),
            "--factor" => a.factor = v.parse().expect("--factor F"),
            "--out" => a.out = PathBuf::from(v),
            _ => panic!("unknown option {k} (use --firms, --inputs, --seeds, --factor, --out)"),
        }
    }
    a
}

/// One economy's measurements.
struct Row {
    layers: usize,
    width: usize,
    seed: u64,
    converge: u64,
    reconverge: u64,
    /// Ticks from the shock until the raw goods' prices moved 10% of their change: median and
    /// largest over the raw goods.
    raw_median: f64,
    raw_max: u64,
    /// Median arrival (ticks after the shock) per depth 1, 2, ...
    by_depth: Vec<f64>,
    seconds: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Tick the engine until it has been calm for `patience` ticks (the run's criterion); the tick
/// it converged at, or None after `max` ticks. `each` sees every tick's prices.
fn converge(engine: &mut Engine, max: u64, mut each: impl FnMut(&Engine, u64)) -> Option<u64> {
    let run = engine.economy.run.clone();
    let mut calm = 0;
    let start = engine.tick;
    while engine.tick < start + max {
        let step = engine.step();
        assert!(step.diverged.is_none(), "diverged: {:?}", step.diverged);
        each(engine, step.tick);
        let within = step.max_rel_excess <= run.tolerance && step.max_rel_change <= run.tolerance;
        calm = if within { calm + 1 } else { 0 };
        engine.finish_tick(&step);
        if calm >= run.patience && !engine.shocks_pending() {
            return Some(step.tick);
        }
    }
    None
}

fn measure(layers: usize, width: usize, inputs: usize, seed: u64, factor: f64) -> Row {
    let t0 = Instant::now();
    let mut spec = Spec::new(layers, width, inputs);
    spec.seed = seed;
    let plan = generate::plan(&spec).expect("a valid shape");
    let mut text = Vec::new();
    generate::write(&plan, &mut text).expect("in memory");
    let text = String::from_utf8(text).expect("UTF-8");
    let economy: Economy = scenario::load_str("depth.toml", &text, &[], None).expect("a valid economy");
    let mut engine = Engine::new(economy);
    let converged = converge(&mut engine, 200_000, |_, _| {}).expect("converges");
    // every final good's price is multiplied by `factor` at the end of the next tick
    let tick = engine.tick;
    let economy = &engine.economy;
    let finals: Vec<usize> = (0..economy.goods.len()).filter(|&g| economy.goods.fixed[g]).collect();
    let shocks: Vec<Shock> = finals
        .iter()
        .map(|&g| Shock {
            tick,
            kind: ShockKind::Price {
                good: g,
                price: factor * economy.goods.price[g],
            },
            label: format!("{}.price=x{factor}", &economy.goods.name[g]),
        })
        .collect();
    engine.economy.shocks = shocks;
    let mut tracker = Tracker::default();
    let step = engine.step();
    tracker.observe(step.tick, &engine.prices);
    engine.finish_tick(&step);
    let eq = reference::solve(&engine.economy).expect("the reference solver takes the economy");
    tracker.shock(&engine.economy, tick, &engine.prices, &engine.traded, Some(&eq));
    let again = converge(&mut engine, 200_000, |e, t| tracker.observe(t, &e.prices)).expect("converges again");
    let rows: Vec<Arrival> = tracker.finish(&engine.prices);
    let raw_depth = layers as u32;
    let after = |r: &Arrival| r.arrival_tick.map(|a| (a - tick) as f64);
    let mut raw: Vec<f64> = rows.iter().filter(|r| r.depth == raw_depth).filter_map(after).collect();
    assert_eq!(raw.len(), width, "every raw good moved");
    let raw_max = raw.iter().copied().fold(0.0, f64::max) as u64;
    let raw_median = median(&mut raw);
    let by_depth = (1..=raw_depth)
        .map(|d| {
            median(
                &mut rows
                    .iter()
                    .filter(|r| r.depth == d)
                    .filter_map(after)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    Row {
        layers,
        width,
        seed,
        converge: converged,
        reconverge: again - tick,
        raw_median,
        raw_max,
        by_depth,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

fn main() {
    let a = args();
    std::fs::create_dir_all(&a.out).expect("output directory");
    let mut rows = Vec::new();
    for &layers in &LAYERS {
        let width = a.firms / layers;
        for seed in 1..=a.seeds {
            let r = measure(layers, width, a.inputs, seed, a.factor);
            eprintln!(
                "{layers:>2} layers x {width:>4}, seed {seed}: converged at {:>5}, again after {:>5}, raw goods reached after {} (median) / {} (slowest) ticks  [{:.1} s]",
                r.converge, r.reconverge, r.raw_median, r.raw_max, r.seconds
            );
            rows.push(r);
        }
    }
    let mut csv = String::from(
        "layers,width,inputs,factor,seed,ticks_to_converge,ticks_to_reconverge_after_shock,raw_arrival_median,raw_arrival_max,arrival_median_by_depth\n",
    );
    for r in &rows {
        let by: Vec<String> = r.by_depth.iter().map(|v| format!("{v}")).collect();
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{}",
            r.layers,
            r.width,
            a.inputs,
            a.factor,
            r.seed,
            r.converge,
            r.reconverge,
            r.raw_median,
            r.raw_max,
            by.join(";")
        );
    }
    std::fs::write(a.out.join("depth.csv"), csv).expect("write depth.csv");
    std::fs::write(a.out.join("depth.png"), chart(&rows, &a)).expect("write depth.png");
    eprintln!("wrote {}/depth.csv and {}/depth.png", a.out.display(), a.out.display());
}

/// Two panels: ticks against layers (log2), and the wave: median arrival against depth.
fn chart(rows: &[Row], a: &Args) -> Vec<u8> {
    static FONT: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/DejaVuSans.ttf"));
    let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    let (w, h) = (1600u32, 700u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).unwrap();
        let title = format!(
            "Depth against breadth: {} firms as 2 to 64 layers ({} inputs per firm, {} seeds each; final prices x{} at the shock)",
            a.firms, a.inputs, a.seeds, a.factor
        );
        root.draw(&Text::new(title, (30, 18), ("sans-serif", 30).into_font()))
            .unwrap();
        let (left, right) = root.margin(60, 10, 10, 10).split_horizontally(w / 2);
        let colors = [
            RGBColor(0, 114, 178),
            RGBColor(213, 94, 0),
            RGBColor(0, 158, 115),
            RGBColor(204, 121, 167),
            RGBColor(230, 159, 0),
            RGBColor(86, 180, 233),
        ];
        // ticks against layers
        let per = |f: &dyn Fn(&Row) -> f64| -> Vec<(f64, f64)> {
            LAYERS
                .iter()
                .map(|&l| {
                    let mut v: Vec<f64> = rows.iter().filter(|r| r.layers == l).map(f).collect();
                    ((l as f64).log2(), median(&mut v))
                })
                .collect()
        };
        let series: [(&str, Vec<(f64, f64)>); 4] = [
            ("ticks to converge (from the start)", per(&|r| r.converge as f64)),
            ("ticks to converge again after the shock", per(&|r| r.reconverge as f64)),
            ("ticks until the raw goods moved 10% (median)", per(&|r| r.raw_median)),
            ("... (slowest raw good)", per(&|r| r.raw_max as f64)),
        ];
        let ymax = series.iter().flat_map(|s| s.1.iter().map(|p| p.1)).fold(1.0, f64::max) * 2.5;
        let mut c = ChartBuilder::on(&left)
            .margin(20)
            .caption(
                "Ticks against the number of layers (median over seeds)",
                ("sans-serif", 22),
            )
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0.8f64..6.2, (1f64..ymax).log_scale())
            .unwrap();
        c.configure_mesh()
            .x_labels(6)
            .x_label_formatter(&|v| format!("{}", 2f64.powf(*v).round()))
            .y_label_formatter(&|v| format!("{v}"))
            .x_desc("layers (log scale); width = firms / layers")
            .y_desc("ticks (log scale)")
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .unwrap();
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = colors[i];
            c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(3)))
                .unwrap()
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
            c.draw_series(pts.iter().map(|&p| Circle::new(p, 5, color.filled())))
                .unwrap();
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::Coordinate(30, 90))
            .label_font(("sans-serif", 16))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()
            .unwrap();
        // the wave: median arrival against depth, one line per number of layers
        let xmax = *LAYERS.last().unwrap() as f64;
        let ymax = rows
            .iter()
            .flat_map(|r| r.by_depth.iter().copied())
            .filter(|v| v.is_finite())
            .fold(1.0, f64::max)
            * 1.1;
        let mut c = ChartBuilder::on(&right)
            .margin(20)
            .caption(
                "The shock wave: ticks until a good moved 10%, by depth",
                ("sans-serif", 22),
            )
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..xmax + 1.0, 0f64..ymax)
            .unwrap();
        c.configure_mesh()
            .x_label_formatter(&|v| format!("{v}"))
            .y_label_formatter(&|v| format!("{v}"))
            .x_desc("depth: firms between the good and the final goods")
            .y_desc("ticks after the shock (median over goods and seeds)")
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .unwrap();
        for (i, &l) in LAYERS.iter().enumerate() {
            let color = colors[i];
            let pts: Vec<(f64, f64)> = (0..l)
                .map(|d| {
                    let mut v: Vec<f64> = rows
                        .iter()
                        .filter(|r| r.layers == l)
                        .map(|r| r.by_depth[d])
                        .filter(|v| v.is_finite())
                        .collect();
                    ((d + 1) as f64, median(&mut v))
                })
                .collect();
            let width = (LAYERS.len() - i) as u32 + 1;
            c.draw_series(LineSeries::new(pts, color.stroke_width(width)))
                .unwrap()
                .label(format!("{l} layers x {}", a.firms / l))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
        }
        c.draw_series(LineSeries::new(
            vec![(0.0, 1.0), (xmax, xmax + 1.0)],
            BLACK.mix(0.4).stroke_width(1),
        ))
        .unwrap()
        .label("depth + 1 ticks: the first tick a price can move")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.4).stroke_width(1)));
        c.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(("sans-serif", 16))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()
            .unwrap();
        root.present().unwrap();
    }
    png_out::encode(&buf, w, h)
}
