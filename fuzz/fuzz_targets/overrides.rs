//! `--set PATH=VALUE` and sweep `--param PATH=SPEC` arguments. The first byte picks a shipped
//! scenario; every following line is one argument. The arguments are applied as `--set`
//! overrides and the result validated; each is also parsed as a sweep parameter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pricegrad::scenario::sweep_spec;

#[path = "common.rs"]
mod common;

const SCENARIOS: &[(&str, &str)] = &[
    ("tupperware.toml", include_str!("../../scenarios/tupperware.toml")),
    (
        "tupperware_shock.toml",
        include_str!("../../scenarios/tupperware_shock.toml"),
    ),
    ("diamond.toml", include_str!("../../scenarios/diamond.toml")),
    ("two_finals.toml", include_str!("../../scenarios/two_finals.toml")),
    (
        "competitive_industry.toml",
        include_str!("../../scenarios/competitive_industry.toml"),
    ),
    ("copy_fanout.toml", include_str!("../../scenarios/copy_fanout.toml")),
    ("ces_economy.toml", include_str!("../../scenarios/ces_economy.toml")),
    ("labour_wage.toml", include_str!("../../scenarios/labour_wage.toml")),
    (
        "constant_returns.toml",
        include_str!("../../scenarios/constant_returns.toml"),
    ),
    ("leontief.toml", include_str!("../../scenarios/leontief.toml")),
    ("sweep_noise.toml", include_str!("../../scenarios/sweep_noise.toml")),
    (
        "sweep_stability.toml",
        include_str!("../../scenarios/sweep_stability.toml"),
    ),
];

/// `lin:A:B:N` and `log:A:B:N` accept N up to 1,000,000 and take time in proportion (seconds
/// for a million values, for a sweep that runs a million simulations): expected, but slow units
/// would crowd out everything else. Larger ranges are not parsed here.
const MAX_RANGE: u64 = 10_000;

/// N of a `lin:`/`log:` spec, or 0.
fn range_len(spec: &str) -> u64 {
    let spec = spec.trim();
    if !(spec.starts_with("lin:") || spec.starts_with("log:")) {
        return 0;
    }
    spec.rsplit(':').next().and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let (label, text) = SCENARIOS[pick as usize % SCENARIOS.len()];
    let sets: Vec<String> = rest.lines().map(str::to_string).collect();
    for s in &sets {
        if let Ok((_, spec)) = sweep_spec::split_param(s) {
            if range_len(&spec) > MAX_RANGE {
                continue;
            }
            if let Ok(values) = sweep_spec::parse_spec(&spec) {
                assert!(!values.is_empty());
            }
        }
    }
    match common::load(label, text, &sets) {
        Ok(economy) => common::check_economy(&economy),
        Err(e) => common::check_error(&e, label, text),
    }
});
