"""Decontamination against the evaluation sets: exact match on folded text, then semantic similarity.

Exact: a query is contaminated when one of its user turns contains a benchmark item after
:func:`distillery.core.canonical.loose_text` (case, punctuation and spacing ignored). Semantic: cosine
similarity of unit-normalised embeddings, searched with faiss (inner product; on the GPU when faiss
sees one); a query whose best match exceeds the threshold is removed (the paper: bge-m3, 0.9).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from distillery.core.canonical import loose_text
from distillery.core.schema import DECONTAMINATION_REJECT, as_queries, reject_rows

SIMILARITY_BINS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)


class ExactIndex:
    """Finds benchmark items contained verbatim (after folding) in a text.

    Items are indexed by their first few folded words, so a text is scanned once whatever the
    number of items; a candidate is then compared in full. Containment, not equality, because a
    query often wraps a benchmark problem in an instruction, options or starter code. An item
    shorter than the anchor matches only a whole text, so that "Find x." does not match everything.
    """

    ANCHOR_WORDS = 8

    def __init__(self, items: pa.Table):
        self.anchors: dict[tuple[str, ...], list[tuple[tuple[str, ...], str, str]]] = {}
        self.short: dict[tuple[str, ...], tuple[str, str]] = {}
        for bench, item, text in zip(
            *(items.column(c).to_pylist() for c in ("benchmark", "item_id", "text")), strict=True
        ):
            words = tuple(loose_text(text).split())
            if len(words) >= self.ANCHOR_WORDS:
                self.anchors.setdefault(words[: self.ANCHOR_WORDS], []).append((words, bench, item))
            elif words:
                self.short.setdefault(words, (bench, item))

    def find(self, text: str) -> tuple[str, str] | None:
        words = tuple(loose_text(text).split())
        if words in self.short:
            return self.short[words]
        n = self.ANCHOR_WORDS
        for i in range(len(words) - n + 1):
            for item_words, bench, item in self.anchors.get(words[i : i + n], ()):
                if words[i : i + len(item_words)] == item_words:
                    return bench, item
        return None


def exact_matches(queries: pa.Table, items: pa.Table) -> list[tuple[str, str] | None]:
    """Per query, the (benchmark, item id) found verbatim, after folding, in one of its user turns."""
    index = ExactIndex(items)
    found = []
    for messages in queries.column("messages").to_pylist():
        hit = None
        for m in messages:
            if m["role"] == "user" and (hit := index.find(m["content"])):
                break
        found.append(hit)
    return found


def nearest_items(
    query_vectors: np.ndarray, item_vectors: np.ndarray, block: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """Best inner product of each query against all items, and that item's index."""
    import faiss

    dim = item_vectors.shape[1]
    index = faiss.IndexFlatIP(dim)
    if faiss.get_num_gpus() > 0:
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(np.ascontiguousarray(item_vectors, dtype=np.float32))
    best = np.full(len(query_vectors), -np.inf, dtype=np.float32)
    which = np.full(len(query_vectors), -1, dtype=np.int64)
    for start in range(0, len(query_vectors), block):
        chunk = np.ascontiguousarray(query_vectors[start : start + block], dtype=np.float32)
        sims, ids = index.search(chunk, 1)
        best[start : start + block], which[start : start + block] = sims[:, 0], ids[:, 0]
    return best, which


def decontaminate(
    queries: pa.Table,
    query_vectors: np.ndarray,
    items: pa.Table,
    item_vectors: np.ndarray,
    threshold: float,
    exact: bool = True,
) -> tuple[pa.Table, pa.Table, dict]:
    """(kept, rejects, report); ``query_vectors`` row i belongs to ``queries`` row i."""
    queries = as_queries(queries)
    n = len(queries)
    if len(query_vectors) != n:
        raise ValueError(f"{len(query_vectors)} query embeddings for {n} queries")
    benchmarks = items.column("benchmark").to_pylist()
    item_ids = items.column("item_id").to_pylist()

    best, which = nearest_items(query_vectors, item_vectors) if n else (np.zeros(0, np.float32), np.zeros(0, int))
    exact_hits = exact_matches(queries, items) if exact else [None] * n

    reason, detail, bench, item, sim = [], [], [], [], []
    rejected = []
    for i in range(n):
        if exact_hits[i] is not None:
            b, it = exact_hits[i]
            rejected.append(i)
            reason.append("contaminated_exact")
            detail.append(f"contains {b}/{it} verbatim after case, punctuation and spacing folding")
            bench.append(b), item.append(it), sim.append(float(best[i]))
        elif best[i] > threshold:
            b, it = benchmarks[which[i]], item_ids[which[i]]
            rejected.append(i)
            reason.append("contaminated_semantic")
            detail.append(f"cosine {best[i]:.4f} > {threshold} to {b}/{it}")
            bench.append(b), item.append(it), sim.append(float(best[i]))
    keep = np.ones(n, dtype=bool)
    keep[rejected] = False
    rejects = reject_rows(
        queries.take(pa.array(rejected, pa.int64())),
        reason,
        detail,
        schema=DECONTAMINATION_REJECT,
        benchmark=bench,
        benchmark_item=item,
        similarity=sim,
    )
    kept = queries.filter(pa.array(keep))
    report = {
        "rows_in": n,
        "kept": len(kept),
        "rejected": len(rejects),
        "reasons": dict(sorted(Counter(reason).items())),
        "threshold": threshold,
        "by_benchmark": dict(sorted(Counter(bench).items())),
        # How many queries each threshold would remove: for choosing one without re-embedding.
        "max_similarity_above": {str(t): int((best > t).sum()) for t in SIMILARITY_BINS},
    }
    return kept, rejects, report
