//! The `[sweep]` table, read by `pricegrad sweep`: checked by every command, so that a typo
//! in it is found by `validate` rather than when a sweep starts.

use crate::scenario::error::Problem;
use crate::scenario::format::ScenarioFile;
use crate::scenario::{overrides, sweep_spec};

/// Problems in the `[sweep]` table: each parameter's spec must parse and its path must be a
/// `--set` path of this scenario (checked by setting the first value on a copy).
pub fn sweep_table(file: &ScenarioFile) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(sweep) = &file.sweep else {
        return problems;
    };
    for (path, spec) in &sweep.params {
        let fail = |m: String| {
            Problem::at(
                spec.span(),
                format!("[sweep] params \"{path}\": {m}"),
                "[sweep] params maps --set paths (`pricegrad run --help` lists them) to a list \"0.1,0.2,0.5\", \"lin:A:B:N\" or \"log:A:B:N\", e.g. params = { \"market.step\" = \"log:0.05:2:8\" }",
            )
        };
        match sweep_spec::parse_spec(spec.get_ref()) {
            Err(m) => problems.push(fail(m)),
            Ok(values) => {
                let set = format!("{path}={}", values.first().map_or("", String::as_str));
                if let Err(m) = overrides::apply(&mut file.clone(), &set) {
                    problems.push(fail(m));
                }
            }
        }
    }
    if let Some(r) = &sweep.replicates {
        if r.value < 1 {
            problems.push(Problem::new(
                (&r.origin).into(),
                format!("[sweep] replicates = {} must be at least 1", r.value),
                "replicates is the number of runs (with different seeds) per grid point, e.g. replicates = 3",
            ));
        }
    }
    problems
}
