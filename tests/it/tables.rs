//! Economies as tables (`[tables]`, `generate --format tables`): the same economy as the TOML
//! form, problems placed at the table's file, line and column, `--set` on table rows.

use crate::common::pricegrad;
use pricegrad::generate::{self, Family, Spec};
use pricegrad::scenario;
use std::path::Path;

/// Write `spec`'s economy in both forms under `dir`: `dir/economy.toml` and `dir/tables/`.
fn both_forms(spec: &Spec, dir: &Path) {
    let plan = generate::plan(spec).unwrap();
    let mut text = Vec::new();
    generate::write(&plan, &mut text).unwrap();
    std::fs::write(dir.join("economy.toml"), text).unwrap();
    generate::write_tables(&plan, &dir.join("tables")).unwrap();
}

fn load(path: &Path, sets: &[&str]) -> Result<pricegrad::economy::Economy, scenario::InputError> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    scenario::load(Some(path), &sets, None).map(|(e, _, _)| e)
}

#[test]
fn both_forms_give_the_identical_economy() {
    for (family, inputs) in [
        (Family::CobbDouglas, 3),
        (Family::Ces, 2),
        (Family::Power, 1),
        (Family::Expression, 3),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut spec = Spec::new(3, 40, inputs);
        spec.family = family;
        spec.seed = 9;
        both_forms(&spec, tmp.path());
        let toml = load(&tmp.path().join("economy.toml"), &[]).unwrap();
        let tables = load(&tmp.path().join("tables/scenario.toml"), &[]).unwrap();
        // every field, every bit
        assert_eq!(format!("{toml:?}"), format!("{tables:?}"), "{family:?}");
        // and overrides reach the rows
        let set = ["goods.g0_3.endowment=2.5", "firms.f2_1.rate=0.25"];
        let toml = load(&tmp.path().join("economy.toml"), &set).unwrap();
        let tables = load(&tmp.path().join("tables/scenario.toml"), &set).unwrap();
        assert_eq!(format!("{toml:?}"), format!("{tables:?}"), "{family:?} with --set");
        assert_eq!(tables.goods.endowment[tables.goods.index("g0_3").unwrap()], 2.5);
    }
}

/// A table scenario in `dir` with the given tables (an inputs table when `inputs` is given).
fn scenario_with(dir: &Path, goods: &str, firms: &str, inputs: Option<&str>) -> std::path::PathBuf {
    std::fs::write(dir.join("goods.csv"), goods).unwrap();
    std::fs::write(dir.join("firms.csv"), firms).unwrap();
    let mut text = String::from("name = \"t\"\n[tables]\ngoods = \"goods.csv\"\nfirms = \"firms.csv\"\n");
    if let Some(i) = inputs {
        std::fs::write(dir.join("inputs.csv"), i).unwrap();
        text.push_str("inputs = \"inputs.csv\"\n");
    }
    std::fs::write(dir.join("scenario.toml"), text).unwrap();
    dir.join("scenario.toml")
}

const GOODS: &str = "name,price,endowment\nlabor,1,\nwidget,,\ncash,1,\nore,,4\n";
const FIRMS: &str =
    "name,output,production,family,scale\nW,widget,,cobb_douglas,1\nS,cash,sqrt(widget),,\nM,labor,sqrt(ore),,\n";
const INPUTS: &str = "firm,good,param\nW,labor,0.3\nW,ore,0.5\n";

#[test]
fn a_small_table_economy_runs_and_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario_with(tmp.path(), GOODS, FIRMS, Some(INPUTS));
    let out = tmp.path().join("out");
    pricegrad()
        .arg("run")
        .arg(&path)
        .args(["--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["pass"], true);
    let why = summary["provenance"]["effective_scenario"].as_str().unwrap();
    assert!(why.starts_with("not written: the economy is in the tables"), "{why}");
    assert!(!out.join("scenario.toml").exists());
}

/// The error output of `pricegrad validate` on a table scenario.
fn refused(goods: &str, firms: &str, inputs: Option<&str>) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario_with(tmp.path(), goods, firms, inputs);
    let out = pricegrad()
        .arg("validate")
        .arg(&path)
        .assert()
        .code(2)
        .get_output()
        .clone();
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn problems_name_the_table_line_and_column() {
    // a number that is not one
    let e = refused(&GOODS.replace("ore,,4", "ore,,four"), FIRMS, Some(INPUTS));
    assert!(
        e.contains("'four' is not a number") && e.contains("goods.csv:5, column `endowment`"),
        "{e}"
    );
    // an unknown good in an input row, with a suggestion
    let e = refused(GOODS, FIRMS, Some(&INPUTS.replace("W,ore", "W,oar")));
    assert!(
        e.contains("unknown good 'oar'") && e.contains("did you mean 'ore'?"),
        "{e}"
    );
    assert!(e.contains("inputs.csv:3, column `param`"), "{e}");
    // an unknown column, with a suggestion
    let e = refused(&GOODS.replace("endowment", "endowmnet"), FIRMS, Some(INPUTS));
    assert!(
        e.contains("no column 'endowmnet'") && e.contains("did you mean 'endowment'?"),
        "{e}"
    );
    assert!(e.contains("goods.csv:1, column `endowmnet`"), "{e}");
    // an invalid production: not concave
    let e = refused(GOODS, &FIRMS.replace("sqrt(widget)", "widget^2"), Some(INPUTS));
    assert!(
        e.contains("not concave") && e.contains("firms.csv:3, column `production`"),
        "{e}"
    );
    // the inputs of a firm out of place
    let e = refused(GOODS, FIRMS, Some(&format!("{INPUTS}X,ore,0.5\n")));
    assert!(
        e.contains("the inputs of firm 'X'") && e.contains("inputs.csv:4, column `firm`"),
        "{e}"
    );
    // a missing table file
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario_with(tmp.path(), GOODS, FIRMS, Some(INPUTS));
    std::fs::remove_file(tmp.path().join("firms.csv")).unwrap();
    let out = pricegrad()
        .arg("validate")
        .arg(&path)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let e = String::from_utf8(out.stderr).unwrap();
    assert!(
        e.contains("cannot read the firms table") && e.contains("scenario.toml:4:9"),
        "{e}"
    );
}

#[test]
fn a_set_naming_no_row_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario_with(tmp.path(), GOODS, FIRMS, Some(INPUTS));
    let e = load(&path, &["goods.oar.endowment=2"]).unwrap_err().to_string();
    assert!(e.contains("no good 'oar'") && e.contains("did you mean 'ore'?"), "{e}");
    let e = load(&path, &["firms.Q.rate=0.2"]).unwrap_err().to_string();
    assert!(e.contains("no firm 'Q'"), "{e}");
}
