"""The training recipe: global batch arithmetic, config checks, launcher commands, checkpoint fingerprints."""

from __future__ import annotations

import shlex

import pytest
import yaml

from conftest import REPO
from distillery.plan.training_recipe import BatchPlan, TrainConfigError, batch_plan, check_train_section, recipe
from distillery.train.launch import launch_command, run_fingerprint, write_spec


@pytest.mark.parametrize("world,micro,accum", [(1, 1, 64), (8, 1, 8), (32, 2, 1), (64, 1, 1), (16, 4, 1), (2, 8, 4)])
def test_global_batch_64_holds_for_any_world_size_that_divides_it(world, micro, accum):
    plan = batch_plan(64, micro, world)
    assert plan == BatchPlan(64, micro, world, accum)
    assert plan.micro_batch * plan.grad_accum * plan.world_size == 64


def test_impossible_global_batch_is_a_clear_error():
    with pytest.raises(
        TrainConfigError, match=r"64 is not a multiple of micro_batch 3 x world size 8 = 24.*\[1, 2, 4, 8\]"
    ):
        batch_plan(64, 3, 8)
    with pytest.raises(TrainConfigError, match="no micro_batch works: 24 processes"):
        batch_plan(64, 1, 24)
    with pytest.raises(TrainConfigError, match="micro_batch 128 x world size 1"):
        batch_plan(64, 128, 1)
    with pytest.raises(TrainConfigError, match="positive"):
        batch_plan(64, 0, 1)


def test_config_checks_name_the_key(tmp_path):
    from distillery.plan.config_checks import ConfigError, check_train

    check_train_section({})  # the schema's defaults: one CPU process, global batch 64
    with pytest.raises(ConfigError, match="global_batch 64 is not a multiple.*x world size 24"):
        check_train({"train": {"gpus_per_node": 8, "nodes": 3, "launcher": "torchrun"}})
    with pytest.raises(TrainConfigError, match="launcher python runs one process"):
        check_train_section({"gpus_per_node": 8, "global_batch": 64})
    with pytest.raises(TrainConfigError, match="no such file"):
        check_train_section({"deepspeed": str(tmp_path / "missing.json"), "launcher": "deepspeed"})
    zero3 = str(REPO / "configs/deepspeed/zero3.json")
    with pytest.raises(TrainConfigError, match="needs a distributed launcher"):
        check_train_section({"deepspeed": zero3})
    with pytest.raises(TrainConfigError, match="lora with ZeRO-3"):
        check_train_section({"deepspeed": zero3, "launcher": "deepspeed", "lora": {"r": 16}})
    with pytest.raises(TrainConfigError, match="deepspeed is for one node"):
        check_train_section({"launcher": "deepspeed", "nodes": 2, "gpus_per_node": 8})
    check_train_section(
        {"deepspeed": str(REPO / "configs/deepspeed/zero2.json"), "launcher": "deepspeed", "lora": {"r": 16}}
    )


def test_shipped_configs_validate_and_the_paper_recipe_is_the_papers():
    from snakemake.utils import update_config, validate

    from distillery.plan.config_checks import check_config

    default = yaml.safe_load((REPO / "config.yaml").read_text())
    paper = yaml.safe_load((REPO / "configs/paper.yaml").read_text())
    update_config(paper_run := yaml.safe_load((REPO / "config.yaml").read_text()), paper)  # as --configfile does
    for config in (default, paper_run):
        validate(config, str(REPO / "schemas/config.schema.yaml"))  # fills in the defaults
        check_config(config)
    train = paper_run["train"]  # nothing of the toy's train section leaks into the paper's run
    assert train["lora"] is None and train["max_steps"] is None and train["max_seq_len"] == 32768
    assert train["base_model"] == "Qwen/Qwen2.5-32B"
    assert (train["learning_rate"], train["epochs"], train["max_seq_len"], train["global_batch"]) == (
        8e-5,
        2,
        32768,
        64,
    )
    assert (train["schedule"], train["warmup_ratio"], train["packing"]) == ("cosine", 0.05, True)
    assert train["deepspeed"] == "configs/deepspeed/zero3.json" and train["bf16"] and train["gradient_checkpointing"]
    plan = batch_plan(train["global_batch"], train["micro_batch"], train["gpus_per_node"] * train["nodes"])
    assert plan.grad_accum * plan.world_size * plan.micro_batch == 64
    # nor any of the toy's models: the paper's teachers, verifiers and evaluated models replace them
    assert [t["name"] for t in paper_run["teachers"]] == ["am-thinking-v1", "qwen3-235b-a22b", "deepseek-r1"]
    assert all(t["temperature"] == 0.6 and t["top_p"] == 0.95 for t in paper_run["teachers"])
    assert paper_run["distill"]["reward_model"] and "results/models" not in paper_run["distill"]["judge"]["model"]
    assert paper_run["evaluate"]["extra_models"] == []


def test_deepspeed_configs_leave_batch_and_precision_to_the_trainer():
    import json

    for name in ("zero2", "zero3", "zero3_offload"):
        ds = json.loads((REPO / f"configs/deepspeed/{name}.json").read_text())
        assert ds["train_batch_size"] == ds["gradient_accumulation_steps"] == "auto"  # one source: train.*
        assert ds["bf16"]["enabled"] == "auto"
        stage = ds["zero_optimization"]["stage"]
        assert stage == (2 if name == "zero2" else 3)
        if stage == 3:
            assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"]  # a whole model at the end


