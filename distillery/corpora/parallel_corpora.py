"""The parallel corpora the paper trains on: the queries every teacher answered, one file per teacher,
the same qids in each, sorted by qid."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distillery.core.artifacts import write_parquet
from distillery.core.schema import CORPUS


def parallel_qids(corpus_paths: dict[str, str | Path]) -> list[str]:
    """The queries in every teacher's corpus, sorted (only the qid columns are read)."""
    common: set[str] | None = None
    for path in corpus_paths.values():
        qids = set(pq.read_table(path, columns=["qid"])["qid"].to_pylist())
        common = qids if common is None else common & qids
    return sorted(common or ())


def write_parallel(corpus_paths: dict[str, str | Path], out_paths: dict[str, str | Path]) -> dict:
    """Write each teacher's parallel corpus (one teacher in memory at a time) and return the report."""
    qids = parallel_qids(corpus_paths)
    keep = pa.array(qids, pa.string())
    report = {"teachers": list(corpus_paths), "queries": len(qids), "corpus_sizes": {}, "by_category": {}}
    for teacher, path in corpus_paths.items():
        corpus = pq.read_table(path).cast(CORPUS)
        report["corpus_sizes"][teacher] = corpus.num_rows
        parallel = corpus.filter(pc.is_in(corpus["qid"], keep)).sort_by("qid")
        write_parquet(parallel, out_paths[teacher])
        report["by_category"] = dict(sorted(Counter(parallel["category"].to_pylist()).items()))
    return report
