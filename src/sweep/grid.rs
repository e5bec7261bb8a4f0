//! The grid of a sweep: the swept parameters and their values, and the points (every
//! combination, numbered row-major: the first parameter varies slowest) with their values.

use serde::{Deserialize, Serialize};

/// One swept parameter: its `--set` path, the spec as written, and its values (as strings,
/// exactly as they are applied and written to `sweep.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub path: String,
    pub spec: String,
    pub values: Vec<String>,
}

/// The grid: its parameters (the first varies slowest).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub params: Vec<Param>,
}

impl Grid {
    /// Number of points (product of the value counts).
    pub fn points(&self) -> u64 {
        self.params.iter().map(|p| p.values.len() as u64).product()
    }

    /// The value index of every parameter at `point` (row-major: the last parameter varies fastest).
    pub fn indices(&self, point: u64) -> Vec<usize> {
        let mut rest = point;
        let mut idx = vec![0; self.params.len()];
        for (i, p) in self.params.iter().enumerate().rev() {
            let n = p.values.len() as u64;
            idx[i] = (rest % n) as usize;
            rest /= n;
        }
        idx
    }

    /// The parameter values at `point`.
    pub fn values(&self, point: u64) -> Vec<&str> {
        self.indices(point)
            .into_iter()
            .zip(&self.params)
            .map(|(i, p)| p.values[i].as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_row_major() {
        let g = Grid {
            params: vec![
                Param {
                    path: "a".into(),
                    spec: String::new(),
                    values: vec!["1".into(), "2".into()],
                },
                Param {
                    path: "b".into(),
                    spec: String::new(),
                    values: vec!["x".into(), "y".into(), "z".into()],
                },
            ],
        };
        assert_eq!(g.points(), 6);
        assert_eq!(g.values(0), ["1", "x"]);
        assert_eq!(g.values(4), ["2", "y"]);
        assert_eq!(g.values(5), ["2", "z"]);
    }
}
