"""Compiling a response's C++ program: the system g++, inside the sandbox, once per source.

The compiler runs untrusted input (templates, ``#include`` of any path it can see), so it is a
sandboxed run of its own with its own time and memory limits; the binary comes back on stdout and
is cached by source hash for the life of the worker (retries and samples of one problem repeat
programs; the reference solution of a problem is run for every response). ``<bits/stdc++.h>``,
which most contest solutions include, costs most of a compile, so it is precompiled once per host
(outside the sandbox: a system header, trusted) and shown to the sandbox read-only.
"""

from __future__ import annotations

import fcntl
import functools
import glob
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from distillery.verify import sandbox

GXX = "/usr/bin/g++"
FLAGS = ("-O2", "-std=c++17", "-pipe")
PCH_MOUNT = "/pch"
CACHE_BYTES = 256 << 20


@dataclass(frozen=True)
class Build:
    binary: bytes | None  # None: did not compile
    message: str  # the compiler's diagnostics (its last lines) or why it could not run


class BuildCache:
    """Binaries by source hash, least recently used out past ``CACHE_BYTES``."""

    def __init__(self, limit_bytes: int = CACHE_BYTES):
        self.limit, self.size = limit_bytes, 0
        self.builds: OrderedDict[str, Build] = OrderedDict()

    def get(self, key: str) -> Build | None:
        build = self.builds.get(key)
        if build is not None:
            self.builds.move_to_end(key)
        return build

    def put(self, key: str, build: Build) -> None:
        self.builds[key] = build
        self.size += len(build.binary or b"")
        while self.size > self.limit and len(self.builds) > 1:
            _, old = self.builds.popitem(last=False)
            self.size -= len(old.binary or b"")


_CACHE = BuildCache()


def compiler_available() -> bool:
    return os.access(GXX, os.X_OK)


def compile_cpp(source: str, timeout_s: float = 30.0, memory_mb: int = 2048, allow_unsandboxed: bool = False) -> Build:
    if not compiler_available():
        return Build(None, f"{GXX} not found: install Debian's g++ (make env does)")
    key = hashlib.sha256("\0".join((*FLAGS, source)).encode()).hexdigest()
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    pch = precompiled_header()
    flags = " ".join(FLAGS + ((f"-I{PCH_MOUNT}",) if pch else ()))
    run = sandbox.run_command(
        ["/bin/sh", "-c", f"{GXX} {flags} -o /tmp/prog main.cpp 1>&2 && cat /tmp/prog"],
        files={"main.cpp": source},
        binds=((str(pch), PCH_MOUNT),) if pch else (),
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        max_output_bytes=64 << 20,
        max_file_mb=256,
        tmpfs_mb=512,
        max_open_files=256,
        allow_unsandboxed=allow_unsandboxed,
    )
    if run.ok and run.stdout_bytes:
        build = Build(run.stdout_bytes, "")
    else:
        why = run.killed_reason and f"compiler {run.killed_reason}"
        lines = [line for line in run.stderr.splitlines() if "error" in line] or run.stderr.splitlines()
        build = Build(None, why or "compile error: " + " | ".join(lines[:3])[:500])
    _CACHE.put(key, build)
    return build


def _stdcxx_header() -> str | None:
    found = sorted(glob.glob("/usr/include/*/c++/*/bits/stdc++.h") + glob.glob("/usr/include/c++/*/bits/stdc++.h"))
    return found[-1] if found else None


@functools.lru_cache(maxsize=None)
def precompiled_header() -> Path | None:
    """A folder holding ``bits/stdc++.h.gch`` for :data:`FLAGS`, built once per host and compiler
    (a lock keeps concurrent workers from building it twice); None where it cannot be built."""
    header = _stdcxx_header()
    if header is None:
        return None
    version = subprocess.run([GXX, "--version"], capture_output=True, text=True).stdout
    key = hashlib.sha256("\0".join((version, header, *FLAGS)).encode()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"distillery-pch-{os.geteuid()}"
    root.mkdir(mode=0o755, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        return None  # someone else's folder: not a header to trust
    folder = root / key
    target = folder / "bits" / "stdc++.h.gch"
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            done = subprocess.run([GXX, *FLAGS, "-x", "c++-header", header, "-o", str(partial)], capture_output=True)
            if done.returncode != 0:
                shutil.rmtree(folder, ignore_errors=True)
                return None
            os.chmod(partial, 0o644)
            os.replace(partial, target)
    return folder
