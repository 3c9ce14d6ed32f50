"""Decontamination against the evaluation sets: exact match on folded text, then semantic similarity.

Exact: a query is contaminated when one of its user turns contains a benchmark item after
:func:`distillery.core.canonical.loose_text` (case, punctuation and spacing ignored; an item too
short to name a problem must be the whole turn). Semantic: cosine similarity of unit-normalised
embeddings, searched with faiss (inner product; on the GPU when faiss sees one); a query whose best
match exceeds the threshold is removed (the paper: bge-m3, 0.9).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from distillery.core.canonical import loose_text
from distillery.core.schema import DECONTAMINATION_REJECT, as_queries, reject_rows

SIMILARITY_BINS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
Entry = tuple[tuple[str, ...], str, str]  # an item's folded words, benchmark, item id


class ExactIndex:
    """Finds benchmark items contained verbatim (after folding) in a text.

    Containment, not equality: a query often wraps a benchmark problem, long or short, in an
    instruction, options or starter code. Items are indexed by their first words, so a text is
    scanned once whatever the number of items; a candidate is then compared in full. An item under
    MIN_WORDS folded words or MIN_CHARS characters ("Find x.", "1, 2, 3.") matches a whole text
    only: such fragments recur in unrelated queries.
    """

    ANCHOR_WORDS = 8
    MIN_WORDS = 3
    MIN_CHARS = 12

    def __init__(self, items: pa.Table):
        # First MIN_WORDS words -> (short items, long items by their first ANCHOR_WORDS words): most
        # word triples of a text miss, so the longer key is sliced only where one hits.
        self.anchors: dict[tuple[str, ...], tuple[list[Entry], dict[tuple[str, ...], list[Entry]]]] = {}
        self.whole: dict[tuple[str, ...], tuple[str, str]] = {}
        self.short: dict[tuple[str, str], bool] = {}  # (benchmark, item id) -> matches a whole text only
        self.benchmarks = sorted(set(items.column("benchmark").to_pylist()))
        for bench, item, text in zip(
            *(items.column(c).to_pylist() for c in ("benchmark", "item_id", "text")), strict=True
        ):
            words = tuple(loose_text(text).split())
            if len(words) >= self.MIN_WORDS and len(" ".join(words)) >= self.MIN_CHARS:
                short, long = self.anchors.setdefault(words[: self.MIN_WORDS], ([], {}))
                if len(words) >= self.ANCHOR_WORDS:
                    long.setdefault(words[: self.ANCHOR_WORDS], []).append((words, bench, item))
                    continue
                short.append((words, bench, item))
                self.short[bench, item] = False
            elif words:
                self.whole.setdefault(words, (bench, item))
                self.short[bench, item] = True

    def find(self, text: str) -> tuple[str, str] | None:
        words = tuple(loose_text(text).split())
        if words in self.whole:
            return self.whole[words]
        for i, key in enumerate(zip(*(words[k:] for k in range(self.MIN_WORDS)), strict=False)):
            if (node := self.anchors.get(key)) is None:
                continue
            short, long = node
            for item_words, bench, item in (*short, *long.get(words[i : i + self.ANCHOR_WORDS], ())):
                if words[i : i + len(item_words)] == item_words:
                    return bench, item
        return None

    def short_report(self, hits: list[tuple[str, str] | None]) -> dict:
        """Per benchmark, its items under ANCHOR_WORDS words: how many, how many match a whole text
        only, and how many a query was removed for."""
        found = set(hits)
        report = {b: {"items": 0, "whole_text_only": 0, "matched": 0} for b in self.benchmarks}
        for (bench, item), whole in self.short.items():
            report[bench]["items"] += 1
            report[bench]["whole_text_only"] += whole
            report[bench]["matched"] += (bench, item) in found
        return report


def exact_matches(queries: pa.Table, index: ExactIndex) -> list[tuple[str, str] | None]:
    """Per query, the (benchmark, item id) found verbatim, after folding, in one of its user turns."""
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
    index = ExactIndex(items)
    exact_hits = exact_matches(queries, index) if exact else [None] * n

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
        # Items under ExactIndex.ANCHOR_WORDS words, the ones most easily missed: how many the exact stage found.
        "short_items": index.short_report(exact_hits),
        # How many queries each threshold would remove: for choosing one without re-embedding.
        "max_similarity_above": {str(t): int((best > t).sum()) for t in SIMILARITY_BINS},
    }
    return kept, rejects, report
