//! Test data for the charts: a synthetic run written as CSV files ([`Synth`]), a synthetic
//! `sweep.csv`, and checks that a chart is a well-formed PNG drawn the same twice.

use super::{read_run, read_sweep, render_convergence, render_sweep, ChartSize, RunData, SweepData};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub(super) const TRAJ_HEADER: &str = "tick,good,price,supply,demand,excess,adjoint,reference";
/// The header as written now (the tests' CSV text uses it; TRAJ_HEADER is the header of
/// earlier versions, which the reader still takes).
const MET_HEADER: &str = "tick,max_rel_excess,max_rel_price_change,max_rel_adjoint_error,max_rel_reference_error,phi,phi_gap,cosine,cosine_mirror,lyapunov,mispricing,firm_lag,spread,shock";

/// A small run description from which CSV text is generated.
pub(super) struct Synth {
    pub(super) goods: usize,
    pub(super) ticks: u64,
    pub(super) every: u64,
    pub(super) diverge: bool,
    pub(super) shocks: Vec<(u64, &'static str)>,
    pub(super) phi: bool,
    pub(super) refs: bool,
}

impl Synth {
    pub(super) fn converged() -> Synth {
        Synth {
            goods: 4,
            ticks: 400,
            every: 1,
            diverge: false,
            shocks: vec![],
            phi: true,
            refs: true,
        }
    }

    pub(super) fn name(i: usize) -> String {
        const BASE: [&str; 6] = ["tupperware", "steel", "grain", "labour", "energy", "plastic"];
        if i < BASE.len() {
            BASE[i].to_string()
        } else {
            format!("good_{i:04}")
        }
    }

    pub(super) fn write(&self, dir: &Path) {
        let mut traj = String::from(TRAJ_HEADER);
        traj.push('\n');
        let mut met = String::from(MET_HEADER);
        met.push('\n');
        let mut t = 0;
        while t <= self.ticks {
            let tf = t as f64;
            let mut max_ex: f64 = 0.0;
            for g in 0..self.goods {
                let reference = 1.0 + g as f64 * 0.37 + (g % 7) as f64;
                let shocked = self.shocks.iter().filter(|s| s.0 <= t).count() as f64;
                let reference = reference * (1.0 + 0.2 * shocked);
                let price = if self.diverge {
                    reference
                        * 10f64
                            .powf(300.0 * tf / self.ticks as f64 * (1.0 + g as f64 * 0.01))
                            .min(1e300)
                } else {
                    let since = self
                        .shocks
                        .iter()
                        .filter(|s| s.0 <= t)
                        .map(|s| t - s.0)
                        .min()
                        .unwrap_or(t);
                    let rate = 0.9 + 0.09 * ((g * 7919) % 100) as f64 / 100.0;
                    reference * (1.0 + 0.5 * (1.0 + g as f64 * 0.1) * rate.powf(since as f64))
                };
                let excess = (price - reference) / reference;
                max_ex = max_ex.max(excess.abs());
                let adjoint = reference * (1.0 + 1e-9);
                let r = if self.refs {
                    format!("{reference}")
                } else {
                    String::new()
                };
                writeln!(
                    traj,
                    "{t},{},{price},{},{},{excess},{adjoint},{r}",
                    Synth::name(g),
                    10.0 + excess,
                    10.0 - excess
                )
                .unwrap();
            }
            let gap = if self.phi {
                let v = 3.0 * 0.93f64.powf(tf);
                if v < 1e-16 {
                    "0".to_string()
                } else {
                    format!("{v}")
                }
            } else {
                String::new()
            };
            let phi = if self.phi {
                format!("{}", 5.0 + 0.1 * tf)
            } else {
                String::new()
            };
            let cos = if self.diverge {
                format!("{}", (-0.3 + 0.001 * tf).min(1.0))
            } else {
                format!("{}", 1.0 - 0.9 * 0.97f64.powf(tf))
            };
            let shock = self
                .shocks
                .iter()
                .filter(|s| s.0 == t)
                .map(|s| s.1)
                .collect::<Vec<_>>()
                .join(";");
            let lyapunov = if self.refs {
                format!("{}", 2.0 * 0.9f64.powf(tf))
            } else {
                String::new()
            };
            let (mis, lag) = if self.phi {
                (format!("{}", 0.6 * max_ex), format!("{}", 0.4 * max_ex))
            } else {
                (String::new(), String::new())
            };
            writeln!(
                met,
                "{t},{max_ex},{},{},{max_ex},{phi},{gap},{cos},{cos},{lyapunov},{mis},{lag},0.01,{shock}",
                max_ex * 0.5,
                1e-9
            )
            .unwrap();
            t += self.every;
        }
        std::fs::write(dir.join("trajectory.csv"), traj).unwrap();
        std::fs::write(dir.join("metrics.csv"), met).unwrap();
    }

