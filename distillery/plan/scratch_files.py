"""Temporary files and folders of atomic writes, and the removal of those an interrupted writer left.

A write goes to a hidden name beside its target and is renamed into place; a writer killed on the
way (SIGKILL, a node lost, the job's time limit) leaves that name behind, and nothing else would
ever remove it. So the name carries its writer (host and pid), and the first write of a process into
a folder removes the leftovers there whose writer is gone: on this host, a pid that no longer runs;
from another host (a shared file system), one untouched for a week.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from pathlib import Path

OTHER_HOST_AGE_S = 7 * 24 * 3600
_PATTERN = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.tmp-[A-Za-z0-9_]+$")
_swept: set[tuple[int, str]] = set()


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"


def scratch_prefix(target: str | os.PathLike) -> str:
    """The ``prefix`` for mkstemp/mkdtemp of a write to ``target``."""
    return f".{Path(target).name}.{_host()}.{os.getpid()}.tmp-"


def _writer_gone(host: str, pid: int, entry: os.DirEntry, now: float) -> bool:
    if host != _host():
        try:
            return now - entry.stat(follow_symlinks=False).st_mtime > OTHER_HOST_AGE_S
        except OSError:
            return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def sweep(folder: str | os.PathLike) -> list[Path]:
    """Removes the leftovers of writers that are gone from ``folder``, once per process and folder;
    returns what it removed."""
    folder = Path(folder)
    key = (os.getpid(), str(folder.resolve()))
    if key in _swept:
        return []
    _swept.add(key)
    removed, now = [], time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = _PATTERN.match(entry.name)
        if match is None or not _writer_gone(match["host"], int(match["pid"]), entry, now):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # another process removed it first
    return removed
