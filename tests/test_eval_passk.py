"""pass@k, pass@1 and the other scores of an evaluation, against closed forms and brute force."""

import itertools
import math

import numpy as np
import pytest

from distillery.evaluate.passk import pass_at_k, stderr_across_problems, summarize


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_the_closed_form_and_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            closed = 1 - math.comb(n - c, k) / math.comb(n, k)
            # every k-subset of n samples of which the first c are correct
            subsets = list(itertools.combinations(range(n), k))
            enumerated = sum(any(i < c for i in s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(closed, abs=1e-12)
            assert pass_at_k(n, c, k) == pytest.approx(enumerated, abs=1e-12)


def test_pass_at_k_at_paper_scale_does_not_overflow():
    assert pass_at_k(64, 1, 64) == 1.0
    assert pass_at_k(64, 0, 64) == 0.0
    assert pass_at_k(64, 3, 10) == pytest.approx(1 - math.comb(61, 10) / math.comb(64, 10), abs=1e-12)
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 2, 5)


def _samples(correct_by_problem, tokens=10, finish="stop"):
    return [
        {
            "problem_id": pid,
            "sample": s,
            "correct": bool(ok),
            "gradeable": True,
            "completion_tokens": tokens,
            "finish_reason": finish,
            "cached": False,
            "detail": "",
        }
        for pid, marks in correct_by_problem.items()
        for s, ok in enumerate(marks)
    ]


def test_pass_at_1_from_n_samples_is_the_mean_and_its_stderr_is_across_problems():
    marks = {"a": [1, 0, 0, 1], "b": [0, 0, 0, 0], "c": [1, 1, 1, 1], "d": [1, 0, 0, 0]}
    scores = summarize(_samples(marks))
    all_marks = [m for ms in marks.values() for m in ms]
    assert scores["pass@1"] == pytest.approx(np.mean(all_marks))
    assert scores["pass@k"]["1"] == pytest.approx(scores["pass@1"])
    per_problem = [np.mean(m) for m in marks.values()]
    assert scores["pass@1_stderr"] == pytest.approx(np.std(per_problem, ddof=1) / 2)
    assert list(scores["pass@k"]) == ["1", "2", "3", "4"]
    assert scores["pass@k"]["4"] == pytest.approx(3 / 4)  # every problem but b has a correct sample
    expected_2 = np.mean([1 - math.comb(4 - sum(m), 2) / math.comb(4, 2) for m in marks.values()])
    assert scores["pass@k"]["2"] == pytest.approx(expected_2)
    assert scores["samples_per_problem"] == 4 and scores["problems"] == 4 and scores["samples"] == 16


def test_lengths_truncation_and_ungradeable_samples_are_reported_apart():
    rows = _samples({"a": [1, 0]}, tokens=100) + _samples({"b": [0, 0]}, tokens=300, finish="length")
    rows += [
        {
            "problem_id": "c",
            "sample": s,
            "correct": False,
            "gradeable": False,
            "completion_tokens": 200,
            "finish_reason": "stop",
            "cached": True,
            "detail": "query has no tests",
        }
        for s in range(2)
    ]
    scores = summarize(rows)
    assert scores["pass@1"] == pytest.approx(0.25)  # c is left out, not counted wrong
    assert scores["graded_problems"] == 2 and scores["problems"] == 3
    assert scores["ungradeable"] == {"samples": 2, "problems": ["c"], "reasons": {"query has no tests": 2}}
    assert scores["mean_tokens"] == pytest.approx(200)  # Table 2 counts every response
    assert scores["mean_tokens_correct"] == pytest.approx(100)
    assert scores["truncation_rate"] == pytest.approx(2 / 6)
    assert scores["cached"] == 2


def test_stderr_needs_two_problems():
    assert stderr_across_problems([0.5]) is None
    assert stderr_across_problems([0.0, 1.0]) == pytest.approx(0.5)
