"""Grading a benchmark's samples with the distillation verifiers, as a benchmark does: right or wrong.

Math: the last ``\\boxed{}`` of the answer against the reference with math-verify, the same verifier as
distillation (no LLM judge: an answer math-verify cannot parse is wrong). Code: the program in the
bubblewrap sandbox against *every* public and private test (distillation runs up to 10 and accepts a
pass rate >= 0.9; a benchmark counts a solution only when all tests pass). A sample whose problem cannot
be graded (a reference that does not parse, no tests) is marked ungradeable, not wrong, and the scores
report it apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa

from distillery.evaluate.samples import GENERATION
from distillery.verify.pool import VerifyPool

GRADED = pa.schema(
    list(GENERATION)
    + [
        pa.field("correct", pa.bool_()),
        pa.field("gradeable", pa.bool_()),
        pa.field("score", pa.float64()),  # the verifier's score (code: fraction of tests passed)
        pa.field("verifier", pa.string()),
        pa.field("detail", pa.string()),
    ]
)

# Code limits per test and per response; LiveCodeBench allows ~6 s per test.
DEFAULT_CODE = {"timeout_s": 6.0, "total_timeout_s": 300.0, "memory_mb": 2048}


def grading_options(code: dict | None = None) -> dict[str, dict]:
    """Verifier options for binary grading: every test, and a pass only at 100% of them."""
    return {"code": {**DEFAULT_CODE, **(code or {}), "max_tests": None, "threshold": 1.0}}


class Grader:
    """A verifier pool kept for the grader's life (its workers import math-verify once)."""

    def __init__(self, processes: int | None = None, code: dict | None = None):
        options = grading_options(code)
        # the pool's wall-clock backstop must outlast a response's own budget of test time
        self.pool = VerifyPool(processes, item_timeout_s=options["code"]["total_timeout_s"] + 60, options=options)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.pool.close()

    def grade(self, problems: dict[str, dict], generations: pa.Table, progress: Callable | None = None) -> pa.Table:
        """``generations`` (:data:`GENERATION` rows) with their marks; ``problems`` maps problem_id to its
        :data:`~distillery.evaluate.problems.PROBLEM` row."""
        rows = generations.to_pylist()
        missing = sorted({r["problem_id"] for r in rows} - problems.keys())
        if missing:
            raise KeyError(f"samples of problems not in the benchmark: {missing[:5]}")
        verdicts = self.pool.map([problems[r["problem_id"]] for r in rows], [r["text"] for r in rows], progress)
        return pa.Table.from_pylist([mark(r, v) for r, v in zip(rows, verdicts, strict=True)], schema=GRADED)


def mark(row: dict, verdict) -> dict:
    return {
        **row,
        "correct": verdict.scorable and verdict.passed,
        "gradeable": verdict.scorable,
        "score": verdict.score,
        "verifier": verdict.verifier,
        "detail": verdict.detail,
    }


def grade_texts(
    problems: Sequence[dict], texts: Sequence[str], processes: int | None = None, code: dict | None = None
) -> list[dict]:
    """Marks of one response per problem (tests, benchmarks): dicts with correct, gradeable, detail."""
    rows = [{"problem_id": p["problem_id"], "text": t} for p, t in zip(problems, texts, strict=True)]
    with Grader(processes, code) as grader:
        verdicts = grader.pool.map(list(problems), list(texts))
    return [mark(r, v) for r, v in zip(rows, verdicts, strict=True)]


def merge_shards(shards: list[pa.Table], problem_order: list[str]) -> pa.Table:
    """The graded shards of one benchmark as one table, in the benchmark's problem order, then by sample."""
    table = pa.concat_tables(shards) if shards else GRADED.empty_table()
    rank = {pid: i for i, pid in enumerate(problem_order)}
    keys = list(
        zip((rank[p] for p in table.column("problem_id").to_pylist()), table.column("sample").to_pylist(), strict=True)
    )
    return table.take(sorted(range(len(table)), key=keys.__getitem__))
