//! Shared by the scenario, overrides and chunked targets: load a scenario the way
//! `pricegrad::scenario::load_str` does, then check the error or the economy.

use pricegrad::economy::Economy;
use pricegrad::scenario::{self, InputError, Location, ScenarioFile};

/// Firms per [[firms]] entry above which the harness lowers `count` (see below).
const COUNT_CAP: i64 = 64;

/// `count = N` up to 50,000,000 is allowed and allocates memory in proportion (gigabytes at the
/// top): expected, not a bug, but it would trip libFuzzer's RSS limit on every input that finds
/// it. Valid counts above the cap are lowered; invalid ones are kept so their errors are fuzzed.
#[allow(dead_code)]
fn cap_counts(file: &mut ScenarioFile) -> bool {
    let mut capped = false;
    for f in &mut file.firms {
        if let Some(c) = &mut f.get_mut().count {
            if c.value > COUNT_CAP && c.value <= scenario::validate::MAX_FIRMS as i64 {
                c.value = COUNT_CAP;
                capped = true;
            }
        }
    }
    capped
}

/// Whether some valid `count` is above the cap.
#[allow(dead_code)] // not every target uses every helper
pub fn has_large_count(file: &ScenarioFile) -> bool {
    file.firms.iter().any(|f| {
        f.get_ref()
            .count
            .as_ref()
            .is_some_and(|c| c.value > COUNT_CAP && c.value <= scenario::validate::MAX_FIRMS as i64)
    })
}

/// `scenario::load_str`, with counts capped. When nothing needed capping, the real entry point
/// is called (and must agree with the step-by-step path).
#[allow(dead_code)]
pub fn load(label: &str, text: &str, sets: &[String]) -> Result<Economy, InputError> {
    let mut file = scenario::parse(label, text)?;
    scenario::apply_overrides(&mut file, label, text, sets)?;
    if cap_counts(&mut file) {
        // as scenario::load_whole does
        let economy = scenario::validate::validate(&file, text, None).map_err(|p| InputError::new(label, text, p))?;
        let problems = scenario::validate::sweep_table(&file);
        if !problems.is_empty() {
            return Err(InputError::new(label, text, problems));
        }
        return Ok(economy);
    }
    scenario::load_str(label, text, sets, None)
}

/// Render the error (fuzzes the diagnostic renderer) and check the project's error style:
/// every problem says what is wrong and how to fix it, and a position lies inside the file.
pub fn check_error(e: &InputError, label: &str, text: &str) {
    let rendered = e.to_string();
    assert!(rendered.starts_with("error: "), "{rendered}");
    assert!(!e.problems.is_empty());
    // the renderer shows the first 20 problems, then "... and N more problems"
    const SHOWN: usize = 20;
    if e.problems.len() > SHOWN {
        assert!(rendered.contains(&format!("... and {} more problems", e.problems.len() - SHOWN)));
    }
    for (i, p) in e.problems.iter().enumerate() {
        assert!(!p.message.trim().is_empty(), "empty message: {p:?}");
        assert!(!p.help.trim().is_empty(), "no fix hint: {p:?}");
        if let Location::Span(r) = &p.location {
            assert!(
                r.start <= r.end && r.end <= text.len(),
                "span {r:?} outside a {}-byte file: {p:?}",
                text.len()
            );
            // "'v' in the production of firm 'F' is not a good" points at v (or at the string)
            if let Some(v) = p
                .message
                .strip_prefix('\'')
                .and_then(|m| m.split_once("' in the production of firm "))
            {
                let shown = text.get(r.clone()).unwrap_or("");
                let whole_string = shown.starts_with(['"', '\'']); // when escapes hide the name
                let spelt = unescape(shown); // the name written with escapes, e.g. \u0073q for sq
                assert!(
                    whole_string || spelt.contains(v.0),
                    "points at {shown:?}, not at '{}': {p:?}",
                    v.0
                );
            }
            if i < SHOWN {
                let (line, col) = e.line_col(r.start);
                let at = format!("{label}:{line}:{col}");
                assert!(rendered.contains(&at), "no {at} in:\n{rendered}");
            }
        }
    }
}

/// `s` with TOML basic-string escapes (`\uXXXX`, `\UXXXXXXXX`, `\n`, ...) replaced by what
/// they stand for; anything that is not a whole escape is kept as written.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (len, c) = match after.chars().next() {
            Some('u') => (
                5,
                after
                    .get(1..5)
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32),
            ),
            Some('U') => (
                9,
                after
                    .get(1..9)
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32),
            ),
            Some(e) => (
                e.len_utf8(),
                match e {
                    'n' => Some('\n'),
                    't' => Some('\t'),
                    'r' => Some('\r'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    _ => None,
                },
            ),
            None => (0, None),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &after[len..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Cheap consistency checks on a validated economy.
#[allow(dead_code)]
pub fn check_economy(e: &Economy) {
    let n = e.firms.len();
    assert_eq!(e.firms.topo_order.len(), n);
    assert!(e.goods.fixed.iter().any(|&f| f));
    for g in &e.log.goods {
        assert!(*g < e.goods.len() && !e.goods.fixed[*g]);
    }
}
