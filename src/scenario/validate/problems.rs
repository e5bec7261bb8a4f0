//! Collecting the problems of a scenario: [`Check`] gathers them in one pass, checks that
//! numbers lie in their ranges, and adds "did you mean ...?" suggestions only to the problems
//! that will be shown (deferred, and resolved later, for firms checked in parallel chunks).

use crate::economy::Names;
use crate::scenario::error::{did_you_mean, Location, Problem, MAX_SHOWN};
use crate::scenario::format::{Int, Num};
use std::ops::Range;
use toml::Spanned;

/// Collects problems while validation goes on, so one pass reports all of them.
pub(super) struct Check {
    pub(super) problems: Vec<Problem>,
    /// Per-firm checks (in parallel chunks) do not know how many problems come before
    /// theirs: suggestions are marked, and [`resolve_suggestions`] keeps the ones shown.
    pub(super) defer: bool,
}

// The range checks run for every firm, from other files (firms.rs, technology.rs): they are
// `#[inline]` so that they are inlined there, as the loading speed of large files needs.
impl Check {
    #[inline]
    pub(super) fn push(&mut self, location: Location, message: impl Into<String>, help: impl Into<String>) {
        self.problems.push(Problem::new(location, message, help));
    }

    #[inline]
    pub(super) fn at(&mut self, span: Range<usize>, message: impl Into<String>, help: impl Into<String>) {
        self.push(Location::Span(span), message, help);
    }

    /// "did you mean 'x'? " for the problems that will be shown. A suggestion compares the
    /// name with every candidate; doing that for every one of thousands of problems (a good
    /// renamed in a generated file) took minutes.
    pub(super) fn suggest<'a>(&self, name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
        if self.defer {
            format!("{SHOWN}{}{SHOWN}", did_you_mean(name, candidates))
        } else if self.problems.len() < MAX_SHOWN {
            did_you_mean(name, candidates)
        } else {
            String::new()
        }
    }

    /// [`Check::suggest`] among the goods (made later, and only if shown, when deferred).
    pub(super) fn suggest_good(&self, name: &str, goods: &Names) -> String {
        if self.defer {
            format!("{GOOD}{name}{GOOD}")
        } else {
            self.suggest(name, goods)
        }
    }

    /// A number that must be finite and within [lo, hi] (open ends per flags).
    #[inline]
    pub(super) fn num(&mut self, n: &Num, what: &str, lo: f64, lo_open: bool, hi: f64, help: &str) -> f64 {
        self.num_with(n, || what.to_string(), lo, lo_open, hi, help)
    }

    /// [`Check::num`] with the name made only when it is needed (per-firm checks).
    #[inline]
    pub(super) fn num_with(
        &mut self,
        n: &Num,
        what: impl FnOnce() -> String,
        lo: f64,
        lo_open: bool,
        hi: f64,
        help: &str,
    ) -> f64 {
        let v = n.value;
        let bad = !v.is_finite() || (lo_open && v <= lo) || (!lo_open && v < lo) || v > hi;
        if bad {
            // bounds of 1e300 and more only keep numbers finite: say "at least", not the bound
            let range = match (lo_open, hi < 1e300) {
                (true, false) => format!("greater than {lo}"),
                (false, false) => format!("at least {lo}"),
                (true, true) => format!("greater than {lo} and at most {hi}"),
                (false, true) => format!("between {lo} and {hi}"),
            };
            let shown = if v.is_nan() { "nan".to_string() } else { format!("{v}") };
            let what = what();
            self.push(
                (&n.origin).into(),
                format!("{what} must be a finite number {range}, found {shown}"),
                help,
            );
        }
        v
    }

    #[inline]
    pub(super) fn int(&mut self, n: &Int, what: &str, lo: i64, hi: i64, help: &str) -> i64 {
        self.int_with(n, || what.to_string(), lo, hi, help)
    }

    #[inline]
    pub(super) fn int_with(&mut self, n: &Int, what: impl FnOnce() -> String, lo: i64, hi: i64, help: &str) -> i64 {
        if n.value < lo || n.value > hi {
            let what = what();
            self.push(
                (&n.origin).into(),
                format!("{what} must be a whole number between {lo} and {hi}, found {}", n.value),
                help,
            );
        }
        n.value.clamp(lo, hi)
    }
}

/// Deferred suggestions in help texts: SHOWN wraps a ready suggestion, GOOD a name to look
/// up among the goods.
const SHOWN: char = '\u{1}';
const GOOD: char = '\u{2}';

/// Replace the deferred suggestions of problems in their final order: problem i keeps its
/// suggestion when i < MAX_SHOWN, as [`Check::suggest`] decides for the others.
pub(super) fn resolve_suggestions(problems: &mut [Problem], first: usize, goods: &Names) {
    for (i, p) in problems.iter_mut().enumerate() {
        let i = first + i;
        while let Some(a) = p.help.find([SHOWN, GOOD]) {
            let mark = p.help[a..].chars().next().expect("found");
            let Some(len) = p.help[a + 1..].find(mark) else {
                break;
            };
            let inner = &p.help[a + 1..a + 1 + len];
            let text = match (i < MAX_SHOWN, mark == GOOD) {
                (false, _) => String::new(),
                (true, false) => inner.to_string(),
                (true, true) => did_you_mean(inner, goods),
            };
            p.help.replace_range(a..a + 2 + len, &text);
        }
    }
}

pub(super) fn span_of<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

pub(super) fn list<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: ExactSizeIterator,
{
    const MAX: usize = 12;
    let names = names.into_iter();
    let n = names.len();
    let mut s = names.take(MAX).map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    if n > MAX {
        s.push_str(&format!(" and {} more", n - MAX));
    }
    s
}
