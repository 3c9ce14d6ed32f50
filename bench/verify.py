"""Verification throughput: responses verified per second per category, on 1 and 2 processes.

Math: 10k realistic long responses (~12k characters of reasoning, a boxed final answer; a third
wrong) against MATH-style references. Science: multiple-choice letters. Code (issue 17, same run):
C++ programs per second (compile + 10 stdin tests, every source new, then the same sources again:
the build cache), the cost of a program that hangs on all 10 tests (one launch per test as before:
bench/code_baseline.py, and now), and what the run-wide memory bound adds to a trivial run (cgroup,
watchdog, against rlimits only). Then the sandbox figures of bench/verify_sandbox.py.
Targets: math >= 150 responses/s per core, near-linear scaling; memory bound <= 5 ms per run.

    .venv/bin/python bench/verify.py [--n 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from code_baseline import verify_code_per_test

from distillery.verify import sandbox
from distillery.verify.code import verify_code
from distillery.verify.pool import verify_all

ANSWERS = [
    "\\frac{3}{4}",
    "12",
    "2\\sqrt{3}",
    "(0, 1]",
    "\\{1, 2, 5\\}",
    "-\\frac{7}{2}",
    "144",
    "x^2 + 1",
    "\\frac{\\pi}{6}",
    "0.25",
    "10\\%",
    "3\\sqrt{2} - 1",
]
EQUIVALENT = {"\\frac{3}{4}": "0.75", "12": "12.0", "2\\sqrt{3}": "\\sqrt{12}", "0.25": "\\frac14", "10\\%": "0.1"}
FILLER = (
    "Let me reconsider the constraint $a_n = a_{n-1} + 2n$ and check small cases: "
    "for $n = 1, 2, 3$ we get $3, 7, 13$, so the pattern $n^2 + n + 1$ fits. "
)


def math_items(n: int, seed: int = 0) -> tuple[list[dict], list[str]]:
    rng = random.Random(seed)
    queries, responses = [], []
    for i in range(n):
        ref = rng.choice(ANSWERS)
        if i % 3 == 2:
            given = rng.choice([a for a in ANSWERS if a != ref])
        else:
            given = EQUIVALENT.get(ref, ref) if i % 2 else ref
        think = FILLER * rng.randint(60, 110)  # ~9-16k characters
        queries.append({"category": "math", "reference": {"answer": ref}})
        responses.append(f"<think>{think}</think><answer>So the answer is $\\boxed{{{given}}}$.</answer>")
    return queries, responses


def science_items(n: int, seed: int = 0) -> tuple[list[dict], list[str]]:
    rng = random.Random(seed)
    queries, responses = [], []
    for _ in range(n):
        letter = rng.choice("ABCD")
        queries.append({"category": "science", "reference": {"answer": letter, "options": ["w", "x", "y", "z"]}})
        responses.append(f"<think>{FILLER * 20}</think><answer>The answer is ({rng.choice('ABCD')}).</answer>")
    return queries, responses


def throughput(queries, responses, processes: int) -> tuple[float, float]:
    verify_all(queries[: processes * 4], responses[: processes * 4], processes=processes)  # warm imports
    started = time.perf_counter()
    results = verify_all(queries, responses, processes=processes)
    elapsed = time.perf_counter() - started
    return len(queries) / elapsed, sum(r.score for r in results) / len(results)


CPP = """\
#include <bits/stdc++.h>
using namespace std;
int main() { long long a, b; cin >> a >> b; cout << a * b + %d << "\\n"; }
"""


def _stdin_query(k: int) -> dict:
    tests = [{"input": f"{a} {a + 1}\n", "output": f"{a * (a + 1) + k}\n"} for a in range(10)]
    return {"category": "code", "messages": [], "reference": {"tests": tests, "fn_name": None}}


def _median_ms(run, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return sorted(times)[n // 2] * 1000


def code_figures(n_cpp: int = 20, runs: int = 40) -> dict:
    figures = {}
    answers = [f"```cpp\n{CPP % k}```" for k in range(n_cpp)]
    for label in ("compiled", "cached"):
        started = time.perf_counter()
        scores = [verify_code(_stdin_query(k), answers[k]).score for k in range(n_cpp)]
        rate = n_cpp / (time.perf_counter() - started)
        assert scores == [1.0] * n_cpp, scores
        figures[f"cpp_{label}_per_s"] = rate
        print(f"code     C++ {label:8s}: {rate:6.2f} programs/s (compile + 10 stdin tests) on 1 process", flush=True)
    hang = "```python\nwhile True:\n    pass\n```"
    for label, verifier in (("before", verify_code_per_test), ("after", verify_code)):
        started = time.perf_counter()
        verifier(_stdin_query(0), hang, timeout_s=2)
        figures[f"hang_{label}_s"] = time.perf_counter() - started
        print(f"code     hang on 10 tests, 2 s timer, {label:6s}: {figures[f'hang_{label}_s']:5.1f} s", flush=True)
    sandbox.run_python("print(1)")
    base = None
    for bound in ("off", "auto", "watchdog"):
        os.environ["DISTILLERY_SANDBOX_MEMORY_BOUND"] = bound
        kind = sandbox.run_python("print(1)").memory_bound
        ms = _median_ms(lambda: sandbox.run_python("print(1)"), runs)
        base = ms if base is None else base
        figures[f"run_ms_{bound}"] = ms
        print(f"code     trivial run, {kind:12s}: {ms:5.1f} ms (+{ms - base:4.1f} ms)", flush=True)
    os.environ.pop("DISTILLERY_SANDBOX_MEMORY_BOUND")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="math responses (science: the same number)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    figures = {}
    for name, make in (("math", math_items), ("science", science_items)):
        queries, responses = make(args.n)
        mean_chars = sum(map(len, responses)) / len(responses)
        for processes in sorted({1, cores}):
            rate, mean = throughput(queries, responses, processes)
            figures[f"{name}_{processes}p"] = rate
            print(
                f"{name:8s} {processes} process(es): {rate:8.1f} responses/s ({rate / processes:6.1f} per process; "
                f"mean score {mean:.3f}; mean response {mean_chars:,.0f} chars)",
                flush=True,
            )
        if cores > 1:
            scaling = figures[f"{name}_{cores}p"] / figures[f"{name}_1p"]
            figures[f"{name}_scaling"] = scaling
            print(f"{name:8s} scaling 1 -> {cores} processes: {scaling:.2f}x")
    per_core = figures["math_1p"]
    print(f"{'PASS' if per_core >= 150 else 'FAIL'}  math >= 150 responses/s per core ({per_core:.0f})")
    figures.update(code_figures())
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    sandbox = Path(__file__).with_name("verify_sandbox.py")
    if sandbox.exists():
        print("\ncode (sandbox):", flush=True)
        return subprocess.call([sys.executable, str(sandbox)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
