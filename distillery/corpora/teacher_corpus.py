"""A teacher's corpus: its accepted responses after quality assurance.

A teacher's corpus holds, per query, the attempt that passed verification joined with the query it
answers, after the paper's quality assurance (structure, 20-token n-gram repetition, perplexity under a
strong LM with a threshold per teacher; :mod:`distillery.corpora.quality`).

A shard of attempts that is missing (``corpus.partial``: build from what distillation has produced so
far) or empty is a gap to report, not an error: its queries count as not distilled.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distillery.core.schema import ATTEMPT, CORPUS, CORPUS_REJECT, PERPLEXITY, QUERY
from distillery.corpora.quality import QA_ORDER, apply_quality

QA_CHUNK = 10_000  # rows handed to the Python QA checks at a time: the text stays in Arrow otherwise


def read_attempts(shard_paths: dict[str, str | Path]) -> tuple[pa.Table, dict]:
    """Every attempt of a teacher's shards, and the shards that were missing or held no rows."""
    tables, missing, empty = [], [], []
    for shard, path in shard_paths.items():
        path = Path(path)
        if not path.exists():
            missing.append(shard)
        elif path.stat().st_size == 0 or pq.read_metadata(path).num_rows == 0:
            empty.append(shard)
        else:
            tables.append(pq.read_table(path).select(ATTEMPT.names).cast(ATTEMPT))
    attempts = pa.concat_tables(tables) if tables else ATTEMPT.empty_table()
    return attempts, {"shards": len(shard_paths), "missing_shards": missing, "empty_shards": empty}


def first_accepted(attempts: pa.Table) -> pa.Table:
    """The earliest accepted attempt of each query (the loop stops at the first; a merged or
    re-run shard may hold more)."""
    accepted = attempts.filter(pc.fill_null(attempts["accepted"], False)).sort_by(
        [("qid", "ascending"), ("attempt", "ascending")]
    )
    qids = accepted["qid"].to_pylist()
    first = [i for i, q in enumerate(qids) if i == 0 or q != qids[i - 1]]
    return accepted.take(pa.array(first, pa.int64()))


def row_index(table: pa.Table, column: str = "qid") -> dict[str, int]:
    return {value: i for i, value in enumerate(table[column].to_pylist())}


def attach_queries(accepted: pa.Table, queries: pa.Table, perplexities: pa.Table | None) -> pa.Table:
    """Accepted attempts as corpus rows: the query's columns, the response, its verdict and perplexity.
    (Arrow's hash join does not carry nested columns such as ``messages``, hence ``take``.)"""
    where = row_index(queries)
    missing = [q for q in accepted["qid"].to_pylist() if q not in where]
    if missing:
        raise ValueError(
            f"{len(missing)} accepted attempts answer queries absent from the query shards "
            f"(first: {missing[0]}): the distillation is stale, rerun it"
        )
    rows = queries.take(pa.array([where[q] for q in accepted["qid"].to_pylist()], pa.int64()))
    ppl = {}
    if perplexities is not None:
        for q, a, p in zip(*(perplexities[c].to_pylist() for c in ("qid", "attempt", "ppl")), strict=True):
            ppl[(q, a)] = p
    keys = zip(accepted["qid"].to_pylist(), accepted["attempt"].to_pylist(), strict=True)
    columns = {name: rows[name] for name in QUERY.names}
    columns.update(
        {
            name: accepted[name]
            for name in (
                "teacher",
                "attempt",
                "response",
                "think",
                "answer",
                "score",
                "verifier",
                "prompt_tokens",
                "completion_tokens",
            )
        }
    )
    columns["ppl"] = pa.array([ppl.get(k) for k in keys], pa.float64())
    return pa.table(columns, schema=CORPUS)


def quality_filter(rows: pa.Table, quality: dict) -> tuple[pa.Table, pa.Table, dict]:
    """(kept, rejects with reason and detail, counts) of corpus rows under the QA checks."""
    kept_idx, reject_idx, reasons, details = [], [], [], []
    flagged: Counter = Counter()
    offset = 0
    for batch in rows.select(["messages", "response", "ppl"]).to_batches(QA_CHUNK):
        chunk = [
            {"i": offset + j, "messages": r["messages"], "response": r["response"], "perplexity": r["ppl"]}
            for j, r in enumerate(batch.to_pylist())
        ]
        offset += batch.num_rows
        kept, rejects, report = apply_quality(chunk, quality)
        kept_idx += [r["i"] for r in kept]
        reject_idx += [r["i"] for r in rejects]
        reasons += [r["reason"] for r in rejects]
        details += [r["detail"] for r in rejects]
        flagged.update(report["flagged"])
    rejected = rows.take(pa.array(reject_idx, pa.int64()))
    rejected = pa.table(
        {**{n: rejected[n] for n in CORPUS.names}, "reason": reasons, "detail": details}, schema=CORPUS_REJECT
    )
    counts = {
        "rows_in": rows.num_rows,
        "kept": len(kept_idx),
        "rejected": len(reject_idx),
        "reasons": {k: v for k, v in sorted(Counter(reasons).items(), key=lambda kv: QA_ORDER.index(kv[0]))},
        "flagged": dict(sorted(flagged.items())),
    }
    return rows.take(pa.array(kept_idx, pa.int64())).sort_by("qid"), rejected.sort_by("qid"), counts


def build_corpus(
    teacher: str, attempts: pa.Table, coverage: dict, queries: pa.Table, perplexities: pa.Table | None, quality: dict
) -> tuple[pa.Table, pa.Table, dict]:
    """(corpus, rejects, report) of one teacher. ``queries`` are those of the shards it was given (the
    denominator of what was distilled); ``quality`` comes from :func:`quality_settings`."""
    accepted = first_accepted(attempts)
    kept, rejects, qa = quality_filter(attach_queries(accepted, queries, perplexities), quality)
    last = {}  # how each query ended: its last attempt
    for q, scorable in zip(attempts["qid"].to_pylist(), attempts["scorable"].to_pylist(), strict=True):
        last[q] = scorable
    accepted_qids = set(accepted["qid"].to_pylist())
    category = dict(zip(queries["qid"].to_pylist(), queries["category"].to_pylist(), strict=True))
    by_category: dict[str, Counter] = {c: Counter() for c in sorted(set(category.values()))}
    for q, c in category.items():
        by_category[c]["queries"] += 1
        by_category[c]["distilled"] += q in last
        by_category[c]["accepted"] += q in accepted_qids
    for q in kept["qid"].to_pylist():
        by_category[category[q]]["kept"] += 1
    scored = [p for p in kept["ppl"].to_pylist() if p is not None]
    report = {
        "teacher": teacher,
        **coverage,
        "queries": queries.num_rows,
        "distilled": len(last),
        "not_distilled": queries.num_rows - len(set(last) & set(category)),
        "attempts": attempts.num_rows,
        "accepted": accepted.num_rows,
        "not_accepted": sum(1 for q, s in last.items() if q not in accepted_qids and s),
        "unscorable": sum(1 for q, s in last.items() if q not in accepted_qids and not s),
        **qa,
        "quality": quality,
        "kept_ppl": {"scored": len(scored), "mean": sum(scored) / len(scored) if scored else None},
        "by_category": {
            c: {k: v.get(k, 0) for k in ("queries", "distilled", "accepted", "kept")} for c, v in by_category.items()
        },
    }
    return kept, rejects, report


def read_perplexities(paths: list[str | Path]) -> pa.Table:
    tables = [pq.read_table(p).cast(PERPLEXITY) for p in paths]
    return pa.concat_tables(tables) if tables else PERPLEXITY.empty_table()