    pub(super) fn data(&self) -> (tempfile::TempDir, RunData) {
        let dir = tempfile::tempdir().unwrap();
        self.write(dir.path());
        let data = read_run(dir.path()).unwrap();
        (dir, data)
    }
}

pub(super) fn sweep_csv(params: &[(&str, &[&str])], reps: u64, wall: bool) -> String {
    let mut s = String::from("point,replicate,");
    for (n, _) in params {
        s.push_str(n);
        s.push(',');
    }
    s.push_str("seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine");
    if wall {
        s.push_str(",wall_seconds");
    }
    s.push('\n');
    // Cartesian product of the parameter values.
    let mut grid: Vec<Vec<&str>> = vec![vec![]];
    for (_, vals) in params {
        grid = grid
            .into_iter()
            .flat_map(|g| {
                vals.iter().map(move |v| {
                    let mut g = g.clone();
                    g.push(v);
                    g
                })
            })
            .collect();
    }
    for (point, g) in grid.iter().enumerate() {
        let x: f64 = g.iter().map(|v| v.parse::<f64>().unwrap_or(1.0)).product();
        for rep in 0..reps {
            let seed = 1000 + point as u64 * 10 + rep;
            let (outcome, ticks, err) = if x > 0.5 && rep % 2 == 0 {
                ("diverged", 40 + rep, String::new())
            } else if x > 0.3 && rep == 1 {
                ("max_ticks", 5000, "0.02".to_string())
            } else {
                let t = (60.0 / x.max(1e-3)).min(4000.0) * (1.0 + 0.1 * rep as f64);
                (
                    "converged",
                    t as u64,
                    format!("{}", 1e-9 * (1.0 + rep as f64) / x.max(1e-3)),
                )
            };
            write!(
                s,
                "{point},{rep},{},{seed},{outcome},{ticks},{err},1e-7,0.99",
                g.join(",")
            )
            .unwrap();
            if wall {
                s.push_str(",0.5");
            }
            s.push('\n');
        }
    }
    s
}

pub(super) fn sweep_data(params: &[(&str, &[&str])], reps: u64) -> (tempfile::TempDir, SweepData) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sweep.csv");
    std::fs::write(&path, sweep_csv(params, reps, true)).unwrap();
    let data = read_sweep(&path).unwrap();
    (dir, data)
}

pub(super) const STEPS: &[&str] = &["0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3"];
pub(super) const RATES: &[&str] = &["0.1", "0.2", "0.4", "0.6", "0.8"];

/// Checks the PNG signature and the IHDR width/height.
fn assert_png(bytes: &[u8], size: ChartSize) {
    assert!(bytes.len() > 33, "PNG too short");
    assert_eq!(&bytes[..8], &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]);
    assert_eq!(&bytes[8..12], &[0, 0, 0, 13], "IHDR length");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (size.width, size.height));
    assert_eq!(bytes[24], 8, "bit depth");
    assert_eq!(bytes[25], 2, "colour type RGB");
    assert_eq!(&bytes[bytes.len() - 8..bytes.len() - 4], b"IEND");
}

