//! The format of a run's tables (`--format csv|parquet`): which files a run writes its
//! trajectory, metrics and firms into, and whether a sweep adds `sweep.parquet`.

use super::files;

/// The format of the tables a run or a sweep writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `trajectory.csv`, `metrics.csv`, `firms.csv`; `sweep.csv`.
    #[default]
    Csv,
    /// `trajectory.parquet`, `metrics.parquet`, `firms.parquet` (instead of the CSV files);
    /// `sweep.parquet` beside `sweep.csv`.
    Parquet,
}

impl Format {
    /// The name of a run's table file in this format, `csv` being its CSV name
    /// ([`files::TRAJECTORY`], [`files::METRICS`] or [`files::FIRMS`]).
    pub fn name(self, csv: &'static str) -> &'static str {
        match (self, csv) {
            (Format::Csv, _) => csv,
            (Format::Parquet, files::TRAJECTORY) => files::TRAJECTORY_PARQUET,
            (Format::Parquet, files::METRICS) => files::METRICS_PARQUET,
            (Format::Parquet, files::FIRMS) => files::FIRMS_PARQUET,
            (Format::Parquet, other) => panic!("{other} has no Parquet form"),
        }
    }

    /// The other format (whose files a run in this one replaces).
    pub fn other(self) -> Format {
        match self {
            Format::Csv => Format::Parquet,
            Format::Parquet => Format::Csv,
        }
    }
}

impl From<crate::economy::LogFormat> for Format {
    fn from(f: crate::economy::LogFormat) -> Format {
        match f {
            crate::economy::LogFormat::Csv => Format::Csv,
            crate::economy::LogFormat::Parquet => Format::Parquet,
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            _ => Err(format!("'{s}' is not a table format: use 'csv' or 'parquet'")),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parsing() {
        assert_eq!(Format::Parquet.name(files::METRICS), "metrics.parquet");
        assert_eq!(Format::Csv.name(files::FIRMS), "firms.csv");
        for f in [Format::Csv, Format::Parquet] {
            assert_eq!(f.to_string().parse::<Format>(), Ok(f));
        }
        assert!("arrow".parse::<Format>().unwrap_err().contains("'csv' or 'parquet'"));
    }
}
