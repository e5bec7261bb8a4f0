//! `pricegrad compile`: the market of a compiled expression finds its gradient. Every
//! expected derivative here is worked out by hand, not by the library.

use crate::common::pricegrad;
use pricegrad::compile::{compile, Compiled, Options};
use pricegrad::run::{self, Report, Require};
use pricegrad::scenario;
use std::sync::atomic::AtomicBool;

fn point(at: &[(&str, f64)]) -> Vec<(String, f64)> {
    at.iter().map(|(n, v)| (n.to_string(), *v)).collect()
}

fn compiled(expr: &str, at: &[(&str, f64)]) -> Compiled {
    compile(expr, &point(at), &Options::default()).unwrap_or_else(|e| panic!("{expr} should compile:\n{e}"))
}

fn simulate(c: &Compiled) -> Report {
    let economy = scenario::load_str("<compiled>", &c.toml, &[], None).expect("a compiled scenario validates");
    run::execute(economy, &mut run::Discard, &mut |_| {}, &AtomicBool::new(false)).unwrap()
}

/// Compile, run with the file's own settings, and compare each input's converged price with
/// the derivative computed by hand.
#[track_caller]
fn check_gradient(expr: &str, at: &[(&str, f64)], by_hand: &[(&str, f64)]) -> (Compiled, Report) {
    check_gradient_requiring(expr, at, by_hand, Require::All)
}

/// As [`check_gradient`], judging the run's own checks under `require`.
#[track_caller]
fn check_gradient_requiring(
    expr: &str,
    at: &[(&str, f64)],
    by_hand: &[(&str, f64)],
    require: Require,
) -> (Compiled, Report) {
    let c = compiled(expr, at);
    let mut report = simulate(&c);
    report.set_require(require);
    assert!(
        report.converged_at.is_some(),
        "{expr}: the market did not converge: {}\n{}",
        report.outcome_detail,
        c.toml
    );
    assert!(report.pass, "{expr}: the run's own checks failed: {report:#?}");
    for (name, d) in by_hand {
        let good = report.goods.get(name).expect("input good");
        let err = (good.price - d).abs() / d.abs();
        assert!(
            err <= 1e-6,
            "{expr}: price of {name} = {} but d/d{name} = {d} (relative error {err:.2e})",
            good.price
        );
        // the derivative written into the file's comments (automatic differentiation) agrees
        let (_, ad) = c.gradient.iter().find(|(n, _)| n == name).unwrap();
        assert!((ad - d).abs() <= 1e-12 * d.abs(), "{expr}: AD {ad} vs by hand {d}");
    }
    (c, report)
}

#[test]
fn the_essays_function_gives_one_twenty_fourth() {
    // f(x) = ln(1 - 1/(sqrt(x) + 1)), f'(x) = 1/(2 x (sqrt(x) + 1)) = 1/(2*4*3) at x = 4
    let (c, report) = check_gradient("ln(1 - 1/(sqrt(x) + 1))", &[("x", 4.0)], &[("x", 1.0 / 24.0)]);
    assert_eq!(c.copiers, 0);
    // the essay's three firms, and its prices: ethylene 1/6, polyethylene 3/2
    assert_eq!(c.operations, 3, "{}", c.toml);
    let price = |name: &str| report.goods.get(name).unwrap().price;
    assert!((price("v1") - 1.0 / 6.0).abs() < 1e-7, "{}", c.toml);
    assert!((price("v2") - 1.5).abs() < 1e-6, "{}", c.toml);
}

#[test]
fn a_value_used_twice_goes_through_a_copier() {
    // f = sqrt(x) + ln(1 + x): f' = 1/(2 sqrt x) + 1/(1 + x) = 1/4 + 1/5 at x = 4
    let (c, report) = check_gradient("sqrt(x) + ln(1 + x)", &[("x", 4.0)], &[("x", 0.45)]);
    assert_eq!(c.copiers, 1, "{}", c.toml);
    assert!(c.toml.contains("outputs = { x_1 = 1.0, x_2 = 1.0 }"), "{}", c.toml);
    // the copies' prices are the two uses' derivatives; the input's is their sum
    let price = |name: &str| report.goods.get(name).unwrap().price;
    assert!((price("x_1") - 0.25).abs() < 1e-7);
    assert!((price("x_2") - 0.2).abs() < 1e-7);
}

