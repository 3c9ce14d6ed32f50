"""Math: the last ``\\boxed{}`` of the answer against the reference, with math-verify (binary).

Traps measured on math-verify 0.9.0: the reference is parsed wrapped in ``$…$``; ``malformed_operators``
stays on so that ``\\frac12`` parses; math-verify's timeouts use ``signal.alarm``, so this runs in
worker processes, never threads (see :mod:`distillery.verify.pool`); only the *last* box is parsed,
because math-verify merges several bare boxes into a set.
"""

from __future__ import annotations

from math_verify import LatexExtractionConfig, parse, verify

from distillery.verify.parse import split_response
from distillery.verify.result import VerifyResult

NAME = "math"
BOX_COMMANDS = ("\\boxed", "\\fbox")
PARSE_TIMEOUT_S = 5


def last_boxed(text: str) -> tuple[str | None, str | None]:
    """Content of the last ``\\boxed{…}`` (braces balanced), or (None, why)."""
    start = max(text.rfind(cmd + "{") for cmd in BOX_COMMANDS)
    if start < 0:
        return None, "no \\boxed{} in the answer"
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                content = text[i + 1 : j].strip()
                return (content, None) if content else (None, "empty \\boxed{}")
    return None, "unclosed \\boxed{"


def parse_latex(expression: str) -> list:
    return parse(
        f"${expression}$",
        extraction_config=[LatexExtractionConfig(boxed_match_priority=0)],
        parsing_timeout=PARSE_TIMEOUT_S,
    )


class UnparsableReference(ValueError):
    """The reference answer does not parse: the item cannot be scored."""


def equivalent(reference: str, answer: str) -> tuple[bool | None, str]:
    """(True/False, why); (None, why) when the answer does not parse (undecided).

    Raises :class:`UnparsableReference` when the reference does not parse.
    """
    gold = parse_latex(reference)
    if not gold:
        raise UnparsableReference(f"reference {reference!r} does not parse")
    pred = parse_latex(answer)
    if not pred:
        return None, f"answer {answer[:80]!r} does not parse"
    same = verify(gold, pred, timeout_seconds=PARSE_TIMEOUT_S)
    return same, f"{answer[:80]!r} {'==' if same else '!='} {reference[:80]!r}"


def verify_math(query: dict, response: str) -> VerifyResult:
    reference = (query.get("reference") or {}).get("answer")
    if reference is None or not str(reference).strip():
        return VerifyResult.unscorable(NAME, "no reference answer")
    parsed = split_response(response)
    if parsed.answer is None:
        return VerifyResult.fail(NAME, parsed.problem)
    boxed, why = last_boxed(parsed.answer)
    if boxed is None:
        return VerifyResult.fail(NAME, why)
    try:
        same, detail = equivalent(str(reference), boxed)
    except UnparsableReference as e:
        return VerifyResult.unscorable(NAME, str(e))
    if same is None:
        return VerifyResult.undecided_fail(NAME, detail)
    return VerifyResult.of(1.0 if same else 0.0, NAME, detail)
