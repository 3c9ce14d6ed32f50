"""A release indexed once (rule ``release_index``), so that a distillation job holds no response texts.

Building reads every record once and writes, per query (qid of the conversation before the response,
without the system prompt: what a request is matched on), the file, offset and length of the record in
the decompressed file, and a digest of the response. A lookup loads those columns, not the texts (tens of
bytes per record whatever the responses' length), finds the asked qids by binary search and reads only
their records. Rows that are not indexed are written beside it with a reason: malformed, a *duplicate* (the
same response again for a query) or a *conflict* (another response for it). The rule for which wins is
the first occurrence: files in the order configured (a folder's files sorted by name), then by line.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distillery.core.canonical import QID_HEX_CHARS, qid
from distillery.core.release_records import ReleaseRecord, decode, read_spans, release_files, scan
from distillery.core.schema import RELEASE_INDEX, RELEASE_REJECT

BATCH = 100_000
WINS = "first occurrence: files in the order configured (a folder's files sorted by name), then by line"


def _number(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class _Batched:
    """Rows written to a Parquet file a batch at a time: memory bounded by the batch, not the release."""

    def __init__(self, path: str | Path, schema: pa.Schema):
        self.writer, self.schema, self.rows = pq.ParquetWriter(str(path), schema), schema, []

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, self.schema))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


def build(paths: list[str], index_path: str | Path, rejects_path: str | Path, progress=iter) -> dict:
    """Index the release ``paths`` (files or folders); the report says what was read and rejected."""
    files = release_files(paths)
    kept: dict[str, tuple[str, int, int]] = {}  # qid -> (response digest, file, line)
    counts: Counter = Counter()
    per_file = defaultdict(Counter)
    index, rejects = _Batched(index_path, RELEASE_INDEX), _Batched(rejects_path, RELEASE_REJECT)
    try:
        for number, path in enumerate(files):
            for lineno, offset, line in progress(scan(path)):
                per_file[str(path)]["records"] += 1
                try:
                    record = decode(line, f"{path}:{lineno}")
                except ValueError as e:
                    counts["malformed"] += 1
                    rejects.add({"file": str(path), "line": lineno, "reason": "malformed", "detail": str(e)})
                    continue
                key, digest = qid(record.turns), _digest(record.response)
                if key in kept:
                    first_digest, first_file, first_line = kept[key]
                    reason = "duplicate" if digest == first_digest else "conflict"
                    counts[reason] += 1
                    row = {"file": str(path), "line": lineno, "qid": key, "reason": reason, "detail": WINS}
                    rejects.add({**row, "kept_file": str(files[first_file]), "kept_line": first_line})
                    continue
                kept[key] = (digest, number, lineno)
                per_file[str(path)]["indexed"] += 1
                index.add(
                    {
                        "qid": key,
                        "file": number,
                        "line": lineno,
                        "offset": offset,
                        "length": len(line),
                        "response_digest": digest,
                        "verify_score": _number(record.info.get("verify_score")),
                    }
                )
    finally:
        index.close()
        rejects.close()
    return {
        "files": [{"path": str(p), "bytes": p.stat().st_size, **per_file[str(p)]} for p in files],
        "records": sum(c["records"] for c in per_file.values()),
        "indexed": len(kept),
        "duplicates": counts["duplicate"],
        "conflicts": counts["conflict"],
        "malformed": counts["malformed"],
        "wins": WINS,
    }


class ReleaseIndex:
    """Lookups in a built index: the record of each asked qid, read from its file alone."""

    def __init__(self, index_path: str | Path, paths: list[str]):
        self.files = [str(p) for p in release_files(paths)]
        table = pq.read_table(index_path, columns=["qid", "file", "offset", "length"])
        qids = np.asarray(table.column("qid").to_numpy(zero_copy_only=False), dtype=f"S{QID_HEX_CHARS}")
        order = np.argsort(qids)
        self.qids = qids[order]
        self.file, self.offset, self.length = (table.column(c).to_numpy()[order] for c in ("file", "offset", "length"))

    def lookup(self, qids: list[str]) -> dict[str, ReleaseRecord]:
        """The records of those of ``qids`` that the release has (each file opened once)."""
        if not len(self.qids):
            return {}
        at = np.minimum(np.searchsorted(self.qids, np.asarray(qids, dtype=self.qids.dtype)), len(self.qids) - 1)
        by_file: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        for q, i in zip(qids, at, strict=True):
            if self.qids[i] == q.encode():
                by_file[int(self.file[i])].append((int(self.offset[i]), int(self.length[i]), q))
        records = {}
        for number, spans in by_file.items():
            spans.sort()
            path = self.files[number]
            for (offset, _, q), line in zip(spans, read_spans(path, [(o, n) for o, n, _ in spans]), strict=True):
                records[q] = decode(line, f"{path}@{offset}")
        return records
