"""Math: the last ``\\boxed{}`` of the answer against the reference, with math-verify (binary).

Traps measured on math-verify 0.9.0: the reference is parsed wrapped in ``$…$``; ``malformed_operators``
stays on so that ``\\frac12`` parses; math-verify's timeouts use ``signal.alarm``, so this runs in
worker processes, never threads (see :mod:`distillery.verify.pool`); only the *last* box is parsed,
because math-verify merges several bare boxes into a set.

math-verify also fails quietly: what it cannot read stays a bare string, and words become products
of letters (``five`` is ``E·f·i·v``), so its "different" is no verdict there: such answers are left
undecided, for an LLM judge. Both sides are first normalised for forms it misreads (:func:`normalize`).
"""

from __future__ import annotations

import re
from fractions import Fraction

from math_verify import LatexExtractionConfig, parse, verify

from distillery.verify.parse import split_response
from distillery.verify.result import VerifyResult

NAME = "math"
BOX_COMMANDS = ("\\boxed", "\\fbox")
PARSE_TIMEOUT_S = 5

# \, \; \: \! and "\ ": dropped, but a space after a command name; left after a comma, where math-verify
# reads "1,\!200" as 1200 and "1,\;200" as a pair; not the second half of a line break "\\".
_SPACING = re.compile(r"(\\[A-Za-z]+)?(?<![\\,])(?:\\[,;:! ])+\s*")
_IMAGINARY = re.compile(r"(?<=\d)\s*(?:\\cdot\s*)?i(?![A-Za-z_])")  # 9 i, 9\cdot i -> 9i
_DEGREE = re.compile(r"\s*°")
_REPEATING = re.compile(r"(\d*)\.(\d*)\\(?:overline|bar)\s*(?:\{(\d+)\}|(\d))")
_TEXT_WRAPPER = re.compile(r"\\(?:text[a-z]*|mathrm|mbox|emph)\s*\{([^{}]*)\}")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{3,}")


def _repeating_to_fraction(m: re.Match) -> str:
    whole, fixed, period = m.group(1), m.group(2), m.group(3) or m.group(4)
    value = int(whole or 0) + Fraction(
        int(fixed + period) - int(fixed or 0), 10 ** len(fixed) * (10 ** len(period) - 1)
    )
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def normalize(expression: str) -> str:
    """The same value in a form math-verify reads. It reads no expression in ``1.\\overline{27}`` or ``30°``
    (-> ``\\frac{14}{11}``, ``30^{\\circ}``), ``10\\,080`` as 90 (-> ``10080``), and the ``i`` of ``6+9\\,i``,
    ``6+9 i`` or ``6+9\\cdot i`` as a symbol other than the ``i`` of ``6+9i`` (-> ``6+9i``)."""
    text = _SPACING.sub(lambda m: m.group(1) + " " if m.group(1) else "", expression)
    text = _IMAGINARY.sub("i", text)
    text = _DEGREE.sub("^{\\\\circ}", text)
    return _REPEATING.sub(_repeating_to_fraction, text)


def plain(expression: str) -> str:
    """Text for a literal comparison: ``\\text{Monday.}`` -> ``monday``."""
    return " ".join(_TEXT_WRAPPER.sub(r"\1", expression).strip("$").split()).rstrip(".").casefold()


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


def symbol_names(parsed: list) -> set[str] | None:
    """Names of the free symbols of math-verify's expressions; None when it kept only strings."""
    expressions = [e for e in parsed if not isinstance(e, str)]
    if not expressions:
        return None
    return {s.name for e in expressions for s in getattr(e, "free_symbols", ())}


class UnparsableReference(ValueError):
    """The reference answer does not parse: the item cannot be scored."""


def equivalent(reference: str, answer: str) -> tuple[bool | None, str]:
    """(True/False, why); (None, why) when math-verify cannot read the answer (undecided): it does
    not parse into an expression, or its words became symbols that the reference lacks.

    Raises :class:`UnparsableReference` when the reference does not parse.
    """
    gold = parse_latex(normalize(reference))
    if not gold:
        raise UnparsableReference(f"reference {reference!r} does not parse")
    pred = parse_latex(normalize(answer))

    def shown(relation: str) -> str:
        return f"{answer[:80]!r} {relation} {reference[:80]!r}"

    if verify(gold, pred, timeout_seconds=PARSE_TIMEOUT_S) or plain(answer) == plain(reference):
        return True, shown("==")
    gold_names, pred_names = symbol_names(gold), symbol_names(pred)
    if gold_names is None or pred_names is None:
        side = "answer" if pred_names is None else "reference"
        return None, f"{side} does not parse into an expression: {shown('vs')}"
    if pred_names - gold_names and _WORD.search(_COMMAND.sub(" ", answer)):
        return None, f"answer does not parse as math, its words became symbols: {shown('vs')}"
    return False, shown("!=")


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
