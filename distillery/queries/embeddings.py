"""Sentence embeddings of queries and benchmark items (sentence-transformers), stored as artifacts.

Texts are sorted by length before batching so that a batch holds texts of similar length and little
padding: ~3x for bge-m3 on an H200 (1,246 vs 3,477 queries/s measured), 3x for MiniLM on 2 CPU cores
(bench/prep.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa

from distillery.core.model_resolution import resolve_device, resolve_model
from distillery.core.schema import embedding_schema

log = logging.getLogger(__name__)

QUERY_KEYS = ["qid"]  # what identifies an embedding of a query, and of a benchmark item
ITEM_KEYS = ["benchmark", "item_id"]


def load_embedder(config: dict):
    import torch
    from sentence_transformers import SentenceTransformer

    device = resolve_device(config["device"])
    dtype = config["dtype"]
    if dtype == "auto":  # encoders lose nothing in float16 on a GPU; on a CPU it is slower
        dtype = "float16" if device.startswith("cuda") else "float32"
    model = SentenceTransformer(
        resolve_model(config["model"]), device=device, model_kwargs={"dtype": getattr(torch, dtype)}
    )
    model.max_seq_length = min(config["max_tokens"], model.max_seq_length or config["max_tokens"])
    log.info("embedder %s on %s (%s), max %d tokens", config["model"], device, dtype, model.max_seq_length)
    return model


def embed_texts(
    model, texts: Sequence[str], batch_size: int, sort_by_length: bool = True, progress: Callable | None = None
) -> np.ndarray:
    """Unit-normalised float32 embeddings, in the order of ``texts``."""
    n = len(texts)
    dim = (
        model.get_embedding_dimension()
        if hasattr(model, "get_embedding_dimension")
        else model.get_sentence_embedding_dimension()
    )
    out = np.zeros((n, dim), dtype=np.float32)
    order = np.argsort([-len(t) for t in texts], kind="stable") if sort_by_length else np.arange(n)
    # encode() is called once per batch so that the batch boundaries (and so the padding) are ours.
    starts = range(0, n, batch_size)
    if progress is not None:
        starts = progress(starts, total=len(starts), unit="batch")
    for start in starts:
        idx = order[start : start + batch_size]
        out[idx] = model.encode(
            [texts[i] for i in idx],
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
    return out


def query_texts(queries: pa.Table) -> list[str]:
    """What a query says: its user turns, joined (system prompts are not the query)."""
    return [
        "\n".join(m["content"] for m in msgs if m["role"] == "user") for msgs in queries.column("messages").to_pylist()
    ]


def embedding_table(keys: dict[str, list], vectors: np.ndarray) -> pa.Table:
    dim = vectors.shape[1]
    flat = pa.array(vectors.astype(np.float16).reshape(-1), pa.float16())
    schema = embedding_schema([pa.field(k, pa.string()) for k in keys], dim)
    return pa.table({**keys, "embedding": pa.FixedSizeListArray.from_arrays(flat, dim)}, schema=schema)


def vectors_of(table: pa.Table) -> np.ndarray:
    column = table.column("embedding").combine_chunks()
    if len(table) == 0:
        return np.zeros((0, column.type.list_size), dtype=np.float32)
    flat = column.values.to_numpy(zero_copy_only=False)
    return flat.reshape(len(table), column.type.list_size).astype(np.float32)


def embed_table(table: pa.Table, model, batch_size: int, progress: Callable | None = None) -> pa.Table:
    """Embeddings of a query table (keyed by qid) or of benchmark items (keyed by benchmark, item_id)."""
    is_queries = "qid" in table.column_names
    keys = {k: table.column(k).to_pylist() for k in (QUERY_KEYS if is_queries else ITEM_KEYS)}
    texts = query_texts(table) if is_queries else table.column("text").to_pylist()
    log.info("embedding %d texts", len(texts))
    return embedding_table(keys, embed_texts(model, texts, batch_size, progress=progress))


def aligned_vectors(embeddings: pa.Table, table: pa.Table, keys: list[str]) -> np.ndarray:
    """The embedding of each row of ``table``, matched on ``keys``; a missing one is an error."""

    def key_rows(t: pa.Table) -> list[tuple]:
        return list(zip(*(t.column(k).to_pylist() for k in keys), strict=True))

    position = {k: i for i, k in enumerate(key_rows(embeddings))}
    wanted = key_rows(table)
    missing = [k for k in wanted if k not in position]
    if missing:
        raise ValueError(
            f"{len(missing)} rows have no embedding (first: {missing[0]}); the embeddings are stale: rebuild them"
        )
    vectors = vectors_of(embeddings)
    return vectors[[position[k] for k in wanted]] if wanted else vectors[:0]
