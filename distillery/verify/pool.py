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


def load_verifier(target: str) -> Callable[[dict, str], VerifyResult]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def verify_one(query: dict, response: str, verifiers: dict[str, str] = RULE_VERIFIERS,
               options: dict[str, dict] | None = None) -> VerifyResult:
    """Score one response in this process; an unexpected error is a 0 with the error, not a crash.

    ``options[category]`` are keyword arguments of that category's verifier (e.g. the code
    verifier's ``max_tests``, ``timeout_s``, ``allow_unsandboxed``).
    """
    category = query.get("category")
    if category not in verifiers:
        return VerifyResult.unscorable("none", f"no rule-based verifier for category {category!r}")
    try:
        return load_verifier(verifiers[category])(query, response, **(options or {}).get(category, {}))
    except Exception as e:  # a verifier bug must not take the batch down; the reason is kept
        return VerifyResult.fail(category, f"verifier error: {type(e).__name__}: {e}"[:500])


def _verify_chunk(items: list[tuple[int, dict, str]], verifiers: dict, options: dict | None) -> list[tuple[int, VerifyResult]]:
    return [(index, verify_one(query, response, verifiers, options)) for index, query, response in items]


def verify_all(queries: Sequence[dict], responses: Sequence[str], processes: int | None = None,
               item_timeout_s: float = 120.0, progress: Callable | None = None,
               verifiers: dict[str, str] = RULE_VERIFIERS, chunk_size: int = 16,
               options: dict[str, dict] | None = None) -> list[VerifyResult]:
    """Scores in input order, computed on ``processes`` worker processes (default: every core the
    process may use).

    ``verifiers`` maps a category to the ``module:function`` that scores it, ``options`` a category to
    that function's keyword arguments (see :func:`verify_one`). Items travel in chunks
    (less inter-process traffic); a chunk that runs past its time is retried one item at a time, so
    that only the item that hangs is given up.
    """
    processes = processes or len(os.sched_getaffinity(0))  # the job's CPUs, not the whole node
    results: list[VerifyResult | None] = [None] * len(queries)
    chunks = [list(range(i, min(i + chunk_size, len(queries)))) for i in range(0, len(queries), chunk_size)]
    bar = progress(total=len(queries), unit="response") if progress is not None else None
    context = multiprocessing.get_context("forkserver")  # no fork of a parent that runs Arrow threads
    while chunks:
        retry: list[list[int]] = []
        with context.Pool(processes) as pool:
            futures = [(chunk, pool.apply_async(_verify_chunk, ([(i, queries[i], responses[i]) for i in chunk],
                                                                verifiers, options))) for chunk in chunks]
            for position, (chunk, future) in enumerate(futures):
                try:
                    done = future.get(timeout=item_timeout_s * len(chunk))
                except multiprocessing.TimeoutError:
                    if len(chunk) == 1:
                        log.warning("item %d ran past %.0f s: scored 0", chunk[0], item_timeout_s)
                        results[chunk[0]] = VerifyResult.fail(
                            queries[chunk[0]].get("category", "none"),
                            f"verification ran past {item_timeout_s:.0f} s and was killed")
                        done = [(chunk[0], results[chunk[0]])]
                    else:
                        retry.extend([i] for i in chunk)
                        done = []
                    # The pool is killed with its hung worker: keep what finished, rerun the rest.
                    for later, f in futures[position + 1:]:
                        if f.ready() and f.successful():
                            _store(results, f.get(), bar)
                        else:
                            retry.append(later)
                    _store(results, done, bar)
                    pool.terminate()
                    break
                _store(results, done, bar)
        chunks = retry
    if bar is not None:
        bar.close()
    return results  # type: ignore[return-value]


def _store(results: list, done: list[tuple[int, VerifyResult]], bar) -> None:
    for index, result in done:
        results[index] = result
    if bar is not None:
        bar.update(len(done))
