import json

import pyarrow.parquet as pq
import pytest

from distillery.cli import main
from distillery.core.canonical import attempt_seed
from distillery.core.canonical import qid as qid_of
from distillery.distill.verify_and_retry import TeacherSettings
from distillery.distill.verify_and_retry import distill as distill_streamed
from distillery.generation.cache import GenerationCache
from distillery.generation.scheduler import Feeding
from distillery.generation.streaming import open_stream
from distillery.verify import Verifier
from teachers import ScriptedTeacher

TEACHER = TeacherSettings(name="t", max_new_tokens=32, temperature=0.6, top_p=0.95, max_attempts=4, seed=1)


def math_queries(n):
    out = []
    for i in range(n):
        messages = [{"role": "user", "content": f"Question {i}? REF:{json.dumps(str(i))}"}]
        out.append({"qid": qid_of(messages), "category": "math", "messages": messages, "reference": {"answer": str(i)}})
    return out


def conversation(query):
    return query["messages"]


def distill(queries, teacher, backend, cache, verifier, conversation, flush_every=64):
    """A generate()-only backend, fed by the streaming scheduler as every such backend is."""
    return distill_streamed(
        queries, teacher, lambda: open_stream(backend), cache, verifier, conversation, Feeding(flush_every)
    )


@pytest.fixture(scope="module")
def verifier():
    with Verifier(processes=1) as v:
        yield v


def test_retries_until_pass_and_keeps_every_attempt(tmp_path, verifier):
    queries = math_queries(30)
    table, report = distill(
        queries,
        TEACHER,
        ScriptedTeacher(right=0.4),
        GenerationCache(tmp_path, "m"),
        verifier,
        conversation,
        flush_every=8,
    )
    rows = table.to_pylist()
    per_query = {}
    for r in rows:
        per_query.setdefault(r["qid"], []).append(r)
    for attempts in per_query.values():
        assert [a["attempt"] for a in attempts] == list(range(len(attempts)))
        assert all(not a["accepted"] for a in attempts[:-1])  # retried only after a failure
        assert attempts[-1]["accepted"] or len(attempts) == TEACHER.max_attempts
        assert len({a["seed"] for a in attempts}) == len(attempts)  # a new seed each time
    assert sum(r["accepted"] for r in rows) == report["accepted"] > 0
    assert report["generated"] == len(rows) and report["cache_hits"] == 0
    assert sum(report["accepted_at_attempt"].values()) == report["accepted"]
    assert report["by_category"]["math"]["queries"] == 30
    assert report["tokens_generated"]["accepted"] == 7 * report["accepted"]


def test_rerun_and_new_threshold_generate_nothing(tmp_path, verifier):
    queries = math_queries(20)
    first, _ = distill(queries, TEACHER, ScriptedTeacher(), GenerationCache(tmp_path, "m"), verifier, conversation)
    backend = ScriptedTeacher()
    again, report = distill(queries, TEACHER, backend, GenerationCache(tmp_path, "m"), verifier, conversation)
    assert backend.calls == 0 and report["generated"] == 0 and report["cache_hits"] == len(again)
    assert again.drop(["cached", "latency_s"]).equals(first.drop(["cached", "latency_s"]))
    # Re-sharding: the same queries split differently still hit the cache.
    backend = ScriptedTeacher()
    part, report = distill(queries[5:12], TEACHER, backend, GenerationCache(tmp_path, "m"), verifier, conversation)
    assert backend.calls == 0 and report["cache_hits"] == len(part)


def test_another_model_or_seed_is_another_cache_entry(tmp_path, verifier):
    queries = math_queries(5)
    distill(queries, TEACHER, ScriptedTeacher(), GenerationCache(tmp_path, "m1"), verifier, conversation)
    _, report = distill(queries, TEACHER, ScriptedTeacher(), GenerationCache(tmp_path, "m2"), verifier, conversation)
    assert report["cache_hits"] == 0
    reseeded = TeacherSettings(**{**TEACHER.__dict__, "seed": 2})
    _, report = distill(queries, reseeded, ScriptedTeacher(), GenerationCache(tmp_path, "m1"), verifier, conversation)
    assert report["cache_hits"] == 0
    assert attempt_seed(1, "q", 0) == attempt_seed(1, "q", 0) != attempt_seed(1, "q", 1)


def test_unscorable_queries_are_not_retried(tmp_path, verifier):
    messages = [{"role": "user", "content": "No reference here"}]
    query = {"qid": qid_of(messages), "category": "math", "messages": messages, "reference": {"answer": None}}
    table, report = distill([query], TEACHER, ScriptedTeacher(), GenerationCache(tmp_path, "m"), verifier, conversation)
    assert len(table) == 1 and report["by_category"]["math"]["unscorable"] == 1


def test_compaction_keeps_every_entry_once(tmp_path, verifier):
    queries = math_queries(12)
    cache = GenerationCache(tmp_path, "m")
    first, _ = distill(queries, TEACHER, ScriptedTeacher(), cache, verifier, conversation, flush_every=2)
    assert main(["compact-cache", str(tmp_path), "--min-segments", "2"]) == 0
    assert len(list(cache.folder.glob("*.parquet"))) == 1
    backend = ScriptedTeacher()
    _, report = distill(queries, TEACHER, backend, GenerationCache(tmp_path, "m"), verifier, conversation)
    assert backend.calls == 0 and report["cache_hits"] == len(first)
    assert pq.read_table(next(cache.folder.glob("*.parquet"))).num_rows == len(first)


KILLED_RUN = """
import sys, json
sys.path.insert(0, {tests!r})
from test_distill import TEACHER, math_queries, conversation
from teachers import ScriptedTeacher
from test_distill import distill
from distillery.generation.cache import GenerationCache
from distillery.verify import Verifier
with Verifier(processes=1) as v:
    table, report = distill(math_queries(40), TEACHER, ScriptedTeacher(delay_s=0.3), GenerationCache({root!r}, "m"),
                            v, conversation, flush_every=4)
print(json.dumps(report))
"""


def test_a_killed_job_loses_no_finished_generation(tmp_path, verifier):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from distillery.generation.cache import model_folder_name

    root = tmp_path / "cache"
    code = KILLED_RUN.format(tests=str(Path(__file__).parent), root=str(root))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    folder = root / model_folder_name("m")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(folder.glob("*.parquet"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = sum(pq.read_table(p).num_rows for p in folder.glob("*.parquet"))
    assert stored >= 12  # whole segments only (a segment being written when the kill came is a hidden temporary)

    backend = ScriptedTeacher()
    resumed, report = distill(
        math_queries(40), TEACHER, backend, GenerationCache(root, "m"), verifier, conversation, flush_every=4
    )
    assert report["cache_hits"] == stored and report["generated"] == backend.calls  # nothing generated twice
    assert not list(folder.glob(".*"))  # the next writer removed what the killed one left
    uninterrupted, _ = distill(
        math_queries(40), TEACHER, ScriptedTeacher(), GenerationCache(tmp_path / "fresh", "m"), verifier, conversation
    )
    assert resumed.drop(["cached", "latency_s"]).equals(uninterrupted.drop(["cached", "latency_s"]))
