"""The training recipe, resolved when the workflow is parsed: what a student is trained with (the rule's
params), the batch arithmetic for any world size, the checks a JSON schema cannot express, and the
train rule's SLURM resources."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from distillery.plan.cluster_geometry import job_geometry

# Keys that say how and where a run executes, not what it computes: changing them does not retrain a
# finished student (they are not the rule's params).
EXECUTION_KEYS = frozenset(
    {
        "launcher",
        "gpus_per_node",
        "nodes",
        "threads",
        "mem_mb",
        "runtime",
        "retries",
        "port",
        "deepspeed",
        "micro_batch",
        "gradient_checkpointing",
        "attn_implementation",
        "save_steps",
        "save_total_limit",
        "keep_checkpoints",
        "logging_steps",
        "num_proc",
    }
)
# ... but a checkpoint written under other values of these cannot be resumed (ZeRO shards per rank, the
# order of micro batches), so they are part of the checkpoint fingerprint.
CHECKPOINT_LAYOUT_KEYS = frozenset({"deepspeed", "gpus_per_node", "nodes", "micro_batch"})


class TrainConfigError(ValueError):
    """A training setting that cannot work; the message names the key and what would."""


@dataclass(frozen=True)
class BatchPlan:
    """Sequences per optimizer step = micro_batch x grad_accum x world_size (packed sequences when
    packing, samples otherwise)."""

    global_batch: int
    micro_batch: int
    world_size: int
    grad_accum: int

    def as_dict(self) -> dict:
        return asdict(self)


def batch_plan(global_batch: int, micro_batch: int, world_size: int) -> BatchPlan:
    """Gradient accumulation that keeps ``global_batch`` exact on ``world_size`` processes, or an error
    that lists what would work (the paper's 64 must not silently become 60 or 72)."""
    if min(global_batch, micro_batch, world_size) < 1:
        raise TrainConfigError(
            f"global_batch ({global_batch}), micro_batch ({micro_batch}) and world size ({world_size}) must be positive"
        )
    per_pass = micro_batch * world_size
    if global_batch % per_pass:
        fits = [m for m in range(1, global_batch // world_size + 1) if global_batch % (m * world_size) == 0]
        hint = (
            f"micro_batch values that work on {world_size} processes: {fits}"
            if fits
            else f"no micro_batch works: {world_size} processes do not divide the global batch; use a world size "
            f"that divides {global_batch}"
        )
        raise TrainConfigError(
            f"train.global_batch {global_batch} is not a multiple of micro_batch {micro_batch} "
            f"x world size {world_size} = {per_pass}; {hint}"
        )
    return BatchPlan(global_batch, micro_batch, world_size, global_batch // per_pass)


def declared_world_size(train: dict) -> int:
    """Processes the config asks for: one per GPU of every node, or one process on a CPU-only node."""
    return max(train.get("gpus_per_node", 0), 1) * train.get("nodes", 1)


def deepspeed_stage(path: str | None) -> int | None:
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f).get("zero_optimization", {}).get("stage", 0)


def check_train_section(train: dict) -> None:
    """Raise :class:`TrainConfigError` for settings that would fail (or silently change the recipe)
    only once a job runs. Missing keys take the schema's defaults."""
    launcher = train.get("launcher", "python")
    world = declared_world_size(train)
    batch_plan(train.get("global_batch", 64), train.get("micro_batch", 1), world)
    if launcher == "python" and world > 1:
        raise TrainConfigError(
            f"train.launcher python runs one process, but gpus_per_node x nodes = {world}; "
            "use torchrun or accelerate (or deepspeed on one node)"
        )
    if launcher == "deepspeed" and train.get("nodes", 1) > 1:
        raise TrainConfigError(
            "train.launcher deepspeed is for one node here; across nodes use torchrun or "
            "accelerate (srun starts one per node) with train.deepspeed set"
        )
    ds = train.get("deepspeed")
    if ds:
        if not Path(ds).is_file():
            raise TrainConfigError(f"train.deepspeed: no such file {ds!r}")
        if launcher == "python":
            raise TrainConfigError(
                "train.deepspeed needs a distributed launcher (deepspeed, torchrun or "
                "accelerate): DeepSpeed cannot start in a plain python process"
            )
        if train.get("lora") and deepspeed_stage(ds) == 3:
            raise TrainConfigError(
                "train.lora with ZeRO-3: the adapters could not be merged into the sharded "
                "weights at the end; use ZeRO-2 or full fine-tuning"
            )


def recipe(train: dict) -> dict:
    """What a student is trained with: the train section without its execution keys (the rule's params,
    so that a longer time limit or another GPU count does not retrain a finished student)."""
    return {k: v for k, v in train.items() if k not in EXECUTION_KEYS}


def slurm_resources(train: dict) -> dict:
    """The train rule's resources: the job geometry of :mod:`distillery.plan.cluster_geometry` (one node: the
    launcher runs in Snakemake's job step with every GPU; several: one task per node and no srun around the
    job, so that :func:`distillery.train.launch.launch_command` can srun one launcher per node), memory per
    node and the time limit."""
    return {
        **job_geometry(train["gpus_per_node"], train["nodes"]),
        "mem_mb": train["mem_mb"],
        "runtime": train["runtime"],
    }
