//! The points of a sweep, from a grid (`--param`, `[sweep] params`) or a design table
//! (`--design`): how many there are, the swept `--set` paths, and each point's values. Every
//! other part of a sweep (preparing, running, the journal, the manifest, merge) sees points only
//! through this, so that a grid and a design run, resume, shard and merge alike.

use super::{Design, Grid};

/// The points of a sweep, numbered from 0.
#[derive(Debug, Clone, PartialEq)]
pub enum Points {
    /// Every combination of the parameters' values (row-major).
    Grid(Grid),
    /// One point per row of a design table, in the file's order.
    Design(Design),
}

impl Points {
    /// Number of points.
    pub fn count(&self) -> u64 {
        match self {
            Points::Grid(g) => g.points(),
            Points::Design(d) => d.points(),
        }
    }

    /// The swept `--set` paths: the parameter columns of `sweep.csv`, in order.
    pub fn paths(&self) -> Vec<String> {
        match self {
            Points::Grid(g) => g.params.iter().map(|p| p.path.clone()).collect(),
            Points::Design(d) => d.columns.clone(),
        }
    }

    /// The values of the swept paths at `point`, in the order of [`Points::paths`].
    pub fn values(&self, point: u64) -> Vec<&str> {
        match self {
            Points::Grid(g) => g.values(point),
            Points::Design(d) => d.values(point),
        }
    }

    /// The `PATH=VALUE` assignments (`--set`s) of `point`.
    pub fn assignments(&self, point: u64) -> Vec<String> {
        self.paths()
            .iter()
            .zip(self.values(point))
            .map(|(p, v)| format!("{p}={v}"))
            .collect()
    }

    /// `market.step=0.5, agents.rate=0.1` for messages.
    pub fn describe(&self, point: u64) -> String {
        self.assignments(point).join(", ")
    }

    /// What is swept, for the summary line: `market.step (3) x agents.rate (2)`, or
    /// `design.csv (market.step, agents.rate)`.
    pub fn summary(&self) -> String {
        match self {
            Points::Grid(g) => g
                .params
                .iter()
                .map(|p| format!("{} ({})", p.path, p.values.len()))
                .collect::<Vec<_>>()
                .join(" x "),
            Points::Design(d) => format!("{} ({})", d.file, d.columns.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Param;

    /// A design listing a grid's points in row-major order has the grid's values and assignments.
    #[test]
    fn a_design_of_a_grid_has_its_points() {
        let param = |path: &str, values: &[&str]| Param {
            path: path.into(),
            spec: values.join(","),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let grid = Points::Grid(Grid {
            params: vec![param("a", &["1", "2"]), param("b", &["x", "y", "z"])],
        });
        let mut rows = Vec::new();
        for a in ["1", "2"] {
            for b in ["x", "y", "z"] {
                rows.push(vec![a.to_string(), b.to_string()]);
            }
        }
        let design = Points::Design(Design {
            file: "d.csv".into(),
            sha256: String::new(),
            columns: vec!["a".into(), "b".into()],
            rows,
        });
        assert_eq!((grid.count(), design.count()), (6, 6));
        assert_eq!(grid.paths(), design.paths());
        for p in 0..6 {
            assert_eq!(grid.values(p), design.values(p), "point {p}");
        }
        assert_eq!(design.assignments(4), ["a=2", "b=y"]);
        assert_eq!(grid.describe(5), "a=2, b=z");
        assert_eq!(grid.summary(), "a (2) x b (3)");
        assert_eq!(design.summary(), "d.csv (a, b)");
    }
}
