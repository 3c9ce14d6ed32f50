"""Token counts under the student's tokenizer, with the Rust ``tokenizers`` library in batches.

Counting is all the statistics need, so the tokenizer is loaded from its ``tokenizer.json`` without
transformers where the folder has one (a second to load, no model code imported), padding and
truncation are switched off (a saved tokenizer may carry them), and texts go through
``encode_batch_fast`` (no offsets) in chunks that bound memory.
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

    from distillery.models import resolve_model

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
        part = present[start:start + chunk]
        encodings = tokenizer.encode_batch_fast([texts[i] for i in part], add_special_tokens=False)
        counts[part] = [len(e.ids) for e in encodings]
    mask = np.array([t is None for t in texts], dtype=bool)
    return pa.array(counts, pa.int64(), mask=mask)
