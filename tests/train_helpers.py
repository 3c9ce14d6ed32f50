"""Tiny students and corpora for the training tests: a random Llama with a word-level vocabulary (fast on
CPU, unlike the 262k-token Gemma one) and corpora in the corpus stage's shape."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import TINY_WORDS, tiny_llama_config, tiny_tokenizer

WORDS = [w for w in TINY_WORDS[4:] if w not in ("user", "assistant", "system", ":")]
CORPUS_SCHEMA = pa.schema(
    [
        ("qid", pa.string()),
        ("source", pa.string()),
        ("category", pa.string()),
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("text", pa.string())]))),
        ("response", pa.string()),
        ("teacher", pa.string()),
    ]
)


def tiny_student(folder: Path, seed: int = 0, **config) -> Path:
    """A randomly initialised tiny Llama with the tiny tokenizer, saved as a Hugging Face folder."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config(**config))
    model.save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def corpus_rows(
    n: int, seed: int = 0, multi_turn_every: int = 3, length: tuple[int, int] = (4, 30), teacher: str = "t1"
) -> list[dict]:
    """``n`` rows; every ``multi_turn_every``-th is a three-turn dialogue (user, assistant, user)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        messages = [{"role": "user", "text": words(rng, rng.randint(3, 8))}]
        if multi_turn_every and i % multi_turn_every == 0:
            messages += [
                {"role": "assistant", "text": words(rng, rng.randint(3, 8))},
                {"role": "user", "text": words(rng, rng.randint(3, 8))},
            ]
        rows.append(
            {
                "qid": f"q{i:04d}",
                "source": "toy",
                "category": "general",
                "messages": messages,
                "response": "think " + words(rng, rng.randint(*length)) + " answer " + words(rng, 2),
                "teacher": teacher,
            }
        )
    return rows


def write_corpus(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=CORPUS_SCHEMA), path)
    return path


def train_section(**overrides) -> dict:
    """The schema's train defaults (what Snakemake fills in), then ``overrides``: a CPU run of the tiny
    student in fp32 (bf16 autocast would make the loss comparisons coarse)."""
    import yaml

    from conftest import REPO

    schema = yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text())
    train = {k: v.get("default") for k, v in schema["properties"]["train"]["properties"].items()}
    train.update(
        max_seq_len=128,
        global_batch=2,
        learning_rate=1e-3,
        bf16=False,
        save_dtype="float32",
        gradient_checkpointing=False,
        attn_implementation="sdpa",
        threads=2,
    )
    train.update(overrides)
    return train


def run_paths(folder: Path) -> dict:
    return dict(
        model_dir=str(folder / "model"),
        log_history=str(folder / "log_history.jsonl"),
        report=str(folder / "train_report.json"),
        checkpoints=str(folder / "checkpoints"),
    )


def read_log(path) -> list[dict]:
    import json

    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
