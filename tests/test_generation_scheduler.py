"""The streaming scheduler: every request answered once through a faulty real server, results independent of
completion order, verification beside generation, cache segments by count and by time, no model loaded when
everything is cached."""

import random
import threading
import time

import pyarrow.parquet as pq
import pytest

from distillery.distill.verify_and_retry import distill
from distillery.generation.backend import GenerationRequest
from distillery.generation.cache import GenerationCache
from distillery.generation.openai_backend import OpenAIBackend
from distillery.generation.scheduler import Feeding, Verification, stream_attempts
from distillery.generation.streaming import BatchStream, PerRequestStream
from distillery.verify import Verifier
from fault_server import FaultServer
from teachers import ScriptedTeacher
from test_distill import TEACHER, conversation, math_queries


@pytest.fixture(scope="module")
def verifier():
    with Verifier(processes=1) as v:
        yield v


def named_request(item: int, attempt: int) -> GenerationRequest:
    return GenerationRequest([{"role": "user", "content": f"request {item}"}], 16, 0.7, 1.0, seed=item, stop=("</s>",))


def segment_rows(cache: GenerationCache) -> list[dict]:
    return [row for p in cache.folder.glob("*.parquet") for row in pq.read_table(p).to_pylist()]


def test_a_faulty_server_answers_every_request_once(tmp_path):
    """429s, 500s and timeouts at a real HTTP server, 48 requests streamed 12 at a time."""
    cache = GenerationCache(tmp_path, "fault-model")
    with FaultServer(fault_rate=0.3, max_faults=3, slow_s=2.5) as server:
        backend = OpenAIBackend(server.base_url, "fault-model", timeout_s=1.0, backoff_s=0.01)
        attempts = stream_attempts(48, 1, named_request, lambda: backend.open_stream(12), cache, Feeding(5, 30))
    assert dict(server.successes) == {f"request {i}": 1 for i in range(48)}
    assert sum(server.faults.values()) >= 5
    assert [a.item for a in attempts] == list(range(48))
    assert all(a.result.text == f"echo: request {a.item}</s>" for a in attempts)  # each result is its request's
    rows = segment_rows(cache)
    assert len(rows) == len({r["key"] for r in rows}) == 48  # stored once each


class JitteryTeacher(ScriptedTeacher):
    """The scripted teacher answering one request at a time after a random delay, on a pool of threads: requests
    complete in an order nobody chose."""

    def complete(self, request):
        time.sleep(random.uniform(0, 0.02))
        return self.generate([request])[0]


def test_attempts_do_not_depend_on_completion_order(tmp_path, verifier):
    queries = math_queries(40)
    jittery = JitteryTeacher(right=0.4)
    shuffled, report = distill(
        queries[::-1],
        TEACHER,
        lambda: PerRequestStream(jittery.complete, 8),
        GenerationCache(tmp_path / "a", "m"),
        verifier,
        conversation,
    )
    batched, _ = distill(
        queries,
        TEACHER,
        lambda: BatchStream(ScriptedTeacher(right=0.4), batch_size=5),
        GenerationCache(tmp_path / "b", "m"),
        verifier,
        conversation,
    )
    assert report["attempts"] > len(queries)  # retries happened
    order = ["qid", "attempt"]
    drop = ["cached", "latency_s"]
    assert (
        shuffled.sort_by([(c, "ascending") for c in order])
        .drop(drop)
        .equals(batched.sort_by([(c, "ascending") for c in order]).drop(drop))
    )


