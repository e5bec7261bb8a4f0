//! The reference solver's progress lines, for a caller who wants to follow it
//! ([`super::solve_traced`], [`super::envelope_for_traced`]): the library never prints, it
//! hands each line to the caller's sink. A debugging aid for economies the solver struggles
//! with; the lines are for people to read, not a format. Tracing never changes the answer:
//! what only a line needs is computed only when tracing is on, and nothing else depends on it.

/// Where the solver's progress lines go: nowhere, or to the caller's sink.
pub(super) struct Trace<'a>(Option<&'a mut dyn FnMut(&str)>);

impl<'a> Trace<'a> {
    /// No lines.
    pub(super) fn off() -> Self {
        Trace(None)
    }

    /// Every line to `sink`.
    pub(super) fn to(sink: &'a mut dyn FnMut(&str)) -> Self {
        Trace(Some(sink))
    }

    /// Whether lines are wanted.
    pub(super) fn on(&self) -> bool {
        self.0.is_some()
    }

    /// One line, made only when lines are wanted.
    pub(super) fn line(&mut self, text: impl FnOnce() -> String) {
        if let Some(sink) = self.0.as_mut() {
            sink(&text());
        }
    }
}

/// Runs `work` with a trace that keeps its lines (when `on`) and returns them with its answer:
/// for work on another thread, whose lines the caller passes on in a fixed order afterwards.
pub(super) fn kept<R>(on: bool, work: impl FnOnce(&mut Trace<'_>) -> R) -> (R, Vec<String>) {
    let mut lines = Vec::new();
    let answer = if on {
        let mut keep = |line: &str| lines.push(line.to_owned());
        work(&mut Trace::to(&mut keep))
    } else {
        work(&mut Trace::off())
    };
    (answer, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_sink_only_when_on() {
        let mut made = 0;
        Trace::off().line(|| {
            made += 1;
            "never".to_owned()
        });
        assert_eq!(made, 0, "an off trace does not build its lines");
        let mut got = Vec::new();
        let mut sink = |l: &str| got.push(l.to_owned());
        let mut t = Trace::to(&mut sink);
        assert!(t.on());
        t.line(|| "one".to_owned());
        t.line(|| "two".to_owned());
        assert_eq!(got, ["one", "two"]);
    }

    #[test]
    fn kept_returns_the_lines_of_the_work() {
        let work = |t: &mut Trace<'_>| {
            t.line(|| "a".to_owned());
            7
        };
        assert_eq!(kept(true, work), (7, vec!["a".to_owned()]));
        assert_eq!(kept(false, work), (7, Vec::new()));
    }
}
