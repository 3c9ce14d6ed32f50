"""The workflow through a real SLURM: Debian's slurmctld + slurmd + munge on this machine (two fake GPUs),
Snakemake's SLURM executor with the repository's profile, invoked as the README says
(`snakemake --profile slurm ...`). GPU rules must reach SLURM with their GPUs, CPU rules without, and
the results must equal a local run of the same workflow (the shared cheap run, tests/tiny_run.py); results
restored from the store must not queue any job."""

import os
import re
import subprocess
import time

import pyarrow.parquet as pq
import pytest

import tiny_run
from slurm_cluster import Cluster, missing
from workflow import copy_workflow, settled, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

# alpha's jobs ask for a GPU (as a vLLM teacher's would), beta's not; perplexity runs on GPUs.
VOLATILE = {"latency_s", "cached", "wall_s", "seconds", "created"}  # timing and cache-state columns


def gpu_override(workdir):
    (workdir / tiny_run.OVERRIDE).write_text(
        tiny_run.override(extra="", alpha={"gpus_per_node": 1}).replace("  perplexity: {", "  perplexity: {gpus: 1, ")
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"SLURM must run in CI: {reason}")
        pytest.skip(reason)
    c = Cluster(tmp_path_factory.mktemp("slurm"), cpus=64, memory_mb=1_000_000).start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLURM_CONF", c.env["SLURM_CONF"])
        mp.setenv("PATH", c.env["PATH"])
        try:
            yield c
        finally:
            c.stop()


def targets(done):
    """Query preparation (with both embedding rules), distillation and perplexity: every kind of GPU rule
    the cheap run has, and the CPU rules between them."""
    perplexity = sorted(str(p.relative_to(done)) for p in (done / "results/corpora/perplexity").rglob("*.parquet"))
    return ["results/queries/report.md", *(f"results/distill/{t}/summary.json" for t in tiny_run.TEACHERS), *perplexity]


@pytest.fixture(scope="module")
def runs(cluster, tiny_done, tmp_path_factory):
    remote = tiny_run.prepare(copy_workflow(tmp_path_factory.mktemp("slurm-wf")))
    gpu_override(remote)
    # The README's command. This 2-core node stands in for a site: few jobs at once, the rules' own
    # thread counts (the profile's are for cluster nodes), a short first status check.
    proc = snakemake(
        remote,
        "--profile",
        "slurm",
        *targets(tiny_done),
        *tiny_run.config_args(),
        "--jobs",
        "4",
        "--set-threads",
        "filter_queries=2",
        "--slurm-init-seconds-before-status-checks",
        "4",
        timeout=540,
    )
    return tiny_done, remote, proc


def slurm_jobs(cluster) -> list[dict]:
    """Every job slurmctld still holds (MinJobAge keeps finished ones): its fields, one dict per job."""
    jobs = []
    for line in cluster.scontrol("-d", "show", "job", "-o").splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields.get("JobId"):
            jobs.append(fields)
    return jobs


def test_gpu_rules_are_submitted_with_gpus_and_cpu_rules_without(cluster, runs):
    jobs = slurm_jobs(cluster)
    by_rule = {}
    for job in jobs:
        rule = re.match(r"rule_([A-Za-z0-9_]+?)(_wildcards_|$)", job["Comment"]).group(1)
        by_rule.setdefault(rule, []).append(job)
    assert all(j["JobState"] == "COMPLETED" for j in jobs), [(j["Comment"], j["JobState"]) for j in jobs]
    gpu = {rule for rule, js in by_rule.items() if any("gpu" in j.get("TresPerJob", "") for j in js)}
    assert {"embed_queries", "embed_benchmarks", "distill_shard", "corpus_perplexity"} <= gpu
    assert not gpu & {"dedup_queries", "filter_queries", "teacher_corpus", "distill_summary", "figure"}
    for job in by_rule["distill_shard"]:  # per teacher: alpha asks for one GPU, beta for none
        teacher = "alpha" if "alpha" in job["Comment"] else "beta"
        assert ("gres:gpu:1" in job.get("TresPerJob", "")) == (teacher == "alpha"), job
        assert (job.get("JOB_GRES") == "gpu:1") == (teacher == "alpha"), job  # allocated, not only asked
    # partitions come from profiles/slurm/partitions.yaml by what a job asks for
    assert {j["Partition"] for j in by_rule["embed_queries"]} == {"gpu"}
    assert {j["Partition"] for j in by_rule["dedup_queries"]} == {"cpu"}
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", runs[2].stdout + runs[2].stderr)
    assert sorted(submitted, key=int) == sorted((j["JobId"] for j in jobs), key=int)  # every job went to SLURM


def test_a_gpu_job_sees_its_gpu(cluster, tmp_path):
    """The fake GPUs behave like real ones to a job: SLURM hands one out in CUDA_VISIBLE_DEVICES."""
    out = tmp_path / "job.out"
    job = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--gpus=1",
            "-p",
            "gpu",
            "-o",
            str(out),
            "--wrap",
            "srun -n1 sh -c 'echo visible=$CUDA_VISIBLE_DEVICES'",
        ],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    deadline = time.monotonic() + 60
    while "JobState=COMPLETED" not in cluster.scontrol("show", "job", job) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert out.read_text().strip() == "visible=0"


def comparable(path):
    table = pq.read_table(path)
    keep = [c for c in table.column_names if c not in VOLATILE]
    rows = table.select(keep).to_pylist()
    return sorted(rows, key=repr)


def test_results_equal_a_local_run(runs):
    local, remote, _ = runs
    files = sorted(
        p.relative_to(remote)
        for p in (remote / "results").rglob("*")
        if p.is_file() and p.suffix in (".parquet", ".csv", ".md") and "cache" not in p.parts
    )
    assert len(files) > 20
    for rel in files:
        if rel.suffix == ".parquet":
            assert comparable(remote / rel) == comparable(local / rel), rel
        else:
            assert (remote / rel).read_text() == (local / rel).read_text(), rel


def test_a_config_switched_back_is_restored_without_a_slurm_job(cluster, runs):
    """A/B/A on the perplexity (GPU jobs here): A's results come back from the store, put there by
    Snakemake's main process itself: no job is queued, let alone one that holds a GPU."""
    _, remote, _ = runs
    perplexity = sorted(str(p.relative_to(remote)) for p in (remote / "results/corpora/perplexity").rglob("*.parquet"))
    before = {p: (remote / p).read_bytes() for p in perplexity}
    (remote / "b.yaml").write_text("analysis: {perplexity: {max_tokens: 32}}\n")
    snakemake(remote, *perplexity, *tiny_run.config_args(), "b.yaml")  # config B, here
    assert any((remote / p).read_bytes() != before[p] for p in perplexity)
    last_job = max(int(j["JobId"]) for j in slurm_jobs(cluster))
    proc = snakemake(
        remote,
        "--profile",
        "slurm",
        *perplexity,
        *tiny_run.config_args(),
        "--slurm-init-seconds-before-status-checks",
        "4",
    )
    assert settled(proc, "restored") == {"corpus_perplexity": len(perplexity)}
    assert "submitted with SLURM jobid" not in proc.stdout + proc.stderr
    assert all(int(j["JobId"]) <= last_job for j in slurm_jobs(cluster))
    assert {p: (remote / p).read_bytes() for p in perplexity} == before
