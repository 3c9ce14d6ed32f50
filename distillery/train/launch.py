"""Starting the training worker (``python -m distillery.train``) the way the hardware needs.

- ``python``: one process (the CPU default, or one GPU).
- ``torchrun``: one process per GPU; across nodes, ``srun`` starts one torchrun per node and they meet
  through c10d rendezvous on the first node of the allocation.
- ``accelerate``: ``accelerate launch`` with the same geometry (``--use_deepspeed`` when a DeepSpeed
  config is set); across nodes each node's rank comes from ``$SLURM_NODEID``.
- ``deepspeed``: DeepSpeed's own launcher on one node (it passes ``--local_rank``).

Whatever the launcher, DeepSpeed is used when ``train.deepspeed`` names a config: the Trainer reads
it. Every launcher runs the same interpreter as the caller (``python -m torch.distributed.run`` etc.),
so the workflow's environment is the training environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from distillery.core.artifacts import read_json, write_json
from distillery.core.model_resolution import model_fingerprint
from distillery.core.slurm_allocation import allocation_nodes
from distillery.plan.training_recipe import CHECKPOINT_LAYOUT_KEYS, EXECUTION_KEYS

WORKER = ["-m", "distillery.train"]  # distillery/train/__main__.py, which calls:
WORKER_ENTRY = "distillery.train.trainer:run"  # named here so that the rule's code fingerprint follows it
FINGERPRINT_FILE = "fingerprint.txt"
STOPPED_EXIT_CODE = 143  # 128 + SIGTERM: the worker stopped on a signal after saving a checkpoint; rerun to resume
NODE_RANK = "$SLURM_NODEID"  # expanded by the shell srun starts on each node
JOB_ID = "$SLURM_JOB_ID"  # the rendezvous id: one per allocation


def _digest_file(digest, path: Path) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)


def run_fingerprint(train: dict, corpus: str | os.PathLike, base_model: str | os.PathLike) -> str:
    """Identity of what a run computes and of its checkpoints' layout: the recipe, the corpus bytes and the
    base model (:func:`distillery.core.model_resolution.model_fingerprint`). A checkpoint with another
    fingerprint is never resumed."""
    digest = hashlib.blake2b(digest_size=16)
    kept = {k: v for k, v in sorted(train.items()) if k not in EXECUTION_KEYS or k in CHECKPOINT_LAYOUT_KEYS}
    digest.update(json.dumps(kept, sort_keys=True, default=str).encode())
    _digest_file(digest, Path(corpus))
    if Path(base_model).is_dir():
        digest.update(model_fingerprint(base_model).encode())
    else:
        digest.update(str(base_model).encode())  # a hub id
    return digest.hexdigest()


def write_spec(
    *,
    teacher: str,
    corpus: str,
    base_model: str,
    model_dir: str,
    log_history: str,
    report: str,
    checkpoints: str,
    train: dict,
) -> Path:
    """The run spec every worker reads: paths and the resolved train section. Stored in the checkpoint
    folder, whose old checkpoints are removed when the fingerprint changed (another corpus, base model
    or recipe must start from scratch, not resume)."""
    folder = Path(checkpoints)
    fingerprint = run_fingerprint(train, corpus, base_model)
    marker = folder / FINGERPRINT_FILE
    if folder.exists() and (not marker.exists() or marker.read_text().strip() != fingerprint):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(fingerprint + "\n")
    spec = {
        "teacher": teacher,
        "corpus": corpus,
        "base_model": base_model,
        "model_dir": model_dir,
        "log_history": log_history,
        "report": report,
        "checkpoints": checkpoints,
        "train": train,
        "fingerprint": fingerprint,
    }
    path = folder / "run.json"
    write_json(spec, path)
    return path


def launch_command(
    spec_path: str | os.PathLike,
    *,
    launcher: str,
    gpus_per_node: int = 0,
    nodes: int = 1,
    port: int = 29500,
    deepspeed: str | None = None,
    master: str | None = None,
    python: str = sys.executable,
) -> list[str]:
    """argv that starts the worker on every process. With ``nodes > 1`` it is ``srun ... bash -c '...'``,
    one launcher per node of the SLURM allocation (``master`` is the first node's host name)."""
    per_node = max(gpus_per_node, 1)
    worker = [*WORKER, "--config", str(spec_path)]
    multi = nodes > 1
    if launcher == "python":
        if per_node * nodes > 1:
            raise ValueError("launcher python runs a single process")
        return [python, *worker]
    if launcher == "torchrun":
        cmd = [python, "-m", "torch.distributed.run", "--nnodes", str(nodes), "--nproc-per-node", str(per_node)]
        cmd += (
            ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"{master}:{port}", "--rdzv-id", JOB_ID]
            if multi
            else ["--standalone"]
        )
        cmd += worker
    elif launcher == "accelerate":
        cmd = [
            python,
            "-m",
            "accelerate.commands.launch",
            "--num_processes",
            str(per_node * nodes),
            "--num_machines",
            str(nodes),
            "--main_process_port",
            str(port),
        ]
        if multi:
            cmd += ["--machine_rank", NODE_RANK, "--main_process_ip", str(master), "--rdzv_backend", "c10d"]
        if deepspeed:
            cmd += ["--use_deepspeed", "--deepspeed_config_file", str(deepspeed)]
        elif gpus_per_node == 0:
            cmd += ["--cpu"]
        cmd += worker
    elif launcher == "deepspeed":
        if multi:
            raise ValueError("the deepspeed launcher is used on one node; use torchrun or accelerate across nodes")
        cmd = [
            python,
            "-m",
            "deepspeed.launcher.runner",
            "--num_gpus",
            str(per_node),
            "--master_port",
            str(port),
            "--module",
            *worker[1:],
        ]
    else:
        raise ValueError(f"unknown launcher {launcher!r}")
    if not multi:
        return cmd
    script = " ".join(arg if arg in (NODE_RANK, JOB_ID) else shlex.quote(arg) for arg in cmd)
    return ["srun", "--nodes", str(nodes), "--ntasks-per-node", "1", "--kill-on-bad-exit=1", "bash", "-c", script]


def launch(spec_path: str | os.PathLike, *, threads: int | None = None) -> int:
    """Run the worker(s) for the spec and return the exit code; output goes to this process's stdout and
    stderr (the job's log)."""
    train = read_json(spec_path)["train"]
    nodes, gpus = train["nodes"], train["gpus_per_node"]
    master = allocation_nodes()[0] if nodes > 1 else None  # the rendezvous point
    cmd = launch_command(
        spec_path,
        launcher=train["launcher"],
        gpus_per_node=gpus,
        nodes=nodes,
        port=train["port"],
        deepspeed=train["deepspeed"],
        master=master,
    )
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(max(1, threads // max(gpus, 1)))
    print("launching:", shlex.join(cmd), flush=True)
    return subprocess.run(cmd, env=env).returncode
