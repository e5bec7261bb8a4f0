//! Reading back a row of a sweep's CSV files (`sweep.csv` or the journal): the columns of
//! src/output/rows/sweep.rs, checked (finite numbers, every parameter set).

use super::Row;
use crate::output::rows;

/// A row of a sweep file this sweep wrote: `record` under `header` (the parameter columns,
/// `n_params` of them, after `point,replicate`). Every number is finite, every parameter has a
/// value, and a file with the `wall_seconds` column has the run's time.
pub(super) fn parse_row(
    record: &csv::StringRecord,
    header: &csv::StringRecord,
    n_params: usize,
) -> Result<Row, String> {
    if record.len() != header.len() {
        return Err(format!("{} fields, expected {}", record.len(), header.len()));
    }
    let row = Row::read(record, header, 2..2 + n_params).map_err(|e| rows::describe(&e, header, record))?;
    if row.params.iter().any(String::is_empty) {
        return Err("empty parameter value".into());
    }
    let numbers = [
        ("max_rel_error", row.max_rel_error),
        ("max_rel_excess", row.max_rel_excess),
        ("mean_cosine", row.mean_cosine),
        ("wall_seconds", row.wall_seconds),
    ];
    if let Some((column, v)) = numbers.iter().find(|n| n.1.is_some_and(|v| !v.is_finite())) {
        return Err(format!(
            "column `{column}`: {} is not a finite number",
            v.unwrap_or_default()
        ));
    }
    if row.wall_seconds.is_none() && header.iter().any(|h| h == "wall_seconds") {
        return Err("column `wall_seconds` is empty".into());
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::rows::sweep as sweep_rows;
    use crate::sweep::Outcome;

    /// A row as the journal holds it reads back, and a damaged one is refused with its column.
    #[test]
    fn journal_rows_are_checked() {
        let r = Row {
            point: 3,
            replicate: 1,
            params: vec!["0.5".into(), "gradient".into()],
            seed: 99,
            outcome: Outcome::MaxTicks,
            ticks: 20000,
            max_rel_error: Some(1.5e-7),
            max_rel_excess: None,
            mean_cosine: Some(0.25),
            wall_seconds: Some(0.01),
        };
        let paths = ["a".to_string(), "b".to_string()];
        let head = csv::StringRecord::from(sweep_rows::header(&paths, true));
        let line = String::from_utf8(r.journal_line().unwrap()).unwrap();
        let record = |line: &str| csv::StringRecord::from(line.trim_end().split(',').collect::<Vec<_>>());
        assert_eq!(parse_row(&record(&line), &head, 2).unwrap(), r);
        for (bad, why) in [
            (line.replace("20000", "x"), "column `ticks`"),
            (line.replace("max_ticks", "exploded"), "exploded"),
            (line.replace("0.25", "inf"), "column `mean_cosine`"),
            (line.replace(",0.01", ","), "`wall_seconds` is empty"),
            (line.replace(",0.01", ""), "fields, expected"),
        ] {
            let e = parse_row(&record(&bad), &head, 2).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
