"""run and check: the essay's numbers, and the package's files equal the command line's."""

import json
import math
import struct
import subprocess

import pandas as pd
import pytest

import pricegrad
from pricegrad._run import _read_csv as read_csv

FILES = ["summary.json", "trajectory.csv", "metrics.csv", "firms.csv", "scenario.toml", "convergence.png"]


def last_price(trajectory: pd.DataFrame, good: str) -> float:
    rows = trajectory[trajectory.good == good]
    return float(rows.price.iloc[-1])


def test_the_essays_chain_passes_with_natgas_at_one_24th(tmp_path):
    r = pricegrad.run("scenarios/tupperware.toml")
    assert r.passed and r.outcome == "converged"
    assert r.summary["pass"] is True
    # the chain rule by hand: natgas 4 -> ethylene sqrt(4) = 2 -> polyethylene 1 - 1/3 = 2/3
    # -> tupperware ln(2/3) at price 1
    assert abs(last_price(r.trajectory, "natgas") - 1 / 24) < 1e-9
    assert abs(last_price(r.trajectory, "ethylene") - 1 / 6) < 1e-9
    assert abs(last_price(r.trajectory, "polyethylene") - 3 / 2) < 1e-9
    assert list(r.metrics.columns[:3]) == ["tick", "max_rel_excess", "max_rel_price_change"]
    # firms.csv: firm A buys the 4 units of natgas
    a_in = r.firms[(r.firms.firm == "A") & (r.firms.role == "input")]
    assert a_in.good.tolist() == ["natgas"]
    assert abs(float(a_in.quantity.iloc[0]) - 4.0) < 1e-6
    png = r.chart(tmp_path / "chart.png")
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1600, 1200)


@pytest.mark.parametrize(
    "scenario, seed",
    [("scenarios/competitive_industry.toml", 7), ("scenarios/tupperware_shock.toml", 3)],
)
def test_the_files_are_the_command_lines(tmp_path, cli, scenario, seed):
    """The same scenario and seed give the command line's files, byte for byte (the package
    on 2 threads, the command line on 1: results do not depend on the thread count)."""
    cli_dir, py_dir = tmp_path / "cli", tmp_path / "py"
    subprocess.run(
        [str(cli), "run", scenario, "--seed", str(seed), "--no-timing", "--threads", "1", "--quiet", "--out", str(cli_dir)],
        check=True,
        capture_output=True,
    )
    r = pricegrad.run(scenario, seed=seed, threads=2, out=py_dir, timings=False)
    assert r.dir == py_dir
    files = FILES + (["propagation.csv"] if "shock" in scenario else [])
    for name in files:
        assert (py_dir / name).read_bytes() == (cli_dir / name).read_bytes(), name
    # and the frames are the files' rows
    read = lambda n: read_csv(cli_dir / n)
    pd.testing.assert_frame_equal(r.trajectory, read("trajectory.csv"))
    pd.testing.assert_frame_equal(r.metrics, read("metrics.csv"))
    pd.testing.assert_frame_equal(r.firms, read("firms.csv"))
    cli_summary = json.loads((cli_dir / "summary.json").read_text())
    assert r.summary == cli_summary
    assert r.summary["seed"] == seed
    if "shock" in scenario:
        pd.testing.assert_frame_equal(r.propagation, read("propagation.csv"))
    else:
        assert r.propagation is None


TUPPERWARE = {
    "name": "tupperware",
    "goods": {
        "natgas": {"endowment": 4.0},
        "ethylene": {},
        "polyethylene": {},
        "tupperware": {"price": 1.0},
    },
    "firms": [
        {"name": "A", "output": "ethylene", "production": "sqrt(natgas)"},
        {"name": "B", "output": "polyethylene", "production": "1 - 1/(ethylene + 1)"},
        {"name": "C", "output": "tupperware", "production": "ln(polyethylene)"},
    ],
    "market": {"rule": "multiplicative", "step": 0.5, "initial_price": 1.0},
    "agents": {"rule": "gradient", "rate": 0.5, "form": "relative", "noise": 0.0, "activation": 1.0},
    "run": {"max_ticks": 20000, "tolerance": 1e-10, "patience": 20, "seed": 42, "check_tolerance": 1e-6},
}


