"""Token counts under the student's tokenizer, with the Rust ``tokenizers`` library in batches.

Counting is all the statistics need, so the tokenizer is loaded from its ``tokenizer.json`` without
transformers where the folder has one (a second to load, no model code imported), padding and
truncation are switched off (a saved tokenizer may carry them), and texts go through the batch
encoders in chunks that bound memory. The parts of a text (a response's think and answer segments)
are counted inside the text's own tokenization, from its character offsets, instead of tokenising
each part again: one pass, and the count is that of the tokens the student actually trains on.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

CHUNK = 20_000


def load_tokenizer(name: str, threads: int | None = None):
    """A ``tokenizers.Tokenizer`` for a folder, hub id or ``package:<module>``; ``threads`` caps the
    Rust thread pool (it must be set before the pool's first use)."""
    if threads:
        os.environ["RAYON_NUM_THREADS"] = str(threads)
    from tokenizers import Tokenizer

    from distillery.core.model_resolution import resolve_model

    path = Path(resolve_model(name))
    if (path / "tokenizer.json").exists():
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    else:
        from transformers import AutoTokenizer

        auto = AutoTokenizer.from_pretrained(str(path))
        if not auto.is_fast:
            raise ValueError(f"{name}: no fast tokenizer (tokenizer.json); token counts need one")
        tokenizer = auto.backend_tokenizer
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def count_tokens(tokenizer, texts: list[str | None], chunk: int = CHUNK) -> pa.Array:
    """Tokens per text, without special tokens; null for a null text (an empty text has 0)."""
    counts = np.zeros(len(texts), dtype=np.int64)
    present = [i for i, t in enumerate(texts) if t is not None]
    for start in range(0, len(present), chunk):
        part = present[start : start + chunk]
        encodings = tokenizer.encode_batch_fast([texts[i] for i in part], add_special_tokens=False)
        counts[part] = [len(e) for e in encodings]
    mask = np.array([t is None for t in texts], dtype=bool)
    return pa.array(counts, pa.int64(), mask=mask)


def count_tokens_with_spans(
    tokenizer, texts: list[str | None], spans: list[list[tuple[int, int] | None]], chunk: int = CHUNK
) -> tuple[pa.Array, list[pa.Array]]:
    """(tokens per text, [tokens overlapping the k-th character span [start, end) of each text]).

    ``spans[k][i]`` is the k-th span of text ``i`` or None (a null count); an empty span counts 0. A
    token that straddles a span's edge (a tag glued to the first word) counts for the span."""
    n = len(texts)
    totals = np.zeros(n, dtype=np.int64)
    parts = [np.zeros(n, dtype=np.int64) for _ in spans]
    present = [i for i, t in enumerate(texts) if t is not None]
    for start in range(0, len(present), chunk):
        part = present[start : start + chunk]
        for i, encoding in zip(
            part, tokenizer.encode_batch([texts[i] for i in part], add_special_tokens=False), strict=True
        ):
            totals[i] = len(encoding)
            for k, span in enumerate(spans):
                if span[i] is not None and span[i][1] > span[i][0]:
                    parts[k][i] = _tokens_in(encoding, *span[i])
    missing = np.array([t is None for t in texts], dtype=bool)
    return (
        pa.array(totals, pa.int64(), mask=missing),
        [
            pa.array(p, pa.int64(), mask=missing | np.array([s is None for s in span], dtype=bool))
            for p, span in zip(parts, spans, strict=True)
        ],
    )


def _tokens_in(encoding, start: int, end: int) -> int:
    first, last = encoding.char_to_token(start), encoding.char_to_token(end - 1)
    if first is not None and last is not None:
        return last - first + 1
    return sum(1 for a, b in encoding.offsets if a < end and b > start)  # an edge character in no token
