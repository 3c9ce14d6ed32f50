"""A release's own verdicts (``info.verify_score``, kept in its index): compared with ours, or trusted.

By default every released response is verified again and :func:`agreement` says how often the release's
verdict and ours agree. With ``dataset.trust_verify_score`` the release's verdict is taken instead
(:class:`TrustedVerdicts`): a response it scored is accepted or rejected by that score, without running
a verifier; one it did not score is verified as usual.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from distillery.verify.result import VerifyResult


def release_scores(index_path: str | Path) -> dict[str, float]:
    """qid -> the release's verify_score, for the records that have one."""
    table = pq.read_table(index_path, columns=["qid", "verify_score"])
    qids, scores = (table.column(c).to_pylist() for c in ("qid", "verify_score"))
    return {q: s for q, s in zip(qids, scores, strict=True) if s is not None}


def agreement(scores: dict[str, float], attempts: list[dict], threshold: float) -> dict:
    """Our verdicts against the release's own (``verify_score`` >= ``threshold``) on the queries both
    scored: how often they agree, and where they part."""
    counts = Counter()
    for row in attempts:
        score = scores.get(row["qid"])
        if score is None or not row["scorable"]:
            continue
        ours, released = bool(row["accepted"]), score >= threshold
        counts["compared"] += 1
        counts["agree" if ours == released else ("ours_only" if ours else "release_only")] += 1
    return {k: counts[k] for k in ("compared", "agree", "ours_only", "release_only")}


class TrustedVerdicts:
    """A verifier (``score(queries, responses)``) that takes the release's verdict where it has one."""

    def __init__(self, verifier, scores: dict[str, float], threshold: float):
        self.verifier, self.scores, self.threshold = verifier, scores, threshold

    def score(self, queries: Sequence[dict], responses: Sequence[str]) -> list[VerifyResult]:
        results: list[VerifyResult | None] = [None] * len(queries)
        unscored = []
        for i, query in enumerate(queries):
            score = self.scores.get(query["qid"])
            if score is None:
                unscored.append(i)
            else:
                passed = score >= self.threshold
                results[i] = VerifyResult(score, passed, "release", "the release's own verify_score (trusted)")
        if unscored:
            for i, result in zip(
                unscored,
                self.verifier.score([queries[i] for i in unscored], [responses[i] for i in unscored]),
                strict=True,
            ):
                results[i] = result
        return results
