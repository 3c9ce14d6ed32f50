"""Running untrusted Python (model-written programs) without letting it touch the host.

Why bubblewrap and not a plain subprocess: as root, rlimits alone did not stop a fork bomb (root
ignores ``RLIMIT_NPROC``), host file writes, reads of project files, TCP to 127.0.0.1 or processes
that outlive the run (measured on the project's machines). The recipe here contained all of those:

* when the caller is root, the launcher is dropped to an unprivileged uid, one distinct uid per
  concurrent run (a slot taken with ``flock`` on a per-uid lock file), because ``RLIMIT_NPROC``
  counts processes per uid; a caller that is not root keeps its own uid, and a fork bomb is then
  stopped by the wall-clock kill and the namespace's pid 1, not by ``RLIMIT_NPROC``;
* ``bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --new-session --clearenv``:
  no network, a private pid namespace (when the program ends or is killed, its pid 1 dies and the
  kernel kills every process left in it, double-forked ones included), no environment;
* only ``/usr`` (plus the ``/bin``, ``/lib``, ``/lib64`` symlinks) is visible, read-only, and the
  interpreter must live there; ``/dev`` is read-only; ``/tmp``, ``/dev/shm`` and the work dir are
  tmpfs capped with ``--size`` (an uncapped tmpfs can fill RAM); the program and data are copied in
  from memfds, so nothing is written on the host;
* rlimits (CPU, address space, processes, file size, open files, no core) are set in the launcher
  and inherited by the program; stdout/stderr are read up to a cap, then the run is killed; a
  wall-clock deadline kills the whole process group.

:func:`run_python` is safe to call from many processes (or threads) at once.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import logging
import math
import os
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

WORKDIR = "/sandbox"  # the program's cwd inside the sandbox; holds main.py and any data files
DEFAULT_UID_BASE = int(os.environ.get("DISTILLERY_SANDBOX_UID_BASE", "60000"))
DEFAULT_UID_SLOTS = int(os.environ.get("DISTILLERY_SANDBOX_UID_SLOTS", "1024"))


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create namespaces here; code verification cannot run safely."""


@dataclass(frozen=True)
class RunResult:
    returncode: int | None  # None when the run never finished on its own (killed by us)
    stdout: str
    stderr: str
    timed_out: bool
    killed_reason: str | None  # "timeout", "output_limit", "cpu_limit", "signal N" or None
    wall_s: float
    sandboxed: bool = True

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.killed_reason is None


@dataclass(frozen=True)
class Limits:
    """Per-run resource limits. ``memory_mb`` caps the address space (Python itself needs ~30 MB)."""

    timeout_s: float = 5.0
    memory_mb: int = 1024
    max_output_bytes: int = 8 << 20
    max_processes: int = 64
    max_file_mb: int = 64
    tmpfs_mb: int = 64
    max_open_files: int = 64


@dataclass
class _Slot:
    """A uid reserved for one run; the flock is released when the fd is closed."""

    uid: int
    fd: int = field(repr=False)

    def release(self) -> None:
        os.close(self.fd)


def _slot_dir() -> Path:
    """Our own private folder of lock files: another user could otherwise pre-create it, hold every
    slot, or plant symlinks that root would follow."""
    path = Path(tempfile.gettempdir()) / f"distillery-sandbox-uids-{os.geteuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise SandboxUnavailable(f"{path} is not a private folder of uid {os.geteuid()}: remove it")
    return path


def _acquire_slot(uid_base: int, n_slots: int) -> _Slot:
    """A uid no other current run uses. Probing starts at a pid-derived slot so that workers of a
    pool rarely contend; a lock is per open file, so forked children never share a parent's slot."""
    directory = _slot_dir()
    start = (os.getpid() * 7) % n_slots
    for attempt in range(4):
        for k in range(n_slots):
            slot = (start + k) % n_slots
            fd = os.open(directory / f"{uid_base + slot}.lock", os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EAGAIN, errno.EACCES):
                    continue
                raise
            return _Slot(uid_base + slot, fd)
        time.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"all {n_slots} sandbox uid slots from {uid_base} are busy")


