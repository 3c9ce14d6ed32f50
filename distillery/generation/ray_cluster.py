"""A Ray cluster across the nodes of one SLURM allocation, for a vLLM teacher too large for one node.

vLLM runs pipeline parallelism across nodes through Ray: the job (one task per node, no ``srun`` around
the job script; :mod:`distillery.plan.cluster_geometry`) starts a Ray head on its first node and one Ray
worker per other node with ``srun``, and vLLM joins that cluster."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import time

from distillery.core.slurm_allocation import allocation_nodes

RAY_PORT = 6379


def ray_commands(nodes: list[str], gpus_per_node: int, port: int = RAY_PORT) -> tuple[list[str], list[str]]:
    """The Ray head command (this node) and the srun command that starts one worker on every other node
    of the allocation; both block until stopped."""
    head, workers = nodes[0], nodes[1:]
    head_cmd = [
        "ray",
        "start",
        "--head",
        f"--node-ip-address={head}",
        f"--port={port}",
        f"--num-gpus={gpus_per_node}",
        "--block",
    ]
    worker_cmd = [
        "srun",
        f"--nodes={len(workers)}",
        f"--ntasks={len(workers)}",
        "--ntasks-per-node=1",
        f"--nodelist={','.join(workers)}",
        "--overlap",
        *([f"--gres=gpu:{gpus_per_node}"] if gpus_per_node else []),
        "ray",
        "start",
        f"--address={head}:{port}",
        f"--num-gpus={gpus_per_node}",
        "--block",
    ]
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
