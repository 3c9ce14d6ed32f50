"""The geometry of GPU jobs as the SLURM plugin reads it: GPUs, nodes, tasks.

A teacher too large for one node (DeepSeek-R1, 671B) runs in vLLM across nodes (Ray:
:mod:`distillery.generation.ray_cluster`); its jobs ask for every node as one task per node, and the
job's own code starts the per-node processes."""

from __future__ import annotations

import math
from collections.abc import Callable

from distillery.plan.snakemake_patches import known_params


def teacher_gpus_per_node(teacher: dict) -> int:
    """GPUs per node of a teacher's jobs: ``gpus_per_node`` when set; for vLLM, tensor x pipeline
    parallel over the nodes; other backends run on CPUs (an endpoint, a released dataset) or on what
    the config says."""
    if teacher.get("gpus_per_node") is not None:
        return int(teacher["gpus_per_node"])
    if teacher["backend"] == "vllm":
        engine = teacher.get("vllm") or {}
        total = int(engine.get("tensor_parallel_size", 1)) * int(engine.get("pipeline_parallel_size", 1))
        return math.ceil(total / int(teacher.get("nodes", 1)))
    return 0


def job_geometry(gpus_per_node: int, nodes: int = 1) -> dict:
    """Snakemake resources for a job of ``nodes`` nodes with ``gpus_per_node`` GPUs each, as the SLURM
    plugin reads them. One node: the job runs in Snakemake's own job step. Several: an MPI-style job
    (``mpi`` set: no srun around the job; one task per node), whose code starts its own per-node
    processes with srun. ``tasks_per_gpu=0`` keeps the plugin from turning tasks into --ntasks-per-gpu."""
    return {
        "gpu": gpus_per_node * nodes,
        "nodes": nodes,
        "tasks": nodes,
        "tasks_per_gpu": 0,
        "mpi": "srun" if nodes > 1 else "",
    }


def teacher_geometry(teacher: dict) -> dict:
    return job_geometry(teacher_gpus_per_node(teacher), int(teacher.get("nodes", 1)))


def teacher_resource(teachers: dict[str, dict], key: str) -> Callable:
    """One resource of a teacher's ``distill_shard`` jobs (``gpu``, ``nodes``, ``tasks``, ``mpi``), as a
    rule resource callable over the ``teacher`` wildcard (see profiles/slurm/config.yaml)."""

    def resource(wildcards):
        return teacher_geometry(teachers[wildcards.teacher])[key]

    return known_params(resource)