#[test]
fn two_inputs_one_of_them_shared() {
    // f = sqrt(x) + sqrt(x + y) at x = 4, y = 5:
    // df/dx = 1/(2*2) + 1/(2*3) = 5/12, df/dy = 1/6
    let (c, _) = check_gradient(
        "sqrt(x) + sqrt(x + y)",
        &[("x", 4.0), ("y", 5.0)],
        &[("x", 5.0 / 12.0), ("y", 1.0 / 6.0)],
    );
    assert_eq!(c.copiers, 1);
}

#[test]
fn cobb_douglas_product() {
    // f = x^0.3 y^0.6: df/dx = 0.3 x^-0.7 y^0.6, df/dy = 0.6 x^0.3 y^-0.4 at x = 2, y = 3
    let (x, y) = (2.0f64, 3.0f64);
    check_gradient(
        "x^0.3 * y^0.6",
        &[("x", x), ("y", y)],
        &[
            ("x", 0.3 * x.powf(-0.7) * y.powf(0.6)),
            ("y", 0.6 * x.powf(0.3) * y.powf(-0.4)),
        ],
    );
}

#[test]
fn constant_multiples_and_a_three_way_sum() {
    // f = 3 sqrt(x) + ln(x + y + z) at (1, 2, 3): df/dx = 3/2 + 1/6, df/dy = df/dz = 1/6
    check_gradient(
        "3*sqrt(x) + ln(x + y + z)",
        &[("x", 1.0), ("y", 2.0), ("z", 3.0)],
        &[("x", 1.5 + 1.0 / 6.0), ("y", 1.0 / 6.0), ("z", 1.0 / 6.0)],
    );
}

#[test]
fn logs_and_a_geometric_mean() {
    // f = ln x + ln y + sqrt(x y) at (2, 5):
    // df/dx = 1/x + sqrt(y)/(2 sqrt(x)), df/dy = 1/y + sqrt(x)/(2 sqrt(y))
    let (x, y) = (2.0f64, 5.0f64);
    check_gradient(
        "ln(x) + ln(y) + sqrt(x*y)",
        &[("x", x), ("y", y)],
        &[
            ("x", 1.0 / x + y.sqrt() / (2.0 * x.sqrt())),
            ("y", 1.0 / y + x.sqrt() / (2.0 * y.sqrt())),
        ],
    );
}

#[test]
fn min_away_from_its_kink() {
    // f = min(2 sqrt(x), 5) + ln(1 + y) at (1, 3): the min is 2 sqrt(x), so df/dx = 1/sqrt(x)
    // = 1, df/dy = 1/(1 + y) = 1/4
    // The reference solver takes no min/max (not smooth): the run passes on the adjoint check
    // alone, and says so, and fails when every check is required.
    let (_, report) = check_gradient_requiring(
        "min(2*sqrt(x), 5) + ln(1 + y)",
        &[("x", 1.0), ("y", 3.0)],
        &[("x", 1.0), ("y", 0.25)],
        Require::Adjoint,
    );
    let reference = report.check("reference").unwrap();
    assert!(!reference.ran);
    assert!(
        reference.reason.as_deref().unwrap().contains("min or max"),
        "{reference:?}"
    );
    assert!(report.check("adjoint").unwrap().ran);
    let mut strict = report.clone();
    strict.set_require(Require::All);
    assert!(!strict.pass);
}

#[test]
fn decreasing_operations_merge_into_an_increasing_firm() {
    // 1/v decreases, 1 - 1/v does not: they are one firm (with the linear v + 1)
    let c = compiled("ln(1 - 1/(sqrt(x) + 1))", &[("x", 4.0)]);
    assert!(c.toml.contains("production = \"sqrt(x)\""), "{}", c.toml);
    assert!(c.toml.contains("production = \"1 - 1/(v1 + 1)\""), "{}", c.toml);
    assert!(c.toml.contains("production = \"ln(v2)\""), "{}", c.toml);
}

#[test]
fn linear_operations_join_their_user() {
    let c = compiled("sqrt(x) + ln(1 + x) + 2*sqrt(y)", &[("x", 4.0), ("y", 9.0)]);
    assert!(c.toml.contains("production = \"ln(1 + x_2)\""), "{}", c.toml);
    // the sum and the constant multiple are one firm: the result
    assert!(c.toml.contains("production = \"v1 + v2 + 2*v3\""), "{}", c.toml);
    // unless the user is not well-behaved with it: ln(x - 1) is not defined for x < 1
    let c = compiled("ln(x - 1)", &[("x", 3.0)]);
    assert!(c.toml.contains("production = \"x - 1\""), "{}", c.toml);
    assert!(c.toml.contains("production = \"ln(v1)\""), "{}", c.toml);
}

