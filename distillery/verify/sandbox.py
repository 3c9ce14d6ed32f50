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
  wall-clock deadline kills the whole process group;
* the run as a whole (every process, its tmpfs files) has one memory bound
  (:mod:`distillery.verify.memory_bound`): a memory cgroup where one can be made, else a watchdog.

:func:`run_python` and :func:`run_command` are safe to call from many processes (or threads) at once.
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

from distillery.verify.memory_bound import CgroupBound, WatchdogBound, bound_for, descendants, kill_tree
from distillery.verify.slot_launcher import SlotLauncher

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
    killed_reason: str | None  # "timeout", "output_limit", "cpu_limit", "memory_limit", "file_limit", "signal N"
    wall_s: float
    sandboxed: bool = True
    memory_bound: str = ""  # how the run's memory was bounded: "cgroup v1", "cgroup v2" or "watchdog"
    oom_kills: int = 0  # processes of the run killed at the memory bound
    peak_memory_bytes: int | None = None  # of the whole run, where the bound measures it
    stdout_bytes: bytes = field(default=b"", repr=False)  # stdout undecoded (a compiler's binary)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.killed_reason is None


@dataclass(frozen=True)
class Limits:
    """Per-run resource limits. ``memory_mb`` caps each process's address space (Python itself needs
    ~30 MB) and all the run's processes together; ``max_files`` the files in its tmpfs mounts."""

    timeout_s: float = 5.0
    memory_mb: int = 1024
    max_output_bytes: int = 8 << 20
    max_processes: int = 64
    max_file_mb: int = 64
    tmpfs_mb: int = 64
    max_open_files: int = 64
    max_files: int = 4096


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


def _enter(limits: Limits, bound, drop_uid: bool, uid: int) -> None:
    """Runs in the forked launcher: joins the run's memory bound, drops to the slot's uid, sets the
    rlimits; everything it starts inherits all three."""
    bound.join()
    if drop_uid:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    _set_limits(limits, drop_uid)


def _set_limits(limits: Limits, limit_procs: bool) -> None:
    for which, value in _rlimits(limits, limit_procs):
        resource.setrlimit(which, (value, value))


def _rlimits(limits: Limits, limit_procs: bool) -> list[tuple[int, int]]:
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
    return pairs


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)
    _write_all(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _bwrap_args(bwrap: str, limits: Limits, files: dict[str, int], executables, binds) -> list[str]:
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
        if name in executables:
            args += ["--perms", "0555"]
        args += ["--ro-bind-data", str(fd), f"{WORKDIR}/{name}"]
    for source, target in binds:
        args += ["--ro-bind", str(source), target]
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
            [python, "-I", "-S", "-B", "-c", "print(6*7)"],
            stdin=b"",
            files={},
            limits=Limits(timeout_s=10),
            drop_uid=drop_uid,
            slot=slot.uid,
        )
    finally:
        slot.release()
    if proc.returncode != 0 or proc.stdout.strip() != "42":
        raise SandboxUnavailable(
            f"bubblewrap cannot run {python} here (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
            " — user namespaces may be disabled (kernel.unprivileged_userns_clone / "
            "user.max_user_namespaces) or the interpreter is not readable by the sandbox uid"
        )


def _launch(
    bwrap, command, *, stdin, files, limits, drop_uid, slot, executables=(), binds=(), launcher=None
) -> RunResult:
    """``slot``: the uid the run takes (when ``drop_uid``) and the name of its memory bound;
    ``launcher``: the slot's launcher, already inside the bound (see :mod:`.slot_launcher`)."""
    fds = {name: _memfd(name, data) for name, data in files.items()}
    stdin_fd = _memfd("stdin", stdin) if stdin else os.open(os.devnull, os.O_RDONLY)
    bound = bound_for(slot, limits.max_files)
    try:
        bound.arm(limits.memory_mb << 20)
    except OSError as e:  # a cgroup that will not take the bound: this run is watched instead
        log.warning("memory cgroup of slot %d refused the bound (%s): the watchdog bounds this run", slot, e)
        bound, launcher = WatchdogBound(limits.max_files), None
        bound.arm(limits.memory_mb << 20)
    argv = _bwrap_args(bwrap, limits, fds, executables, binds) + list(command)
    try:
        proc = None
        if launcher is not None:
            rlimits = _rlimits(limits, drop_uid)
            proc = launcher.launch(argv, fds, stdin_fd, slot if drop_uid else None, rlimits)
        if proc is None:
            proc = subprocess.Popen(
                argv,
                stdin=stdin_fd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=tuple(fds.values()),
                start_new_session=True,
                preexec_fn=functools.partial(_enter, limits, bound, drop_uid, slot),
            )
    finally:
        for fd in fds.values():
            os.close(fd)
        os.close(stdin_fd)
    return _collect(proc, limits, sandboxed=True, bound=bound)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kills the sandboxed program first, so that bwrap reaps it and exits by itself; killing bwrap
    first would orphan the program's zombie to an init that may never reap it (RLIMIT_NPROC)."""
    for child in descendants(proc.pid)[1:]:
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


