"""The GIL is released while the engine runs, and Ctrl-C stops a run cleanly."""

import os
import signal
import threading
import time

import pytest

import pricegrad

# prices that move this slowly do not converge for a long time: the run goes on until it is
# stopped (a noisy run would end `stationary` after a few thousand ticks)
ENDLESS = {"market.step": 0.0001, "run.max_ticks": 100_000_000}


def test_ctrl_c_stops_a_run_and_keeps_its_files(tmp_path):
    out = tmp_path / "run"
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        pricegrad.run("scenarios/tupperware.toml", set=ENDLESS, out=out)
    took = time.monotonic() - started
    timer.join()
    # 1e8 ticks take minutes; the run stopped soon after the signal
    assert took < 30, took
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["outcome"] == "interrupted"
    assert 0 < summary["ticks"] < 100_000_000
    assert (out / "trajectory.csv").exists()


def test_ctrl_c_stops_a_sweep():
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        pricegrad.sweep("scenarios/tupperware.toml", params={"agents.rate": [0.4, 0.5]}, set=ENDLESS, jobs=1)
    timer.join()


def test_the_gil_is_released_while_the_engine_runs():
    """Python code keeps running in another thread while a run of about a second goes on."""
    done = threading.Event()
    result = {}

    def work():
        result["summary"] = pricegrad.check(
            "scenarios/tupperware.toml", set={"market.step": 0.0001, "run.max_ticks": 300_000}
        )
        done.set()

    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.05)
    spins = 0
    while not done.is_set():
        # pure-Python work: needs the GIL
        sum(range(1000))
        spins += 1
    t.join()
    assert result["summary"]["ticks"] == 300_000
    assert spins > 100, spins