def _default_python() -> str:
    """The system interpreter: it lives under /usr, which is bound anyway, and stays readable after
    the uid drop (a pyenv/venv interpreter under /root would not be)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return sys.executable


def _check_python(python: str) -> None:
    """Only an interpreter under /usr, which is bound read-only anyway: binding the installation
    of another (a pyenv under /root, a ~/bin) would show the sandbox whatever lies beside it."""
    if not os.path.realpath(python).startswith("/usr/"):
        raise SandboxUnavailable(f"the sandbox runs an interpreter under /usr (Debian's python3), not {python}")


def _set_limits(limits: Limits, limit_procs: bool) -> None:
    """Runs in the forked launcher after the uid drop; everything it starts inherits the limits."""
    cpu = max(1, math.ceil(limits.timeout_s)) + 1
    pairs = [
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_AS, limits.memory_mb << 20),
        (resource.RLIMIT_FSIZE, limits.max_file_mb << 20),
        (resource.RLIMIT_NOFILE, limits.max_open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if limit_procs:
        pairs.append((resource.RLIMIT_NPROC, limits.max_processes))
    for which, value in pairs:
        resource.setrlimit(which, (value, value))


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)
    _write_all(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _bwrap_args(bwrap: str, python: str, limits: Limits, files: dict[str, int]) -> list[str]:
    args = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        # The program is the namespace's pid 1: when it ends, the kernel kills whatever it left
        # behind. Without this, bwrap's own init is orphaned on exit and, under an init that does
        # not reap promptly (containers), its zombies pile up against RLIMIT_NPROC.
        "--as-pid-1",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            args += ["--ro-bind", str(target), f"/{link}"]
    size = str(limits.tmpfs_mb << 20)
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        # /dev is a tmpfs of its own: read-only, but for a size-capped /dev/shm (multiprocessing).
        "--size",
        size,
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",
        "/dev",
        "--size",
        size,
        "--tmpfs",
        "/tmp",
        "--size",
        size,
        "--tmpfs",
        WORKDIR,
    ]
    for name, fd in files.items():
        args += ["--ro-bind-data", str(fd), f"{WORKDIR}/{name}"]
    args += [
        "--chdir",
        WORKDIR,
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "TMPDIR",
        "/tmp",
    ]
    return args


@functools.lru_cache(maxsize=None)
def _probe(bwrap: str, python: str, drop_uid: bool, uid_base: int) -> None:
    """One trivial sandboxed run per process, so that a host that cannot sandbox fails loudly and
    early instead of scoring every program 0."""
    _check_python(python)
    slot = _acquire_slot(uid_base, DEFAULT_UID_SLOTS)
    try:
        proc = _launch(
            bwrap,
            python,
            ["-c", "print(6*7)"],
            stdin=b"",
            files={},
            limits=Limits(timeout_s=10),
            drop_uid=drop_uid,
            uid=slot.uid,
        )
    finally:
        slot.release()
    if proc.returncode != 0 or proc.stdout.strip() != "42":
        raise SandboxUnavailable(
            f"bubblewrap cannot run {python} here (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
            " — user namespaces may be disabled (kernel.unprivileged_userns_clone / "
            "user.max_user_namespaces) or the interpreter is not readable by the sandbox uid"
        )


def _launch(bwrap, python, argv, *, stdin, files, limits, drop_uid, uid) -> RunResult:
    fds = {name: _memfd(name, data) for name, data in files.items()}
    stdin_fd = _memfd("stdin", stdin) if stdin else None
    try:
        cmd = _bwrap_args(bwrap, python, limits, fds) + [python, "-I", "-S", "-B", *argv]
        popen_kw = {}
        if drop_uid:
            popen_kw = {"user": uid, "group": uid, "extra_groups": []}
        proc = subprocess.Popen(
            cmd,
            stdin=stdin_fd if stdin_fd is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=tuple(fds.values()),
            start_new_session=True,
            preexec_fn=functools.partial(_set_limits, limits, drop_uid),
            **popen_kw,
        )
    finally:
        for fd in fds.values():
            os.close(fd)
        if stdin_fd is not None:
            os.close(stdin_fd)
    return _collect(proc, limits, sandboxed=True)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(b")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _kill_group(proc: subprocess.Popen) -> None:
    """Kills the sandboxed program first, so that bwrap reaps it and exits by itself; killing bwrap
    first would orphan the program's zombie to an init that may never reap it (RLIMIT_NPROC)."""
    for child in _children(proc.pid):
        try:
            os.kill(child, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=1)
        return
    except subprocess.TimeoutExpired:
        pass
    if proc.poll() is None:  # once bwrap is reaped its pid, and so its group id, may be reused
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _collect(proc: subprocess.Popen, limits: Limits, sandboxed: bool) -> RunResult:
    """Reads both pipes up to the output cap and enforces the wall-clock deadline. The deadline
    includes interpreter start-up, so it gets a small grace on top of the program's own limit."""
    start = time.perf_counter()
    deadline = start + limits.timeout_s + 0.5
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    chunks = {out_fd: [], err_fd: []}
    total = 0
    reason = None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        while sel.get_map():
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                reason = "timeout"
                break
            for key, _ in sel.select(remaining):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                chunks[key.fd].append(data)
                total += len(data)
                if total > limits.max_output_bytes:
                    reason = "output_limit"
                    break
            if reason:
                break
    if reason:
        _kill_group(proc)
    try:  # a program that closed its pipes may still run: it too has until the deadline
        returncode = proc.wait(timeout=max(deadline - time.perf_counter(), 0.05))
    except subprocess.TimeoutExpired:
        reason = reason or "timeout"
        _kill_group(proc)
        returncode = proc.wait()
    wall = time.perf_counter() - start
    proc.stdout.close()
    proc.stderr.close()
    if reason is None and returncode is not None:
        # bwrap reports a signal death of the program as 128+N; the kernel sends SIGKILL at the
        # hard CPU limit (SIGXCPU at the soft one, which we set equal).
        sig = returncode - 128 if sandboxed and returncode > 128 else -returncode if returncode < 0 else 0
        if sig in (signal.SIGXCPU, signal.SIGKILL) and wall >= limits.timeout_s * 0.5:
            reason = "cpu_limit"
        elif sig:
            reason = f"signal {sig}"
    out = b"".join(chunks[out_fd])
    err = b"".join(chunks[err_fd])
    return RunResult(
        returncode=None if reason in ("timeout", "output_limit") else returncode,
        stdout=out[: limits.max_output_bytes].decode("utf-8", "replace"),
        stderr=err[: limits.max_output_bytes].decode("utf-8", "replace"),
        timed_out=reason in ("timeout", "cpu_limit"),
        killed_reason=reason,
        wall_s=wall,
        sandboxed=sandboxed,
    )


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def run_python(
    code: str,
    stdin: str | bytes = "",
    timeout_s: float = 5.0,
    memory_mb: int = 1024,
    *,
    files: dict[str, str | bytes] | None = None,
    argv: list[str] | None = None,
    max_output_bytes: int = 8 << 20,
    max_processes: int = 64,
    tmpfs_mb: int = 64,
    python: str | None = None,
    uid_base: int = DEFAULT_UID_BASE,
    uid_slots: int = DEFAULT_UID_SLOTS,
    allow_unsandboxed: bool = False,
) -> RunResult:
    """Runs ``code`` as ``/sandbox/main.py`` with ``stdin``; ``files`` are extra read-only files in
    ``/sandbox``. Raises :class:`SandboxUnavailable` when bwrap cannot be used, unless
    ``allow_unsandboxed`` (never for untrusted code on a shared machine: it only has rlimits)."""
    limits = Limits(
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        max_output_bytes=max_output_bytes,
        max_processes=max_processes,
        tmpfs_mb=tmpfs_mb,
    )
    payload = {"main.py": code.encode("utf-8")}
    for name, data in (files or {}).items():
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"sandbox file names are plain names, got {name!r}")
        payload[name] = data.encode("utf-8") if isinstance(data, str) else data
    stdin_b = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    python = python or _default_python()
    bwrap = bwrap_path()
    # Only root can switch uids; an unprivileged caller runs bwrap as itself and skips RLIMIT_NPROC,
    # which would count (and break) all of that user's processes.
    drop_uid = os.geteuid() == 0
    try:
        if bwrap is None:
            raise SandboxUnavailable("bwrap not found on PATH: install Debian's `bubblewrap` package")
        _probe(bwrap, python, drop_uid, uid_base)
    except SandboxUnavailable as e:
        if not allow_unsandboxed:
            raise
        return _run_unsandboxed(python, payload, argv or [], stdin_b, limits, str(e))
    slot = _acquire_slot(uid_base, uid_slots) if drop_uid else None
    try:
        return _launch(
            bwrap,
            python,
            [f"{WORKDIR}/main.py", *(argv or [])],
            stdin=stdin_b,
            files=payload,
            limits=limits,
            drop_uid=drop_uid,
            uid=slot.uid if slot else os.geteuid(),
        )
    finally:
        if slot:
            slot.release()


def _run_unsandboxed(python, payload, argv, stdin_b, limits, why) -> RunResult:
    """The explicit opt-in fallback: rlimits only. Not containment (see the module docstring)."""
    message = f"RUNNING UNTRUSTED CODE WITHOUT A SANDBOX (rlimits only): {why}"
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    log.warning(message)
    with tempfile.TemporaryDirectory(prefix="distillery-unsandboxed-") as tmp:
        for name, data in payload.items():
            Path(tmp, name).write_bytes(data)
        with tempfile.TemporaryFile() as stdin_file:
            stdin_file.write(stdin_b)
            stdin_file.seek(0)
            proc = subprocess.Popen(
                [python, "-I", "-S", "-B", str(Path(tmp, "main.py")), *argv],
                cwd=tmp,
                stdin=stdin_file,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp},
                start_new_session=True,
                preexec_fn=functools.partial(_set_limits, limits, os.geteuid() != 0),
            )
            return _collect(proc, limits, sandboxed=False)
