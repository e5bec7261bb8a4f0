//! `pricegrad plot DIR --goods --ticks --format --out` through the binary: a part of a run as
//! SVG or PNG, where it is written, and bad input (exit 2, nothing written).

use crate::common::pricegrad;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// A run of the built-in tupperware chain (natgas, ethylene, polyethylene; converges in about
/// 125 ticks) in a temporary directory: (the directory, the run's output directory).
fn run() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    pricegrad()
        .args(["run", "--no-timing", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    (dir, out)
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            all.extend(files(&path));
        } else {
            all.insert(path.clone(), fs::read(&path).unwrap());
        }
    }
    all
}

/// The text lines of an SVG's `<text>` elements (plotters writes each on a line of its own).
fn svg_texts(svg: &str) -> Vec<&str> {
    let lines: Vec<&str> = svg.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].starts_with("<text"))
        .map(|w| w[1])
        .collect()
}

/// The width, height and colour type of a PNG, decoded (all of its pixels).
fn decode(png_bytes: &[u8]) -> (u32, u32, png::ColorType) {
    let mut reader = png::Decoder::new(png_bytes).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert!(buf.iter().any(|&b| b != 255), "a blank image");
    (info.width, info.height, info.color_type)
}

#[test]
fn svg_of_some_goods_and_ticks_holds_them_and_not_the_others() {
    let (dir, run) = run();
    let before = files(&run);
    let svg_path = dir.path().join("part.svg");
    let out = pricegrad()
        .arg("plot")
        .arg(&run)
        .args([
            "--goods",
            "natgas,ethylene",
            "--ticks",
            "20:80",
            "--format",
            "svg",
            "--out",
        ])
        .arg(&svg_path)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("part.svg"), "{stdout}");
    let svg = fs::read_to_string(&svg_path).unwrap();
    assert!(
        svg.starts_with("<svg width=\"1600\" height=\"1200\""),
        "{}",
        &svg[..100]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    let texts = svg_texts(&svg);
    assert!(texts.contains(&"tupperware"), "the title: {texts:?}");
    assert!(texts.contains(&"natgas") && texts.contains(&"ethylene"), "{texts:?}");
    assert!(!svg.contains("polyethylene"), "an unselected good is drawn");
    let subtitle = texts.iter().find(|t| t.starts_with("selected")).expect("a subtitle");
    assert!(
        subtitle.starts_with("selected ticks 20–80 of 0–") && subtitle.contains("goods natgas, ethylene (2 of 3)"),
        "{subtitle}"
    );
    // the tick axis runs from 20 to 80
    assert!(
        texts.contains(&"20") && texts.contains(&"80") && !texts.contains(&"100"),
        "{texts:?}"
    );
    assert!(svg.contains("font-family=\"DejaVu Sans, sans-serif\""));
    // the run's directory is left as it was
    assert_eq!(files(&run), before);
}

#[test]
fn format_or_extension_chooses_the_file() {
    let (dir, run) = run();
    let full = fs::read(run.join("convergence.png")).unwrap();
    // --format svg without --out: DIR/convergence.svg, convergence.png kept
    pricegrad()
        .arg("plot")
        .arg(&run)
        .args(["--ticks", ":40", "--format", "svg"])
        .assert()
        .success();
    let svg = fs::read_to_string(run.join("convergence.svg")).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg_texts(&svg)
        .iter()
        .any(|t| t.starts_with("selected ticks 0–40 of 0–")));
    assert_eq!(fs::read(run.join("convergence.png")).unwrap(), full);
    // --out FILE.svg without --format: an SVG
    let out = dir.path().join("implied.svg");
    pricegrad()
        .arg("plot")
        .arg(&run)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let svg = fs::read_to_string(&out).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyethylene"));
    // --out FILE.png without --format: the PNG of the whole run, as `run` drew it
    let out = dir.path().join("implied.png");
    pricegrad()
        .arg("plot")
        .arg(&run)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(fs::read(&out).unwrap(), full);
}

