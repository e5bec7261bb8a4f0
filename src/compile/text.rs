//! Numbers and expressions as text for people: the shortest form of a number, an expression
//! on one line, a long one shortened.

/// A number as expression text: shortest round-trip form, "2" rather than "2.0".
pub(super) fn number(c: f64) -> String {
    let s = format!("{c:?}");
    match s.strip_suffix(".0") {
        Some(t) => t.to_string(),
        None => s,
    }
}

/// `s`, cut to its first `max` characters and "..." if it is longer.
pub(super) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}...")
    }
}

/// Collapse whitespace (the expression may contain newlines) for one-line comments.
pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lose_a_trailing_point_zero_only() {
        assert_eq!(number(2.0), "2");
        assert_eq!(number(-0.5), "-0.5");
        assert_eq!(number(1e300), "1e300");
        assert_eq!(number(f64::INFINITY), "inf");
    }

    #[test]
    fn one_line_and_clip() {
        assert_eq!(one_line("sqrt(x)\n  + y"), "sqrt(x) + y");
        assert_eq!(clip("abcdef", 3), "abc...");
        assert_eq!(clip("abc", 3), "abc");
    }
}
