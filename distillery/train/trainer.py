"""One student's fine-tuning with TRL's SFTTrainer: the worker that every launcher starts, once per process.

TRL does the packing (best-fit decreasing into ``max_seq_len`` sequences, padding-free, position ids
restarting per sample so that attention never crosses a sample boundary), the loss over labelled
tokens only, DeepSpeed through accelerate, and checkpoints. This module adds what the paper's recipe
and a cluster need around it: the exact global batch on any world size, a tokenised corpus shared by
all ranks, resuming from the newest complete checkpoint, a save-and-stop on SIGTERM (SLURM's time
limit), a plain Hugging Face folder at the end (LoRA merged, 16-bit weights), and the log.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from pathlib import Path

import torch

from distillery.core.artifacts import (
    atomic_folder,
    publish_folder,
    read_json,
    read_parquet,
    staging_folder,
    write_json,
    write_text,
)
from distillery.plan.training_recipe import batch_plan
from distillery.train.launch import STOPPED_EXIT_CODE
from distillery.train.sft_data import build_dataset, packing_efficiency, system_prompt

log = logging.getLogger(__name__)

DATASET_DIR = "dataset"  # tokenised corpus, beside the checkpoints


def world_size_from_env() -> int:
    """What the launcher started: torchrun, accelerate and deepspeed all set WORLD_SIZE."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def last_complete_checkpoint(folder: str | os.PathLike) -> str | None:
    """The newest ``checkpoint-N`` whose trainer state was written (the Trainer writes it last) and
    parses; a checkpoint cut off by a kill is skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    steps = sorted(
        (int(p.name.split("-")[1]), p)
        for p in folder.glob("checkpoint-*")
        if p.is_dir() and p.name.split("-")[1].isdigit()
    )
    for _, path in reversed(steps):
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (OSError, ValueError):
            log.warning("skipping incomplete checkpoint %s", path)
            continue
        return str(path)
    return None


def attn_implementation(setting: str) -> str:
    """``auto``: flash-attention 2 where it is installed and a GPU is present, else PyTorch's sdpa."""
    if setting != "auto":
        return setting
    import importlib.util

    return "flash_attention_2" if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") else "sdpa"


def sft_config(spec: dict, plan):
    """TRL's SFTConfig for the recipe. Made before the model is loaded: with ZeRO-3 the config must exist
    first so that from_pretrained loads the weights already partitioned."""
    from trl import SFTConfig

    train = spec["train"]
    return SFTConfig(
        output_dir=spec["checkpoints"],
        per_device_train_batch_size=plan.micro_batch,
        gradient_accumulation_steps=plan.grad_accum,
        learning_rate=train["learning_rate"],
        num_train_epochs=train["epochs"],
        max_steps=train["max_steps"] or -1,
        lr_scheduler_type=train["schedule"],
        warmup_steps=train["warmup_ratio"],  # a float < 1 is a fraction of the total steps
        weight_decay=train["weight_decay"],
        max_grad_norm=train["max_grad_norm"],
        optim=train["optimizer"],
        bf16=train["bf16"],
        fp16=False,
        activation_checkpointing=train["gradient_checkpointing"],  # transformers 5's name for it
        activation_checkpointing_kwargs={"use_reentrant": False} if train["gradient_checkpointing"] else None,
        deepspeed=train["deepspeed"],
        packing=train["packing"],
        packing_strategy="bfd",  # best fit: no sample is cut (over-long ones were dropped before)
        max_length=train["max_seq_len"],
        dataset_num_proc=train["num_proc"],
        logging_steps=train["logging_steps"],
        save_strategy="steps",
        save_steps=train["save_steps"],
        save_total_limit=train["save_total_limit"],
        seed=train["seed"],
        data_seed=train["seed"],
        report_to="none",
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )


def load_dataset(spec: dict, tokenizer, args):
    """The tokenised corpus, made once by the main process and read from disk by every other rank (and by
    a resumed run): tokenising millions of samples per rank would waste the allocation's first hour."""
    from datasets import load_from_disk

    folder = Path(spec["checkpoints"]) / DATASET_DIR
    with args.main_process_first(local=False, desc="tokenising the corpus"):
        if not (folder / "stats.json").exists():
            train = spec["train"]
            dataset, stats = build_dataset(
                read_parquet(spec["corpus"]),
                tokenizer,
                system_prompt(train["system_prompt"]),
                train["max_seq_len"],
                train["num_proc"],
            )
            if not len(dataset) and stats.samples:
                raise ValueError(
                    f"{spec['corpus']}: no sample of {stats.samples} fits max_seq_len "
                    f"{train['max_seq_len']} (longest {stats.longest} tokens)"
                )
            if not len(dataset):  # an empty corpus: nothing to share (datasets cannot reload an empty save)
                return dataset, stats.as_dict()
            with atomic_folder(folder) as staged:
                dataset.save_to_disk(str(staged))
                write_json(stats.as_dict(), staged / "stats.json")
        dataset = load_from_disk(str(folder))
        stats = read_json(folder / "stats.json")
    return dataset, stats


def load_model(spec: dict):
    from transformers import AutoModelForCausalLM

    train = spec["train"]
    dtype = getattr(torch, train["dtype"])
    return AutoModelForCausalLM.from_pretrained(
        spec["base_model"], dtype=dtype, attn_implementation=attn_implementation(train["attn_implementation"])
    )


def lora_config(lora: dict | None):
    if not lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
        task_type="CAUSAL_LM",
    )


def make_callbacks():
    from transformers import TrainerCallback

    class RunLog(TrainerCallback):
        """Adds wall time and tokens/s (packed tokens, all ranks) to each log entry."""

        def __init__(self):
            self.last = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            entry = state.log_history[-1] if state.log_history else None
            if entry is None or "loss" not in entry:
                return
            now = time.monotonic()
            tokens = entry.get("num_tokens")
            if self.last is not None and tokens is not None and now > self.last[0]:
                entry["tokens_per_s"] = round((tokens - self.last[1]) / (now - self.last[0]), 2)
            self.last = (now, tokens or 0)

    class SaveAndStop(TrainerCallback):
        """On SIGTERM (SLURM's time limit, KillWait seconds before SIGKILL) or SIGUSR1, save a checkpoint
        at the end of the current step and stop; every rank agrees on the step."""

        def __init__(self):
            self.requested = False
            self.stopped = False

        def on_train_begin(self, args, state, control, **kwargs):
            for sig in (signal.SIGTERM, signal.SIGUSR1):
                signal.signal(sig, self._request)

        def _request(self, signum, frame):
            log.warning("signal %d: saving a checkpoint after this step, then stopping", signum)
            self.requested = True

        def on_step_end(self, args, state, control, **kwargs):
            flag = self.requested
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                t = torch.tensor([int(flag)], device=args.device)
                torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
                flag = bool(t.item())
            if flag:
                control.should_save = True
                control.should_training_stop = True
                self.stopped = True

    return RunLog(), SaveAndStop()


def save_final(trainer, out_dir: Path, dtype: str) -> None:
    """A plain Hugging Face folder: LoRA adapters merged, weights in ``dtype`` (the Trainer would keep
    fp32 master weights), tokenizer with its chat template, generation config. Written beside
    ``out_dir`` and renamed (:func:`distillery.core.artifacts.publish_folder`), so a half-written folder
    never looks finished."""
    tmp = staging_folder(out_dir)  # every rank writes its part into the same folder
    main = trainer.accelerator.is_main_process
    if main and tmp.exists():
        shutil.rmtree(tmp)
    trainer.accelerator.wait_for_everyone()
    model = trainer.accelerator.unwrap_model(trainer.model)
    if trainer.is_deepspeed_enabled and not hasattr(model, "merge_and_unload"):
        trainer.save_model(str(tmp))  # gathers ZeRO-3 shards into 16-bit weights on the main process
    elif main:
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
        model.to(getattr(torch, dtype)).save_pretrained(str(tmp))
    if main:
        (tmp / "training_args.bin").unlink(missing_ok=True)  # Trainer.save_model's; not part of a model folder
        trainer.processing_class.save_pretrained(str(tmp))
        publish_folder(tmp, out_dir)
    trainer.accelerator.wait_for_everyone()


