# Shared names and helpers of the rules. Logic lives in distillery/.
import os
import re
import sys


def index_concrete_producers():
    """Snakemake finds the rule that makes a file by matching the file against each output of each candidate
    rule in turn. query_shards has one output per shard, and every distillation job and every corpus reads
    shards, so on a paper-scale DAG (2,000 shards, 3 teachers) a third of the DAG's time went to that scan
    (bench/dag.py). A rule without wildcards makes exactly the files it lists, so a set answers at once."""
    from snakemake.rules import Rule

    if getattr(Rule.is_producer, "indexed", False):
        return
    scan = Rule.is_producer

    def is_producer(self, requested_output):
        if self.has_wildcards():
            return scan(self, requested_output)
        if "_concrete_products" not in self.__dict__:  # the rules are complete when the DAG is built
            self._concrete_products = frozenset(map(str, self.products()))
        return str(requested_output) in self._concrete_products

    is_producer.indexed = True
    Rule.is_producer = is_producer


index_concrete_producers()

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


# A shard's name (distillery.canonical.shard_names) as a wildcard constraint: a pattern, not the list of the
# shards, which Snakemake would copy into every output pattern it fills in (2,000 alternatives: a sixth of a
# paper-scale DAG's time, bench/dag.py). Consumers ask only for the shards there are.
SHARD = r"\d+-of-\d+"


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
    resource callable. See distillery/cluster.py and profiles/slurm/config.yaml. Its parameters are given
    to Snakemake up front, which would otherwise inspect the function's signature for every job."""
    import inspect

    from snakemake.common import overwrite_function_params

    from distillery.cluster import teacher_geometry

    def resource(wildcards):
        return teacher_geometry(TEACHERS[wildcards.teacher])[key]

    overwrite_function_params(resource, inspect.signature(resource).parameters)
    return resource


def generation_env(backends):
    """The conda environment (--sdm conda) of generation with any of ``backends``, vLLM's own when a
    model runs in vLLM (it also has what the endpoint and release backends need), torch on GPUs for the
    transformers backend, else the CPU one. One environment per rule (fixed when the Snakefile is parsed), as
    Snakemake resolves a per-job environment for every job of the DAG, even without --sdm conda."""
    backends = set(backends)
    if "vllm" in backends:
        return "../envs/vllm.yaml"
    return "../envs/gpu.yaml" if "transformers" in backends else "../envs/cpu.yaml"


def training_corpus(teacher):
    """The corpus a student of ``teacher`` (a name, or wildcards with .teacher) trains on: the parallel
    corpus (queries every teacher answered, the paper's setting) or, with ``corpus.mode: union``, all of
    that teacher's responses that passed verification and quality assurance."""
    name = getattr(teacher, "teacher", teacher)
    if config["corpus"]["mode"] == "parallel":
        return f"results/corpora/parallel/{name}.parquet"
    return f"results/corpora/{name}.parquet"
