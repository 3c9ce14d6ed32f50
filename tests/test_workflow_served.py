"""One shard distilled by Snakemake from a real continuous-batching server (`transformers serve
--continuous-batching` serving the local Gemma 3 270M on 127.0.0.1) through the streaming scheduler: every
request answered once, the same attempts when the queries come in another order. (A job killed with SIGKILL
mid-shard, and a server killed mid-shard: tests/test_workflow_vllm.py, on vLLM's engine and server.)

Greedy decoding: the server seeds sampling globally, not per request, so only greedy replies are a function
of the request alone (checked by the order test itself)."""

import json

import pyarrow.parquet as pq
import pytest

from model_server import transformers_serve
from workflow import copy_workflow, snakemake

pytestmark = pytest.mark.workflow
SHARD = "00000-of-00004"  # a quarter of the toy queries
ATTEMPTS = f"results/distill/served/{SHARD}.parquet"
REPORT = f"results/distill/served/{SHARD}.report.json"
MODEL = "results/models/gemma3-270m"


def teacher_config(base_url: str, cache_dir: str) -> str:
    return (
        "teachers:\n"
        f"  - {{name: served, backend: openai, model: {MODEL}, temperature: 0, max_new_tokens: 12, max_attempts: 2,\n"
        f'     few_shot: true, stop: ["</answer>"], openai: {{base_url: "{base_url}", max_concurrency: 8}}}}\n'
        f"distill: {{judge: null, cache_dir: {cache_dir}, flush_every: 64, flush_seconds: 5}}\n"
        "shards: {num_shards: 4}\n"
    )


def cache_rows(workdir, cache_dir: str) -> list[dict]:
    return [r for p in (workdir / cache_dir).glob("*/*.parquet") for r in pq.read_table(p).to_pylist()]


def by_attempt(table):
    return table.sort_by([("qid", "ascending"), ("attempt", "ascending")]).drop(["cached", "latency_s"])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("served"))
    (workdir / "shards.yaml").write_text("shards: {num_shards: 4}\n")
    snakemake(workdir, MODEL, f"results/queries/shards/{SHARD}.parquet", "--configfile", "config.yaml", "shards.yaml")
    with transformers_serve(
        MODEL, workdir / "serve.log", "--device", "cpu", "--dtype", "float32", "--continuous-batching", cwd=workdir
    ) as base_url:
        yield workdir, base_url


def run_shard(workdir, base_url: str, cache_dir: str, *extra: str):
    override = workdir / f"{cache_dir}.yaml"
    override.write_text(teacher_config(base_url, cache_dir))
    return snakemake(workdir, ATTEMPTS, "--configfile", "config.yaml", str(override), *extra)


def test_every_request_answered_once_and_order_does_not_matter(served):
    workdir, base_url = served
    run_shard(workdir, base_url, "cache-a")
    first = pq.read_table(workdir / ATTEMPTS)
    report = json.loads((workdir / REPORT).read_text())
    rows = cache_rows(workdir, "cache-a")
    assert report["generated"] == len(first) == len(rows) == len({r["key"] for r in rows})  # each once
    assert report["attempts"] > report["queries"] > 0  # failures were retried
    assert set(first.column("key").to_pylist()) == {r["key"] for r in rows}

    # The same shard with its queries in reverse order, nothing cached: the same attempts.
    shard = workdir / f"results/queries/shards/{SHARD}.parquet"
    queries = pq.read_table(shard)
    pq.write_table(queries.take(list(range(len(queries) - 1, -1, -1))), shard)
    (workdir / ATTEMPTS).unlink()
    run_shard(workdir, base_url, "cache-b")
    again = pq.read_table(workdir / ATTEMPTS)
    assert by_attempt(again).equals(by_attempt(first))
