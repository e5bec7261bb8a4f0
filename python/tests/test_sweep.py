"""sweep(): sweep.csv's rows, the same as `pricegrad sweep` writes."""

import subprocess

import pandas as pd

import pricegrad
from pricegrad._run import _read_csv as read_csv


def test_a_two_point_sweep_returns_two_rows(tmp_path, cli):
    df = pricegrad.sweep("scenarios/tupperware.toml", params={"market.step": [0.1, 0.2]}, timings=False)
    assert len(df) == 2
    assert df["market.step"].tolist() == [0.1, 0.2]
    assert df.point.tolist() == [0, 1] and df.outcome.tolist() == ["converged", "converged"]
    # the command line's sweep.csv for the same grid
    subprocess.run(
        [str(cli), "sweep", "scenarios/tupperware.toml", "--param", "market.step=0.1,0.2", "--no-timing",
         "--quiet", "--out", str(tmp_path / "cli")],
        check=True,
        capture_output=True,
    )
    want = read_csv(tmp_path / "cli" / "sweep.csv")
    pd.testing.assert_frame_equal(df, want)


def test_replicates_specs_and_a_dict_scenario(tmp_path):
    from test_run import TUPPERWARE

    df = pricegrad.sweep(
        TUPPERWARE,
        params={"agents.rule": ["gradient", "best_response"], "market.step": "lin:0.2:0.4:3"},
        replicates=2,
        jobs=2,
        out=tmp_path / "s",
    )
    assert len(df) == 2 * 3 * 2
    assert sorted(set(df["agents.rule"])) == ["best_response", "gradient"]
    assert sorted(set(df["market.step"])) == [0.2, 0.3, 0.4]
    assert "wall_seconds" in df.columns
    assert (tmp_path / "s" / "sweep.png").exists() and df.attrs["dir"] == tmp_path / "s"
    # replicates of a point differ in their seed
    assert df.groupby("point").seed.nunique().eq(2).all()


def test_a_parquet_sweep_has_the_csv_rows(tmp_path):
    grid = {"market.step": [0.1, 0.2]}
    a = pricegrad.sweep("scenarios/tupperware.toml", params=grid, timings=False)
    b = pricegrad.sweep("scenarios/tupperware.toml", params=grid, timings=False, format="parquet", out=tmp_path / "s")
    assert (tmp_path / "s" / "sweep.parquet").exists()
    assert str(b.point.dtype) == "uint64"
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
