"""Exact deduplication on canonical content.

Two queries are duplicates when their canonical conversations are equal (see
:mod:`distillery.core.canonical`), i.e. when their qids are equal. The first occurrence wins, in source
priority order (the order of ``sources`` in the config), then row order within a source.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillery.core.canonical import first_occurrence
from distillery.core.schema import QUERY, as_queries, reject_rows


def dedup(tables: list[pa.Table]) -> tuple[pa.Table, pa.Table, dict]:
    """(kept, rejects, report) for sources given in priority order."""
    queries = pa.concat_tables([as_queries(t) for t in tables]) if tables else QUERY.empty_table()
    first = first_occurrence(queries.column("qid"))
    keep = first == np.arange(len(queries))
    kept = queries.filter(pa.array(keep))
    dupes = queries.filter(pa.array(~keep))

    # Name the surviving copy of each duplicate, so that a reject says what it duplicates.
    winners = queries.take(pa.array(first[~keep]))
    details = [
        f"duplicate of {q} kept from source {s!r} row {json.loads(m)['row']}"
        for q, s, m in zip(*(winners.column(c).to_pylist() for c in ("qid", "source", "meta")), strict=True)
    ]
    rejects = reject_rows(dupes, ["duplicate"] * len(dupes), details)

    report = {
        "rows_in": len(queries),
        "kept": len(kept),
        "rejected": len(rejects),
        "reasons": {"duplicate": len(rejects)} if len(rejects) else {},
        "by_source": _counts(queries, kept, "source"),
        "by_category": _counts(queries, kept, "category"),
    }
    return kept, rejects, report


def _counts(before: pa.Table, after: pa.Table, column: str) -> dict:
    def counts(table: pa.Table) -> dict:
        return {v["values"]: v["counts"] for v in pc.value_counts(table.column(column)).to_pylist()}

    n_in, n_out = counts(before), counts(after)
    return {k: {"in": n_in[k], "kept": n_out.get(k, 0), "removed": n_in[k] - n_out.get(k, 0)} for k in sorted(n_in)}
