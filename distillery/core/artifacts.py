"""Reading and writing the workflow's files and folders: atomic, so a killed job never leaves half an
artifact, and with the permissions the umask gives (results are shared with a group on a cluster)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from distillery.plan.scratch_files import scratch_prefix, sweep


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# A full or failing disk: a failed write() names no file ("[Errno 28] No space left on device").
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})


@contextlib.contextmanager
def naming_artifact(path: str | os.PathLike):
    """A storage error of the block that names no file is raised again naming ``path``, the artifact being
    written (the original chained); other errors pass as they are."""
    try:
        yield
    except OSError as e:
        if e.filename is not None or e.errno not in STORAGE_ERRNOS:
            raise
        raise OSError(e.errno, e.strerror, os.fspath(path)) from e


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """A temporary path beside ``path`` that becomes ``path`` only if the block succeeds.

    It gets the permissions of a normal new file (mkstemp's 0600 would hide results from the rest
    of a group on a shared cluster file system)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path.parent)  # what interrupted writers left here
    fd, tmp = tempfile.mkstemp(prefix=scratch_prefix(path), dir=path.parent)
    os.close(fd)
    try:
        with naming_artifact(path):
            os.chmod(tmp, 0o666 & ~_umask())
            yield tmp
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def staging_folder(path: str | os.PathLike) -> Path:
    """Where a folder is built before it becomes ``path``: beside it (one file system, so the rename is
    atomic), hidden, and the same for every process (the ranks of a training job write into one)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp")


def publish_folder(staging: str | os.PathLike, path: str | os.PathLike, *, replace: bool = True) -> None:
    """Make the finished folder ``staging`` become ``path``. An existing ``path`` is replaced, or with
    ``replace=False`` kept (another process finished first) and ``staging`` dropped."""
    staging, path = Path(staging), Path(path)
    mask = _umask()
    for root, _, files in os.walk(staging):  # mkdtemp makes 0700, safetensors writes 0600
        os.chmod(root, 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)
    if path.exists():
        if not replace:
            shutil.rmtree(staging)
            return
        shutil.rmtree(path)
    try:
        staging.rename(path)
    except OSError:
        if replace or not path.is_dir():  # not a concurrent writer's folder: a real failure
            raise
        shutil.rmtree(staging)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, *, replace: bool = True):
    """A fresh folder beside ``path`` that becomes ``path`` (:func:`publish_folder`) only if the block
    succeeds; nothing is left behind otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path.parent)
    staging = Path(tempfile.mkdtemp(prefix=scratch_prefix(path), dir=path.parent))
    try:
        with naming_artifact(path):
            yield staging
            publish_folder(staging, path, replace=replace)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
