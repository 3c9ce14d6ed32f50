"""Keep the engine full: every request of a job is fed to one stream, verified as it completes, and retried
at once when it failed, while the engine keeps generating the rest.

Feeding an engine fixed chunks and verifying each chunk before the next leaves it waiting on the longest
response of every chunk; reasoning lengths are long-tailed, so most of the time it holds a few sequences.
Here up to ``max_in_flight`` requests are outstanding at all times; verification runs in its own thread
(its rule-based verifiers in their own processes) so it never stalls the feeding; a retry goes ahead of
fresh work, so a query's chain of attempts starts as early as it can. What comes out does not depend on
the order things finished in: each attempt's request (its seed included) is fixed by the query and the
attempt number, and the attempts are returned sorted by (item, attempt).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distillery.generation.backend import GenerationRequest, GenerationResult
from distillery.generation.cache import GenerationCache, SegmentBuffer
from distillery.generation.streaming import EngineStream, drained

POLL_S = 0.05  # how often the feeding loop looks at verdicts while the engine is busy


@dataclass(frozen=True)
class Attempt:
    item: int
    attempt: int
    key: str
    result: GenerationResult
    cached: bool
    verdict: Any = None


@dataclass(frozen=True)
class Feeding:
    """How results reach the cache: a segment every ``flush_every`` results or ``flush_seconds``."""

    flush_every: int = 64
    flush_seconds: float = 30.0


class Verification:
    """``verify(items, results) -> verdicts`` run beside generation, in batches of whatever has completed.
    ``threaded=False`` verifies on the caller's thread at once (a simulated engine, where time is not real)."""

    def __init__(self, verify: Callable[[list[int], list[GenerationResult]], list], threaded: bool = True):
        self.verify, self.threaded, self.pending = verify, threaded, 0
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._run, name="verify", daemon=True) if threaded else None
        if self._worker is not None:
            self._worker.start()

    def submit(self, token, item: int, result: GenerationResult) -> None:
        self.pending += 1
        if self.threaded:
            self._todo.put((token, item, result))
        else:
            self._done.put([(token, self.verify([item], [result])[0])])

    def _run(self) -> None:
        while True:
            batch = [self._todo.get()]
            if batch[0] is None:
                return
            batch += drained(self._todo)
            stop = batch[-1] is None
            batch = [b for b in batch if b is not None]
            try:
                verdicts = self.verify([b[1] for b in batch], [b[2] for b in batch])
                self._done.put([(b[0], v) for b, v in zip(batch, verdicts, strict=True)])
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                self._done.put(e)
                return
            if stop:
                return

    def poll(self, timeout: float | None = 0) -> list:
        """(token, verdict) pairs ready now; waits up to ``timeout`` seconds for the first (None: forever)."""
        try:
            ready = [self._done.get(timeout=timeout) if timeout != 0 else self._done.get_nowait()]
        except queue.Empty:
            return []
        out = []
        for got in ready + drained(self._done):
            if isinstance(got, BaseException):
                raise got
            out.extend(got)
        self.pending -= len(out)
        return out

    def close(self) -> None:
        if self._worker is not None:
            self._todo.put(None)


def stream_attempts(
    n_items: int,
    max_attempts: int,
    request_for: Callable[[int, int], GenerationRequest],
    open_stream: Callable[[], EngineStream],
    cache: GenerationCache,
    feeding: Feeding,
    verification: Verification | None = None,
    retry: Callable[[Any], bool] = lambda verdict: False,
    counts: Counter | None = None,
    progress: Callable | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[Attempt]:
    """Every attempt made on items ``0 .. n_items-1``, sorted by (item, attempt).

    ``request_for(item, attempt)`` is the request of that attempt; an item gets attempt ``a+1`` when
    ``retry(verdict of attempt a)`` and attempts are left. Results the cache has are used as they are
    (verified again, never generated); the stream is opened on the first request the cache lacks, so a job
    whose generations are all cached never loads its model."""
    counts = Counter() if counts is None else counts
    keys = {(i, a): cache.key(request_for(i, a)) for i in range(n_items) for a in range(max_attempts)}
    found = cache.lookup(list(keys.values()))
    buffer = SegmentBuffer(cache, feeding.flush_every, feeding.flush_seconds, clock)
    fresh, retries = deque(range(n_items)), deque()
    in_flight: dict[int, tuple[int, int]] = {}
    tickets = itertools.count()
    stream: EngineStream | None = None
    attempts: list[Attempt] = []
    bar = progress(total=n_items, unit="item") if progress is not None else None

    def settle(item: int, attempt: int, result: GenerationResult, cached: bool, verdict=None) -> None:
        attempts.append(Attempt(item, attempt, keys[item, attempt], result, cached, verdict))
        if attempt + 1 < max_attempts and verdict is not None and retry(verdict):
            retries.append((item, attempt + 1))
        elif bar is not None:
            bar.update(1)

    def complete(item: int, attempt: int, result: GenerationResult, cached: bool) -> None:
        if verification is None:
            settle(item, attempt, result, cached)
        else:
            verification.submit((item, attempt, result, cached), item, result)

    try:
        while fresh or retries or in_flight or (verification is not None and verification.pending):
            while (retries or fresh) and len(in_flight) < (stream.max_in_flight if stream else 1):
                item, attempt = retries.popleft() if retries else (fresh.popleft(), 0)
                hit = found.get(keys[item, attempt])
                if hit is not None:
                    counts["cache_hits"] += 1
                    complete(item, attempt, hit, True)
                    continue
                if stream is None:
                    stream = open_stream()
                ticket = next(tickets)
                stream.submit(ticket, request_for(item, attempt))
                in_flight[ticket] = (item, attempt)
            waiting = verification is not None and verification.pending > 0
            due = buffer.due_in()
            if in_flight:
                timeout = min(x for x in (due, POLL_S if waiting else None, float("inf")) if x is not None)
                for ticket, result in stream.completed(None if timeout == float("inf") else timeout):
                    item, attempt = in_flight.pop(ticket)
                    if result.error is None:
                        counts["generated"] += 1
                        buffer.add(keys[item, attempt], result)
                    else:  # refused by the engine: nothing to cache, the same request would be refused again
                        counts["rejected"] += 1
                    complete(item, attempt, result, False)
            if waiting:
                block = not in_flight and not fresh and not retries
                for (item, attempt, result, cached), verdict in verification.poll(due if block else 0):
                    settle(item, attempt, result, cached, verdict)
            if buffer.due_in() == 0:
                buffer.flush()
    finally:
        buffer.flush()
        if stream is not None:
            stream.close()
        if verification is not None:
            verification.close()
        if bar is not None:
            bar.close()
    return sorted(attempts, key=lambda a: (a.item, a.attempt))
