"""Reading and writing the workflow's files: atomic, so a killed job never leaves half an artifact."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _atomic_target(path: str | os.PathLike) -> tuple[Path, str]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    return path, tmp


def write_parquet(table: pa.Table, path: str | os.PathLike) -> None:
    path, tmp = _atomic_target(path)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class ParquetBatchWriter:
    """Writes a Parquet file batch by batch; the file appears, whole, only when the writer closes."""

    def __init__(self, path: str | os.PathLike, schema: pa.Schema):
        self.path, self.tmp = _atomic_target(path)
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.writer.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        elif os.path.exists(self.tmp):
            os.unlink(self.tmp)


def read_parquet(path: str | os.PathLike, schema: pa.Schema | None = None) -> pa.Table:
    table = pq.read_table(path)
    return table.cast(schema) if schema is not None else table


def write_json(obj, path: str | os.PathLike) -> None:
    path, tmp = _atomic_target(path)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False, sort_keys=False)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_json(path: str | os.PathLike):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_text(text: str, path: str | os.PathLike) -> None:
    path, tmp = _atomic_target(path)
    try:
        Path(tmp).write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_stage(outputs, kept: pa.Table, rejects: pa.Table, report: dict) -> None:
    """The three outputs of a cleaning stage: what it kept, what it removed and why, its counts."""
    if report["rows_in"] != len(kept) + len(rejects):
        raise AssertionError(f"{report['rows_in']} rows in, but {len(kept)} kept + {len(rejects)} rejected")
    write_parquet(kept, outputs.queries)
    write_parquet(rejects, outputs.rejects)
    write_json(report, outputs.report)