def test_launch_commands(tmp_path):
    spec = tmp_path / "run.json"
    py = "python"
    assert launch_command(spec, launcher="python", python=py) == [py, "-m", "distillery.train", "--config", str(spec)]
    with pytest.raises(ValueError):
        launch_command(spec, launcher="python", gpus_per_node=2, python=py)
    torchrun = launch_command(spec, launcher="torchrun", gpus_per_node=8, python=py)
    assert torchrun[:7] == [py, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "8"]
    assert "--standalone" in torchrun and torchrun[-4:] == ["-m", "distillery.train", "--config", str(spec)]
    ds = launch_command(spec, launcher="deepspeed", gpus_per_node=0, deepspeed="z3.json", python=py, port=29600)
    assert ds == [
        py,
        "-m",
        "deepspeed.launcher.runner",
        "--num_gpus",
        "1",
        "--master_port",
        "29600",
        "--module",
        "distillery.train",
        "--config",
        str(spec),
    ]
    acc = launch_command(spec, launcher="accelerate", gpus_per_node=0, deepspeed="z3.json", python=py)
    assert "--use_deepspeed" in acc and "--cpu" not in acc  # accelerate allows one of them
    assert "--cpu" in launch_command(spec, launcher="accelerate", python=py)


def test_multi_node_launch_runs_one_launcher_per_node_under_srun(tmp_path):
    spec = tmp_path / "run.json"
    cmd = launch_command(
        spec, launcher="torchrun", gpus_per_node=8, nodes=4, master="node001", port=29500, python="python"
    )
    assert cmd[:8] == ["srun", "--nodes", "4", "--ntasks-per-node", "1", "--kill-on-bad-exit=1", "bash", "-c"]
    assert "--rdzv-id $SLURM_JOB_ID " in cmd[8]
    inner = shlex.split(cmd[8])
    assert inner[inner.index("--nnodes") + 1] == "4" and inner[inner.index("--nproc-per-node") + 1] == "8"
    assert inner[inner.index("--rdzv-endpoint") + 1] == "node001:29500"
    acc = launch_command(
        spec,
        launcher="accelerate",
        gpus_per_node=8,
        nodes=2,
        master="node001",
        python="python",
        deepspeed="configs/deepspeed/zero3.json",
    )
    assert "--machine_rank $SLURM_NODEID " in acc[8]  # expanded by each node's shell, not quoted away
    assert "--num_processes 16" in acc[8] and "--num_machines 2" in acc[8]
    with pytest.raises(ValueError):
        launch_command(spec, launcher="deepspeed", gpus_per_node=8, nodes=2, master="n", python="python")


def test_rule_resources_follow_the_train_section():
    """Snakemake's SLURM executor: one node runs inside the job step with every GPU; several nodes are an
    MPI-style job (one task per node, no srun around the job) so that the launcher can srun per node."""
    from distillery.plan.training_recipe import slurm_resources

    base = {"mem_mb": 1000, "runtime": 60}
    cpu = slurm_resources({**base, "gpus_per_node": 0, "nodes": 1})
    assert cpu["gpu"] == 0 and cpu["nodes"] == 1 and not cpu["mpi"] and cpu["mem_mb"] == 1000 and cpu["runtime"] == 60
    assert slurm_resources({**base, "gpus_per_node": 8, "nodes": 1})["gpu"] == 8
    multi = slurm_resources({**base, "gpus_per_node": 8, "nodes": 4})
    assert multi["gpu"] == 32 and multi["nodes"] == multi["tasks"] == 4 and multi["mpi"] and multi["tasks_per_gpu"] == 0


def test_fingerprint_and_recipe(tmp_path):
    corpus = tmp_path / "c.parquet"
    corpus.write_bytes(b"one")
    train = {"learning_rate": 8e-5, "save_steps": 50, "runtime": 60, "deepspeed": None, "micro_batch": 1}
    base = run_fingerprint(train, corpus, "org/model")
    assert run_fingerprint({**train, "save_steps": 10, "runtime": 600}, corpus, "org/model") == base
    assert run_fingerprint({**train, "learning_rate": 1e-4}, corpus, "org/model") != base
    assert run_fingerprint({**train, "deepspeed": "z3.json"}, corpus, "org/model") != base  # checkpoint layout
    assert run_fingerprint(train, corpus, "org/other") != base
    corpus.write_bytes(b"two")
    assert run_fingerprint(train, corpus, "org/model") != base
    # the rule's params (rerun trigger): the recipe, not the hardware or the time limit
    assert recipe(train) == {"learning_rate": 8e-5}


def test_a_changed_run_does_not_resume_old_checkpoints(tmp_path):
    corpus = tmp_path / "c.parquet"
    corpus.write_bytes(b"one")
    ckpt = tmp_path / "ckpt"
    paths = dict(
        teacher="t",
        corpus=str(corpus),
        base_model="org/model",
        model_dir="m",
        log_history="l",
        report="r",
        checkpoints=str(ckpt),
    )
    write_spec(**paths, train={"learning_rate": 1.0, "save_steps": 5})
    (ckpt / "checkpoint-5").mkdir()
    write_spec(**paths, train={"learning_rate": 1.0, "save_steps": 7})  # same run: kept
    assert (ckpt / "checkpoint-5").is_dir()
    write_spec(**paths, train={"learning_rate": 2.0, "save_steps": 7})  # another recipe: from scratch
    assert not (ckpt / "checkpoint-5").exists() and (ckpt / "run.json").exists()
