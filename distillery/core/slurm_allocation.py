"""The nodes of this SLURM allocation: where multi-node jobs start their per-node processes."""

from __future__ import annotations

import os
import subprocess


def allocation_nodes(env: dict | None = None) -> list[str]:
    """Hostnames of this SLURM job's nodes, first = where the job script runs."""
    env = os.environ if env is None else env
    nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
    if not nodelist:
        return []
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True)
    return out.stdout.split()
