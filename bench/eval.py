"""Grading throughput of evaluation (samples/s): the paper's AIME load, 64 samples x 60 problems, and a
LiveCodeBench-sized code load, 16 samples x 100 problems, through the evaluation grader (the process
pool, math-verify, the bubblewrap sandbox; every test of every sample), then scoring.

AIME: the real AIME 2024 + 2025 problems from ../shared/data when present (else 60 synthetic integer
answers); responses of ~12k characters of reasoning like a reasoning model's, a third of them right,
a third wrong, a sixth truncated inside the reasoning, a sixth with an answer math-verify cannot parse.
Code: 100 synthetic problems, half stdin and half call-based, 10 tests each; samples right (50%), wrong
(30%), crashing (10%) or without a code block (10%); none hangs (a hang costs its 6 s time limit).
Code, stdin only (issue 17): 16 samples x 100 problems x 10 stdin tests, graded the way it was before
(one sandbox launch per test: bench/code_baseline.py) and now (one launch per program), same run.

    .venv/bin/python bench/eval.py [--processes 2] [--aime-samples 64] [--code-samples 16]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from distillery.evaluate.grading import grade_texts, grading_options
from distillery.evaluate.passk import summarize
from distillery.verify.pool import RULE_VERIFIERS, VerifyPool

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FILLER = (
    "Let me reconsider the constraint $a_n = a_{n-1} + 2n$ and check small cases: "
    "for $n = 1, 2, 3$ we get $3, 7, 13$, so the pattern $n^2 + n + 1$ fits. "
)


def aime_problems() -> list[dict]:
    rows = []
    for name in ("aime2024.jsonl", "aime2025.jsonl"):
        if (SHARED / name).exists():
            rows += [json.loads(line) for line in open(SHARED / name, encoding="utf-8")]
    if len(rows) < 60:
        rng = random.Random(1)
        rows = [{"id": f"synthetic-{i}", "answer": str(rng.randint(0, 999))} for i in range(60)]
    return [{"problem_id": r["id"], "category": "math", "reference": {"answer": str(r["answer"])}} for r in rows]


def aime_samples(problems: list[dict], n: int, seed: int = 0) -> tuple[list[dict], list[str]]:
    rng = random.Random(seed)
    queries, texts = [], []
    for p in problems:
        for s in range(n):
            think = FILLER * rng.randint(60, 110)  # ~9-16k characters
            kind = s % 6
            if kind in (0, 1):
                text = f"<think>{think}</think><answer>The answer is $\\boxed{{{p['reference']['answer']}}}$.</answer>"
            elif kind in (2, 3):
                text = f"<think>{think}</think><answer>The answer is $\\boxed{{{rng.randint(0, 999)}}}$.</answer>"
            elif kind == 4:
                text = f"<think>{think}"  # truncated while thinking
            else:
                text = f"<think>{think}</think><answer>The answer is $\\boxed{{\\text{{see above}}}}$.</answer>"
            queries.append(p)
            texts.append(text)
    return queries, texts


def code_problems(n: int = 100, stdin_only: bool = False) -> list[dict]:
    problems = []
    for i in range(n):
        if i % 2 or stdin_only:
            tests = [
                {"input": f"{a} {a + i}\n", "output": f"{a * (a + i) + i}\n", "testtype": "stdin"} for a in range(10)
            ]
            problems.append(
                {"problem_id": f"stdin-{i}", "category": "code", "reference": {"tests": tests, "fn_name": None}, "k": i}
            )
        else:
            tests = [
                {"input": f"{a}\n{a + i}", "output": json.dumps(a * (a + i) + i), "testtype": "functional"}
                for a in range(10)
            ]
            problems.append(
                {
                    "problem_id": f"call-{i}",
                    "category": "code",
                    "reference": {"tests": tests, "fn_name": "solve"},
                    "k": i,
                }
            )
    return problems


def program(problem: dict, kind: str) -> str:
    """kind: right, wrong, crash or nocode."""
    k = problem["k"]
    value = {"right": f"a * b + {k}", "wrong": f"a * b + {k + 1}", "crash": "a // 0"}.get(kind, "0")
    if kind == "nocode":
        return f"<think>{FILLER * 30}</think><answer>I would compute a * b + {k}.</answer>"
    if problem["reference"]["fn_name"]:
        code = f"class Solution:\n    def solve(self, a: int, b: int) -> int:\n        return {value}\n"
    else:
        code = f"import sys\na, b = map(int, sys.stdin.read().split())\nprint({value})\n"
    return f"<think>{FILLER * 30}</think><answer>\n```python\n{code}```\n</answer>"


def code_kind(s: int, n: int) -> str:
    share = s / n
    return "right" if share < 0.5 else "wrong" if share < 0.8 else "crash" if share < 0.9 else "nocode"


def code_samples(problems: list[dict], n: int) -> tuple[list[dict], list[str]]:
    queries, texts = [], []
    for p in problems:
        for s in range(n):
            queries.append(p)
            texts.append(program(p, code_kind(s, n)))
    return queries, texts


def run(name: str, queries: list[dict], texts: list[str], processes: int) -> dict:
    grade_texts(queries[: processes * 2], texts[: processes * 2], processes)  # warm the imports
    started = time.perf_counter()
    marks = grade_texts(queries, texts, processes)
    graded = time.perf_counter() - started
    rows = [
        {**m, "completion_tokens": len(t) // 4, "finish_reason": "stop", "cached": False}
        for m, t in zip(marks, texts, strict=True)
    ]
    started = time.perf_counter()
    scores = summarize(rows)
    scored = time.perf_counter() - started
    rate = len(texts) / graded
    print(
        f"{name:5s} {len(texts):5d} samples ({len({q['problem_id'] for q in queries})} problems): graded in "
        f"{graded:6.1f} s = {rate:7.1f} samples/s on {processes} processes; scored in {scored * 1000:.0f} ms; "
        f"pass@1 {scores['pass@1']:.3f}",
        flush=True,
    )
    return {
        "samples": len(texts),
        "grade_s": graded,
        "samples_per_s": rate,
        "score_s": scored,
        "pass@1": scores["pass@1"],
    }


def stdin_before_after(problems: int, samples: int, processes: int) -> dict:
    """samples/s of the per-test-launch baseline and of today's grader on the same load."""
    queries, texts = code_samples(code_problems(problems, stdin_only=True), samples)
    options = grading_options()
    figures = {}
    for name, target in (("before", "code_baseline:verify_code_per_test"), ("after", RULE_VERIFIERS["code"])):
        with VerifyPool(processes, options=options, verifiers={**RULE_VERIFIERS, "code": target}) as pool:
            pool.map(queries[: processes * 2], texts[: processes * 2])  # warm the workers
            started = time.perf_counter()
            marks = pool.map(queries, texts)
            elapsed = time.perf_counter() - started
        right = sum(m.passed for m in marks) / len(marks)
        figures[name] = len(texts) / elapsed
        print(
            f"stdin {name:6s} {len(texts)} samples x 10 tests: {elapsed:6.1f} s = {figures[name]:6.1f} samples/s "
            f"on {processes} processes (pass rate {right:.3f})",
            flush=True,
        )
    figures["speedup"] = figures["after"] / figures["before"]
    verdict = "PASS" if figures["speedup"] >= 5 else "FAIL"
    print(f"{verdict}  stdin grading {figures['speedup']:.1f}x the per-test launches (target >= 5x)", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--aime-samples", type=int, default=64)
    parser.add_argument("--code-samples", type=int, default=16)
    parser.add_argument("--code-problems", type=int, default=100)
    parser.add_argument("--stdin-problems", type=int, default=100, help="0: skip the before/after")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    figures = {
        "aime": run("aime", *aime_samples(aime_problems(), args.aime_samples), args.processes),
        "code": run("code", *code_samples(code_problems(args.code_problems), args.code_samples), args.processes),
    }
    if args.stdin_problems:
        figures["stdin"] = stdin_before_after(args.stdin_problems, args.code_samples, args.processes)
    expected = {
        "aime": sum(s % 6 < 2 for s in range(args.aime_samples)) / args.aime_samples,
        "code": sum(code_kind(s, args.code_samples) == "right" for s in range(args.code_samples)) / args.code_samples,
    }
    for name, want in expected.items():
        if abs(figures[name]["pass@1"] - want) > 0.02:
            print(
                f"{name}: pass@1 {figures[name]['pass@1']:.3f}, expected {want:.3f}: the grader is wrong",
                file=sys.stderr,
            )
            return 1
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
