"""What a file or folder holds, as a digest, computed once per version of it.

Rebuild decisions (:mod:`distillery.plan.early_cutoff`) compare contents, not times, so every artifact a
job reads or writes is hashed, and a paper-scale artifact is GBs. A digest is therefore remembered
under the file's absolute path with the ``stat`` facts that say which version it is (inode, size,
modification time in ns): unchanged files are never read again, a touched or rewritten one is hashed
once more. The memory is one small file per artifact, written by rename, so concurrent processes on
a shared file system never see half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import blake3

# Snakemake's marker inside directory outputs: its time, not the folder's content.
IGNORED = frozenset({".snakemake_timestamp"})


def hash_file(path: str | os.PathLike) -> str:
    """BLAKE3 over a memory map, on every core: faster than a disk delivers (bench/rebuild.py), where
    hashlib's single-threaded hashes are slower than one."""
    digest = blake3.blake3(max_threads=blake3.blake3.AUTO)
    if os.path.getsize(path):  # an empty file cannot be mapped
        digest.update_mmap(path)
    return digest.hexdigest()


def _version(stat: os.stat_result) -> list[int]:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


class DigestCache:
    """File digests by path and version, kept under ``root``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.hashed_files = self.hashed_bytes = 0  # what this process had to read: the benchmark's measure

    def _entry(self, path: str) -> Path:
        name = hashlib.blake2b(path.encode(), digest_size=16).hexdigest()
        return self.root / name[:2] / name

    def _remembered(self, path: str, version: list[int]) -> str | None:
        try:
            entry = json.loads(self._entry(path).read_text())
        except (OSError, ValueError):
            return None
        return entry["digest"] if entry.get("version") == version else None

    def remember(self, path: str | os.PathLike, digest: str) -> None:
        """Record ``digest`` for the version of ``path`` on disk now (the caller vouches for its bytes)."""
        path = os.path.abspath(path)
        entry = self._entry(path)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".{entry.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"path": path, "version": _version(os.stat(path)), "digest": digest}))
        os.replace(tmp, entry)

    def file(self, path: str | os.PathLike) -> str:
        path = os.path.abspath(path)
        digest = self._remembered(path, _version(os.stat(path)))
        if digest is None:
            digest = hash_file(path)
            self.hashed_files += 1
            self.hashed_bytes += os.path.getsize(path)
            self.remember(path, digest)
        return digest

    def tree(self, path: str | os.PathLike) -> dict:
        """A file's or a folder's content: ``{"file": digest, "size": n}`` or ``{"dir": {relpath: the
        same}}`` (every file under the folder, Snakemake's marker left out)."""
        path = Path(path)
        if not path.is_dir():
            return {"file": self.file(path), "size": path.stat().st_size}
        files = {}
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                if name in IGNORED:
                    continue
                full = Path(root, name)
                files[full.relative_to(path).as_posix()] = {"file": self.file(full), "size": full.stat().st_size}
        return {"dir": files}

    def remember_tree(self, path: str | os.PathLike, tree: dict) -> None:
        """Record a tree's digests for what is on disk now (after Snakemake touched a restored output)."""
        if "file" in tree:
            self.remember(path, tree["file"])
            return
        for rel, leaf in tree["dir"].items():
            self.remember(Path(path, rel), leaf["file"])


def tree_digest(tree: dict) -> str:
    """One digest for a tree: what a job's key holds for each of its inputs."""
    if "file" in tree:
        return tree["file"]
    return hashlib.blake2b(json.dumps(tree["dir"], sort_keys=True).encode(), digest_size=32).hexdigest()
