#!/usr/bin/env python3
"""numpy's copy and triad on 256 MB f64 arrays: a cross-check of benches/bandwidth.rs.

    python3 benches/peers/bandwidth.py [--repeat 10]

GB/s (1e9 bytes) counted as STREAM does: copy a = b moves 16 bytes per element, triad
a = b + s c moves 24. numpy's triad takes two passes (a = s c; a += b: 40 bytes actually
moved), so its figure is the rate a one-pass kernel would need to match it, not the ceiling.
The best of --repeat runs is reported, per wall second and per CPU second.
"""
import argparse
import json
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--repeat", type=int, default=10)
args = ap.parse_args()
n = 32 * 1024 * 1024
a = np.ones(n)
b = np.arange(n, dtype=float)
c = 0.5 * b


def best(f):
    """Best wall time and best CPU time (on a loaded machine the CPU-time figure is closer to
    what the memory system delivers while the process runs)."""
    f()
    ts, cs = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        f()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    return min(ts), min(cs)


def triad():
    np.multiply(c, 3.0, out=a)
    np.add(a, b, out=a)


copy, copy_cpu = best(lambda: np.copyto(a, b))
tri, tri_cpu = best(triad)
print(json.dumps({
    "impl": "numpy",
    "threads": 1,
    "copy_GBps": 16 * n / copy / 1e9,
    "triad_GBps": 24 * n / tri / 1e9,
    "copy_GBps_per_cpu_s": 16 * n / copy_cpu / 1e9,
    "triad_GBps_per_cpu_s": 24 * n / tri_cpu / 1e9,
}))