/// Checks that SVG bytes are a document of the size: one `<svg>` root, closed; every tag
/// closed; text escaped; the font family set. Returns the text.
pub(super) fn assert_svg(bytes: &[u8], size: ChartSize) -> String {
    let svg = String::from_utf8(bytes.to_vec()).expect("SVG is UTF-8");
    let head = format!(
        "<svg width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" xmlns=\"http://www.w3.org/2000/svg\">\n",
        size.width, size.height, size.width, size.height
    );
    assert!(svg.starts_with(&head), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.ends_with("</svg>\n"));
    assert_eq!(svg.matches("<svg").count(), 1);
    // elements: self-closed, or <text> ... </text>
    let mut depth = 0i32;
    for tag in svg.split('<').skip(1) {
        let end = tag.find('>').expect("tag closed with >");
        let tag = &tag[..end];
        if tag.starts_with('/') {
            depth -= 1;
        } else if !tag.ends_with('/') {
            depth += 1;
        }
        assert!(depth >= 0, "closing tag without an opening one: <{tag}>");
        assert!(!tag[1..].contains('<'));
    }
    assert_eq!(depth, 0, "unclosed elements");
    for (i, _) in svg.match_indices('&') {
        let rest = &svg[i..];
        assert!(
            ["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "unescaped & at {i}"
        );
    }
    assert!(svg.contains("font-family=\"DejaVu Sans, sans-serif\""));
    assert!(!svg.contains("font-family=\"sans-serif\""));
    svg
}

pub(super) const SMALL: ChartSize = ChartSize {
    width: 800,
    height: 600,
};

pub(super) fn check_run(data: &RunData, size: ChartSize) -> Vec<u8> {
    let a = render_convergence(data, "test run", size).unwrap();
    assert_png(&a, size);
    let b = render_convergence(data, "test run", size).unwrap();
    assert!(a == b, "rendering twice must give identical bytes");
    a
}

pub(super) fn check_sweep(data: &SweepData, size: ChartSize) -> Vec<u8> {
    let a = render_sweep(data, "test sweep", size).unwrap();
    assert_png(&a, size);
    let b = render_sweep(data, "test sweep", size).unwrap();
    assert!(a == b, "rendering twice must give identical bytes");
    a
}

/// Writes one PNG of every kind to `examples_out/` (or `$PLOT_EXAMPLES_OUT`) for viewing.
#[test]
#[ignore]
fn write_example_pngs() {
    let out = std::env::var_os("PLOT_EXAMPLES_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("examples_out"));
    std::fs::create_dir_all(&out).unwrap();
    let big = ChartSize::default();
    let runs: Vec<(&str, Synth)> = vec![
        ("converged", Synth::converged()),
        (
            "diverged",
            Synth {
                diverge: true,
                phi: false,
                refs: false,
                ..Synth::converged()
            },
        ),
        (
            "shocked",
            Synth {
                goods: 5,
                ticks: 600,
                shocks: vec![
                    (200, "tupperware.price=2"),
                    (205, "steel.endowment=0.5"),
                    (450, "grain.tax=0.1"),
                ],
                ..Synth::converged()
            },
        ),
        (
            "many_goods",
            Synth {
                goods: 200,
                ticks: 300,
                ..Synth::converged()
            },
        ),
        (
            "single_tick",
            Synth {
                goods: 1,
                ticks: 0,
                ..Synth::converged()
            },
        ),
        (
            "long",
            Synth {
                goods: 2,
                ticks: 100_000,
                every: 10,
                ..Synth::converged()
            },
        ),
    ];
    for (name, s) in runs {
        let (_d, data) = s.data();
        let png = render_convergence(&data, &format!("example scenario: {name}"), big).unwrap();
        std::fs::write(out.join(format!("convergence_{name}.png")), png).unwrap();
    }
    let (_d, data) = Synth::converged().data();
    std::fs::write(
        out.join("convergence_small.png"),
        render_convergence(&data, "example: 800x600", SMALL).unwrap(),
    )
    .unwrap();
    type Params<'a> = Vec<(&'a str, &'a [&'a str])>;
    let sweeps: Vec<(&str, Params)> = vec![
        ("sweep_1param", vec![("market.step", STEPS)]),
        (
            "sweep_1param_categorical",
            vec![("market.rule", &["walras", "tatonnement", "double_auction"])],
        ),
        ("sweep_2param", vec![("market.step", STEPS), ("agents.rate", RATES)]),
        (
            "sweep_3param",
            vec![
                ("market.step", STEPS),
                ("agents.rate", RATES),
                ("market.noise", &["0", "0.1"]),
            ],
        ),
    ];
    let dense_x: &'static [&'static str] = Box::leak(
        (0..30)
            .map(|i| &*Box::leak(format!("{:.4}", 0.001 * 1.3f64.powi(i)).into_boxed_str()))
            .collect::<Vec<&'static str>>()
            .into_boxed_slice(),
    );
    let dense_y: &'static [&'static str] = Box::leak(
        (0..20)
            .map(|i| &*Box::leak(format!("{}", 0.05 * (i + 1) as f64).into_boxed_str()))
            .collect::<Vec<&'static str>>()
            .into_boxed_slice(),
    );
    let mut sweeps = sweeps;
    sweeps.push((
        "sweep_2param_dense",
        vec![("market.step", dense_x), ("agents.rate", dense_y)],
    ));
    for (name, params) in sweeps {
        let (_d, data) = sweep_data(&params, 3);
        let png = render_sweep(&data, &format!("example {name}"), big).unwrap();
        std::fs::write(out.join(format!("{name}.png")), png).unwrap();
        let png = render_sweep(&data, &format!("example {name} 800x600"), SMALL).unwrap();
        std::fs::write(out.join(format!("{name}_small.png")), png).unwrap();
    }
}
