"""Rule-based verification on every core, with a wall-clock backstop.

math-verify times out with ``signal.alarm``, which works only in a process's main thread, so the
verifiers run in worker processes. A verifier that hangs anyway (a pathological expression, a
sandbox that does not come back) costs that one item a score of 0, never the batch: its worker is
killed and the pool is rebuilt for the remaining items.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import sys
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
# A verifier that scores several responses to one query at once, cheaper than one by one (code: the
# programs share a sandbox launch): (query, responses, **options) -> results, in order.
BATCH_VERIFIERS = {RULE_VERIFIERS["code"]: "distillery.verify.code:verify_code_batch"}


def load_verifier(target: str) -> Callable[[dict, str], VerifyResult]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def verify_one(
    query: dict, response: str, verifiers: dict[str, str] = RULE_VERIFIERS, options: dict[str, dict] | None = None
) -> VerifyResult:
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


def _verify_chunk(
    items: list[tuple[int, dict, str]], verifiers: dict, options: dict | None
) -> list[tuple[int, VerifyResult]]:
    """Responses to the same query object (the samples of one problem travel as one object) go to
    their verifier's batch form where it has one."""
    done, batches = [], {}
    for index, query, response in items:
        batch = BATCH_VERIFIERS.get(verifiers.get(query.get("category")))
        if batch is None:
            done.append((index, verify_one(query, response, verifiers, options)))
        else:
            batches.setdefault(id(query), (batch, query, []))[2].append((index, response))
    for batch, query, group in batches.values():
        indices, responses = zip(*group, strict=True)
        try:
            results = load_verifier(batch)(query, list(responses), **(options or {}).get(query["category"], {}))
        except Exception:  # the batch's own error: each response scored alone keeps its reason
            results = [verify_one(query, response, verifiers, options) for response in responses]
        done.extend(zip(indices, results, strict=True))
    return done


@contextlib.contextmanager
def _main_not_reimported():
    """Workers started by forkserver re-run the parent's main script unless it has no ``__file__``.
    A Snakemake script is such a main script, unguarded, and expects a ``snakemake`` global: it
    must not run again in the workers."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is not None and getattr(main, "__spec__", None) is None:
        del main.__file__
    try:
        yield
    finally:
        if path is not None and not hasattr(main, "__file__"):
            main.__file__ = path


class VerifyPool:
    """Worker processes kept across batches (the verify-and-retry loop calls once per attempt; a new
    pool each time would pay the workers' start and imports again)."""

    def __init__(
        self,
        processes: int | None = None,
        item_timeout_s: float = 120.0,
        verifiers: dict[str, str] = RULE_VERIFIERS,
        chunk_size: int = 16,
        options: dict[str, dict] | None = None,
    ):
        self.processes = processes or len(os.sched_getaffinity(0))  # the job's CPUs, not the whole node
        self.item_timeout_s, self.verifiers, self.chunk_size, self.options = (
            item_timeout_s,
            verifiers,
            chunk_size,
            options,
        )
        self._context = multiprocessing.get_context("forkserver")  # no fork of a parent running Arrow threads
        self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def map(
        self, queries: Sequence[dict], responses: Sequence[str], progress: Callable | None = None
    ) -> list[VerifyResult]:
        """Scores in input order. Items travel in chunks (less inter-process traffic); a chunk that
        runs past its time is retried one item at a time, so that only the item that hangs is given
        up, and the pool with the hung worker is replaced."""
        results: list[VerifyResult | None] = [None] * len(queries)
        size = self.chunk_size
        chunks = [list(range(i, min(i + size, len(queries)))) for i in range(0, len(queries), size)]
        bar = progress(total=len(queries), unit="response") if progress is not None else None
        while chunks:
            if self._pool is None:
                with _main_not_reimported():
                    self._pool = self._context.Pool(self.processes)
            chunks = self._run(chunks, queries, responses, results, bar)
        if bar is not None:
            bar.close()
        return results  # type: ignore[return-value]

    def _run(self, chunks, queries, responses, results, bar) -> list[list[int]]:
        """Submit ``chunks``; returns those to run again after a timeout killed the pool."""
        futures = [
            (
                chunk,
                self._pool.apply_async(
                    _verify_chunk, ([(i, queries[i], responses[i]) for i in chunk], self.verifiers, self.options)
                ),
            )
            for chunk in chunks
        ]
        for position, (chunk, future) in enumerate(futures):
            try:
                _store(results, future.get(timeout=self.item_timeout_s * len(chunk)), bar)
                continue
            except multiprocessing.TimeoutError:
                pass
            retry: list[list[int]] = []
            if len(chunk) == 1:
                log.warning("item %d ran past %.0f s: scored 0", chunk[0], self.item_timeout_s)
                failed = VerifyResult.fail(
                    queries[chunk[0]].get("category", "none"),
                    f"verification ran past {self.item_timeout_s:.0f} s and was killed",
                )
                _store(results, [(chunk[0], failed)], bar)
            else:
                retry.extend([i] for i in chunk)
            for later, f in futures[position + 1 :]:  # keep what finished before the pool is killed
                if f.ready() and f.successful():
                    _store(results, f.get(), bar)
                else:
                    retry.append(later)
            self.close()
            return retry
        return []


def verify_all(
    queries: Sequence[dict],
    responses: Sequence[str],
    processes: int | None = None,
    item_timeout_s: float = 120.0,
    progress: Callable | None = None,
    verifiers: dict[str, str] = RULE_VERIFIERS,
    chunk_size: int = 16,
    options: dict[str, dict] | None = None,
) -> list[VerifyResult]:
    """Scores in input order on a pool made for this call (see :class:`VerifyPool`).

    ``verifiers`` maps a category to the ``module:function`` that scores it, ``options`` a category to
    that function's keyword arguments (see :func:`verify_one`).
    """
    with VerifyPool(processes, item_timeout_s, verifiers, chunk_size, options) as pool:
        return pool.map(queries, responses, progress)


def _store(results: list, done: list[tuple[int, VerifyResult]], bar) -> None:
    for index, result in done:
        results[index] = result
    if bar is not None:
        bar.update(len(done))
