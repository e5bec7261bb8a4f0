"""gradient(): the numbers of `pricegrad gradient --json`."""

import json
import subprocess

import pytest

import pricegrad


def test_natgas_is_one_24th():
    g = pricegrad.gradient("scenarios/tupperware.toml")
    assert list(g.columns) == ["good", "fixed_price", "supplied", "used", "adjoint"]
    adj = g.set_index("good").adjoint
    assert abs(adj["natgas"] - 1 / 24) < 1e-12
    assert abs(adj["ethylene"] - 1 / 6) < 1e-12
    assert abs(adj["polyethylene"] - 3 / 2) < 1e-12
    assert g.attrs["method"] == "forward"


@pytest.mark.parametrize("scenario", ["diamond", "labour_wage", "tupperware"])
def test_the_numbers_are_the_command_lines(cli, scenario):
    path = f"scenarios/{scenario}.toml"
    out = subprocess.run([str(cli), "gradient", path, "--json"], check=True, capture_output=True, text=True)
    want = json.loads(out.stdout)
    g = pricegrad.gradient(path)
    assert g.attrs["method"] == want["method"] and g.attrs["value"] == want["value"]
    assert g.good.tolist() == [r["good"] for r in want["goods"]]
    for col in ["fixed_price", "supplied", "used", "adjoint"]:
        assert g[col].tolist() == [r[col] for r in want["goods"]], col
