"""One memory bound for a whole sandboxed run: every process the program starts, together.

``RLIMIT_AS`` bounds each process alone, so a program that forks three children of 700 MB takes
2.1 GB under a "1 GB" limit, and with one sandbox per core one response can take a node down. A
memory cgroup counts the run as one (files written to its tmpfs and the kernel memory of the
inodes it creates included) and the kernel's OOM killer enforces it without polling. Where no
cgroup can be created (a cluster node that delegates none), a watchdog polls the run's processes,
sums their resident memory and kills the run's process group past the bound; it also counts the
files in the run's tmpfs mounts, which nothing else bounds there.

One cgroup per sandbox uid slot, made once and reused: a slot runs one program at a time.
"""

from __future__ import annotations

import errno
import functools
import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP = "distillery-sandbox"


class CgroupBound:
    """A memory cgroup (v1 or v2) of one slot; the launched process joins it before it execs."""

    def __init__(self, path: Path, version: int):
        self.path, self.version = path, version
        self.kind = f"cgroup v{version}"
        self._kills_before = 0

    def arm(self, limit_bytes: int) -> None:
        """Sets the bound. The kernel refuses (EBUSY) a bound below what the group still holds, and
        a finished run's tmpfs is released a little after its last process: so wait for it, a while."""
        for attempt in range(40):
            try:
                self._set(limit_bytes)
                break
            except OSError as e:
                if e.errno != errno.EBUSY or attempt == 39:
                    raise
                time.sleep(0.025)
        self._kills_before = self.oom_kills()

    def _set(self, limit_bytes: int) -> None:
        if self.version == 1:
            (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            (self.path / "memory.max_usage_in_bytes").write_text("0")
        else:
            (self.path / "memory.max").write_text(str(limit_bytes))
            (self.path / "memory.swap.max").write_text("0")

    def join(self) -> None:
        """Runs in the forked child, before the uid drop: ``0`` is the writing process itself."""
        with open(self.path / "cgroup.procs", "w") as f:
            f.write("0")

    def poll(self, pid: int) -> str | None:
        return None  # the kernel enforces the bound

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in (self.path / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def finish(self) -> tuple[int, int | None]:
        """(processes OOM-killed during the run, peak bytes where the kernel keeps it)."""
        peak_file = self.path / ("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")
        peak = int(peak_file.read_text()) if peak_file.exists() else None
        return self.oom_kills() - self._kills_before, peak


class WatchdogBound:
    """Polls the run's processes (the launcher's descendants) from the host side."""

    kind = "watchdog"
    interval_s = 0.05

    def __init__(self, max_files: int):
        self.max_files = max_files
        self.limit_bytes = 0
        self.peak = 0
        self.killed = 0
        self._page = os.sysconf("SC_PAGE_SIZE")

    def arm(self, limit_bytes: int) -> None:
        self.limit_bytes, self.peak, self.killed = limit_bytes, 0, 0

    def join(self) -> None:
        pass

    def poll(self, pid: int) -> str | None:
        """The reason to kill the run now, or None."""
        tree = descendants(pid)
        resident = 0
        for p in tree:
            try:
                with open(f"/proc/{p}/statm", "rb") as f:
                    resident += int(f.read().split()[1]) * self._page
            except (OSError, IndexError, ValueError):
                continue
        self.peak = max(self.peak, resident)
        if resident > self.limit_bytes:
            self.killed = len(tree)
            return "memory_limit"
        inside = _inside(tree)
        if inside is not None and _files_in_tmpfs(inside) > self.max_files:
            return "file_limit"
        return None

    def finish(self) -> tuple[int, int | None]:
        return self.killed, self.peak


class Unbounded:
    kind = "rlimits only"

    def arm(self, limit_bytes: int) -> None:
        pass

    def join(self) -> None:
        pass

    def poll(self, pid: int) -> str | None:
        return None

    def finish(self) -> tuple[int, int | None]:
        return 0, None


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, parents first."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            parent = int(stat[stat.rindex(b")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [c for p in frontier for c in children.get(p, ())]
        found += frontier
    return found


def _inside(tree: list[int]) -> int | None:
    """A process of the run whose root is the sandbox's (bwrap's set-up still sees the host's)."""
    host = os.stat("/")
    for pid in reversed(tree):
        try:
            root = os.stat(f"/proc/{pid}/root")
        except OSError:
            continue
        if (root.st_dev, root.st_ino) != (host.st_dev, host.st_ino):
            return pid
    return None


def _files_in_tmpfs(pid: int) -> int:
    """Inodes in use in the run's tmpfs mounts, seen through a process inside its mount namespace."""
    used = 0
    for mount in ("tmp", "sandbox", "dev/shm"):
        try:
            st = os.statvfs(f"/proc/{pid}/root/{mount}")
        except OSError:
            continue
        used += st.f_files - st.f_ffree
    return used


def kill_tree(pid: int) -> None:
    for p in reversed(descendants(pid)):
        try:
            os.kill(p, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _own_cgroup(controller: str | None) -> Path | None:
    """This process's cgroup under the v1 ``controller`` hierarchy, or its v2 cgroup (None)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller is None and controllers == "":
            unified = CGROUP_ROOT / "unified" if (CGROUP_ROOT / "unified").is_dir() else CGROUP_ROOT
            return unified / path.lstrip("/")
        if controller in controllers.split(","):
            return CGROUP_ROOT / controller / path.lstrip("/")
    return None


def _usable(path: Path, version: int) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        try:
            CgroupBound(path, version).arm(1 << 30)
        finally:
            path.rmdir()
        return True
    except OSError:
        return False


@functools.lru_cache(maxsize=None)
def _cgroup_parent() -> tuple[Path, int] | None:
    """Where slot cgroups can be made: below our own memory cgroup (v1 first: a hybrid host mounts
    the memory controller there), so that our own limits still apply to them."""
    v1 = _own_cgroup("memory")
    if v1 is not None and _usable(v1 / GROUP / "probe", 1):
        return v1 / GROUP, 1
    v2 = _own_cgroup(None)
    if v2 is not None and "memory" in _read(v2 / "cgroup.subtree_control").split():
        try:
            (v2 / GROUP).mkdir(exist_ok=True)
            (v2 / GROUP / "cgroup.subtree_control").write_text("+memory")
        except OSError:
            return None
        if _usable(v2 / GROUP / "probe", 2):
            return v2 / GROUP, 2
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def bound_for(slot: int, max_files: int) -> CgroupBound | WatchdogBound:
    """The memory bound of a run in ``slot``: a cgroup where one can be made, else the watchdog
    (always, with ``DISTILLERY_SANDBOX_MEMORY_BOUND=watchdog``; ``off``: each process's rlimit only,
    what bench/verify.py compares against)."""
    choice = os.environ.get("DISTILLERY_SANDBOX_MEMORY_BOUND", "auto")
    if choice not in ("auto", "watchdog", "off"):
        raise ValueError(f"DISTILLERY_SANDBOX_MEMORY_BOUND={choice!r}: auto, watchdog or off")
    if choice == "off":
        return Unbounded()
    parent = _cgroup_parent() if choice == "auto" else None
    if parent is None:
        return WatchdogBound(max_files)
    return _slot_cgroup(slot, *parent)


@functools.lru_cache(maxsize=None)
def _slot_cgroup(slot: int, parent: Path, version: int) -> CgroupBound:
    """Made once per process and slot (a slot runs one program at a time, and ``arm`` resets it)."""
    path = parent / f"slot-{slot}"
    path.mkdir(exist_ok=True)
    return CgroupBound(path, version)
