"""Shards: the unit of GPU work. A query's shard is ``hash(qid) mod num_shards``, so adding queries
touches few shards' contents and shard names are known before any data is read."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillery.core.canonical import shard_of
from distillery.core.schema import as_queries
from distillery.plan.paths import shard_names


def split(queries: pa.Table, num_shards: int) -> dict[str, pa.Table]:
    """Shard name -> its queries, sorted by qid (so a shard's bytes depend only on its members)."""
    queries = as_queries(queries)
    queries = queries.take(pc.sort_indices(queries, [("qid", "ascending")]))
    index = np.fromiter(
        (shard_of(q, num_shards) for q in queries.column("qid").to_pylist()), dtype=np.int64, count=len(queries)
    )
    return {name: queries.filter(pa.array(index == i)) for i, name in enumerate(shard_names(num_shards))}


def shard_report(queries: pa.Table, shards: dict[str, pa.Table]) -> dict:
    categories = pc.value_counts(queries.column("category")).to_pylist()
    return {
        "total": len(queries),
        "shards": {name: len(t) for name, t in shards.items()},
        "by_category": dict(sorted((c["values"], c["counts"]) for c in categories)),
    }
