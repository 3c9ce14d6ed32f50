"""The distillation rules run for real by Snakemake: a teacher whose responses were released (the
a-m-team format, written here from the toy queries) distils every shard; a rerun generates nothing."""

import json

import pyarrow.parquet as pq
import pytest
import yaml

from conftest import write_jsonl
from workflow import copy_workflow, planned_jobs, snakemake

pytestmark = pytest.mark.workflow
SUMMARY = "results/distill/released/summary.json"


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("wf"))
    snakemake(workdir, "results/queries/clean.parquet")
    clean = pq.read_table(workdir / "results/queries/clean.parquet").to_pylist()
    samples = []
    for i, q in enumerate(clean):
        if q["category"] != "math":
            continue
        answer = q["reference"]["answer"] if i % 2 else "-1"  # half of them right
        human = [{"from": "human", "value": m["content"]} for m in q["messages"]]
        samples.append(
            {
                "system": "",
                "conversations": human
                + [{"from": "assistant", "value": f"<think>Working.</think><answer>\\boxed{{{answer}}}</answer>"}],
            }
        )
    write_jsonl(workdir / "released.jsonl", samples)
    override = workdir / "teachers.yaml"
    override.write_text(
        "teachers:\n"
        "  - {name: released, backend: dataset, model: am-team-release, max_attempts: 1, system_prompt: null,\n"
        "     dataset: {paths: [released.jsonl]}}\n"
        "distill: {judge: null}\n"
    )  # no model judge: chat/general stay unscorable, no model to load
    snakemake(workdir, SUMMARY, "--configfile", "config.yaml", str(override))
    return workdir, override, clean


def test_every_shard_has_attempts_and_a_report(done):
    workdir, _, clean = done
    shards = sorted((workdir / "results/distill/released").glob("*-of-*.parquet"))
    num_shards = yaml.safe_load((workdir / "config.yaml").read_text())["shards"]["num_shards"]
    assert len(shards) == num_shards > 1
    attempts = [r for s in shards for r in pq.read_table(s).to_pylist()]
    assert sorted({a["qid"] for a in attempts}) == sorted(q["qid"] for q in clean)  # every query tried once
    math = [a for a in attempts if a["category"] == "math"]
    assert math and 0 < sum(a["accepted"] for a in math) < len(math)
    assert all(not a["accepted"] for a in attempts if a["category"] != "math")  # not in the release
    summary = json.loads((workdir / "results/distill/released/summary.json").read_text())
    assert summary["queries"] == len(clean) and summary["generated"] == len(attempts)
    assert summary["accepted"] == sum(a["accepted"] for a in attempts) and summary["shards"] == num_shards


def test_rerun_has_nothing_to_do_and_forced_rerun_hits_the_cache(done):
    workdir, override, _ = done
    assert planned_jobs(workdir, SUMMARY, extra=("--configfile", "config.yaml", str(override))) == {}
    snakemake(workdir, SUMMARY, "--forcerun", "distill_shard", "--configfile", "config.yaml", str(override))
    summary = json.loads((workdir / "results/distill/released/summary.json").read_text())
    assert summary["generated"] == 0 and summary["cache_hits"] == summary["attempts"]
