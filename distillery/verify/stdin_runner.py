"""All stdin/stdout tests of a problem's programs in one sandbox launch.

A launch costs more than a test (bubblewrap, the uid slot, the interpreter), so a runner inside the
sandbox runs every test itself: per test it forks, the child reads the test's input on fd 0 and
runs the program (a Python program is executed in the already started interpreter, a compiled one
is exec'd), and the runner enforces that test's timer and output cap and kills the test's process
group. Only the inputs enter the sandbox; outputs come back on a channel the programs cannot reach
(the children's descriptors are closed and the runner is not dumpable, so neither its /proc entries
nor ptrace are open to them) and are compared on the host.

Several programs of one problem (the samples of an evaluation) share a launch, one after the
other: between two programs the runner, the namespace's pid 1, kills every other process in it and
empties the writable folders, so that nothing of one program is left to the next.

A test that times out ends its program's run: the program is too slow for the problem (as a judge
would rule it), and a program that hangs costs one timer, not one per test. Tests past a program's
budget are not run.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass

from distillery.verify import sandbox

MARK = b"@@distillery-test@@"
STACK_MB = 256  # compiled programs: deep recursion is common in contest solutions

# Runs inside the sandbox (the system python3, -I -S -B). It imports only built-in modules (json,
# traceback, re or signal would cost more than all ten tests of a typical program): the spec comes in as
# marshal (written by the host), results go out as a header line and the raw bytes, by length.
RUNNER = r"""
import builtins, marshal, os, select, sys, time
SIGKILL = 9  # the signal module would import enum: more than a test costs
MARK = %(mark)r
spec = marshal.loads(open("spec.bin", "rb").read())
channel = os.dup(1)
null = os.open("/dev/null", os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
if len(spec["programs"]) > 1:  # no program may reach the channel through /proc/1 or ptrace
    import ctypes

    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE


def emit(header, *blobs):
    data = MARK + b" " + header.encode() + b"\n" + b"".join(blobs)
    while data:
        data = data[os.write(channel, data):]


program = executable = None


def load(entry):
    global program, executable
    program = executable = None
    if entry["exec"] is not None:
        executable = entry["exec"]
        return None
    try:
        program = compile(open(entry["source"], encoding="utf-8").read(), "/sandbox/main.py", "exec")
    except BaseException as e:
        return (type(e).__name__ + ": " + str(e))[:300]


def remove(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            for entry in os.scandir(path):
                remove(entry.path)
            os.rmdir(path)
        else:
            os.unlink(path)
    except OSError:
        pass


def reap():
    # from the namespace's pid 1, kill(-1) is every other process in it; anywhere else (the unsandboxed
    # fallback) it would be every process of the user: there only the test's group is killed
    if os.getpid() == 1:
        try:
            os.kill(-1, SIGKILL)
        except OSError:
            pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break


def clean():
    reap()
    for folder in ("/tmp", "/dev/shm", "/sandbox"):
        for entry in os.scandir(folder):
            if folder != "/sandbox" or entry.name not in spec["keep"]:
                remove(entry.path)


def child(infd, out_w, err_w):
    os.setpgid(0, 0)
    os.dup2(infd, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.closerange(3, 65536)
    if executable is not None:
        import resource

        stack = spec["stack_mb"] << 20
        resource.setrlimit(resource.RLIMIT_STACK, (stack, stack))
        os.execv(executable, [executable])
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", errors="replace", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", closefd=False)
    sys.argv = ["/sandbox/main.py"]
    builtins.exit = builtins.quit = sys.exit  # what site would add (-S skips it)
    code = 0
    try:
        exec(program, {"__name__": "__main__", "__file__": "/sandbox/main.py", "__builtins__": builtins})
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        sys.excepthook(*sys.exc_info())  # the built-in hook: importing traceback costs more than a test
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        code = code or 1
    os._exit(code & 0xFF)


def run(text, timeout):
    infd = os.memfd_create("input")
    while text:
        text = text[os.write(infd, text):]
    os.lseek(infd, 0, os.SEEK_SET)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            child(infd, out_w, err_w)
        finally:
            os._exit(127)
    for fd in (infd, out_w, err_w):
        os.close(fd)
    chunks = {out_r: [], err_r: []}
    size = {out_r: 0, err_r: 0}
    exited = os.pidfd_open(pid)
    watched = [out_r, err_r, exited]
    status = None
    deadline = start + timeout
    # until the program exits (what it left running may hold the pipes open: not waited for)
    while status is None and exited in watched:
        left = deadline - time.monotonic()
        if left <= 0:
            status = "timeout"
            break
        ready = select.select(watched, [], [], left)[0]
        if exited in ready:
            watched.remove(exited)
            for fd in (out_r, err_r):  # what it wrote before it exited
                os.set_blocking(fd, False)
            ready = [fd for fd in watched if fd != exited]
        for fd in ready:
            while True:
                try:
                    block = os.read(fd, 1 << 16)
                except BlockingIOError:
                    break
                if not block:
                    watched.remove(fd)
                    break
                size[fd] += len(block)
                if fd == out_r and size[fd] > spec["max_output"]:
                    status = "output_limit"
                    break
                if fd == out_r or size[fd] <= 4096:
                    chunks[fd].append(block)
                if os.get_blocking(fd):
                    break
            if status:
                break
    os.close(exited)
    try:
        os.killpg(pid, SIGKILL)  # the test's group: whatever it started
    except OSError:
        pass
    _, wait = os.waitpid(pid, 0)
    reap()
    for fd in (out_r, err_r):
        os.close(fd)
    wall = time.monotonic() - start
    code = sig = -1
    if status is None:
        if os.WIFSIGNALED(wait):
            status, sig = "signal", os.WTERMSIG(wait)
        else:
            code = os.WEXITSTATUS(wait)
            status = "ok" if code == 0 else "exit"
    out = b"".join(chunks[out_r])
    err = b"".join(chunks[err_r])[-400:]
    return "%%s %%d %%d %%.4f %%d %%d" %% (status, code, sig, wall, len(out), len(err)), out, err


current = stopped = None
for p, i, text in spec["tests"]:
    if p != current:
        if current is not None:
            clean()
        current, stopped = p, False
        failed = load(spec["programs"][p])
        if failed:
            message = failed.encode("utf-8", "replace")
            emit("load %%d error %%d" %% (p, len(message)), message)
            stopped = True
            continue
        emit("load %%d ok 0" %% p)
        budget_end = time.monotonic() + spec["budget"]
    if stopped:
        continue
    left = budget_end - time.monotonic()
    if left <= 0:
        emit("%%d %%d skipped -1 -1 0 0 0" %% (p, i))
        continue
    header, out, err = run(text, min(spec["timeout"], left))
    emit("%%d %%d %%s" %% (p, i, header), out, err)
    if header.startswith("timeout"):
        emit("stop %%d" %% p)
        stopped = True
""" % {"mark": MARK}


def parse_channel(data: bytes) -> tuple[dict[int, tuple[str, str]], dict[tuple[int, int], dict], set[int]]:
    """From the runner's channel: per program its load status and message, per (program, test) its
    outcome, and the programs stopped after a timeout; a record cut short (the launch died while
    writing) ends the parse."""
    loads, outcomes, stopped = {}, {}, set()
    pos = 0
    while True:
        start = data.find(MARK + b" ", pos)
        eol = data.find(b"\n", start)
        if start < 0 or eol < 0:
            break
        fields = data[start + len(MARK) + 1 : eol].decode("ascii", "replace").split()
        pos = eol + 1
        if fields[:1] == ["load"] and len(fields) == 4:
            n = int(fields[3])
            loads[int(fields[1])] = (fields[2], data[pos : pos + n].decode("utf-8", "replace"))
            pos += n
        elif fields[:1] == ["stop"] and len(fields) == 2:
            stopped.add(int(fields[1]))
        elif len(fields) == 8:
            p, i, status, code, sig, wall, n_out, n_err = fields
            n_out, n_err = int(n_out), int(n_err)
            if pos + n_out + n_err > len(data):
                break
            outcomes[int(p), int(i)] = {
                "status": status,
                "exit": int(code),
                "signal": int(sig),
                "wall": float(wall),
                "stdout": data[pos : pos + n_out].decode("utf-8", "replace"),
                "stderr": data[pos + n_out : pos + n_out + n_err].decode("utf-8", "replace"),
            }
            pos += n_out + n_err
    return loads, outcomes, stopped


@dataclass(frozen=True)
class Program:
    """What runs in the sandbox: Python source, or a compiled binary (exec'd from ``/sandbox``)."""

    language: str
    source: str
    binary: bytes | None = None


def run_programs(
    programs: list[Program],
    inputs: dict[int, str],
    timeout_s: float,
    budget_s: float,
    max_output_bytes: int = 8 << 20,
    **options,
) -> tuple[list[dict[int, dict]], sandbox.RunResult | None]:
    """Per program, the outcome of each test index (``status``: ok, exit, signal, timeout,
    output_limit, skipped, load, died; the program's ``stdout``); tests after a program's timeout are
    absent. ``budget_s`` is each program's. A launch that dies costs the test in progress; the rest
    run in a new launch. Also the last launch's result (how its memory was bounded)."""
    outcomes: list[dict[int, dict]] = [{} for _ in programs]
    files: dict[str, str | bytes] = {}
    executables = []
    entries = []
    for p, program in enumerate(programs):
        if program.binary is None:
            files[f"program{p}.py"] = program.source
            entries.append({"exec": None, "source": f"program{p}.py"})
        else:
            files[f"program{p}"] = program.binary
            executables.append(f"program{p}")
            entries.append({"exec": f"{sandbox.WORKDIR}/program{p}", "source": None})
    pending = [(p, i) for p in range(len(programs)) for i in inputs]
    run = None
    while pending:
        spec = {
            "programs": entries,
            "keep": sorted(files) + ["spec.bin"],
            "stack_mb": STACK_MB,
            "timeout": timeout_s,
            "budget": budget_s,
            "max_output": max_output_bytes,
            "tests": [(p, i, inputs[i].encode("utf-8")) for p, i in pending],
        }
        per_program = min(timeout_s * len(inputs), budget_s)
        run = sandbox.run_python(
            RUNNER,
            files={**files, "spec.bin": marshal.dumps(spec)},
            timeout_s=per_program * len({p for p, _ in pending}) + 1.0,
            executables=tuple(executables),
            max_output_bytes=min(2 * max_output_bytes * len(pending), 256 << 20) + (1 << 20),
            **options,
        )
        loads, found, stopped = parse_channel(run.stdout_bytes)
        rest = []
        for p, i in pending:
            if loads.get(p, ("ok",))[0] != "ok":
                outcomes[p][i] = {"status": "load", "stderr": loads[p][1]}
            elif (p, i) in found:
                outcomes[p][i] = found[p, i]
            elif p not in stopped:
                rest.append((p, i))
        if not rest:
            break
        # the launch died on rest[0] (its memory bound, a crash of the runner): that test fails
        outcomes[rest[0][0]][rest[0][1]] = {"status": "died", "stderr": run.killed_reason or run.stderr[-300:]}
        pending = rest[1:]
    return outcomes, run
