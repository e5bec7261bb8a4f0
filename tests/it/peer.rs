//! The numpy peer (`benches/peers/tick.py`) computes the same tick as the engine: after 10
//! ticks every price, supply, demand, plan and output agrees to 1e-12 relative, on a
//! generated Cobb-Douglas economy and on a hand-written one that uses the other features the
//! peer supports (joint outputs, several producers of a good, a fixed-price input, replicas,
//! productivity, a per-firm rate, an initial price, a free good, firms with 1 to 3 inputs).
//!
//! Needs python3 (3.11+, for tomllib) with numpy. Without them the test prints a notice and
//! passes, except when the environment variable CI is set: then it fails.

use crate::common::generated_text;
use pricegrad::generate::Family;
use pricegrad::scenario;
use pricegrad::sim::engine::Engine;
use std::path::{Path, PathBuf};
use std::process::Command;

const TICKS: u64 = 10;
const RTOL: &str = "1e-12";

const MIXED: &str = r#"
name = "mixed"
[goods.ore]
endowment = 3.0
[goods.coal]
endowment = 2.0
initial_price = 0.7
[goods.labour]
price = 0.4
[goods.steel]
[goods.slag]
[goods.tools]
[goods.scrap]
endowment = 1.0
[goods.dust]
endowment = 0.5
[goods.widgets]
price = 1.0
[goods.gadgets]
price = 2.5

[market]
step = 0.3

[agents]
rate = 0.4

[[firms]]
name = "smelter"
outputs = { steel = 1.0, slag = 0.25 }
production = { cobb_douglas = { scale = 1.5, exponents = { ore = 0.4, coal = 0.3, labour = 0.2 } } }
count = 3

[[firms]]
name = "minimill"
output = "steel"
production = { cobb_douglas = { exponents = { scrap = 0.6 } } }
productivity = 1.3
rate = 0.2

[[firms]]
name = "toolmaker"
output = "tools"
production = { cobb_douglas = { scale = 2.0, exponents = { steel = 0.5, slag = 0.1, labour = 0.3 } } }
count = 2

[[firms]]
name = "widgets"
output = "widgets"
production = { cobb_douglas = { exponents = { tools = 0.5, steel = 0.3 } } }

[[firms]]
name = "gadgets"
output = "gadgets"
production = { cobb_douglas = { scale = 0.8, exponents = { tools = 0.7 } } }
count = 4
productivity = 0.9
"#;

fn peer_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/tick.py")
}

/// Whether python3 with numpy and tomllib is here; without it, fail under CI, else skip.
fn have_numpy() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import numpy, tomllib"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but python3 (3.11+) with numpy is missing: the numpy peer test must run in CI (.ci/run installs numpy)");
        }
        eprintln!(
            "NOTICE: skipping the numpy peer test: python3 (3.11+) with numpy not found (python3 -m pip install numpy)"
        );
    }
    ok
}

/// The engine's state after `TICKS` ticks, as `examples/tick_bench.rs --dump` writes it.
fn engine_state(label: &str, text: &str) -> serde_json::Value {
    let economy = scenario::load_str(label, text, &[], None).expect("valid scenario");
    let mut engine = Engine::new(economy);
    for _ in 0..TICKS {
        let step = engine.step();
        assert!(step.diverged.is_none(), "{label}: {:?}", step.diverged);
        engine.finish_tick(&step);
    }
    serde_json::json!({
        "ticks": TICKS,
        "goods": engine.economy.goods.name,
        "prices": engine.prices,
        "supply": engine.supply,
        "demand": engine.demand,
        "x": engine.x,
        "y": engine.y,
    })
}

/// Run the peer's check of `text` against `state`; its exit status and report.
fn peer_check(dir: &Path, name: &str, text: &str, state: &serde_json::Value) -> (bool, String) {
    let file = dir.join(format!("{name}.toml"));
    let json = dir.join(format!("{name}.json"));
    std::fs::write(&file, text).unwrap();
    std::fs::write(&json, serde_json::to_vec(state).unwrap()).unwrap();
    let out = Command::new("python3")
        .arg(peer_script())
        .arg(&file)
        .arg("--check")
        .arg(&json)
        .args(["--rtol", RTOL])
        .output()
        .expect("run python3");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

#[test]
fn numpy_peer_matches_the_engine_after_10_ticks() {
    if !have_numpy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("generated", generated_text(4, 60, 3, 3, Family::CobbDouglas)),
        ("mixed", MIXED.to_string()),
    ] {
        let state = engine_state(name, &text);
        let (ok, report) = peer_check(dir.path(), name, &text, &state);
        eprintln!("--- {name} ---\n{report}");
        assert!(ok, "{name}: numpy peer differs from the engine:\n{report}");
        assert!(report.contains("PASS"), "{report}");
    }
}

#[test]
fn numpy_peer_check_detects_a_difference() {
    if !have_numpy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = generated_text(4, 60, 3, 3, Family::CobbDouglas);
    let mut state = engine_state("generated", &text);
    // one plan off by 1e-10 relative: far above the tolerance, far below anything visible
    let x = &mut state["x"][17];
    *x = serde_json::json!(x.as_f64().unwrap() * (1.0 + 1e-10));
    let (ok, report) = peer_check(dir.path(), "perturbed", &text, &state);
    assert!(!ok, "a 1e-10 difference in one plan went unnoticed:\n{report}");
    assert!(report.contains("plans") && report.contains("FAIL"), "{report}");
}
