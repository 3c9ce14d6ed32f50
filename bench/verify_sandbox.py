"""Benchmark of the code sandbox: what containment costs per execution, and throughput.

What is measured
----------------
1. Overhead: the median wall time of ``--runs`` executions of a trivial program
   (``print(sum(range(1000)))``) through :func:`distillery.verify.sandbox.run_python`, minus the median
   of the same program run by a plain ``subprocess.run`` of the same interpreter (``-I -S -B``).
   Target: <= 20 ms per execution.
2. Throughput (executions/s) of a trivial and a heavy program (~0.3 s of CPU) on 1 and 2 processes
   (``multiprocessing`` pool, ``--procs``), each worker in its own sandbox uid.

Usage: ``python bench/verify_sandbox.py [--runs 50] [--procs 1 2] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import time

from distillery.verify import sandbox

TRIVIAL = "print(sum(range(1000)))\n"
HEAVY = "s = 0\nfor i in range(6_000_000):\n    s += i * i\nprint(s)\n"
TARGET_OVERHEAD_MS = 20.0


def _time_sandboxed(code: str) -> float:
    start = time.perf_counter()
    result = sandbox.run_python(code, timeout_s=20)
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise RuntimeError(f"sandboxed run failed: {result}")
    return elapsed


def _time_plain(code: str, python: str) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-I", "-S", "-B", "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def _throughput(code: str, n: int, procs: int) -> float:
    start = time.perf_counter()
    if procs == 1:
        for _ in range(n):
            _time_sandboxed(code)
    else:
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            pool.map(_time_sandboxed, [code] * n, chunksize=1)
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--heavy-runs", type=int, default=12)
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)

    python = sandbox._default_python()
    _time_sandboxed(TRIVIAL)  # the per-process probe is not part of the per-run cost
    _time_plain(TRIVIAL, python)
    sandboxed = [_time_sandboxed(TRIVIAL) for _ in range(args.runs)]
    plain = [_time_plain(TRIVIAL, python) for _ in range(args.runs)]
    figures = {
        "python": python,
        "runs": args.runs,
        "plain_median_ms": 1000 * statistics.median(plain),
        "sandboxed_median_ms": 1000 * statistics.median(sandboxed),
    }
    figures["overhead_ms"] = figures["sandboxed_median_ms"] - figures["plain_median_ms"]
    figures["throughput"] = {}
    for procs in args.procs:
        figures["throughput"][f"trivial_{procs}p_per_s"] = _throughput(TRIVIAL, args.runs * procs, procs)
        figures["throughput"][f"heavy_{procs}p_per_s"] = _throughput(HEAVY, args.heavy_runs * procs, procs)

    verdict = "PASS" if figures["overhead_ms"] <= TARGET_OVERHEAD_MS else "FAIL"
    print(f"interpreter: {python}")
    print(f"plain subprocess, median of {args.runs}: {figures['plain_median_ms']:.1f} ms")
    print(f"sandboxed,        median of {args.runs}: {figures['sandboxed_median_ms']:.1f} ms")
    print(f"overhead per execution: {figures['overhead_ms']:.1f} ms (target <= {TARGET_OVERHEAD_MS:.0f} ms: {verdict})")
    for name, value in figures["throughput"].items():
        print(f"throughput {name}: {value:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return figures


if __name__ == "__main__":
    main()
