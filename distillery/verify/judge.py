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


# Two graded examples, for base-model judges (the embedded default's 270M model) that do not follow the
# rubric's "Rating: N" line from instructions alone; an instruction-tuned judge needs none.
FEW_SHOT = [
    ({"messages": [{"role": "user", "content": "What is the capital of France?"}]},
     "The capital of France is Paris.",
     "The reply names the right city and says it plainly.\nRating: 9"),
    ({"messages": [{"role": "user", "content": "How many days are in a week?"}]},
     "Weeks have many days and it depends on the month.",
     "The reply is wrong and confusing: a week has seven days.\nRating: 1"),
]


def judge_messages(query: dict, answer: str, few_shot: bool = False) -> list[dict]:
    examples = [turn for q, a, verdict in FEW_SHOT for turn in (
        {"role": "user", "content": judge_prompt(q, a)}, {"role": "assistant", "content": verdict})] if few_shot else []
    return examples + [{"role": "user", "content": judge_prompt(query, answer)}]


def parse_rating(text: str) -> int | None:
    found = _RATING.findall(text)
    return int(found[-1]) if found else None


class JudgeVerifier:
    def __init__(self, backend: Backend, max_new_tokens: int = 256, threshold: float = PASS_THRESHOLD,
                 few_shot: bool = False):
        self.backend = backend
        self.max_new_tokens = max_new_tokens
        self.threshold = threshold
        self.few_shot = few_shot

    def score(self, queries: list[dict], responses: list[str]) -> list[VerifyResult]:
        results, asks, answers = answers_to_score(responses, NAME)
        requests = [GenerationRequest(judge_messages(queries[i], answer, self.few_shot), max_new_tokens=self.max_new_tokens)
                    for i, answer in zip(asks, answers)]
        for i, out in zip(asks, self.backend.generate(requests)):
            rating = parse_rating(out.text)
            if rating is None:
                results[i] = VerifyResult.fail(NAME, f"the judge ({self.backend.model_id}) gave no rating: {out.text[-120:]!r}")
            else:
                results[i] = VerifyResult.of(rating / 10, NAME, f"rated {rating}/10 by {self.backend.model_id}",
                                             self.threshold)
        return results  # type: ignore[return-value]
