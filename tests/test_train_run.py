"""Real training runs of a tiny student on CPU: the learning-rate schedule, resuming after SIGTERM and after
kill -9, and the Snakemake rule end to end (a loadable checkpoint, the loss going down, Fig. 6)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from distillery.core.artifacts import read_json
from distillery.train.launch import STOPPED_EXIT_CODE, launch, launch_command, write_spec
from train_helpers import corpus_rows, read_log, run_paths, tiny_student, train_section, write_corpus
from workflow import copy_workflow, snakemake

STEPS = 40


def spec_for(tmp: Path, base: Path, corpus: Path, **train) -> Path:
    return write_spec(
        teacher="t1", corpus=str(corpus), base_model=str(base), **run_paths(tmp), train=train_section(**train)
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of STEPS steps (global batch 2 packed sequences of up to 128 tokens)."""
    tmp = tmp_path_factory.mktemp("reference")
    base = tiny_student(tmp / "base")
    corpus = write_corpus(tmp / "corpus.parquet", corpus_rows(4 * STEPS, length=(10, 30)))
    spec = spec_for(tmp / "run", base, corpus, max_steps=STEPS, save_steps=1000, system_prompt=None)
    assert launch(spec, threads=2) == 0
    return {"base": base, "corpus": corpus, "run": tmp / "run"}


def test_schedule_is_five_percent_warmup_then_cosine_to_zero(reference):
    log = [e for e in read_log(reference["run"] / "log_history.jsonl") if "loss" in e]
    assert [e["step"] for e in log] == list(range(1, STEPS + 1))
    peak, warmup = 1e-3, math.ceil(0.05 * STEPS)
    lrs = [e["learning_rate"] for e in log]  # the rate each step used
    for step, lr in enumerate(lrs):  # step index 0..STEPS-1
        if step < warmup:
            expected = peak * step / warmup
        else:
            expected = peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (STEPS - warmup)))
        assert lr == pytest.approx(expected, rel=1e-6, abs=1e-12), step
    assert lrs[0] == 0 and max(lrs) == pytest.approx(peak) and lrs.index(max(lrs)) == warmup
    assert lrs[-1] < 0.002 * peak  # the next step's rate would be exactly zero
    assert all(a >= b for a, b in pairwise(lrs[warmup:]))
    report = read_json(reference["run"] / "train_report.json")
    assert report["steps"] == STEPS and report["batch"]["grad_accum"] == 2 and report["dropped_too_long"] == 0
    assert all(e.get("tokens_per_s", 1) > 0 and e["grad_norm"] > 0 for e in log)


