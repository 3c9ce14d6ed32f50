"""From graded samples to the numbers a paper reports: pass@1 with its standard error, pass@k, lengths.

pass@k is the unbiased estimator of Chen et al. (2021, "Evaluating Large Language Models Trained on
Code"): with n samples of a problem of which c are correct, the chance that k drawn without replacement
hold at least one correct one, ``1 - C(n-c, k) / C(n, k)``, computed as a product so that n = 64 does not
overflow; averaged over problems. pass@1 is then the mean correctness, the paper's figure. Its standard
error is taken across problems (the per-problem means are the independent units; samples of one problem
are not), so it says how much the score would move on another draw of problems of the same kind.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples (out of n, c correct) is correct."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def stderr_across_problems(per_problem: list[float]) -> float | None:
    """Standard error of the mean of per-problem scores; None with fewer than two problems."""
    if len(per_problem) < 2:
        return None
    return float(np.std(per_problem, ddof=1) / math.sqrt(len(per_problem)))


def summarize(samples: list[dict]) -> dict:
    """Scores of one model on one benchmark from its graded samples (rows with ``problem_id``, ``correct``,
    ``gradeable``, ``completion_tokens``, ``finish_reason``, ``cached``, ``detail``).

    Ungradeable samples (a reference that does not parse, a problem without tests) are left out of the
    accuracy and counted apart, with their problems and reasons. Lengths count every sample: Table 2 is the
    mean generation length of all responses.
    """
    by_problem: dict[str, list[dict]] = defaultdict(list)
    for s in samples:
        by_problem[s["problem_id"]].append(s)
    counts = {}
    for pid, rows in by_problem.items():
        graded = [r for r in rows if r["gradeable"]]
        if graded:
            counts[pid] = (len(graded), sum(bool(r["correct"]) for r in graded))
    per_problem = [c / n for n, c in counts.values()]
    n_min = min((n for n, _ in counts.values()), default=0)
    ungradeable = [s for s in samples if not s["gradeable"]]
    tokens = np.array([s["completion_tokens"] for s in samples], dtype=float)
    correct_tokens = np.array([s["completion_tokens"] for s in samples if s["gradeable"] and s["correct"]], dtype=float)
    finish = Counter(s["finish_reason"] for s in samples)
    return {
        "problems": len(by_problem),
        "graded_problems": len(counts),
        "samples": len(samples),
        "samples_per_problem": n_min,
        "pass@1": float(np.mean(per_problem)) if per_problem else None,
        "pass@1_stderr": stderr_across_problems(per_problem),
        "pass@k": {
            str(k): float(np.mean([pass_at_k(n, c, k) for n, c in counts.values()])) for k in range(1, n_min + 1)
        },
        "mean_tokens": float(tokens.mean()) if len(tokens) else None,
        "mean_tokens_correct": float(correct_tokens.mean()) if len(correct_tokens) else None,
        "truncation_rate": finish.get("length", 0) / len(samples) if samples else None,
        "finish_reasons": dict(sorted(finish.items())),
        "cached": sum(bool(s["cached"]) for s in samples),
        "ungradeable": {
            "samples": len(ungradeable),
            "problems": sorted({s["problem_id"] for s in ungradeable}),
            "reasons": dict(Counter(s["detail"] for s in ungradeable).most_common(10)),
        },
        "by_problem": {pid: {"samples": n, "correct": c} for pid, (n, c) in sorted(counts.items())},
    }
