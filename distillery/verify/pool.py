"""Rule-based verification on every core, with a wall-clock backstop.

math-verify times out with ``signal.alarm``, which works only in a process's main thread, so the
verifiers run in worker processes. A verifier that hangs anyway (a pathological expression, a
sandbox that does not come back) costs that one item a score of 0, never the batch: its worker is
killed and the pool is rebuilt for the remaining items.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence

from distillery.verify.result import VerifyResult

log = logging.getLogger(__name__)

# category -> "module:function"; imported in the worker that needs it.
RULE_VERIFIERS = {
    "math": "distillery.verify.math:verify_math",
    "science": "distillery.verify.science:verify_science",
    "code": "distillery.verify.code:verify_code",
    "if": "distillery.verify.instructions:verify_instructions",
}


def _load(target: str) -> Callable[[dict, str], VerifyResult]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def verify_one(query: dict, response: str, verifiers: dict[str, str] = RULE_VERIFIERS) -> VerifyResult:
    """Score one response in this process; an unexpected error is a 0 with the error, not a crash."""
    category = query.get("category")
    if category not in verifiers:
        return VerifyResult.unscorable("none", f"no rule-based verifier for category {category!r}")
    try:
        return _load(verifiers[category])(query, response)
    except Exception as e:  # a verifier bug must not take the batch down; the reason is kept
        return VerifyResult.fail(category, f"verifier error: {type(e).__name__}: {e}"[:500])


def _verify_indexed(args: tuple[int, dict, str, dict]) -> tuple[int, VerifyResult]:
    index, query, response, verifiers = args
    return index, verify_one(query, response, verifiers)


def verify_all(queries: Sequence[dict], responses: Sequence[str], processes: int | None = None,
               item_timeout_s: float = 120.0, progress: Callable | None = None,
               verifiers: dict[str, str] = RULE_VERIFIERS) -> list[VerifyResult]:
    """Scores in input order, computed on ``processes`` worker processes (default: every core).

    ``verifiers`` maps a category to the ``module:function`` that scores it.
    """
    processes = processes or os.cpu_count() or 1
    results: list[VerifyResult | None] = [None] * len(queries)
    pending = list(range(len(queries)))
    bar = progress(total=len(queries), unit="response") if progress is not None else None
    context = multiprocessing.get_context("forkserver")  # no fork of a parent that runs Arrow threads
    while pending:
        with context.Pool(processes) as pool:
            futures = [(i, pool.apply_async(_verify_indexed, ((i, queries[i], responses[i], verifiers),))) for i in pending]
            pending = []
            for position, (i, future) in enumerate(futures):
                try:
                    results[i] = future.get(timeout=item_timeout_s)[1]
                except multiprocessing.TimeoutError:
                    log.warning("item %d ran past %.0f s: scored 0, pool restarted", i, item_timeout_s)
                    results[i] = VerifyResult.fail(queries[i].get("category", "none"),
                                                   f"verification ran past {item_timeout_s:.0f} s and was killed")
                    pending = [j for j, f in futures[position + 1:] if not (f.ready() and _collect(results, j, f))]
                    if bar is not None:
                        bar.update(len(futures) - position - len(pending))
                    pool.terminate()
                    break
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    return results  # type: ignore[return-value]


def _collect(results: list, index: int, future) -> bool:
    """Keep the result of an item that finished before its pool was killed."""
    try:
        results[index] = future.get(timeout=0)[1]
        return True
    except Exception:
        return False
