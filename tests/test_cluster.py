"""The cluster layer without a cluster: the SLURM profile names only rules that exist and leaves the
model-bound GPU counts to the config; GPU rules run in a GPU software environment; the geometry of
teacher jobs and the Ray commands of multi-node vLLM."""

import re

import pytest
import yaml

from conftest import REPO
from distillery.generation.ray_cluster import ray_commands
from distillery.plan.cluster_geometry import job_geometry, teacher_geometry, teacher_gpus_per_node
from workflow import copy_workflow, snakemake

PROFILE = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
CONFIG_OWNS_GPUS = {"distill_shard", "corpus_perplexity", "train_student", "eval_generate"}


def rule_blocks() -> dict[str, str]:
    """rule name -> its text, for every rule in rules/*.smk (``use rule x as y`` included)."""
    blocks = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule |use rule )", smk.read_text()):
            m = re.match(r"(?:rule (\w+):|use rule \w+ as (\w+))", block)
            if m:
                blocks[m.group(1) or m.group(2)] = block
    return blocks


def test_the_profile_names_only_existing_rules():
    rules = set(rule_blocks())
    for key in ("set-resources", "set-threads"):
        unknown = set(PROFILE[key]) - rules
        assert not unknown, f"profiles/slurm/config.yaml {key}: no such rule {sorted(unknown)}"


def test_the_profile_leaves_model_bound_gpu_counts_to_the_config():
    for rule, resources in PROFILE["set-resources"].items():
        if rule in CONFIG_OWNS_GPUS:
            assert not {"gpu", "gres", "nodes", "tasks"} & set(resources), rule
    assert PROFILE["set-resources"]["embed_queries"]["gpu"] == 1


def test_the_profile_names_no_partition_and_the_site_file_exists():
    """Partitions come from partitions.yaml (plugin auto-selection), never from a rule."""
    assert PROFILE["slurm-partition-config"] == "partitions.yaml"
    partitions = yaml.safe_load((REPO / "profiles/slurm/partitions.yaml").read_text())["partitions"]
    assert any(p.get("max_gpu", 0) > 0 for p in partitions.values())
    assert all("slurm_partition" not in r for r in PROFILE["set-resources"].values())
    assert "slurm_partition" not in PROFILE.get("default-resources", {})
    assert (REPO / "slurm").resolve() == (REPO / "profiles/slurm").resolve()  # --profile slurm


def test_gpu_rules_run_in_a_gpu_environment():
    blocks = rule_blocks()
    gpu_rules = {r for r, b in blocks.items() if re.search(r"\n        gpu=|slurm_resources\(", b)}
    gpu_rules |= {r for r, res in PROFILE["set-resources"].items() if res.get("gpu")}
    assert {"embed_queries", "distill_shard", "corpus_perplexity", "train_student", "eval_generate"} <= gpu_rules
    base = {"embed_benchmarks": "embed_queries"}  # `use rule ... with:` keeps the parent's conda
    for rule in gpu_rules:
        conda = re.search(r"\n    conda:\n        (.+)\n", blocks[base.get(rule, rule)]).group(1)
        assert "cpu.yaml" not in conda, f"{rule} asks for GPUs but runs in {conda}"


def test_generation_env_is_the_one_every_backend_runs_in():
    from distillery.plan.conda_envs import generation_env as env

    assert env(["vllm", "openai"]) == "../envs/vllm.yaml" and env(["transformers", "dataset"]) == "../envs/gpu.yaml"
    assert env(["openai", "dataset"]) == env([]) == "../envs/cpu.yaml"


def test_a_vllm_job_without_vllm_or_its_environment_is_told_how_to_get_one(monkeypatch, tmp_path):
    """The project's environment has no vLLM (it has its own, .venv-vllm): a vllm-backend job re-executes there;
    where that environment is missing too, the error says how to build it. Other backends run where they are."""
    from distillery.generation.engine_python import VLLM_PYTHON_ENV, run_in_engine_python

    monkeypatch.setenv(VLLM_PYTHON_ENV, str(tmp_path / "missing" / "python"))
    run_in_engine_python("transformers")  # returns: nothing to re-execute
    with pytest.raises(RuntimeError, match=r"backend vllm: .*missing/python does not exist; run `make env`"):
        run_in_engine_python("vllm")


def test_teacher_geometry():
    r1 = {"backend": "vllm", "nodes": 2, "vllm": {"tensor_parallel_size": 8, "pipeline_parallel_size": 2}}
    assert teacher_gpus_per_node(r1) == 8
    assert teacher_geometry(r1) == {"gpu": 16, "nodes": 2, "tasks": 2, "tasks_per_gpu": 0, "mpi": "srun"}
    qwen = {"backend": "vllm", "vllm": {"tensor_parallel_size": 8}}
    assert teacher_geometry(qwen) == {"gpu": 8, "nodes": 1, "tasks": 1, "tasks_per_gpu": 0, "mpi": ""}
    assert teacher_gpus_per_node({"backend": "openai"}) == 0  # an endpoint: a CPU job
    assert teacher_gpus_per_node({"backend": "transformers", "gpus_per_node": 1}) == 1
    assert job_geometry(0)["gpu"] == 0


def test_ray_commands_span_the_allocation():
    head, workers = ray_commands(["n1", "n2", "n3"], 8, port=6400)
    assert head[:3] == ["ray", "start", "--head"] and "--port=6400" in head and "--num-gpus=8" in head
    assert workers[0] == "srun" and "--nodes=2" in workers and "--nodelist=n2,n3" in workers
    assert "--address=n1:6400" in workers and "--gres=gpu:8" in workers


@pytest.mark.workflow
@pytest.mark.parametrize("profile", ["slurm", "profiles/slurm"])
def test_both_ways_of_naming_the_profile_load_it(profile, tmp_path):
    """`--profile slurm` (the README's command: ./slurm links to profiles/slurm) and the path itself;
    a dry run needs no cluster."""
    workdir = copy_workflow(tmp_path / "wf")
    proc = snakemake(workdir, "--profile", profile, "--dry-run", "results/queries/deduped.parquet")
    out = proc.stdout + proc.stderr
    assert f"Using profiles {profile} and workflow specific profile profiles/default" in out
    assert re.search(r"rule ingest_source:(.|\n)*?resources: .*mem_mb=32000.*runtime=240", out)  # its set-resources
