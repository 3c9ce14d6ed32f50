"""Cluster geometry of GPU jobs, and a Ray cluster across the nodes of one SLURM allocation.

A teacher too large for one node (DeepSeek-R1, 671B) runs in vLLM with pipeline parallelism across
nodes, which vLLM does through Ray: the job (one task per node, no ``srun`` around the job script)
starts a Ray head on its first node and one Ray worker per other node with ``srun``, and vLLM joins
that cluster. Everything here but :func:`start_ray_cluster` is pure and tested without SLURM or Ray."""

from __future__ import annotations

import atexit
import math
import os
import shutil
import subprocess
import time

RAY_PORT = 6379


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
    return {"gpu": gpus_per_node * nodes, "nodes": nodes, "tasks": nodes, "tasks_per_gpu": 0,
            "mpi": "srun" if nodes > 1 else ""}


def teacher_geometry(teacher: dict) -> dict:
    return job_geometry(teacher_gpus_per_node(teacher), int(teacher.get("nodes", 1)))


def allocation_nodes(env: dict | None = None) -> list[str]:
    """Hostnames of this SLURM job's nodes, first = where the job script runs."""
    env = os.environ if env is None else env
    nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
    if not nodelist:
        return []
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True)
    return out.stdout.split()


def ray_commands(nodes: list[str], gpus_per_node: int, port: int = RAY_PORT) -> tuple[list[str], list[str]]:
    """The Ray head command (this node) and the srun command that starts one worker on every other node
    of the allocation; both block until stopped."""
    head, workers = nodes[0], nodes[1:]
    head_cmd = ["ray", "start", "--head", f"--node-ip-address={head}", f"--port={port}",
                f"--num-gpus={gpus_per_node}", "--block"]
    worker_cmd = ["srun", f"--nodes={len(workers)}", f"--ntasks={len(workers)}", "--ntasks-per-node=1",
                  f"--nodelist={','.join(workers)}", "--overlap",
                  *([f"--gres=gpu:{gpus_per_node}"] if gpus_per_node else []), "ray", "start", f"--address={head}:{port}",
                  f"--num-gpus={gpus_per_node}", "--block"]
    return head_cmd, worker_cmd


def start_ray_cluster(gpus_per_node: int, timeout_s: float = 600, port: int = RAY_PORT) -> str | None:
    """Start Ray across this allocation's nodes (once per process; stopped at exit) and return its address,
    or None on a single node, where vLLM needs no Ray cluster."""
    nodes = allocation_nodes()
    if len(nodes) < 2:
        return None
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    if not shutil.which("ray"):
        raise RuntimeError("a multi-node vLLM teacher needs Ray (envs/vllm.yaml installs it)")
    head_cmd, worker_cmd = ray_commands(nodes, gpus_per_node, port)
    procs = [subprocess.Popen(head_cmd)]
    time.sleep(5)  # the head must listen before workers join
    procs.append(subprocess.Popen(worker_cmd))

    def stop():
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()

    atexit.register(stop)
    address = f"{nodes[0]}:{port}"
    deadline = time.monotonic() + timeout_s
    while _ray_nodes(address) < len(nodes):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            stop()
            raise RuntimeError(f"Ray did not come up on {len(nodes)} nodes {nodes} within {timeout_s:.0f} s")
        time.sleep(5)
    os.environ["RAY_ADDRESS"] = address
    return address


def _ray_nodes(address: str) -> int:
    out = subprocess.run(["ray", "status", f"--address={address}"], capture_output=True, text=True)
    return out.stdout.count("node_") if out.returncode == 0 else 0