def wait_for(predicate, proc, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    raise TimeoutError


def checkpoints(folder: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").exists())


def test_resume_after_sigterm_and_after_kill_9_matches_an_uninterrupted_run(reference, tmp_path):
    """SIGTERM (SLURM's time limit): save at the end of the step, exit 143. kill -9: the newest complete
    checkpoint is resumed. The resumed run's losses and learning rates equal the uninterrupted run's."""
    spec = spec_for(tmp_path, reference["base"], reference["corpus"], max_steps=STEPS, save_steps=5, system_prompt=None)
    ckpt = tmp_path / "checkpoints"
    cmd = launch_command(spec, launcher="python")

    first = subprocess.Popen(cmd)
    assert wait_for(lambda: checkpoints(ckpt), first), "finished before its first checkpoint"
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=120) == STOPPED_EXIT_CODE
    stopped_at = max(checkpoints(ckpt))
    assert 5 <= stopped_at < STEPS

    second = subprocess.Popen(cmd)
    assert wait_for(lambda: max(checkpoints(ckpt)) >= stopped_at + 5, second), "finished before it could be killed"
    os.kill(second.pid, signal.SIGKILL)
    second.wait()
    killed_at = max(checkpoints(ckpt))
    assert killed_at < STEPS

    assert subprocess.run(cmd).returncode == 0
    report = read_json(tmp_path / "train_report.json")
    assert report["resumed_from"].endswith(f"checkpoint-{killed_at}") and report["steps"] == STEPS
    resumed = {e["step"]: e for e in read_log(tmp_path / "log_history.jsonl") if "loss" in e}
    expected = {e["step"]: e for e in read_log(reference["run"] / "log_history.jsonl") if "loss" in e}
    assert sorted(resumed) == sorted(expected)
    for step in expected:
        assert resumed[step]["learning_rate"] == pytest.approx(expected[step]["learning_rate"], rel=1e-6), step
        assert resumed[step]["loss"] == pytest.approx(expected[step]["loss"], abs=1e-4), step


def test_lora_adapters_are_merged_into_a_plain_folder(reference, tmp_path):
    """The embedded default trains LoRA adapters: the saved student is an ordinary model folder (no adapter
    files) with the base model's parameters, changed by the training."""
    import torch
    from transformers import AutoModelForCausalLM

    spec = spec_for(
        tmp_path,
        reference["base"],
        reference["corpus"],
        max_steps=3,
        system_prompt=None,
        lora={"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"},
        learning_rate=0.05,
    )
    assert launch(spec, threads=2) == 0
    files = {p.name for p in (tmp_path / "model").iterdir()}
    assert "model.safetensors" in files and not any(name.startswith("adapter") for name in files)
    trained = AutoModelForCausalLM.from_pretrained(tmp_path / "model").state_dict()
    base = AutoModelForCausalLM.from_pretrained(reference["base"]).state_dict()
    assert trained.keys() == base.keys()
    changed = [k for k in base if not torch.equal(trained[k], base[k])]
    assert any("q_proj" in k for k in changed) and not any("embed" in k for k in changed)  # adapters on linears


@pytest.mark.workflow
def test_snakemake_trains_a_loadable_student_whose_loss_goes_down(tmp_path):
    """The rule end to end: two teachers, a 3-step run each on a repeated batch (the whole corpus is one
    global batch), an over-long sample dropped and counted, a plain Hugging Face folder, Fig. 6."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work = copy_workflow(tmp_path / "wf")
    tiny_student(work / "student")
    for teacher in ("t1", "t2"):
        rows = corpus_rows(6, seed=int(teacher[1]), length=(10, 20), teacher=teacher)
        rows += corpus_rows(1, seed=7, length=(300, 300), teacher=teacher)  # longer than max_seq_len
        write_corpus(work / f"results/corpora/parallel/{teacher}.parquet", rows)
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["teachers"] = [{"name": t, "backend": "transformers", "model": "student"} for t in ("t1", "t2")]
    config["train"] = {
        "base_model": "student",
        "max_seq_len": 128,
        "global_batch": 6,
        "micro_batch": 3,
        "max_steps": 3,
        "learning_rate": 3e-3,
        "bf16": False,
        "gradient_checkpointing": False,
        "threads": 1,
    }  # one core each: both students train at once
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    # the corpora are given: run only this stage's rules
    snakemake(
        work,
        "results/train/t1/model",
        "results/figures/fig6_loss_curves.png",
        "--allowed-rules",
        "train_student",
        "figure",
    )

    folder = work / "results/train/t1"
    report = read_json(folder / "train_report.json")
    assert report["dropped_too_long"] == 1 and report["data"]["kept"] == 6
    assert report["batch"] == {"global_batch": 6, "micro_batch": 3, "world_size": 1, "grad_accum": 2}
    assert report["training_sequences"] <= 6 and report["steps"] == 3
    assert report["config"]["learning_rate"] == 3e-3 and report["config"]["system_prompt"] == "paper"
    assert not (folder / "checkpoints").exists()  # removed after success (train.keep_checkpoints false)
    losses = [e["loss"] for e in read_log(folder / "log_history.jsonl") if "loss" in e]
    assert len(losses) == 3
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)  # step 1 ran at lr 0 (warmup): same batch, same loss
    assert losses[2] < losses[0] - 0.01  # one real step on the repeated batch lowered it

    model = AutoModelForCausalLM.from_pretrained(folder / "model")
    tokenizer = AutoTokenizer.from_pretrained(folder / "model")
    assert tokenizer.chat_template and (folder / "model/generation_config.json").exists()
    assert {p.name for p in (folder / "model").glob("*.safetensors")}
    with torch.no_grad():
        out = model(**tokenizer("what is two plus four", return_tensors="pt"))
    assert torch.isfinite(out.logits).all()
    base = AutoModelForCausalLM.from_pretrained(work / "student")
    assert not torch.equal(model.lm_head.weight, base.lm_head.weight)  # it was trained

    csv = (work / "results/figures/fig6_loss_curves.csv").read_text().splitlines()
    assert csv[0].startswith("teacher,step,epoch,loss,loss_smoothed")
    assert {line.split(",")[0] for line in csv[1:]} == {"t1", "t2"} and len(csv) == 1 + 6
    assert (work / "results/figures/fig6_loss_curves.pdf").stat().st_size > 0

    # nothing reruns after a longer time limit, more memory or another save interval: how a run executes
    # is not its recipe; a new learning rate retrains
    config["train"].update(runtime=600, mem_mb=20000, save_steps=7)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    out = snakemake(work, "results/train/t1/model", "--allowed-rules", "train_student", "--dry-run")
    assert "Nothing to be done" in out.stdout + out.stderr
    config["train"]["learning_rate"] = 1e-3
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    out = snakemake(work, "results/train/t1/model", "--allowed-rules", "train_student", "--dry-run")
    assert "train_student" in out.stdout


def test_an_empty_corpus_gives_the_untrained_base_model_and_says_so(tmp_path):
    base = tiny_student(tmp_path / "base")
    corpus = write_corpus(tmp_path / "empty.parquet", [])
    spec = spec_for(tmp_path / "run", base, corpus, max_steps=3, system_prompt=None)
    assert launch(spec, threads=2) == 0
    report = read_json(tmp_path / "run/train_report.json")
    assert report["steps"] == 0 and "empty corpus" in report["untrained"]
    assert (tmp_path / "run/log_history.jsonl").read_text() == ""
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(tmp_path / "run/model")