def test_verification_runs_beside_generation(tmp_path):
    """A slow verifier: the engine keeps receiving requests while a verification batch is running."""
    events, lock = [], threading.Lock()

    def log(what):
        with lock:
            events.append((time.monotonic(), what))

    def complete(request):
        log("submitted")
        time.sleep(0.01)
        return ScriptedTeacher().generate([request])[0]

    def verify(items, results):
        log("verify-start")
        time.sleep(0.2)
        log("verify-end")
        return [False] * len(items)

    stream_attempts(
        30,
        2,
        named_request,
        lambda: PerRequestStream(complete, 4),
        GenerationCache(tmp_path, "m"),
        Feeding(),
        Verification(verify),
        retry=lambda passed: not passed,
    )
    inside = 0
    busy = False
    for _, what in sorted(events):
        busy = {"verify-start": True, "verify-end": False}.get(what, busy)
        inside += what == "submitted" and busy
    assert sum(w == "submitted" for _, w in events) == 60 and inside >= 10


def test_segments_are_written_by_time_as_well_as_by_count(tmp_path):
    slow = ScriptedTeacher(delay_s=0.05)
    cache = GenerationCache(tmp_path, "m")
    seen = []

    def watched(request):
        seen.append(len(list(cache.folder.glob("*.parquet"))))
        return slow.generate([request])[0]

    stream_attempts(40, 1, named_request, lambda: PerRequestStream(watched, 1), cache, Feeding(1000, 0.3))
    assert max(seen) >= 3  # segments appeared while generating, long before 1,000 results
    assert len(segment_rows(cache)) == 40


def test_nothing_is_loaded_when_everything_is_cached(tmp_path, verifier):
    queries = math_queries(10)
    first, _ = distill(
        queries,
        TEACHER,
        lambda: BatchStream(ScriptedTeacher(), 4),
        GenerationCache(tmp_path, "m"),
        verifier,
        conversation,
    )

    def must_not_load():
        raise AssertionError("the engine was opened although every generation was cached")

    again, report = distill(queries, TEACHER, must_not_load, GenerationCache(tmp_path, "m"), verifier, conversation)
    assert report["generated"] == 0 and report["cache_hits"] == len(again) == len(first)


def test_a_request_that_fails_for_good_stops_the_job_and_keeps_what_was_generated(tmp_path):
    from distillery.generation.openai_backend import GenerationError

    cache = GenerationCache(tmp_path, "m")
    with FaultServer(fault_rate=0.0, status_for={"request 20": 400}) as server:
        backend = OpenAIBackend(server.base_url, "m", backoff_s=0.01)
        with pytest.raises(GenerationError, match="HTTP 400"):
            stream_attempts(40, 1, named_request, lambda: backend.open_stream(4), cache, Feeding(1000, 600))
    stored = {r["key"] for r in segment_rows(cache)}
    assert len(stored) >= 16 and cache.key(named_request(0, 0)) in stored  # flushed on the way out, not lost
    assert cache.key(named_request(20, 0)) not in stored


def test_a_prompt_the_server_refuses_for_length_is_one_unscorable_attempt(tmp_path, verifier):
    """The engine's refusal is not a response to verify, retry or cache: one attempt with the server's reason."""
    queries = math_queries(4)
    refused = queries[2]["messages"][-1]["content"]
    cache = GenerationCache(tmp_path, "fault-model")
    too_long = "This model's maximum context length is 2048 tokens. However, your request has 9000 input tokens."
    with FaultServer(fault_rate=0.0, status_for={refused: (400, too_long)}) as server:
        backend = OpenAIBackend(server.base_url, "fault-model", backoff_s=0.01)
        table, report = distill(queries, TEACHER, lambda: backend.open_stream(4), cache, verifier, conversation)
    assert server.attempts[refused] == 1
    rows = [r for r in table.to_pylist() if r["qid"] == queries[2]["qid"]]
    assert len(rows) == 1 and rows[0]["finish_reason"] == "rejected" and not rows[0]["scorable"]
    assert rows[0]["verifier"] == "engine" and too_long in rows[0]["detail"]
    assert report["rejected_by_engine"] == 1 and report["generated"] == len(table) - 1
    assert len(segment_rows(cache)) == len(table) - 1  # the refusal is not cached
