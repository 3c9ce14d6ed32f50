"""Response-level quality assurance, after verification (the paper's three checks).

- structure: the conversation with the new reply has an even number of user/assistant turns, and the
  reply has both a think and an answer segment;
- repetition: an n-gram of ``ngram`` tokens (20) occurring more than ``max_repeats`` (20) times;
- perplexity: under a strong LM, above a per-teacher threshold (scored by :mod:`distillery.corpora.perplexity`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from distillery.verify.parse import split_response

QA_ORDER = ("structure", "repetition", "perplexity")


def structure_problem(messages: list[dict], response: str) -> str | None:
    turns = sum(1 for m in messages if m["role"] in ("user", "assistant")) + 1
    if turns % 2:
        return f"odd number of turns ({turns})"
    parsed = split_response(response)
    if parsed.think is None:
        return "no think segment"
    if parsed.answer is None:
        return f"no answer segment ({parsed.problem})"
    return None


def most_repeated_ngram(tokens: list, n: int) -> tuple[int, tuple]:
    """(count, n-gram) of the most frequent n-gram; (0, ()) when the text is shorter than n."""
    if len(tokens) < n:
        return 0, ()
    counts = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    ngram, count = counts.most_common(1)[0]
    return count, ngram


def quality_problems(
    messages: list[dict],
    response: str,
    perplexity: float | None,
    config: dict,
    tokenize: Callable[[str], list] = str.split,
) -> dict[str, str]:
    """Every QA check the response fails, with why (empty: it passes)."""
    problems = {}
    if config["structure"]["enabled"] and (why := structure_problem(messages, response)):
        problems["structure"] = why
    rep = config["repetition"]
    if rep["enabled"]:
        count, ngram = most_repeated_ngram(tokenize(response), rep["ngram"])
        if count > rep["max_repeats"]:
            problems["repetition"] = f"a {rep['ngram']}-gram occurs {count} times: {' '.join(map(str, ngram))[:80]!r}"
    ppl = config["perplexity"]
    if ppl["enabled"] and perplexity is not None and perplexity > ppl["max"]:
        problems["perplexity"] = f"perplexity {perplexity:.2f} > {ppl['max']}"
    return problems


def apply_quality(
    rows: list[dict], config: dict, tokenize: Callable[[str], list] = str.split, response_field: str = "response"
) -> tuple[list[dict], list[dict], dict]:
    """(kept, rejects, report) for rows holding ``messages``, a response and optionally ``perplexity``.

    A reject carries ``reason`` (its first failing check, in :data:`QA_ORDER`) and ``detail`` (all of
    them); the report counts both, as the query filters do.
    """
    kept, rejects = [], []
    reasons: Counter = Counter()
    flagged: Counter = Counter()
    for row in rows:
        problems = quality_problems(row["messages"], row[response_field] or "", row.get("perplexity"), config, tokenize)
        if not problems:
            kept.append(row)
            continue
        flagged.update(problems.keys())
        reason = next(name for name in QA_ORDER if name in problems)
        reasons[reason] += 1
        rejects.append({**row, "reason": reason, "detail": "; ".join(f"{k}: {v}" for k, v in problems.items())})
    report = {
        "rows_in": len(rows),
        "kept": len(kept),
        "rejected": len(rejects),
        "reasons": dict(sorted(reasons.items())),
        "flagged": dict(sorted(flagged.items())),
    }
    return kept, rejects, report
