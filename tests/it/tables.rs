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

/// Tens of thousands of firms (several chunks, some read while the goods are): the same
/// economy as the TOML file, and problems in different chunks all said, in file order,
/// however many chunks were read ahead of the goods.
#[test]
fn many_chunks_give_the_toml_economy_and_every_problem_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = Spec::new(4, 10_000, 2);
    both_forms(&spec, tmp.path());
    let toml = load(&tmp.path().join("economy.toml"), &[]).unwrap();
    let path = tmp.path().join("tables/scenario.toml");
    let tables = load(&path, &["firms.f4_9999.rate=0.3"]).unwrap();
    let toml_set = load(&tmp.path().join("economy.toml"), &["firms.f4_9999.rate=0.3"]).unwrap();
    assert_eq!(format!("{toml_set:?}"), format!("{tables:?}"));
    assert_ne!(
        format!("{toml:?}"),
        format!("{tables:?}"),
        "the --set reached the last chunk"
    );
    // a bad number in the first chunk and one in the last, an unknown good in the middle
    let firms = tmp.path().join("tables/firms.csv");
    let text = std::fs::read_to_string(&firms).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let bad_scale = |line: &mut String| {
        let mut cells: Vec<&str> = line.split(',').collect();
        cells[3] = "oops";
        *line = cells.join(",");
    };
    bad_scale(&mut lines[2]);
    bad_scale(&mut lines[39_000]);
    std::fs::write(&firms, lines.join("\n") + "\n").unwrap();
    let inputs = tmp.path().join("tables/inputs.csv");
    let text = std::fs::read_to_string(&inputs).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[40_000] = lines[40_000].replacen(",g", ",nogood_g", 1);
    std::fs::write(&inputs, lines.join("\n") + "\n").unwrap();
    for _ in 0..3 {
        let e = load(&path, &[]).unwrap_err().to_string();
        let first = e.find("firms.csv:3, column `scale`").expect(&e);
        let last = e.find("firms.csv:39001, column `scale`").expect(&e);
        let unknown = e.find("inputs.csv:40001, column `good`").expect(&e);
        // the rows' own problems in file order, then validation's
        assert!(first < last && last < unknown, "{e}");
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
    // the tables' SHA-256, as sha256sum gives them
    let tables = summary["provenance"]["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 3);
    for (t, (table, file)) in
        tables
            .iter()
            .zip([("goods", "goods.csv"), ("firms", "firms.csv"), ("inputs", "inputs.csv")])
    {
        use sha2::Digest;
        let sha = format!(
            "{:x}",
            sha2::Sha256::digest(std::fs::read(tmp.path().join(file)).unwrap())
        );
        assert_eq!((t["table"].as_str(), t["file"].as_str()), (Some(table), Some(file)));
        assert_eq!(t["sha256"].as_str(), Some(sha.as_str()), "{file}");
    }
    // a changed table is another run: the note says what the directory held
    std::fs::write(tmp.path().join("inputs.csv"), INPUTS.replace("0.3", "0.25")).unwrap();
    let o = pricegrad()
        .arg("run")
        .arg(&path)
        .args(["--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("other tables"), "{o:?}");
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
    // at the good's cell, not its parameter's
    assert!(e.contains("inputs.csv:3, column `good`"), "{e}");
    // a bad parameter of a known good stays at the parameter
    let e = refused(GOODS, FIRMS, Some(&INPUTS.replace("W,ore,0.5", "W,ore,1.5")));
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
fn a_firm_rows_own_problems_are_at_its_cells() {
    let with_w = |row: &str| FIRMS.replace("W,widget,,cobb_douglas,1", row);
    let cases = [
        // (firms table, inputs table, message, place)
        (
            with_w("W,widget,,,"),
            INPUTS.to_string(),
            "firm 'W' has no production",
            "firms.csv:2, column `name`",
        ),
        (
            with_w("W,widget,sqrt(labor),cobb_douglas,1"),
            INPUTS.to_string(),
            "firm 'W' has both a production expression and a family",
            "firms.csv:2, column `production`",
        ),
        (
            with_w("W,widget,,cobb_dougla,1"),
            INPUTS.to_string(),
            "'cobb_dougla' is not a production family",
            "did you mean 'cobb_douglas'?",
        ),
        (
            with_w("W,widget,,ces,1"),
            INPUTS.to_string(),
            "a ces firm needs `rho`",
            "firms.csv:2, column `family`",
        ),
        (
            with_w("W,widget,,power,1"),
            INPUTS.to_string(),
            "a power firm needs `exponent`",
            "firms.csv:2, column `family`",
        ),
        (
            with_w("W,widget,,cobb_douglas,1"),
            INPUTS.replace("W,labor,0.3", "W,labor,"),
            "the input 'labor' has no `param` (its exponent)",
            "inputs.csv:2, column `good`",
        ),
        (
            with_w("W,widget,,cobb_douglas,1"),
            INPUTS.replace("W,ore,0.5", "W,labor,0.5"),
            "firm 'W' lists the input 'labor' twice (also on line 2)",
            "inputs.csv:3, column `good`",
        ),
        (
            with_w("W,widget,,cobb_douglas,one"),
            INPUTS.to_string(),
            "'one' is not a number",
            "firms.csv:2, column `scale`",
        ),
    ];
    for (firms, inputs, message, place) in cases {
        let e = refused(GOODS, &firms, Some(&inputs));
        assert!(e.contains(message) && e.contains(place), "{message}: {e}");
    }
    // a repeated input is left out, not its firm: nothing else is wrong (W still makes widget)
    let e = refused(GOODS, FIRMS, Some(&INPUTS.replace("W,ore,0.5", "W,labor,0.5")));
    assert_eq!(e.matches("error:").count(), 1, "{e}");
    // a power firm has one input row
    let firms = "name,output,production,family,scale,exponent\nW,widget,,power,1,0.5\nS,cash,sqrt(widget),,,\nM,labor,sqrt(ore),,,\n";
    let e = refused(GOODS, firms, Some(INPUTS));
    assert!(e.contains("a power firm has one input; this one has 2"), "{e}");
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

// --- Parquet tables -----------------------------------------------------------------------

#[test]
fn parquet_tables_give_the_identical_economy() {
    for (family, inputs) in [
        (Family::CobbDouglas, 3),
        (Family::Ces, 2),
        (Family::Power, 1),
        (Family::Expression, 3),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut spec = Spec::new(3, 40, inputs);
        spec.family = family;
        spec.seed = 11;
        both_forms(&spec, tmp.path());
        let plan = generate::plan(&spec).unwrap();
        generate::write_parquet_tables(&plan, &tmp.path().join("pq")).unwrap();
        assert!(tmp.path().join("pq/inputs.parquet").exists());
        for set in [&[][..], &["goods.g0_3.endowment=2.5", "firms.f2_1.rate=0.25"][..]] {
            let toml = load(&tmp.path().join("economy.toml"), set).unwrap();
            let pq = load(&tmp.path().join("pq/scenario.toml"), set).unwrap();
            assert_eq!(format!("{toml:?}"), format!("{pq:?}"), "{family:?} {set:?}");
        }
    }
}

/// A column of a Parquet file written by hand.
enum Col<'a> {
    Text(&'a [Option<&'a str>]),
    Number(&'a [Option<f64>]),
    Whole(&'a [Option<i64>]),
}

fn write_parquet(path: &Path, columns: &[(&str, Col)]) {
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let batch = RecordBatch::try_from_iter(columns.iter().map(|(name, c)| {
        let a: ArrayRef = match c {
            Col::Text(v) => Arc::new(StringArray::from(v.to_vec())),
            Col::Number(v) => Arc::new(Float64Array::from(v.to_vec())),
            Col::Whole(v) => Arc::new(Int64Array::from(v.to_vec())),
        };
        (*name, a)
    }))
    .unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// The economy of GOODS, FIRMS and INPUTS as Parquet tables in `dir`, the goods' endowment
/// column and the inputs' good column given; `firms_extra`: one more column of the firms.
fn parquet_scenario(
    dir: &Path,
    endowment: Col,
    input_goods: &[Option<&str>],
    firms_extra: Option<(&str, Col)>,
) -> std::path::PathBuf {
    write_parquet(
        &dir.join("goods.parquet"),
        &[
            (
                "name",
                Col::Text(&[Some("labor"), Some("widget"), Some("cash"), Some("ore")]),
            ),
            ("price", Col::Number(&[Some(1.0), None, Some(1.0), None])),
            ("endowment", endowment),
        ],
    );
    let mut firms = vec![
        ("name", Col::Text(&[Some("W"), Some("S"), Some("M")])),
        ("output", Col::Text(&[Some("widget"), Some("cash"), Some("labor")])),
        (
            "production",
            Col::Text(&[None, Some("sqrt(widget)"), Some(" sqrt(ore) ")]),
        ),
        ("family", Col::Text(&[Some("cobb_douglas"), None, Some("")])),
        ("scale", Col::Whole(&[Some(1), None, None])),
    ];
    firms.extend(firms_extra);
    write_parquet(&dir.join("firms.parquet"), &firms);
    write_parquet(
        &dir.join("inputs.parquet"),
        &[
            ("firm", Col::Text(&[Some("W"), Some("W")])),
            ("good", Col::Text(input_goods)),
            ("param", Col::Number(&[Some(0.3), Some(0.5)])),
        ],
    );
    let text =
        "name = \"t\"\n[tables]\ngoods = \"goods.parquet\"\nfirms = \"firms.parquet\"\ninputs = \"inputs.parquet\"\n";
    std::fs::write(dir.join("scenario.toml"), text).unwrap();
    dir.join("scenario.toml")
}

fn validate_stderr(path: &Path) -> String {
    let out = pricegrad()
        .arg("validate")
        .arg(path)
        .assert()
        .code(2)
        .get_output()
        .clone();
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_parquet_economy_equals_its_csv_form() {
    // nulls and empty texts are empty cells, Int64 reads as a number, texts are trimmed
    let tmp = tempfile::tempdir().unwrap();
    let csv = scenario_with(tmp.path(), GOODS, FIRMS, Some(INPUTS));
    let pq_dir = tmp.path().join("pq");
    std::fs::create_dir(&pq_dir).unwrap();
    let pq = parquet_scenario(
        &pq_dir,
        Col::Number(&[None, None, None, Some(4.0)]),
        &[Some("labor"), Some("ore")],
        Some(("count", Col::Number(&[Some(1.0), None, None]))),
    );
    let (a, b) = (load(&csv, &[]).unwrap(), load(&pq, &[]).unwrap());
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn parquet_problems_name_the_table_row_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let goods = [Some("labor"), Some("ore")];
    // a text that is not a number in a number column
    let p = parquet_scenario(tmp.path(), Col::Text(&[None, None, None, Some("four")]), &goods, None);
    let e = validate_stderr(&p);
    assert!(
        e.contains("'four' is not a number") && e.contains("goods.parquet, row 4, column `endowment`"),
        "{e}"
    );
    // an unknown good in an input row, at its good cell, with a suggestion
    let p = parquet_scenario(
        tmp.path(),
        Col::Number(&[None, None, None, Some(4.0)]),
        &[Some("labor"), Some("oar")],
        None,
    );
    let e = validate_stderr(&p);
    assert!(
        e.contains("unknown good 'oar'")
            && e.contains("did you mean 'ore'?")
            && e.contains("inputs.parquet, row 2, column `good`"),
        "{e}"
    );
    // a count that is not whole
    let p = parquet_scenario(
        tmp.path(),
        Col::Number(&[None, None, None, Some(4.0)]),
        &goods,
        Some(("count", Col::Number(&[None, Some(2.5), None]))),
    );
    let e = validate_stderr(&p);
    assert!(
        e.contains("'2.5' is not a whole number") && e.contains("firms.parquet, row 2, column `count`"),
        "{e}"
    );
    // a text column stored as numbers, and an unknown column
    let p = parquet_scenario(
        tmp.path(),
        Col::Number(&[None, None, None, Some(4.0)]),
        &goods,
        Some(("rule", Col::Number(&[None, None, None]))),
    );
    let e = validate_stderr(&p);
    assert!(
        e.contains("column 'rule' of the firms table holds texts, but this file stores it as Float64")
            && e.contains("firms.parquet, column `rule`"),
        "{e}"
    );
    let p = parquet_scenario(
        tmp.path(),
        Col::Number(&[None, None, None, Some(4.0)]),
        &goods,
        Some(("rats", Col::Number(&[None, None, None]))),
    );
    let e = validate_stderr(&p);
    assert!(
        e.contains("no column 'rats'") && e.contains("did you mean 'rate'?"),
        "{e}"
    );
    // not a Parquet file
    std::fs::write(tmp.path().join("firms.parquet"), "name,output\n").unwrap();
    let e = validate_stderr(&p);
    assert!(
        e.contains("cannot read the firms table") && e.contains("as Parquet"),
        "{e}"
    );
}