#[test]
fn a_long_sum_converges() {
    // f = sum of sqrt(x_i), i = 1..12, at x_i = i: df/dx_i = 1/(2 sqrt(i))
    let terms: Vec<String> = (1..=12).map(|i| format!("sqrt(x{i})")).collect();
    let at: Vec<(String, f64)> = (1..=12).map(|i| (format!("x{i}"), i as f64)).collect();
    let at: Vec<(&str, f64)> = at.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let by_hand: Vec<(String, f64)> = (1..=12).map(|i| (format!("x{i}"), 0.5 / (i as f64).sqrt())).collect();
    let by_hand: Vec<(&str, f64)> = by_hand.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    check_gradient(&terms.join(" + "), &at, &by_hand);
}

#[test]
fn same_input_same_file() {
    let a = compiled("sqrt(x) + sqrt(x + y)", &[("x", 4.0), ("y", 5.0)]);
    let b = compiled("sqrt(x) + sqrt(x + y)", &[("x", 4.0), ("y", 5.0)]);
    assert_eq!(a.toml, b.toml);
}

/// `pricegrad compile ...`: exit code and standard error.
fn compile_cli(expr: &str, at: &[&str]) -> (i32, String, String) {
    let mut cmd = pricegrad();
    cmd.arg("compile").arg(expr);
    for a in at {
        cmd.arg("--at").arg(a);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn rejected(expr: &str, at: &[&str], words: &[&str]) {
    let (code, stdout, stderr) = compile_cli(expr, at);
    assert_eq!(code, 2, "{expr} must be rejected as bad input; stderr:\n{stderr}");
    assert!(stdout.is_empty(), "nothing is written on rejection:\n{stdout}");
    assert!(stderr.contains("help:"), "the message says how to fix it:\n{stderr}");
    for w in words {
        assert!(stderr.contains(w), "{expr}: expected {w:?} in:\n{stderr}");
    }
}

#[test]
fn non_concave_or_decreasing_operations_are_rejected_by_name() {
    rejected(
        "x*y",
        &["x=1", "y=2"],
        &[
            "x*y: a product of two goods is not concave",
            "can only compile concave, non-decreasing",
        ],
    );
    rejected("exp(x)", &["x=1"], &["exp(x)", "convex"]);
    rejected("-x", &["x=1"], &["-x", "decreases"]);
    rejected("x^2 + sqrt(x)", &["x=1"], &["x^2", "convex"]);
    rejected("max(x, y)", &["x=1", "y=2"], &["max(x, y)", "convex"]);
    rejected("x - y", &["x=3", "y=1"], &["x - y", "decreases as y grows"]);
    // merging with its user does not help: the first bad operation is named
    rejected("ln(1/x)", &["x=2"], &["1/x", "decreases", "ln(1/x)"]);
    // outside the domain at the point
    rejected("sqrt(ln(x))", &["x=0.5"], &["sqrt(ln(x))", "not a finite number"]);
}

#[test]
fn bad_points_are_rejected() {
    rejected("sqrt(x)", &["x=-1"], &["x", "positive"]);
    rejected("sqrt(x)", &[], &["no value for x"]);
    rejected("sqrt(x)", &["x=1", "y=2"], &["no input named y"]);
    rejected("min(x, 1) + sqrt(x)", &["x=1"], &["min(x, 1)", "kink"]);
    rejected("min(x, 2*y)", &["x=1", "y=3"], &["does not depend on the input y"]);
    // y's copy feeding the inactive side of the min would have price 0
    rejected(
        "min(x, 2*y) + sqrt(y)",
        &["x=1", "y=3"],
        &["does not depend on the input y through its use in min(x, 2*y)"],
    );
    rejected("sqrt(x +", &["x=1"], &["in the expression"]);
    let (code, _, stderr) = compile_cli("sqrt(x)", &["x"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn the_binary_writes_a_file_that_run_checks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("essay.toml");
    let out = pricegrad()
        .args(["compile", "ln(1 - 1/(sqrt(x) + 1))", "--at", "x=4", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0.0416666"), "{stdout}");
    let check = pricegrad().arg("check").arg(&file).output().unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // without --out the scenario goes to standard output
    let (code, stdout, _) = compile_cli("sqrt(x)", &["x=4"]);
    assert_eq!(code, 0);
    scenario::load_str("<stdout>", &stdout, &[], None).expect("valid scenario on stdout");
}
