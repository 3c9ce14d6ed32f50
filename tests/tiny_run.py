"""The cheapest complete run of the workflow (`all`), for the rebuild-guarantee, report and SLURM tests: the
toy query set, two teachers whose responses were "released" (the dataset backend: no model generates
anything; written here from the toy sources, some right and some wrong), no LLM judge, and a tiny random
model and word-level tokenizer for perplexity, token counts, the students' base model and their
evaluation. Every stage runs for real."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import write_jsonl

TEACHERS = ("alpha", "beta")
HALF_RIGHT_IF = 9001  # a toy IF query whose released answer scores 0.5: accepted only below the paper's 0.9
OVERRIDE = "tiny.yaml"


# one optimizer step of the tiny model per student (no warmup: it would make that step one at rate 0); each
# student answers two easy math problems and one code problem once, in a few tokens
TRAIN_EVAL = """train: {base_model: tiny, lora: null, max_seq_len: 128, global_batch: 2, micro_batch: 2, max_steps: 1,
        warmup_ratio: 0, bf16: false, gradient_checkpointing: false, dtype: float32}
evaluate:
  benchmarks:
    demo_math_easy: {kind: math, samples: 1, limit: 2}
    demo_code_easy: {kind: livecodebench, samples: 1, limit: 1, max_new_tokens: 8}
  max_new_tokens: 8
  stop: []
  student_backend: {batch_size: 4, dtype: float32}
  extra_models: []
"""


def teacher_entry(name: str, **extra) -> str:
    fields = {
        "name": name,
        "backend": "dataset",
        "model": f"org/{name}",
        "max_attempts": 1,
        "system_prompt": "null",
        "dataset": f"{{paths: [released-{name}.jsonl]}}",
        **extra,
    }
    return "  - {" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}\n"


def override(teachers=TEACHERS, extra: str = "", **teacher_extra) -> str:
    return (
        "shards: {num_shards: 2}\nteachers:\n"
        + "".join(teacher_entry(t, **teacher_extra.get(t, {})) for t in teachers)
        + "distill: {judge: null, verify_processes: 1}\n"
        + "analysis:\n  tokenizer: tiny\n"
        + "  perplexity: {model: tiny, dtype: float32, max_tokens: 64, batch_size: 4}\n"
        + TRAIN_EVAL
        + extra
    )


def config_args() -> tuple[str, ...]:
    return ("--configfile", "config.yaml", OVERRIDE)


def targets() -> list[str]:
    """Everything: with the settings above, `all` is cheap (about 60 jobs)."""
    return ["all"]


def release(workdir: Path, name: str, right_every: int) -> None:
    """A teacher's released responses (a-m-team format) to the toy math queries, made from the source file
    (the dataset backend matches a query by the canonical hash of its turns): every ``right_every``-th
    answer right, the others wrong; other categories are absent from the release (never accepted)."""
    samples = []
    for i, line in enumerate((workdir / "data/queries/math.jsonl").read_text(encoding="utf-8").splitlines()):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(row, dict) or not row.get("problem") or "answer" not in row:
            continue
        answer = row["answer"] if i % right_every == 0 else "-1"
        samples.append(sample(row["problem"], f"\\boxed{{{answer}}}"))
    for line in (workdir / "data/queries/if.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.startswith("{") else {}
        if row.get("key") == HALF_RIGHT_IF:  # "no commas" and "at least 80 words": follows one of two
            samples.append(sample(row["prompt"], "Bamboo keeps water cold and the bottle light."))
    write_jsonl(workdir / f"released-{name}.jsonl", samples)


def sample(prompt: str, answer: str) -> dict:
    return {
        "system": "",
        "conversations": [
            {"from": "human", "value": prompt},
            {"from": "assistant", "value": f"<think>Working on it.</think><answer>{answer}</answer>"},
        ],
    }


def prepare(workdir: Path, teachers=TEACHERS, extra: str = "", **teacher_extra) -> Path:
    """The releases, the tiny model and the config override: what the cheap run needs beside the workflow."""
    from analysis_fixture import save_tiny_model

    for k, name in enumerate(("alpha", "beta", "gamma")):
        release(workdir, name, right_every=k + 1)
    save_tiny_model(workdir / "tiny")
    (workdir / OVERRIDE).write_text(override(teachers, extra, **teacher_extra))
    return workdir


def complete(workdir: Path) -> Path:
    """A copy of the workflow with the cheap run done: every target of :func:`targets`."""
    from workflow import copy_workflow, snakemake

    prepare(copy_workflow(workdir))
    snakemake(workdir, *targets(), *config_args())
    return workdir


def clone(done: Path, dest: Path) -> Path:
    """A copy of a finished run, Snakemake's metadata and file times included, to change without
    touching the shared one."""
    import shutil

    shutil.copytree(done, dest, symlinks=True, dirs_exist_ok=True)
    return dest
