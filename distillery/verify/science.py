"""Science: a multiple-choice letter against the reference letter; a free answer like math."""

from __future__ import annotations

import re

from distillery.verify.math import UnparsableReference, equivalent, last_boxed
from distillery.verify.parse import split_response
from distillery.verify.result import VerifyResult

NAME = "science"

# The stated choice, most explicit first: "\boxed{B}", "answer is (B)", "Answer: B", a line "B".
_LETTER_PATTERNS = (
    re.compile(r"\b(?:[Aa]nswer|ANSWER)\s*(?:is|:)?\s*(?:[Oo]ption\s*)?\(?\**([A-J])\**\)?(?![A-Za-z])"),
    re.compile(r"(?m)^\s*\(?\**([A-J])\**\)?[.)]?\s*$"),
    re.compile(r"\b(?:[Oo]ption|[Cc]hoice)\s*\(?([A-J])\)?(?![A-Za-z])"),
)


def chosen_letter(answer: str, n_options: int) -> str | None:
    valid = {chr(ord("A") + i) for i in range(n_options)}
    boxed, _ = last_boxed(answer)
    if boxed is not None:
        letter = re.sub(r"\\text\{([^}]*)\}|[\s()*.$]", r"\1", boxed).upper()
        if letter in valid:
            return letter
    for pattern in _LETTER_PATTERNS:
        found = [m for m in pattern.findall(answer) if m in valid]
        if found:
            return found[-1]
    return None


def reference_letter(reference: str, options: list[str]) -> str | None:
    """The correct letter, whether the reference is the letter or the text of the option (GPQA)."""
    ref = reference.strip()
    if len(ref) == 1 and "A" <= ref.upper() < chr(ord("A") + len(options)):
        return ref.upper()
    matches = [i for i, o in enumerate(options) if o.strip() == ref]
    return chr(ord("A") + matches[0]) if len(matches) == 1 else None


def verify_science(query: dict, response: str) -> VerifyResult:
    reference = query.get("reference") or {}
    answer_ref = reference.get("answer")
    if answer_ref is None or not str(answer_ref).strip():
        return VerifyResult.unscorable(NAME, "no reference answer")
    parsed = split_response(response)
    if parsed.answer is None:
        return VerifyResult.fail(NAME, parsed.problem)
    options = reference.get("options")
    if options:
        correct = reference_letter(str(answer_ref), options)
        if correct is None:
            return VerifyResult.unscorable(NAME, f"reference {answer_ref!r} is neither a letter nor one of the options")
        letter = chosen_letter(parsed.answer, len(options))
        if letter is None:
            return VerifyResult.fail(NAME, "no choice letter in the answer")
        return VerifyResult.of(1.0 if letter == correct else 0.0, NAME, f"chose {letter}, reference {correct}")
    boxed, why = last_boxed(parsed.answer)
    if boxed is None:
        return VerifyResult.undecided_fail(NAME, why)
    try:
        same, detail = equivalent(str(answer_ref), boxed)
    except UnparsableReference:
        return VerifyResult.undecided_fail(NAME, "free-text reference: needs the LLM judge")
    if same is None:
        return VerifyResult.undecided_fail(NAME, detail)
    return VerifyResult.of(1.0 if same else 0.0, NAME, detail)