def test_a_dict_scenario_runs_like_its_file():
    """The essay's chain written out as a dict gives the shipped file's trajectory."""
    from_dict = pricegrad.run(TUPPERWARE)
    from_file = pricegrad.run("scenarios/tupperware.toml")
    assert from_dict.passed
    assert from_dict.summary["provenance"]["scenario_file"] == "<dict>"
    pd.testing.assert_frame_equal(from_dict.trajectory, from_file.trajectory)
    pd.testing.assert_frame_equal(from_dict.metrics, from_file.metrics)
    assert abs(last_price(from_dict.trajectory, "natgas") - 1 / 24) < 1e-9
    # overrides apply to a dict as to a file: twice the natgas, sqrt(8) ethylene
    more = pricegrad.gradient(TUPPERWARE, set={"goods.natgas.endowment": 8.0})
    eth = more.set_index("good").loc["ethylene"]
    assert math.isclose(eth.supplied, math.sqrt(8), rel_tol=1e-12)
    # B: 1/(e+1)^2, C: 1/polyethylene with polyethylene = 1 - 1/(e+1)
    e = math.sqrt(8)
    assert math.isclose(eth.adjoint, (1 / (1 - 1 / (e + 1))) / (e + 1) ** 2, rel_tol=1e-12)


def test_a_family_set_as_a_dict():
    g = pricegrad.gradient(
        TUPPERWARE, set={"firms.A.production": {"power": {"exponent": 0.25, "input": "natgas"}}}
    ).set_index("good")
    # ethylene = 4^0.25 = sqrt(2)
    assert math.isclose(g.loc["ethylene"].supplied, math.sqrt(2), rel_tol=1e-12)


def test_check_returns_the_summary_and_writes_nothing(tmp_path, monkeypatch, root):
    monkeypatch.chdir(tmp_path)
    diamond = root / "scenarios" / "diamond.toml"
    s = pricegrad.check(diamond, seed=5)
    assert s["pass"] is True and s["seed"] == 5 and s["outcome"] == "converged"
    assert [c["check"] for c in s["checks"]] == ["adjoint", "reference", "envelope"]
    assert "timings" in s
    assert list(tmp_path.iterdir()) == []
    assert "timings" not in pricegrad.check(diamond, timings=False)


def test_a_run_replacing_another_says_so(tmp_path):
    pricegrad.run("scenarios/tupperware.toml", out=tmp_path / "o")
    r = pricegrad.run("scenarios/tupperware.toml", out=tmp_path / "o", set={"market.step": 0.4})
    assert r.replaced == "no --set"
    assert r.summary["provenance"]["sets"] == ["market.step=0.4"]


def test_log_every_is_log_dot_every():
    every = pricegrad.run("scenarios/tupperware.toml", log_every=10)
    ticks = every.metrics.tick.tolist()
    # every 10th tick, and the last
    assert all(t % 10 == 0 for t in ticks[:-1]) and ticks[-1] == every.summary["ticks"] - 1
    assert every.summary["provenance"]["sets"] == ["log.every=10"]
    assert len(ticks) < len(pricegrad.run("scenarios/tupperware.toml").metrics)


def _same_values(a: pd.DataFrame, b: pd.DataFrame):
    """The same columns and values (Parquet keeps integers unsigned; CSV reads them signed)."""
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_parquet_tables_are_the_csv_tables(tmp_path):
    csv = pricegrad.run("scenarios/tupperware_shock.toml", out=tmp_path / "c", timings=False)
    pq = pricegrad.run("scenarios/tupperware_shock.toml", out=tmp_path / "p", timings=False, format="parquet")
    assert pq.format == "parquet" and csv.format == "csv"
    assert (tmp_path / "p" / "trajectory.parquet").exists() and not (tmp_path / "p" / "trajectory.csv").exists()
    assert str(pq.trajectory.tick.dtype) == "uint64"
    for table in ["trajectory", "metrics", "firms"]:
        _same_values(getattr(csv, table), getattr(pq, table))
    # the scenario's [log] format, and the argument over it
    text = open("scenarios/tupperware.toml", encoding="utf-8").read() + '\n[log]\nformat = "parquet"\n'
    assert pricegrad.run(text).format == "parquet"
    assert pricegrad.run(text, format="csv").format == "csv"
    with pytest.raises(ValueError, match="not a table format"):
        pricegrad.run("scenarios/tupperware.toml", format="xlsx")
