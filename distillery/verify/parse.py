"""Splitting a response into its reasoning and its answer.

Two shapes occur: the paper's ``<think>…</think> <answer>…</answer>`` and DeepSeek-R1's
``<think>…</think>`` followed by the answer as plain text (whose opening ``<think>`` may sit in the
prompt, so that the completion holds only ``…</think> answer``). Verifiers score the answer part only, so
that a correct value mentioned while thinking earns nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from distillery.verify.result import VerifyResult

_THINK = re.compile(r"<think>(.*?)</think>", re.S)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|\Z)", re.S)


@dataclass(frozen=True)
class ParsedResponse:
    think: str | None  # None: no think segment
    answer: str | None  # None: no answer to score
    problem: str | None = None  # why the answer is missing or suspect


def split_response(text: str | None) -> ParsedResponse:
    if text is None or not text.strip():
        return ParsedResponse(None, None, "empty response")
    think_match = _THINK.search(text)
    if think_match is None and "</think>" in text and "<think>" not in text:
        # R1/Qwen3 chat templates open <think> in the prompt: the completion starts inside it.
        head, _, rest = text.partition("</think>")
        think = head.strip()
    else:
        think = think_match.group(1).strip() if think_match else None
        rest = text[think_match.end() :] if think_match else text
    if think_match is None and "<think>" in text:
        return ParsedResponse(text.split("<think>", 1)[1].strip(), None, "unclosed <think>: no answer")
    answer_match = _ANSWER.search(rest)
    if answer_match:
        answer = answer_match.group(1).strip()
        problem = None if "</answer>" in rest[answer_match.start() :] else "unclosed <answer>"
    else:
        answer = rest.strip()  # R1 style: plain text after the reasoning
        problem = None
    if not answer:
        return ParsedResponse(think, None, "no answer after the reasoning")
    return ParsedResponse(think, answer, problem)


def answers_to_score(responses, verifier: str):
    """For model-based verifiers: (results with a 0 and the reason for every response without an
    answer, None elsewhere; the indices of the others; their answers)."""
    results, where, answers = [None] * len(responses), [], []
    for i, response in enumerate(responses):
        parsed = split_response(response)
        if parsed.answer is None:
            results[i] = VerifyResult.fail(verifier, parsed.problem)
        else:
            where.append(i)
            answers.append(parsed.answer)
    return results, where, answers
