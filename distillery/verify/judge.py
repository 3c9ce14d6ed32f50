"""LLM-as-judge: a model rates a response against a fixed rubric.

Used where no rule decides: math answers math-verify cannot parse, free-text science answers, and
chat/general replies when no reward model fits (the embedded default, which has no reward model).

Two ways to read the rating. ``generate``: the judge writes a justification, then "Rating: N" (0-10).
``probabilities``: the reply is started as "Rating: " and the score is the expected rating under the
judge's next-token probabilities over the digits 0-9 (G-Eval's weighting): one forward pass and no
decoding, a continuous score, and no reply without a rating. A base model (the embedded default's 270M)
only manages the second: it copies the first's justifications from its examples, verdict included.
"""

from __future__ import annotations

import re

from distillery.generation.backend import Backend, GenerationRequest
from distillery.verify.parse import answers_to_score
from distillery.verify.result import PASS_THRESHOLD, VerifyResult

NAME = "judge"

RUBRIC = """You are grading an AI assistant's reply. Judge it on correctness first, then helpfulness and \
coherence. {reference_clause}Rate the reply on a scale from 0 (wrong or useless) to {top} (fully correct, \
helpful and clear). {reply}

[Conversation]
{conversation}

[Reply to grade]
{answer}"""

SCORINGS = ("generate", "probabilities")
_REPLY = {
    "generate": 'Reply with a one-sentence justification, then a last line of the form "Rating: N".',
    "probabilities": 'Reply with one line of the form "Rating: N".',
}
_TOP = {"generate": 10, "probabilities": 9}
PREFIX = "Rating: "
_RATING = re.compile(r"Rating:\s*\**\s*(10|[0-9])(?:\.\d+)?\s*(?:/\s*10)?", re.I)


def judge_prompt(query: dict, answer: str, scoring: str = "generate") -> str:
    reference = (query.get("reference") or {}).get("answer")
    clause = f"A reference answer is given: {reference}. A reply that disagrees with it is wrong. " if reference else ""
    conversation = "\n\n".join(f"{m['role'].upper()}: {m['content']}" for m in query.get("messages", []))
    return RUBRIC.format(
        reference_clause=clause, top=_TOP[scoring], reply=_REPLY[scoring], conversation=conversation, answer=answer
    )


# Two graded examples, for base-model judges (the embedded default's 270M model) that do not follow the
# rubric's "Rating: N" line from instructions alone; an instruction-tuned judge needs none.
FEW_SHOT = [
    (
        {"messages": [{"role": "user", "content": "What is the capital of France?"}]},
        "The capital of France is Paris.",
        "The reply names the right city and says it plainly.\nRating: 9",
    ),
    (
        {"messages": [{"role": "user", "content": "How many days are in a week?"}]},
        "Weeks have many days and it depends on the month.",
        "The reply is wrong and confusing: a week has seven days.\nRating: 1",
    ),
]


def judge_messages(query: dict, answer: str, few_shot: bool = False, scoring: str = "generate") -> list[dict]:
    """The judge's conversation; with ``probabilities`` the examples' verdicts are their rating lines only."""

    def verdict(text: str) -> str:
        return text if scoring == "generate" else text.splitlines()[-1]

    examples = (
        [
            turn
            for q, a, v in FEW_SHOT
            for turn in (
                {"role": "user", "content": judge_prompt(q, a, scoring)},
                {"role": "assistant", "content": verdict(v)},
            )
        ]
        if few_shot
        else []
    )
    return examples + [{"role": "user", "content": judge_prompt(query, answer, scoring)}]


def parse_rating(text: str) -> int | None:
    found = _RATING.findall(text)
    return int(found[-1]) if found else None


class JudgeVerifier:
    """``probabilities`` needs a backend with ``next_token_probabilities`` (the transformers backend).
    ``threshold``: the judge's own pass threshold (``distill.judge.threshold``), which wins over
    ``distill.threshold`` for its verdicts; None: none of its own (the paper's 0.9 unless that is set)."""

    def __init__(
        self,
        backend: Backend,
        max_new_tokens: int = 256,
        threshold: float | None = None,
        few_shot: bool = False,
        scoring: str = "generate",
    ):
        if scoring not in SCORINGS:
            raise ValueError(f"judge scoring {scoring!r}: one of {SCORINGS}")
        self.backend = backend
        self.max_new_tokens = max_new_tokens
        self.threshold = threshold
        self.few_shot = few_shot
        self.scoring = scoring

    @property
    def pass_at(self) -> float:
        return PASS_THRESHOLD if self.threshold is None else self.threshold

    def score(self, queries: list[dict], responses: list[str]) -> list[VerifyResult]:
        results, asks, answers = answers_to_score(responses, NAME)
        if self.scoring == "probabilities":
            conversations = [
                judge_messages(queries[i], a, self.few_shot, self.scoring) for i, a in zip(asks, answers, strict=True)
            ]
            digits = [str(d) for d in range(10)]
            for i, (probs, mass) in zip(
                asks, self.backend.next_token_probabilities(conversations, PREFIX, digits), strict=True
            ):
                expected = sum(d * p for d, p in enumerate(probs))
                results[i] = VerifyResult.of(
                    expected / 9,
                    NAME,
                    f"expected rating {expected:.2f}/9 by {self.backend.model_id} "
                    f"(digits held {mass:.0%} of its next-token probability)",
                    self.pass_at,
                )
            return results  # type: ignore[return-value]
        requests = [
            GenerationRequest(judge_messages(queries[i], answer, self.few_shot), max_new_tokens=self.max_new_tokens)
            for i, answer in zip(asks, answers, strict=True)
        ]
        for i, out in zip(asks, self.backend.generate(requests), strict=True):
            rating = parse_rating(out.text)
            if rating is None:
                results[i] = VerifyResult.fail(
                    NAME, f"the judge ({self.backend.model_id}) gave no rating: {out.text[-120:]!r}"
                )
            else:
                results[i] = VerifyResult.of(
                    rating / 10, NAME, f"rated {rating}/10 by {self.backend.model_id}", self.pass_at
                )
        return results  # type: ignore[return-value]
