//! `pricegrad generate`: random layered economies are valid scenarios, converge with the
//! default settings, have the requested shape, and are reproducible from the seed.

use crate::common::{load, pricegrad};
use pricegrad::economy::Economy;
use pricegrad::generate::{self, Family, Spec};
use pricegrad::run;
use std::collections::HashSet;
use std::sync::atomic::AtomicBool;

fn text(spec: &Spec) -> String {
    let plan = generate::plan(spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    let mut out = Vec::new();
    let bytes = generate::write(&plan, &mut out).unwrap();
    assert_eq!(bytes, out.len() as u64);
    String::from_utf8(out).unwrap()
}

/// The shape promised: layer sizes, K distinct inputs from the layer below, every good below
/// the last layer used, `split` goods per layer used several times.
fn check_shape(e: &Economy, layers: usize, width: usize, k: usize, split: usize) {
    let goods = &e.goods;
    assert_eq!(goods.len(), (layers + 1) * width);
    assert_eq!(e.firms.len(), layers * width);
    assert_eq!(goods.fixed.iter().filter(|&&f| f).count(), width);
    let layer_of = |g: usize| -> usize {
        let name = &goods.name[g];
        name[1..name.find('_').unwrap()].parse().unwrap()
    };
    for f in 0..e.firms.len() {
        let ins: Vec<u32> = e.firms.inputs(f).map(|i| e.firms.input_good[i]).collect();
        assert_eq!(ins.len(), k);
        assert_eq!(ins.iter().collect::<HashSet<_>>().len(), k, "distinct inputs");
        let out = e.firms.output_good[e.firms.outputs(f).start] as usize;
        for &g in &ins {
            assert_eq!(
                layer_of(g as usize) + 1,
                layer_of(out),
                "inputs come from the layer below"
            );
        }
    }
    for l in 0..layers {
        let used: Vec<usize> = (0..goods.len())
            .filter(|&g| layer_of(g) == l)
            .map(|g| goods.uses(g).len())
            .collect();
        assert_eq!(used.len(), width);
        assert!(
            used.iter().all(|&u| u >= 1),
            "layer {l}: every good has a user: {used:?}"
        );
        assert_eq!(
            used.iter().filter(|&&u| u > 1).count(),
            split,
            "layer {l}: split goods {used:?}"
        );
        assert_eq!(used.iter().sum::<usize>(), width * k);
    }
    for g in 0..goods.len() {
        if layer_of(g) == 0 {
            assert!(goods.endowment[g] > 0.0);
        } else {
            assert_eq!(goods.producers(g).len(), 1, "every produced good has its firm");
        }
    }
}

#[test]
fn a_small_economy_with_splits_validates_and_converges() {
    let spec = Spec::new(3, 5, 2);
    let plan = generate::plan(&spec).unwrap();
    assert_eq!(plan.split_goods, 3); // round(0.5 * 5)
    let t = text(&spec);
    let economy = load(&t);
    check_shape(&economy, 3, 5, 2, 3);
    let report = run::execute(economy, &mut run::Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert!(report.pass, "{}: {report:#?}", report.outcome_detail);
}

#[test]
fn check_passes_on_generated_files() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--layers", "3", "--width", "5", "--inputs", "2", "--split-share", "0.4"][..],
        &[
            "--layers", "4", "--width", "8", "--inputs", "3", "--family", "ces", "--seed", "3",
        ][..],
        &[
            "--layers",
            "3",
            "--width",
            "6",
            "--inputs",
            "2",
            "--family",
            "expression",
        ][..],
        &["--layers", "6", "--width", "3", "--inputs", "1", "--family", "power"][..],
    ] {
        let file = dir.path().join("g.toml");
        let out = pricegrad()
            .arg("generate")
            .args(args)
            .arg("--out")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let check = pricegrad().arg("check").arg(&file).output().unwrap();
        assert_eq!(
            check.status.code(),
            Some(0),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

#[test]
fn every_family_and_share_has_the_promised_shape() {
    for (family, k, share, split) in [
        (Family::CobbDouglas, 3, Some(1.0), 10),
        (Family::CobbDouglas, 3, Some(0.0001), 3), // raised to the least possible: ceil(10*2/9)
        (Family::Ces, 2, Some(0.3), 3),
        (Family::Expression, 4, None, 5),
        (Family::Power, 1, None, 0),
    ] {
        let mut spec = Spec::new(4, 10, k);
        spec.family = family;
        spec.split_share = share;
        check_shape(&load(&text(&spec)), 4, 10, k, split);
    }
    // as many inputs as goods: every firm uses every good of the layer below
    check_shape(&load(&text(&Spec::new(2, 4, 4))), 2, 4, 4, 4);
}

#[test]
fn the_seed_decides_the_bytes() {
    let mut spec = Spec::new(4, 30, 3);
    spec.seed = 11;
    let a = text(&spec);
    let b = text(&spec);
    assert_eq!(a, b, "same seed, same bytes");
    spec.seed = 12;
    let c = text(&spec);
    assert_ne!(a, c, "another seed, another economy");
    // the binary writes the same bytes to a file and to standard output
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.toml");
    let args = [
        "generate", "--layers", "4", "--width", "30", "--inputs", "3", "--seed", "11",
    ];
    let out = pricegrad().args(args).arg("--out").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = pricegrad().args(args).output().unwrap().stdout;
    assert_eq!(std::fs::read(&file).unwrap(), stdout);
    assert_eq!(stdout, a.as_bytes());
}

#[test]
fn twenty_thousand_firms_generate_and_validate() {
    let spec = Spec::new(4, 5000, 3);
    let t = text(&spec);
    let economy = load(&t);
    assert_eq!(economy.firms.len(), 20_000);
    let plan = generate::plan(&spec).unwrap();
    check_shape(&economy, 4, 5000, 3, plan.split_goods);
}

#[test]
fn impossible_requests_are_bad_input() {
    for (args, words) in [
        (
            &["--layers", "2", "--width", "2", "--inputs", "3"][..],
            "more than --width",
        ),
        (
            &["--layers", "2", "--width", "5", "--inputs", "1", "--split-share", "0.5"][..],
            "needs --inputs 2",
        ),
        (
            &["--layers", "2", "--width", "5", "--inputs", "2", "--split-share", "0"][..],
            "impossible",
        ),
        (
            &["--layers", "2", "--width", "5", "--inputs", "2", "--family", "power"][..],
            "one input",
        ),
        (&["--layers", "0", "--width", "5", "--inputs", "1"][..], "--layers"),
        (
            &["--layers", "2", "--width", "5", "--inputs", "2", "--split-share", "1.5"][..],
            "between 0 and 1",
        ),
        (
            &["--layers", "2", "--width", "5", "--inputs", "2", "--returns", "1.2"][..],
            "--returns",
        ),
    ] {
        let out = pricegrad().arg("generate").args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing written");
        assert!(stderr.contains(words) && stderr.contains("help:"), "{args:?}: {stderr}");
    }
}

/// Small economies log every tick and every good; large ones every 100th tick and 1000 goods
/// spread evenly (first and last endogenous good included), unless the file says otherwise.
#[test]
fn default_logging_scales_with_the_economy() {
    use pricegrad::economy::LogSettings;
    let small = load(&text(&Spec::new(3, 10, 2)));
    assert_eq!(small.log.every, 1);
    assert_eq!(small.log.goods, small.goods.endogenous().collect::<Vec<_>>());

    // 45,000 edges, 15,000 endogenous goods; generate leaves [log] to the defaults
    let big_text = text(&Spec::new(10, 1_500, 3));
    assert!(!big_text.contains("[log]"), "generate writes no [log] table");
    let big = load(&big_text);
    assert!(big.firms.edges() > LogSettings::EVERY_TICK_EDGES);
    assert_eq!(big.log.every, LogSettings::LARGE_EVERY);
    let endogenous: Vec<usize> = big.goods.endogenous().collect();
    let logged = &big.log.goods;
    assert_eq!(logged.len(), LogSettings::MAX_DEFAULT_GOODS);
    assert_eq!(logged.first(), endogenous.first());
    assert_eq!(logged.last(), endogenous.last());
    assert!(logged.windows(2).all(|w| w[0] < w[1]), "distinct and in order");
    assert!(logged.iter().all(|g| !big.goods.fixed[*g]));

    // the file's own settings win
    let explicit = big_text.replacen("[goods]", "[log]\nevery = 3\ngoods = [\"g1_7\"]\n\n[goods]", 1);
    let e = load(&explicit);
    assert_eq!(e.log.every, 3);
    assert_eq!(e.log.goods, vec![e.goods.index("g1_7").unwrap()]);
}
