"""The streaming side of a backend: requests go in one at a time, results come out as each one ends.

A continuous-batching engine (vLLM, a ``vllm serve`` node, ``transformers serve --continuous-batching``)
is busy only while it holds many sequences; handing it a fixed list and waiting for the longest one
leaves it nearly idle for most of a long-tailed list. :class:`EngineStream` is what the scheduler
(:mod:`distillery.generation.scheduler`) keeps full. A backend that streams natively has an
``open_stream(max_in_flight)`` method; any other (a plain ``generate()``) gets :class:`BatchStream`, a
worker thread that refills a static batch from whatever is queued each time the last one ends.
"""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from distillery.generation.backend import Backend, GenerationRequest, GenerationResult


def drained(q: queue.SimpleQueue) -> list:
    """Everything in ``q`` now, without waiting."""
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


class EngineStream(ABC):
    """Up to ``max_in_flight`` requests outstanding; results keyed by the caller's ticket."""

    max_in_flight: int

    @abstractmethod
    def submit(self, ticket: int, request: GenerationRequest) -> None:
        """Start ``request`` now (never blocks on generation)."""

    @abstractmethod
    def completed(self, timeout: float | None) -> list[tuple[int, GenerationResult]]:
        """Every result finished since the last call: waits for at least one, or ``timeout`` seconds
        (None: forever), then returns what there is. A request that failed for good raises here."""

    @abstractmethod
    def close(self) -> None:
        """Stop what is still running (done, or a failure elsewhere: nothing more will be collected)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class QueuedStream(EngineStream):
    """Completions arrive from other threads through one queue; a failure travels as an exception."""

    def __init__(self, max_in_flight: int):
        self.max_in_flight = max(1, int(max_in_flight))
        self._done: queue.SimpleQueue = queue.SimpleQueue()

    def _finish(self, ticket: int, result: GenerationResult | BaseException) -> None:
        self._done.put((ticket, result))

    def completed(self, timeout: float | None) -> list[tuple[int, GenerationResult]]:
        try:
            items = [self._done.get(timeout=timeout), *drained(self._done)]
        except queue.Empty:
            return []
        for _, result in items:
            if isinstance(result, BaseException):
                self.close()
                raise result
        return items


class BatchStream(QueuedStream):
    """A ``generate()``-only backend fed continuously: a worker takes ``batch_size`` of the queued requests,
    generates them as one batch and takes the next ones as soon as it returns, so retries join the very
    next batch instead of waiting for a whole chunk of requests to be verified. A batch is the oldest
    queued request and those closest to it in prompt length (less padding; replies of a kind end together)."""

    def __init__(self, backend: Backend, batch_size: int, max_in_flight: int | None = None):
        super().__init__(max_in_flight or 2 * batch_size)  # one batch running, the next one queued
        self.backend, self.batch_size = backend, max(1, int(batch_size))
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="generate", daemon=True)
        self._worker.start()

    def submit(self, ticket: int, request: GenerationRequest) -> None:
        self._todo.put((ticket, request, sum(len(m["content"]) for m in request.messages)))

    def _run(self) -> None:
        waiting: list = []
        while not self._stop.is_set():
            if not waiting:
                try:
                    waiting.append(self._todo.get(timeout=0.1))
                except queue.Empty:
                    continue
            waiting += drained(self._todo)
            oldest = waiting[0][2]
            picked = set(sorted(range(len(waiting)), key=lambda i: (abs(waiting[i][2] - oldest), i))[: self.batch_size])
            batch = [w for i, w in enumerate(waiting) if i in picked]
            waiting = [w for i, w in enumerate(waiting) if i not in picked]
            try:
                results = self.backend.generate([request for _, request, _ in batch])
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                self._finish(batch[0][0], e)
                return
            for (ticket, _, _), result in zip(batch, results, strict=True):
                self._finish(ticket, result)

    def close(self) -> None:
        self._stop.set()


class PerRequestStream(QueuedStream):
    """A blocking one-request call (an HTTP request to a server that batches on its side) run on a pool
    of ``max_in_flight`` threads: the server sees that many requests at once, all the time."""

    def __init__(self, complete: Callable[[GenerationRequest], GenerationResult], max_in_flight: int):
        super().__init__(max_in_flight)
        self.complete = complete
        self._pool = ThreadPoolExecutor(max_workers=self.max_in_flight, thread_name_prefix="request")

    def submit(self, ticket: int, request: GenerationRequest) -> None:
        future = self._pool.submit(self.complete, request)
        future.add_done_callback(lambda f: self._finish(ticket, f.exception() or f.result()))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def open_stream(backend: Backend, max_in_flight: int | None = None, batch_size: int = 8) -> EngineStream:
    """The backend's own stream if it has one, else its ``generate()`` behind :class:`BatchStream`."""
    native = getattr(backend, "open_stream", None)
    if native is not None:
        return native(max_in_flight)
    return BatchStream(backend, getattr(backend, "batch_size", batch_size), max_in_flight)
