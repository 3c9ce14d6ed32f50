"""Generation on vLLM's engine, in-process, through Snakemake: configs/vllm-cpu.yaml's teachers and evaluated
models run in vLLM's CPU build (the jobs re-run themselves in .venv-vllm, which `make env` builds), exactly the
code path of configs/paper.yaml's vLLM teachers and students on GPU nodes.

One distillation shard (with one query longer than the engine's context): killed with SIGKILL once a cache
segment exists, then rerun: every attempt answered once and nothing generated twice; the over-long query is
one rejected attempt with the engine's reason while the others are answered; a rerun of the finished shard is
cache hits only and never starts the engine. Then one evaluation shard. No job log shows vLLM's deprecation
of raw prompts. Last, the path of configs/paper.yaml's DeepSeek-R1: vLLM's OpenAI server (started as
profiles/slurm/serve_vllm.sbatch starts it) as the endpoint of an openai teacher, killed with SIGKILL
mid-shard and started again: the job waits for it, and every attempt is answered once."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from distillery.generation.engine_python import vllm_python
from model_server import vllm_serve
from workflow import copy_workflow, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.vllm]
SHARD = "00000-of-00008"  # an eighth of the toy queries
ATTEMPTS = f"results/distill/gemma-t06/{SHARD}.parquet"
REPORT = f"results/distill/gemma-t06/{SHARD}.report.json"
JOB_LOG = f"logs/distill/gemma-t06/{SHARD}.log"
EVAL_SAMPLES = "results/eval/base/demo_math_easy/samples/00000-of-00001.parquet"
MODEL = "results/models/gemma3-270m"
ENGINE_STARTED = "Initializing a V1 LLM engine"  # vLLM's first line when it builds an engine
DEPRECATED = "will be removed"  # vLLM: "Passing raw prompts to InputProcessor is deprecated and will be removed"
# Cache segments of two results, so that a kill lands mid-shard; no judge, as in the other generation tests
# (chat and general are unscorable then); three problems of the evaluation, once each.
OVERRIDE = """shards: {num_shards: 8}
distill: {judge: null, cache_dir: cache, flush_every: 2, flush_seconds: 5, verify_processes: 1}
evaluate: {benchmarks: {demo_math_easy: {samples: 1, limit: 3}}}
"""
LONG_QID = "long-query"


def cache_rows(workdir, cache_dir: str = "cache") -> list[dict]:
    return [r for p in (workdir / cache_dir).glob("*/*.parquet") for r in pq.read_table(p).to_pylist()]


def kill_when_cached(workdir, cmd: list[str], cache_dir: str, kill, log: str) -> subprocess.Popen:
    """Starts ``cmd`` (a Snakemake run); once a cache segment exists, calls ``kill(proc)``."""
    proc = subprocess.Popen(
        cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 400
    while not list((workdir / cache_dir).glob("*/*.parquet")):
        assert proc.poll() is None, f"the job ended before the kill:\n{(workdir / log).read_text()[-3000:]}"
        assert time.monotonic() < deadline, "no cache segment after 400 s"
        time.sleep(0.2)
    kill(proc)
    return proc


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    if not vllm_python().exists():
        pytest.fail(f"vLLM's environment {vllm_python()} is missing: `make env` builds it")
    workdir = copy_workflow(tmp_path_factory.mktemp("vllm"))
    (workdir / "override.yaml").write_text(OVERRIDE)
    args = ("--configfile", "config.yaml", "configs/vllm-cpu.yaml", "override.yaml")
    snakemake(workdir, MODEL, f"results/queries/shards/{SHARD}.parquet", *args)
    # One query longer than the engine's context (2,048 tokens): vLLM refuses it when it is submitted.
    shard = workdir / f"results/queries/shards/{SHARD}.parquet"
    queries = pq.read_table(shard)
    long = {**queries.slice(0, 1).to_pylist()[0], "qid": LONG_QID}
    long["messages"] = [{"role": "user", "content": "Repeat after me. " + "the cat sat on the mat " * 600}]
    pq.write_table(pa.concat_tables([queries, pa.Table.from_pylist([long], schema=queries.schema)]), shard)
    return workdir, args


def test_a_killed_shard_reruns_without_generating_twice_and_refuses_only_the_long_query(workdir):
    workdir, args = workdir
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--directory", str(workdir), ATTEMPTS, *args]
    # SIGKILL to the run's process group: Snakemake, the job, and the engine's own processes
    proc = kill_when_cached(workdir, cmd, "cache", lambda p: os.killpg(p.pid, signal.SIGKILL), JOB_LOG)
    proc.wait()
    assert not (workdir / ATTEMPTS).exists()
    stored = {r["key"] for r in cache_rows(workdir)}

    snakemake(workdir, "--unlock")
    snakemake(workdir, ATTEMPTS, *args, "--rerun-incomplete")
    log = (workdir / JOB_LOG).read_text()
    assert ENGINE_STARTED in log and DEPRECATED not in log
    attempts = pq.read_table(workdir / ATTEMPTS).to_pylist()
    report = json.loads((workdir / REPORT).read_text())
    rows = cache_rows(workdir)
    assert report["cache_hits"] == len(stored) > 0
    assert len(rows) == len({r["key"] for r in rows}) == report["generated"] + report["cache_hits"]  # each once
    assert {a["key"] for a in attempts if a["cached"]} == stored

    # The over-long query: one attempt, refused with the engine's reason, never retried; every other one answered.
    long = [a for a in attempts if a["qid"] == LONG_QID]
    assert len(long) == 1 and long[0]["finish_reason"] == "rejected" and not long[0]["scorable"]
    assert "maximum context length" in long[0]["detail"] and long[0]["verifier"] == "engine"
    assert report["rejected_by_engine"] == 1
    answered = [a for a in attempts if a["qid"] != LONG_QID]
    assert answered and all(a["completion_tokens"] > 0 and a["finish_reason"] in ("stop", "length") for a in answered)
    assert len(rows) == len(answered)  # the refused request is not cached


def test_a_finished_shard_reruns_from_the_cache_without_the_engine(workdir):
    """Every request answered and cached: the shard's job runs again (its queries changed: the refused one left
    it) and never starts the engine. A refused request is not cached, so a shard holding one would start it."""
    workdir, args = workdir
    if not (workdir / ATTEMPTS).exists():
        snakemake(workdir, ATTEMPTS, *args)
    before = pq.read_table(workdir / ATTEMPTS)
    shard = workdir / f"results/queries/shards/{SHARD}.parquet"
    queries = pq.read_table(shard)
    pq.write_table(queries.filter(pc.not_equal(queries.column("qid"), LONG_QID)), shard)
    try:
        snakemake(workdir, ATTEMPTS, *args)
    finally:
        pq.write_table(queries, shard)  # the served teacher below is given the refused query too
    report = json.loads((workdir / REPORT).read_text())
    assert ENGINE_STARTED not in (workdir / JOB_LOG).read_text()
    after = pq.read_table(workdir / ATTEMPTS)
    assert report["generated"] == 0 and report["cache_hits"] == len(after) == len(before) - 1
    kept = before.filter(pc.not_equal(before.column("qid"), LONG_QID))
    assert after.drop(["cached", "latency_s"]).equals(kept.drop(["cached", "latency_s"]))


def test_an_evaluation_shard_on_vllm(workdir):
    workdir, args = workdir
    snakemake(workdir, EVAL_SAMPLES, *args)
    samples = pq.read_table(workdir / EVAL_SAMPLES).to_pylist()
    report = json.loads((workdir / EVAL_SAMPLES.replace(".parquet", ".json")).read_text())
    assert samples and report["generated"] == len(samples) and report["cache_hits"] == 0
    assert all(s["completion_tokens"] > 0 for s in samples)
    assert len({s["seed"] for s in samples}) == len(samples)
    log = (workdir / "logs/eval/base/demo_math_easy/generate-00000-of-00001.log").read_text()
    assert ENGINE_STARTED in log and DEPRECATED not in log


SERVED_ATTEMPTS = f"results/distill/served/{SHARD}.parquet"
SERVED_LOG = f"logs/distill/served/{SHARD}.log"


def test_a_served_teacher_waits_for_its_killed_server_and_answers_every_attempt_once(workdir):
    workdir, args = workdir
    engine = "--dtype bfloat16 --max-model-len 2048 --max-num-seqs 4 --kv-cache-memory-bytes 1073741824 --enforce-eager"
    server = vllm_serve(MODEL, workdir / "vllm-serve.log", *engine.split(), cwd=workdir)
    (workdir / "served.yaml").write_text(
        "teachers:\n"
        f"  - {{name: served, backend: openai, model: {MODEL}, temperature: 0.6, max_new_tokens: 96, max_attempts: 2,\n"
        f'     few_shot: true, stop: ["</answer>"], openai: {{base_url: "{server.base_url}", max_concurrency: 4}}}}\n'
        "distill: {cache_dir: cache-served}\n"
    )
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--directory", str(workdir), SERVED_ATTEMPTS, *args]
    cmd.append("served.yaml")
    proc = None
    try:
        server.start()
        proc = kill_when_cached(workdir, cmd, "cache-served", lambda _: server.kill(), SERVED_LOG)
        time.sleep(2)  # the job's requests find nobody there
        server.start()
        assert proc.wait(timeout=600) == 0, (workdir / SERVED_LOG).read_text()[-3000:]
    finally:
        server.stop()
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    log = (workdir / SERVED_LOG).read_text()
    assert "APIConnectionError, retry in" in log  # it waited for the server
    attempts = pq.read_table(workdir / SERVED_ATTEMPTS).to_pylist()
    report = json.loads((workdir / SERVED_ATTEMPTS.replace(".parquet", ".report.json")).read_text())
    rows = cache_rows(workdir, "cache-served")
    answered = [a for a in attempts if a["qid"] != LONG_QID]
    assert answered and all(a["completion_tokens"] > 0 for a in answered)
    assert len(rows) == len({r["key"] for r in rows}) == report["generated"] == len(answered)  # each once
    # The server refuses the over-long query (HTTP 400): one rejected attempt, the shard went on.
    [long] = [a for a in attempts if a["qid"] == LONG_QID]
    assert long["finish_reason"] == "rejected" and "maximum context length" in long["detail"]
