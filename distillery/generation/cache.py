"""Content-addressed cache of generations: nothing that was generated is ever generated twice.

A generation's key hashes everything that names it: the model's identity (name and revision), the exact
conversation sent, the sampling parameters and the seed. It does not depend on the shard, the attempt
number or the verify threshold, so re-sharding, a crash or a new threshold costs no generation. The key
names a sample; it does not make one reproducible: on vLLM (and any server that batches) the same seed can
give another text among other requests. A rerun gives the same text because the cache answers it.

Layout (safe with many SLURM jobs at once on a shared file system, and few files): one folder per
model; what a job generates is buffered and written as one Parquet segment every ``flush_every``
results or ``flush_seconds``, whichever comes first, under a temporary name renamed into place, so a
killed job loses at most that window and a reader never sees half a segment. Segments are immutable;
:func:`compact` merges small ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from distillery.core.artifacts import atomic_path, write_parquet
from distillery.core.canonical import first_occurrence
from distillery.generation.backend import GenerationRequest, GenerationResult

SEGMENT_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("text", pa.string()),
        ("finish_reason", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("latency_s", pa.float64()),
    ]
)


def request_key(model_identity: str, request: GenerationRequest) -> str:
    payload = json.dumps({"model": model_identity, **asdict(request)}, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


def model_folder_name(model_identity: str) -> str:
    return hashlib.blake2b(model_identity.encode("utf-8"), digest_size=8).hexdigest()


class GenerationCache:
    def __init__(self, root: str | os.PathLike, model_identity: str):
        self.model_identity = model_identity
        self.folder = Path(root) / model_folder_name(model_identity)
        self.folder.mkdir(parents=True, exist_ok=True)
        identity = self.folder / "MODEL"
        if not identity.exists():
            with atomic_path(identity) as tmp:
                Path(tmp).write_text(model_identity + "\n", encoding="utf-8")
        self.writer_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._written = 0

    def key(self, request: GenerationRequest) -> str:
        return request_key(self.model_identity, request)

    def lookup(self, keys: list[str]) -> dict[str, GenerationResult]:
        """The cached results among ``keys``; only matching rows are read beyond the key column."""
        segments = sorted(self.folder.glob("*.parquet"))
        if not segments or not keys:
            return {}
        table = ds.dataset(segments, schema=SEGMENT_SCHEMA).to_table(
            filter=pc.field("key").isin(pa.array(sorted(set(keys)), pa.string()))
        )
        found = {}
        for row in table.to_pylist():
            found.setdefault(
                row["key"],
                GenerationResult(
                    row["text"], row["finish_reason"], row["prompt_tokens"], row["completion_tokens"], row["latency_s"]
                ),
            )
        return found

    def store(self, entries: dict[str, GenerationResult]) -> None:
        """One new immutable segment holding ``entries``."""
        if not entries:
            return
        rows = [{"key": k, **asdict(r)} for k, r in entries.items()]
        self._written += 1
        write_parquet(
            pa.Table.from_pylist(rows, schema=SEGMENT_SCHEMA),
            self.folder / f"{self.writer_id}-{self._written:06d}.parquet",
        )


def compact(folder: str | os.PathLike, min_segments: int = 64) -> int:
    """Merge the segments of one model folder into one (run when no job writes there); returns how
    many segments were merged. Duplicated keys (two jobs racing on the same request) keep one row."""
    folder = Path(folder)
    segments = sorted(folder.glob("*.parquet"))
    if len(segments) < min_segments:
        return 0
    table = ds.dataset(segments, schema=SEGMENT_SCHEMA).to_table()
    first = first_occurrence(table.column("key"))
    table = table.filter(pa.array(first == np.arange(len(table))))
    write_parquet(table, folder / f"compacted-{uuid.uuid4().hex[:8]}.parquet")
    for segment in segments:
        segment.unlink()
    return len(segments)


class SegmentBuffer:
    """Results waiting to become a segment: written at ``every`` results or ``seconds`` after the first
    one came, so a slow engine (a few long generations an hour) still loses little to a kill."""

    def __init__(self, cache: GenerationCache, every: int, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.cache, self.every, self.seconds, self.clock = cache, every, seconds, clock
        self.entries: dict[str, GenerationResult] = {}
        self._since: float | None = None

    def add(self, key: str, result: GenerationResult) -> None:
        if not self.entries:
            self._since = self.clock()
        self.entries[key] = result
        if len(self.entries) >= self.every or self.due_in() == 0:
            self.flush()

    def due_in(self) -> float | None:
        """Seconds until the time limit writes what is buffered (None: nothing buffered)."""
        if not self.entries:
            return None
        return max(0.0, self._since + self.seconds - self.clock())

    def flush(self) -> None:
        self.cache.store(self.entries)
        self.entries = {}