#[test]
fn png_of_a_range_differs_from_the_whole_and_has_its_size() {
    let (dir, run) = run();
    let full = fs::read(run.join("convergence.png")).unwrap();
    assert_eq!(decode(&full), (1600, 1200, png::ColorType::Rgb));
    let part = dir.path().join("part.png");
    pricegrad()
        .arg("plot")
        .arg(&run)
        .args(["--ticks", "30:60", "--out"])
        .arg(&part)
        .assert()
        .success();
    let bytes = fs::read(&part).unwrap();
    assert_ne!(bytes, full, "--ticks drew the whole run");
    assert_eq!(decode(&bytes), (1600, 1200, png::ColorType::Rgb));
    // another size, and the goods too
    pricegrad()
        .arg("plot")
        .arg(&run)
        .args([
            "--ticks",
            "30:",
            "--goods",
            "natgas",
            "--chart-size",
            "900x700",
            "--format",
            "png",
            "--out",
        ])
        .arg(&part)
        .assert()
        .success();
    let small = fs::read(&part).unwrap();
    assert_eq!(decode(&small), (900, 700, png::ColorType::Rgb));
    assert_ne!(small, bytes);
    assert_eq!(fs::read(run.join("convergence.png")).unwrap(), full);
    // without --out, the part replaces DIR/convergence.png
    pricegrad()
        .arg("plot")
        .arg(&run)
        .args(["--ticks", "30:60"])
        .assert()
        .success();
    assert_eq!(fs::read(run.join("convergence.png")).unwrap(), bytes);
}

#[test]
fn bad_selections_exit_2_and_write_nothing() {
    let (dir, run) = run();
    let before = files(dir.path());
    let out = dir.path().join("chart.png");
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--goods", "natgas,natgs"],
            &[
                "error: 'natgs' is not a good of this run",
                "= help: did you mean 'natgas'?",
                "natgas, ethylene, polyethylene",
            ],
        ),
        (&["--goods", "natgas,,ethylene"], &["error: --goods has an empty name"]),
        (&["--ticks", "400:100"], &["'400:100' starts after it ends"]),
        (&["--ticks", "100"], &["'100' is not A:B"]),
        (
            &["--ticks", "1000000:2000000"],
            &[
                "error: --ticks 1000000:2000000 holds no logged tick",
                "= help: the run logged",
            ],
        ),
        (&["--format", "jpg"], &["'jpg' is not a chart format"]),
    ];
    for (args, says) in cases {
        let o = pricegrad()
            .arg("plot")
            .arg(&run)
            .args(*args)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
        for s in *says {
            assert!(err.contains(s), "{args:?}: {s:?} not in\n{err}");
        }
        assert!(o.get_output().stdout.is_empty(), "{args:?}");
        assert_eq!(files(dir.path()), before, "{args:?} wrote something");
    }
    // the format cannot be told from the --out FILE
    for (name, format, says) in [
        ("chart.jpg", None, "cannot tell the chart format of --out"),
        ("chart", None, "cannot tell the chart format of --out"),
        ("chart.png", Some("svg"), "ends in .png but --format is svg"),
    ] {
        let mut cmd = pricegrad();
        cmd.arg("plot").arg(&run).arg("--out").arg(dir.path().join(name));
        if let Some(f) = format {
            cmd.args(["--format", f]);
        }
        let o = cmd.assert().code(2);
        let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
        assert!(
            err.contains(says) && err.contains("= help:") && err.contains("--format"),
            "{err}"
        );
        assert_eq!(files(dir.path()), before, "{name} was written");
    }
    // an --out FILE of another extension is taken with --format
    let odd = dir.path().join("chart.image");
    pricegrad()
        .arg("plot")
        .arg(&run)
        .args(["--format", "svg", "--out"])
        .arg(&odd)
        .assert()
        .success();
    assert!(fs::read_to_string(&odd).unwrap().starts_with("<svg"));
}

#[test]
fn a_sweep_is_drawn_as_svg_but_not_selected_from() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("sweep.csv"),
        "point,replicate,market.step,seed,outcome,ticks,max_rel_error,max_rel_excess,mean_cosine\n\
         0,0,0.1,1,converged,300,1e-9,1e-9,0.9\n1,0,0.2,2,converged,150,1e-9,1e-9,0.9\n\
         2,0,0.4,3,diverged,40,,,\n",
    )
    .unwrap();
    let before = files(dir.path());
    let o = pricegrad()
        .arg("plot")
        .arg(dir.path())
        .args(["--goods", "natgas"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(
        err.contains("is a sweep: --goods and --ticks select a part of a run"),
        "{err}"
    );
    assert_eq!(files(dir.path()), before);
    pricegrad()
        .arg("plot")
        .arg(dir.path())
        .args(["--format", "svg"])
        .assert()
        .success();
    let svg = fs::read_to_string(dir.path().join("sweep.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg_texts(&svg).contains(&"market.step"));
    assert!(!dir.path().join("sweep.png").exists());
}