def _collect(proc: subprocess.Popen, limits: Limits, sandboxed: bool, bound=None) -> RunResult:
    """Reads both pipes up to the output cap and enforces the wall-clock deadline (and, with a
    watchdog bound, the memory bound at each of its ticks). The deadline includes interpreter
    start-up, so it gets a small grace on top of the program's own limit."""
    tick = getattr(bound, "interval_s", None)
    start = time.perf_counter()
    next_poll = start + (tick or 0)
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
            if tick is not None and time.perf_counter() >= next_poll:  # a short run is never polled
                next_poll = time.perf_counter() + tick
                reason = bound.poll(proc.pid)
                if reason:
                    kill_tree(proc.pid)
                    break
            for key, _ in sel.select(min(remaining, tick) if tick else remaining):
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
    oom_kills, peak = bound.finish() if bound is not None else (0, None)
    if reason is None and oom_kills:
        reason = "memory_limit"
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
        stdout_bytes=out[: limits.max_output_bytes],
        stderr=err[: limits.max_output_bytes].decode("utf-8", "replace"),
        timed_out=reason in ("timeout", "cpu_limit"),
        killed_reason=reason,
        wall_s=wall,
        sandboxed=sandboxed,
        memory_bound=getattr(bound, "kind", "rlimits only"),
        oom_kills=oom_kills,
        peak_memory_bytes=peak,
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
    python: str | None = None,
    **options,
) -> RunResult:
    """Runs ``code`` as ``/sandbox/main.py`` with ``stdin``; ``files`` are extra read-only files in
    ``/sandbox``; ``options`` as :func:`run_command`'s."""
    python = python or _default_python()
    return run_command(
        [python, "-I", "-S", "-B", f"{WORKDIR}/main.py", *(argv or [])],
        stdin,
        timeout_s,
        memory_mb,
        files={"main.py": code, **(files or {})},
        python=python,
        **options,
    )


def run_command(
    command: list[str],
    stdin: str | bytes = "",
    timeout_s: float = 5.0,
    memory_mb: int = 1024,
    *,
    files: dict[str, str | bytes] | None = None,
    executables: tuple[str, ...] = (),
    binds: tuple[tuple[str, str], ...] = (),
    max_output_bytes: int = 8 << 20,
    max_processes: int = 64,
    max_file_mb: int = 64,
    max_open_files: int = 64,
    tmpfs_mb: int = 64,
    max_files: int = 4096,
    python: str | None = None,
    uid_base: int = DEFAULT_UID_BASE,
    uid_slots: int = DEFAULT_UID_SLOTS,
    allow_unsandboxed: bool = False,
) -> RunResult:
    """Runs ``command`` (programs under /usr, or files of ``/sandbox``) in ``/sandbox``, which holds
    ``files`` read-only (``executables`` among them may be run); ``binds`` are host folders shown
    read-only at the given paths. Raises :class:`SandboxUnavailable` when bwrap cannot be used, unless
    ``allow_unsandboxed`` (never for untrusted code on a shared machine: it only has rlimits)."""
    limits = Limits(
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        max_output_bytes=max_output_bytes,
        max_processes=max_processes,
        max_file_mb=max_file_mb,
        max_open_files=max_open_files,
        tmpfs_mb=tmpfs_mb,
        max_files=max_files,
    )
    payload = {}
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
        return _run_unsandboxed(command, payload, executables, stdin_b, limits, str(e))
    run = functools.partial(
        _launch,
        bwrap,
        command,
        stdin=stdin_b,
        files=payload,
        limits=limits,
        drop_uid=drop_uid,
        executables=executables,
        binds=binds,
    )
    launcher = _own_launcher(uid_base, uid_slots, max_files)
    if launcher is not None and launcher.reserve():
        try:
            return run(slot=launcher.uid, launcher=launcher)
        finally:
            launcher.settle()
    slot = _acquire_slot(uid_base, uid_slots)
    try:
        return run(slot=slot.uid)
    finally:
        slot.release()


_LAUNCHERS: dict[tuple[int, int], SlotLauncher] = {}


def _own_launcher(uid_base: int, uid_slots: int, max_files: int) -> SlotLauncher | None:
    """This process's launcher, in the memory cgroup of a slot it keeps for its life; None where the
    bound is not a cgroup (the watchdog adds nothing at launch)."""
    key = (os.getpid(), uid_base)
    launcher = _LAUNCHERS.get(key)
    if launcher is not None and launcher.usable():
        # the bound may have been chosen otherwise since (DISTILLERY_SANDBOX_MEMORY_BOUND)
        return launcher if isinstance(bound_for(launcher.uid, max_files), CgroupBound) else None
    if launcher is not None and launcher.broken:
        return None  # once broken, this process takes the ordinary path
    slot = _acquire_slot(uid_base, uid_slots)  # kept: the flock lives as long as the process
    bound = bound_for(slot.uid, max_files)
    if not isinstance(bound, CgroupBound):
        slot.release()
        return None
    _LAUNCHERS[key] = SlotLauncher(slot.uid, bound.join)
    return _LAUNCHERS[key]


def _run_unsandboxed(command, payload, executables, stdin_b, limits, why) -> RunResult:
    """The explicit opt-in fallback: rlimits only. Not containment (see the module docstring)."""
    message = f"RUNNING UNTRUSTED CODE WITHOUT A SANDBOX (rlimits only): {why}"
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    log.warning(message)
    with tempfile.TemporaryDirectory(prefix="distillery-unsandboxed-") as tmp:
        for name, data in payload.items():
            Path(tmp, name).write_bytes(data)
            if name in executables:
                os.chmod(Path(tmp, name), 0o700)
        with tempfile.TemporaryFile() as stdin_file:
            stdin_file.write(stdin_b)
            stdin_file.seek(0)
            proc = subprocess.Popen(
                [arg.replace(WORKDIR, tmp) for arg in command],
                cwd=tmp,
                stdin=stdin_file,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp},
                start_new_session=True,
                preexec_fn=functools.partial(_set_limits, limits, os.geteuid() != 0),
            )
            return _collect(proc, limits, sandboxed=False)
