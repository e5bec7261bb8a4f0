"""Shared fixtures: the repository's root (tests run its shipped scenarios) and the
``pricegrad`` command-line binary, to compare the package with the command line.

The binary is ``$PRICEGRAD_BIN`` when set (``.ci/run`` sets it to the one ``cargo test``
built), else ``target/debug/pricegrad``, built with ``cargo build`` if it is missing."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def cli() -> Path:
    given = os.environ.get("PRICEGRAD_BIN")
    if given:
        return Path(given)
    binary = ROOT / "target" / "debug" / "pricegrad"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--bin", "pricegrad"], cwd=ROOT, check=True)
    return binary


@pytest.fixture(autouse=True)
def in_root(monkeypatch):
    """Every test runs in the repository's root, where the scenario paths are relative."""
    monkeypatch.chdir(ROOT)
