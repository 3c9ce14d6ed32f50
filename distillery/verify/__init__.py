"""Verifiers: one per category, one interface.

``score(query, response)`` scores one response with its category's rule-based verifier (math, code,
science, if); :class:`Verifier` scores batches on every core and adds the model-based verifiers: a
reward model for chat/general, and an LLM judge for those (when no reward model is given) and for the
answers a rule cannot decide.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import replace

from distillery.verify.judge import NAME as JUDGE
from distillery.verify.pool import RULE_VERIFIERS, VerifyPool, load_verifier, verify_one
from distillery.verify.result import VerifyResult

MODEL_CATEGORIES = ("chat", "general")

__all__ = ["Verifier", "score"]


def check_options(category: str, kwargs: dict) -> None:
    """Options a category's verifier does not take are an error now, not a 0 for every response."""
    if category not in RULE_VERIFIERS:
        raise ValueError(f"verifier options for {category!r}: no rule-based verifier (have {sorted(RULE_VERIFIERS)})")
    try:
        inspect.signature(load_verifier(RULE_VERIFIERS[category])).bind(None, None, **kwargs)
    except TypeError as e:
        raise ValueError(f"verifier options for {category!r}: {e}") from None


def score(query: dict, response: str, options: dict[str, dict] | None = None) -> VerifyResult:
    return verify_one(query, response, options=options)


class Verifier:
    """``reward`` and ``judge`` are objects with ``score(queries, responses) -> [VerifyResult]``
    (:class:`~distillery.verify.reward.RewardModelVerifier`, :class:`~distillery.verify.judge.JudgeVerifier`)."""

    def __init__(
        self,
        processes: int | None = None,
        reward=None,
        judge=None,
        progress: Callable | None = None,
        options: dict[str, dict] | None = None,
        threshold: float | None = None,
    ):
        """``threshold``: accept at score >= this (``distill.threshold``) instead of
        :data:`distillery.verify.result.PASS_THRESHOLD`, except for the verdicts of a judge with a threshold
        of its own."""
        self.reward, self.judge, self.progress, self.threshold = reward, judge, progress, threshold
        for category, kwargs in (options or {}).items():
            check_options(category, kwargs)
        self.pool = VerifyPool(processes, options=options)

    @classmethod
    def from_config(
        cls,
        config: dict,
        processes: int | None = None,
        progress: Callable | None = None,
        options: dict[str, dict] | None = None,
        loaded: dict | None = None,
    ) -> "Verifier":
        """From the ``distill`` section's ``judge`` / ``reward_model`` entries (models load here, except a
        judge found in ``loaded``, {model path: transformers backend}: a teacher that is its own judge)."""
        reward = judge = None
        if config.get("reward_model"):
            from distillery.verify.reward import RewardModelVerifier

            rm = config["reward_model"]
            extra = {k: tuple(rm[k]) for k in ("attributes", "use", "scale") if rm.get(k)}
            reward = RewardModelVerifier.load(
                rm["model"], trust_remote_code=rm.get("trust_remote_code", False), **extra
            )
        if config.get("judge"):
            from distillery.generation.transformers_backend import TransformersBackend
            from distillery.verify.judge import JudgeVerifier

            spec = config["judge"]
            backend = (loaded or {}).get(spec["model"]) or TransformersBackend.load(spec["model"])
            judge = JudgeVerifier(
                backend,
                max_new_tokens=spec.get("max_new_tokens", 256),
                few_shot=spec.get("few_shot", False),
                scoring=spec.get("scoring", "generate"),
                threshold=spec.get("threshold"),
            )
        return cls(
            processes, reward=reward, judge=judge, progress=progress, options=options, threshold=config.get("threshold")
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.pool.close()

    def score(self, queries: Sequence[dict], responses: Sequence[str]) -> list[VerifyResult]:
        results = self.pool.map(queries, responses, self.progress)
        by_model = self.reward or self.judge
        chat = [i for i, q in enumerate(queries) if q.get("category") in MODEL_CATEGORIES]
        if chat and by_model is not None:
            self._rescore(by_model, chat, queries, responses, results)
        elif chat:
            for i in chat:
                results[i] = VerifyResult.unscorable("none", "chat/general need a reward model or an LLM judge")
        undecided = [i for i, r in enumerate(results) if r.undecided]
        if undecided and self.judge is not None:
            self._rescore(self.judge, undecided, queries, responses, results)
        if self.threshold is not None:
            results = [self._rethreshold(r) for r in results]
        return results

    def _rethreshold(self, result: VerifyResult) -> VerifyResult:
        if result.verifier == JUDGE and self.judge is not None and self.judge.threshold is not None:
            return result  # judged at the judge's own threshold
        return replace(result, passed=result.scorable and result.score >= self.threshold)

    @staticmethod
    def _rescore(verifier, rows: list[int], queries, responses, results: list) -> None:
        for i, result in zip(
            rows, verifier.score([queries[i] for i in rows], [responses[i] for i in rows]), strict=True
        ):
            results[i] = result