def untrained_student(spec: dict, model, tokenizer, stats: dict, started: float) -> int:
    """An empty corpus (a teacher with no accepted response, or no query every teacher answered) is a gap
    to report, not a crash: the student is the base model, saved as such, with zero steps in its report."""
    log.warning("%s holds no sample: the student of %s is the untrained base model", spec["corpus"], spec["teacher"])
    if int(os.environ.get("RANK", "0")) == 0:
        with atomic_folder(spec["model_dir"]) as staged:
            model.to(getattr(torch, spec["train"]["save_dtype"])).save_pretrained(str(staged))
            tokenizer.save_pretrained(str(staged))
        write_text("", spec["log_history"])
        write_json(
            {
                "teacher": spec["teacher"],
                "corpus": spec["corpus"],
                "base_model": spec["base_model"],
                "fingerprint": spec["fingerprint"],
                "config": spec["train"],
                "data": stats,
                "dropped_too_long": stats["dropped_too_long"],
                "training_sequences": 0,
                "steps": 0,
                "untrained": "empty corpus: the student is the base model",
                "wall_s": round(time.monotonic() - started, 1),
                "versions": _versions(),
            },
            spec["report"],
        )
    return 0


def run(spec: dict) -> int:
    """Train (or resume) one student as described by ``spec`` (written by ``launch.write_spec``).
    Returns the process exit code: 0 when finished, STOPPED_EXIT_CODE when stopped on a signal."""
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    started = time.monotonic()
    train = spec["train"]
    if train.get("threads") and not torch.cuda.is_available():
        torch.set_num_threads(train["threads"])
    plan = batch_plan(train["global_batch"], train["micro_batch"], world_size_from_env())
    args = sft_config(spec, plan)
    tokenizer = AutoTokenizer.from_pretrained(spec["base_model"])
    dataset, stats = load_dataset(spec, tokenizer, args)
    model = load_model(spec)
    if not len(dataset):
        return untrained_student(spec, model, tokenizer, stats, started)
    run_log, stop = make_callbacks()
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(train["lora"]),
        callbacks=[run_log, stop],
    )
    packs = trainer.train_dataset
    efficiency = packing_efficiency(packs["seq_lengths"], train["max_seq_len"]) if train["packing"] else None
    resume = last_complete_checkpoint(spec["checkpoints"])
    if args.process_index == 0:
        log.info(
            "batch plan %s; %d samples kept, %d dropped (> %d tokens); %d training sequences; packing "
            "efficiency %s; resuming from %s",
            plan.as_dict(),
            stats["kept"],
            stats["dropped_too_long"],
            train["max_seq_len"],
            len(packs),
            efficiency,
            resume,
        )
    result = trainer.train(resume_from_checkpoint=resume)
    if stop.stopped:
        log.warning(
            "stopped at step %d on a signal; the checkpoint is in %s", trainer.state.global_step, spec["checkpoints"]
        )
        return STOPPED_EXIT_CODE
    save_final(trainer, Path(spec["model_dir"]), train["save_dtype"])
    if trainer.accelerator.is_main_process:
        history = trainer.state.log_history
        write_text("".join(json.dumps(entry) + "\n" for entry in history), spec["log_history"])
        write_json(
            {
                "teacher": spec["teacher"],
                "corpus": spec["corpus"],
                "base_model": spec["base_model"],
                "fingerprint": spec["fingerprint"],
                "config": train,
                "batch": plan.as_dict(),
                "data": stats,
                "dropped_too_long": stats["dropped_too_long"],
                "training_sequences": len(packs),
                "packing_efficiency": efficiency,
                "steps": trainer.state.global_step,
                "epochs": trainer.state.epoch,
                "resumed_from": resume,
                "train_runtime_s": result.metrics.get("train_runtime"),
                "wall_s": round(time.monotonic() - started, 1),
                "final_loss": next((e["loss"] for e in reversed(history) if "loss" in e), None),
                "peak_gpu_memory_gib": (
                    round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None
                ),
                "versions": _versions(),
            },
            spec["report"],
        )
    return 0


def _versions() -> dict:
    import importlib.metadata as md

    return {name: md.version(name) for name in ("torch", "transformers", "trl", "accelerate", "peft", "deepspeed")}
