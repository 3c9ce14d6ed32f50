"""Reading and writing the workflow's files: atomic, so a killed job never leaves half an artifact."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """A temporary path beside ``path`` that becomes ``path`` only if the block succeeds.

    It gets the permissions of a normal new file (mkstemp's 0600 would hide results from the rest
    of a group on a shared cluster file system)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(table: pa.Table, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


class ParquetBatchWriter:
    """Writes a Parquet file batch by batch; the file appears, whole, only when the writer closes."""

    def __init__(self, path: str | os.PathLike, schema: pa.Schema):
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(path))
        self.writer = self._stack.enter_context(pq.ParquetWriter(tmp, schema, compression="zstd"))

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)


def read_parquet(path: str | os.PathLike) -> pa.Table:
    return pq.read_table(path)


def write_json(obj, path: str | os.PathLike) -> None:
    write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", path)


def read_json(path: str | os.PathLike):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_stage(outputs, kept: pa.Table, rejects: pa.Table, report: dict) -> None:
    """The three outputs of a cleaning stage: what it kept, what it removed and why, its counts."""
    if report["rows_in"] != len(kept) + len(rejects):
        raise AssertionError(f"{report['rows_in']} rows in, but {len(kept)} kept + {len(rejects)} rejected")
    write_parquet(kept, outputs.queries)
    write_parquet(rejects, outputs.rejects)
    write_json(report, outputs.report)
