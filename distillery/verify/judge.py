"""LLM-as-judge: any generation backend rates a response 0-10 against a fixed rubric.

Used where no rule decides: math answers math-verify cannot parse, free-text science answers, and
chat/general replies when no reward model fits (the embedded default, which has no reward model).
"""

from __future__ import annotations

import re

from distillery.generate.backend import Backend, GenerationRequest
from distillery.verify.parse import answers_to_score
from distillery.verify.result import PASS_THRESHOLD, VerifyResult

NAME = "judge"

RUBRIC = """You are grading an AI assistant's reply. Judge it on correctness first, then helpfulness and \
coherence. {reference_clause}Rate the reply on a scale from 0 (wrong or useless) to 10 (fully correct, \
helpful and clear). Reply with a one-sentence justification, then a last line of the form "Rating: N".

[Conversation]
{conversation}

[Reply to grade]
{answer}"""

_RATING = re.compile(r"Rating:\s*\**\s*(10|[0-9])(?:\.\d+)?\s*(?:/\s*10)?", re.I)


def judge_prompt(query: dict, answer: str) -> str:
    reference = (query.get("reference") or {}).get("answer")
    clause = f"A reference answer is given: {reference}. A reply that disagrees with it is wrong. " if reference else ""
    conversation = "\n\n".join(f"{m['role'].upper()}: {m['content']}" for m in query.get("messages", []))
    return RUBRIC.format(reference_clause=clause, conversation=conversation, answer=answer)


def parse_rating(text: str) -> int | None:
    found = _RATING.findall(text)
    return int(found[-1]) if found else None


class JudgeVerifier:
    def __init__(self, backend: Backend, max_new_tokens: int = 256, threshold: float = PASS_THRESHOLD):
        self.backend = backend
        self.max_new_tokens = max_new_tokens
        self.threshold = threshold

    def score(self, queries: list[dict], responses: list[str]) -> list[VerifyResult]:
        results, asks, answers = answers_to_score(responses, NAME)
        requests = [GenerationRequest([{"role": "user", "content": judge_prompt(queries[i], answer)}],
                                      max_new_tokens=self.max_new_tokens) for i, answer in zip(asks, answers)]
        for i, out in zip(asks, self.backend.generate(requests)):
            rating = parse_rating(out.text)
            if rating is None:
                results[i] = VerifyResult.fail(NAME, f"the judge ({self.backend.model_id}) gave no rating: {out.text[-120:]!r}")
            else:
                results[i] = VerifyResult.of(rating / 10, NAME, f"rated {rating}/10 by {self.backend.model_id}",
                                             self.threshold)
        return results  # type: ignore[return-value]
