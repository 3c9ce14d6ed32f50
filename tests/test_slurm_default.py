"""Acceptance, on demand (about 30 minutes on 2 cores; not in `make test`): the embedded default itself,
`all` with the real local Gemma 3 270M teachers, students and evaluation, run locally as `make run`
does and through the real SLURM of tests/test_slurm.py as `snakemake --profile slurm all`. Every GPU
rule must reach SLURM with its GPU and every result must equal the local run's.

    .venv/bin/python -m pytest -m acceptance tests/test_slurm_default.py
"""

import csv

import pytest

from test_slurm import VOLATILE, cluster, comparable, slurm_jobs  # noqa: F401  (cluster is a fixture)
from workflow import copy_workflow, snakemake

pytestmark = [pytest.mark.acceptance, pytest.mark.slurm, pytest.mark.workflow]

# Every rule that runs a model gets one of the fake GPUs (the default's teachers ask for none).
GPU_RULES = (
    "embed_queries",
    "embed_benchmarks",
    "distill_shard",
    "corpus_perplexity",
    "train_student",
    "eval_generate",
)


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):  # noqa: F811
    local = copy_workflow(tmp_path_factory.mktemp("local"))
    snakemake(local, "--profile", "profiles/local", "all", timeout=1500)
    remote = copy_workflow(tmp_path_factory.mktemp("remote"))
    proc = snakemake(
        remote,
        "--profile",
        "slurm",
        "all",
        "--jobs",
        "2",
        "--slurm-init-seconds-before-status-checks",
        "4",
        "--set-resources",
        *(f"{rule}:gpu=1" for rule in GPU_RULES),
        timeout=2400,
    )
    return local, remote, proc


def test_every_gpu_rule_was_allocated_a_gpu(cluster, runs):  # noqa: F811
    jobs = slurm_jobs(cluster)
    assert jobs and all(j["JobState"] == "COMPLETED" for j in jobs)
    for job in jobs:
        rule = job["Comment"].removeprefix("rule_").split("_wildcards_")[0]
        assert (job.get("JOB_GRES") == "gpu:1") == (rule in GPU_RULES), (rule, job.get("JOB_GRES"))


def same(a, b) -> bool:
    """Equal results: tables without their timing columns (Fig. 6's tokens/s too), other text as is."""
    if a.suffix == ".parquet":
        return comparable(a) == comparable(b)
    if a.suffix == ".csv":
        timings = VOLATILE | {"tokens_per_s"}
        rows = [
            [{k: v for k, v in r.items() if k not in timings} for r in csv.DictReader(f.read_text().splitlines())]
            for f in (a, b)
        ]
        return rows[0] == rows[1]
    return a.read_text() == b.read_text()


def test_every_result_equals_the_local_run(runs):
    local, remote, _ = runs
    files = sorted(
        p.relative_to(remote)
        for p in (remote / "results").rglob("*")
        if p.is_file() and p.suffix in (".parquet", ".csv", ".md") and "cache" not in p.parts
    )
    assert len(files) > 40
    assert [rel for rel in files if not same(remote / rel, local / rel)] == []
