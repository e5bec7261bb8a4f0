//! The functions an expression may call (sqrt, ln, log, exp, pow, min, max): their reserved
//! names, how many arguments each takes, and the nearest one to a misspelled name.

/// The reserved function names, in the order they are listed to users.
pub const FUNCTION_NAMES: [&str; 7] = ["sqrt", "ln", "log", "exp", "pow", "min", "max"];

/// A function an expression can call (`log` is `Ln`, the natural logarithm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    Sqrt,
    Ln,
    Exp,
    Pow,
    Min,
    Max,
}

impl Func {
    /// Whether the function accepts `got` arguments.
    pub(super) fn takes(self, got: usize) -> bool {
        match self {
            Func::Pow => got == 2,
            Func::Min | Func::Max => got >= 2,
            _ => got == 1,
        }
    }
}

/// The function called `name`, if it is one.
pub(super) fn lookup_function(name: &str) -> Option<Func> {
    Some(match name {
        "sqrt" => Func::Sqrt,
        "ln" | "log" => Func::Ln,
        "exp" => Func::Exp,
        "pow" => Func::Pow,
        "min" => Func::Min,
        "max" => Func::Max,
        _ => return None,
    })
}

/// The function names as a list for messages: "sqrt, ln, log, exp, pow, min, max".
pub(super) fn function_list() -> String {
    FUNCTION_NAMES.join(", ")
}

/// The function name nearest to `lower` (a name in lowercase) and its edit distance, if it is
/// close enough to be a likely misspelling: at most 2 edits, and at most 1 + len/3 for a name
/// of `len` bytes. Ties go to the earlier name in [`FUNCTION_NAMES`]. Names over 20 bytes get
/// no suggestion.
pub(super) fn nearest_function(lower: &str, len: usize) -> Option<(usize, &'static str)> {
    if len > 20 {
        return None;
    }
    FUNCTION_NAMES
        .iter()
        .map(|f| (strsim::levenshtein(lower, f), *f))
        .min_by_key(|&(d, _)| d)
        .filter(|&(d, _)| d <= 2 && d <= 1 + len / 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reserved_name_is_a_function() {
        for name in FUNCTION_NAMES {
            assert!(lookup_function(name).is_some(), "{name}");
        }
        assert_eq!(lookup_function("log"), Some(Func::Ln));
        assert_eq!(lookup_function("Sqrt"), None);
    }

    #[test]
    fn arity() {
        assert!(Func::Pow.takes(2) && !Func::Pow.takes(3));
        assert!(Func::Min.takes(2) && Func::Max.takes(60_000) && !Func::Min.takes(1));
        assert!(Func::Sqrt.takes(1) && !Func::Exp.takes(0) && !Func::Ln.takes(2));
    }

    #[test]
    fn suggestions() {
        let near = |name: &str| nearest_function(&name.to_ascii_lowercase(), name.len());
        assert_eq!(near("sqr"), Some((1, "sqrt")));
        assert_eq!(near("Sqrt"), Some((0, "sqrt")));
        assert_eq!(near("mx"), Some((1, "max")));
        // "mn" is one edit from both min and ln (earlier in the list): ties go to the earlier
        assert_eq!(near("mn"), Some((1, "ln")));
        assert_eq!(near("expo"), Some((1, "exp")));
        assert_eq!(near("labor"), None);
        assert_eq!(near(&"s".repeat(21)), None);
    }
}
