# Shared names and helpers of the rules. Logic lives in distillery/.
import os
import re
import sys

# Scripts (and jobs under any executor) import the package from this checkout.
sys.path.insert(0, workflow.basedir)
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")])))

from distillery.canonical import shard_names
from distillery.config import check_config
from distillery.provenance import script_code_hash

check_config(config)

SOURCES = {source["name"]: source for source in config["sources"]}
BENCHMARKS = config["decontaminate"].get("benchmarks") or list(config["benchmarks"])
SHARDS = shard_names(config["shards"]["num_shards"])
TEACHERS = {teacher["name"]: teacher for teacher in config["teachers"]}
LOCAL_MODELS = "results/models/"
QUERIES = "results/queries"


def alternatives(names):
    return "|".join(re.escape(n) for n in names)


def dataset_files(spec):
    """Local files a source or benchmark reads: a rule input, so that editing them reruns it."""
    return [spec["path"]] if "path" in spec else []


def code_fingerprint(script):
    """Rerun trigger: fingerprint of the distillery code that scripts/<script>.py runs."""
    return script_code_hash(os.path.join(workflow.basedir, "scripts", f"{script}.py"))


def built_models(*names):
    """Those of ``names`` (models, tokenizers) that the workflow builds itself under results/models/:
    inputs of the rules that use them, so that rule local_model runs first."""
    return sorted({m.rstrip("/") for m in names if m and m.startswith(LOCAL_MODELS)})


def local_models(teacher, distill):
    """Models the workflow builds itself (the converted local model) that a teacher or its judge uses."""
    return built_models(teacher["model"], (distill.get("judge") or {}).get("model", ""))


def teacher_resource(key):
    """One resource of a teacher's distill_shard jobs (GPUs, nodes, task layout), from its config: a rule
    resource callable. See distillery/cluster.py and profiles/slurm/config.yaml."""
    from distillery.cluster import teacher_geometry

    return lambda wildcards: teacher_geometry(TEACHERS[wildcards.teacher])[key]


def generation_env(backend):
    """The conda environment (--sdm conda) of a job that generates with ``backend``: vLLM's own, torch on GPUs
    for the transformers backend, the CPU one for an endpoint or a released dataset."""
    return {"vllm": "../envs/vllm.yaml", "transformers": "../envs/gpu.yaml"}.get(backend, "../envs/cpu.yaml")


def training_corpus(teacher):
    """The corpus a student of ``teacher`` (a name, or wildcards with .teacher) trains on: the parallel
    corpus (queries every teacher answered, the paper's setting) or, with ``corpus.mode: union``, all of
    that teacher's responses that passed verification and quality assurance."""
    name = getattr(teacher, "teacher", teacher)
    if config["corpus"]["mode"] == "parallel":
        return f"results/corpora/parallel/{name}.parquet"
    return f"results/corpora/{name}.parquet"
