"""Synthetic students and corpora for the training benchmarks (no hub, no real data needed): a word-level
tokenizer with a chat template, a random-weight model from a config, and a corpus in the corpus stage's
shape whose response lengths follow a log-normal distribution like real reasoning traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from distillery.core.artifacts import write_parquet

CHAT_TEMPLATE = (
    "{{ bos_token }} {% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]


def tokenizer(words: int = 1000):
    """One token per word ``w0``..``w{words-1}``: lengths in tokens are exact."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + [f"w{i}" for i in range(words)])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="<|end|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def save_student(folder: Path, config, words: int = 1000, dtype=None) -> Path:
    """A randomly initialised causal LM of ``config``'s architecture, with the synthetic tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype or torch.float32)
    model.save_pretrained(folder)
    tokenizer(words).save_pretrained(folder)
    return folder


def corpus(
    path: Path,
    samples: int,
    mean_tokens: float,
    sigma: float = 0.8,
    max_tokens: int = 32768,
    words: int = 1000,
    seed: int = 0,
) -> Path:
    """``samples`` single-turn rows: a 20-60-token query and a response of log-normal length (mean
    ``mean_tokens``)."""
    rng = np.random.default_rng(seed)
    mu = np.log(mean_tokens) - sigma**2 / 2
    lengths = np.clip(rng.lognormal(mu, sigma, samples).astype(int), 8, max_tokens)
    text = lambda n: " ".join(f"w{i}" for i in rng.integers(0, words, n))  # noqa: E731
    rows = [
        {
            "qid": f"q{i}",
            "source": "synthetic",
            "category": "general",
            "messages": [{"role": "user", "text": text(int(rng.integers(20, 60)))}],
            "response": text(int(n)),
            "teacher": "synthetic",
        }
        for i, n in enumerate(lengths)
    ]
    schema = pa.schema(
        [
            ("qid", pa.string()),
            ("source", pa.string()),
            ("category", pa.string()),
            ("messages", pa.list_(pa.struct([("role", pa.string()), ("text", pa.string())]))),
            ("response", pa.string()),
            ("teacher", pa.string()),
        ]
    )
    write_parquet(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def padded_efficiency(lengths: list[int], batch: int, seed: int = 0) -> float:
    """Real tokens / capacity of padded batches of ``batch`` samples in random order (no packing)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    real = capacity = 0
    for start in range(0, len(order), batch):
        chunk = [lengths[i] for i in order[start : start + batch]]
        real += sum(chunk)
        capacity += max(chunk) * len(chunk)
    return real / capacity
