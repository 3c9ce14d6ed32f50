"""What every verifier returns."""

from __future__ import annotations

from dataclasses import dataclass

PASS_THRESHOLD = 0.9  # the paper: a response is kept when its verify score is >= 0.9


@dataclass(frozen=True)
class VerifyResult:
    """``score`` in [0, 1]; ``passed`` is score >= the threshold. ``scorable`` is False when the item
    itself cannot be verified (a reference that does not parse, a query without tests): a reject
    with a reason, not a failure of the response. ``undecided`` marks a rule-based verdict that an
    LLM judge may overturn (an answer math-verify cannot parse)."""

    score: float
    passed: bool
    verifier: str
    detail: str
    scorable: bool = True
    undecided: bool = False

    @classmethod
    def of(cls, score: float, verifier: str, detail: str, threshold: float = PASS_THRESHOLD) -> "VerifyResult":
        score = min(max(float(score), 0.0), 1.0)
        return cls(score, score >= threshold, verifier, detail)

    @classmethod
    def fail(cls, verifier: str, detail: str) -> "VerifyResult":
        """A response that earns nothing (empty, no answer, crashed program): score 0 with the reason."""
        return cls(0.0, False, verifier, detail)

    @classmethod
    def undecided_fail(cls, verifier: str, detail: str) -> "VerifyResult":
        return cls(0.0, False, verifier, detail, undecided=True)

    @classmethod
    def unscorable(cls, verifier: str, detail: str) -> "VerifyResult":
        return cls(0.0, False, verifier, detail, scorable=False)
