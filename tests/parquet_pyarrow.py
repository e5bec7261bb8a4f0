#!/usr/bin/env python3
"""`pricegrad run --format parquet` and `pricegrad sweep --format parquet` read in pyarrow:
each Parquet file holds the rows of the CSV file the same command writes without the option
(same columns, in order; integers as integers, numbers equal to the bit, null where the CSV
cell is empty). With pandas installed, pandas reads them too.

Usage: python3 tests/parquet_pyarrow.py [PRICEGRAD_BINARY]   (default: target/debug/pricegrad)
Prints one line per check and a closing `N passed, N failed`; exits 1 on a failure, 2 when
pyarrow is missing."""

import csv
import math
import os
import subprocess
import sys
import tempfile

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:
    print("pyarrow is not installed: pip install pyarrow", file=sys.stderr)
    sys.exit(2)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug", "pricegrad")


def pricegrad(*args):
    done = subprocess.run([BIN, *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"pricegrad {' '.join(args)} exited {done.returncode}:\n{done.stderr}")


def same_rows(csv_path, parquet_path):
    """The Parquet file has the CSV file's columns and rows, value for value."""
    with open(csv_path, newline="") as f:
        records = list(csv.reader(f))
    header, records = records[0], records[1:]
    table = pq.read_table(parquet_path)
    assert table.column_names == header, f"{parquet_path}: columns {table.column_names} != {header}"
    assert table.num_rows == len(records) > 0, f"{parquet_path}: {table.num_rows} rows, CSV {len(records)}"
    for name, column in zip(header, table.columns):
        t = column.type
        assert (
            pa.types.is_integer(t) or pa.types.is_float64(t) or pa.types.is_string(t)
        ), f"{parquet_path}: column {name} has type {t}"
        k = header.index(name)
        for row, (value, record) in enumerate(zip(column.to_pylist(), records), start=1):
            text = record[k]
            if value is None:
                ok = text == ""
            elif pa.types.is_float64(t):
                ok = text != "" and float(text) == value and math.isfinite(value)
            elif pa.types.is_integer(t):
                ok = text != "" and int(text) == value
            else:
                ok = text == value
            assert ok, f"{parquet_path} row {row} column {name}: Parquet {value!r}, CSV {text!r}"
    return table


def pandas_reads(csv_path, parquet_path):
    try:
        import pandas as pd
    except ImportError:
        return "pandas not installed: skipped"
    a, b = pd.read_csv(csv_path), pd.read_parquet(parquet_path)
    assert list(a.columns) == list(b.columns)
    for name in a.columns:
        x, y = a[name], b[name]
        if x.isna().all() and y.isna().all():
            continue
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            assert ((x == y) | (x.isna() & y.isna())).all(), f"{parquet_path}: pandas column {name} differs"
        else:
            assert (x.fillna("").astype(str) == y.fillna("").astype(str)).all(), f"{parquet_path}: {name}"
    return "pandas reads the same"


def main():
    passed, failed = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        checks = []
        run = ["run", "scenarios/tupperware_shock.toml", "--no-timing", "--quiet", "--seed", "5"]
        pricegrad(*run, "--out", os.path.join(tmp, "csv"))
        pricegrad(*run, "--format", "parquet", "--out", os.path.join(tmp, "pq"))
        for name in ["trajectory", "metrics", "firms"]:
            checks.append((os.path.join(tmp, "csv", name + ".csv"), os.path.join(tmp, "pq", name + ".parquet")))
        sweep = ["sweep", "scenarios/tupperware.toml", "--param", "market.step=0.2,0.5", "--param",
                 "agents.rule=gradient,best_response", "--replicates", "2", "--set", "run.max_ticks=500",
                 "--quiet", "--format", "parquet", "--out", os.path.join(tmp, "sweep")]
        pricegrad(*sweep)
        checks.append((os.path.join(tmp, "sweep", "sweep.csv"), os.path.join(tmp, "sweep", "sweep.parquet")))
        for csv_path, parquet_path in checks:
            name = os.path.basename(parquet_path)
            try:
                table = same_rows(csv_path, parquet_path)
                note = pandas_reads(csv_path, parquet_path)
                print(f"ok {name}: {table.num_rows} rows, {table.num_columns} columns as in the CSV; {note}")
                passed += 1
            except AssertionError as e:
                print(f"FAILED {name}: {e}")
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
