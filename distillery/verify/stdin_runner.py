"""All stdin/stdout tests of one program in one sandbox launch.

A launch costs more than a test (bubblewrap, the uid slot, the interpreter), so a runner inside the
sandbox runs every test itself: per test it forks, the child reads the test's input on fd 0 and
runs the program (a Python program is executed in the already started interpreter, a compiled one
is exec'd), and the runner enforces that test's timer and output cap and kills the test's process
group. Only the inputs enter the sandbox; outputs come back on a channel the program cannot reach
(the child's descriptors are closed) and are compared on the host.

A test that times out ends the run: the program is too slow for the problem (as a judge would rule
it), and a program that hangs costs one timer, not one per test. Tests past the total budget are
not run.
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


def emit(header, *blobs):
    data = MARK + b" " + header.encode() + b"\n" + b"".join(blobs)
    while data:
        data = data[os.write(channel, data):]


program = None
if spec["exec"] is None:
    try:
        program = compile(open("program.py", encoding="utf-8").read(), "/sandbox/main.py", "exec")
    except BaseException as e:
        message = (type(e).__name__ + ": " + str(e))[:300].encode("utf-8", "replace")
        emit("load error %%d" %% len(message), message)
        raise SystemExit(0)
emit("load ok 0")


def child(infd, out_w, err_w):
    os.setpgid(0, 0)
    os.dup2(infd, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.closerange(3, 65536)
    if program is None:
        import resource

        stack = spec["stack_mb"] << 20
        resource.setrlimit(resource.RLIMIT_STACK, (stack, stack))
        os.execv(spec["exec"], [spec["exec"]])
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
    open_fds = [out_r, err_r]
    status = None
    deadline = start + timeout
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            status = "timeout"
            break
        for fd in select.select(open_fds, [], [], left)[0]:
            block = os.read(fd, 1 << 16)
            if not block:
                open_fds.remove(fd)
                continue
            size[fd] += len(block)
            if fd == out_r and size[fd] > spec["max_output"]:
                status = "output_limit"
                break
            if fd == out_r or size[fd] <= 4096:
                chunks[fd].append(block)
        if status:
            break
    done = 0
    if status is None:
        # the pipes are closed; the program itself may still run until its timer
        exited = os.pidfd_open(pid)
        select.select([exited], [], [], max(deadline - time.monotonic(), 0))
        os.close(exited)
        done, wait = os.waitpid(pid, os.WNOHANG)
        if not done:
            status = "timeout"
    try:
        os.killpg(pid, SIGKILL)  # the test's group: whatever it started
    except OSError:
        pass
    if not done:
        _, wait = os.waitpid(pid, 0)
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


budget_end = time.monotonic() + spec["budget"]
for i, text in zip(spec["indices"], spec["inputs"]):
    left = budget_end - time.monotonic()
    if left <= 0:
        emit("%%d skipped -1 -1 0 0 0" %% i)
        continue
    header, out, err = run(text, min(spec["timeout"], left))
    emit("%%d %%s" %% (i, header), out, err)
    if header.startswith("timeout"):
        emit("stop %%d" %% i)
        break
""" % {"mark": MARK}


def parse_channel(data: bytes) -> tuple[str | None, str, dict[int, dict], bool]:
    """(load status, load message, outcome per test, stopped after a timeout) from the runner's
    channel; a record cut short (the launch died while writing) ends the parse."""
    load, message, outcomes, stopped = None, "", {}, False
    pos = 0
    while True:
        start = data.find(MARK + b" ", pos)
        if start < 0:
            break
        eol = data.find(b"\n", start)
        if eol < 0:
            break
        fields = data[start + len(MARK) + 1 : eol].decode("ascii", "replace").split()
        pos = eol + 1
        if fields[:1] == ["load"] and len(fields) == 3:
            n = int(fields[2])
            load, message, pos = fields[1], data[pos : pos + n].decode("utf-8", "replace"), pos + n
        elif fields[:1] == ["stop"]:
            stopped = True
        elif len(fields) == 7:
            i, status, code, sig, wall, n_out, n_err = fields
            n_out, n_err = int(n_out), int(n_err)
            if pos + n_out + n_err > len(data):
                break
            outcomes[int(i)] = {
                "status": status,
                "exit": int(code),
                "signal": int(sig),
                "wall": float(wall),
                "stdout": data[pos : pos + n_out].decode("utf-8", "replace"),
                "stderr": data[pos + n_out : pos + n_out + n_err].decode("utf-8", "replace"),
            }
            pos += n_out + n_err
    return load, message, outcomes, stopped


@dataclass(frozen=True)
class Program:
    """What runs in the sandbox: Python source, or a compiled binary (exec'd as ``/sandbox/prog``)."""

    language: str
    source: str
    binary: bytes | None = None


def run_tests(
    program: Program,
    inputs: dict[int, str],
    timeout_s: float,
    budget_s: float,
    max_output_bytes: int = 8 << 20,
    **options,
) -> tuple[dict[int, dict], sandbox.RunResult | None]:
    """Outcome per test index (``status``: ok, exit, signal, timeout, output_limit, skipped, plus the
    program's ``stdout``); tests after a timeout are absent. Relaunches after a launch that died,
    without the test it died on. Also the last launch's result (how its memory was bounded)."""
    outcomes: dict[int, dict] = {}
    pending = list(inputs)
    files: dict[str, str | bytes] = {}
    executables: tuple[str, ...] = ()
    if program.binary is None:
        files["program.py"] = program.source
    else:
        files["prog"], executables = program.binary, ("prog",)
    run = None
    while pending:
        spec = {
            "exec": None if program.binary is None else f"{sandbox.WORKDIR}/prog",
            "stack_mb": STACK_MB,
            "timeout": timeout_s,
            "budget": budget_s,
            "max_output": max_output_bytes,
            "indices": pending,
            "inputs": [inputs[i].encode("utf-8") for i in pending],
        }
        run = sandbox.run_python(
            RUNNER,
            files={**files, "spec.bin": marshal.dumps(spec)},
            timeout_s=min(timeout_s * len(pending), budget_s) + 1.0,
            executables=executables,
            max_output_bytes=2 * max_output_bytes * len(pending) + (1 << 20),
            **options,
        )
        load, message, found, stopped = parse_channel(run.stdout_bytes)
        if load is not None and load != "ok":
            for i in pending:
                outcomes[i] = {"status": "load", "stderr": message}
            break
        outcomes.update((i, found[i]) for i in pending if i in found)
        rest = [i for i in pending if i not in outcomes]
        if stopped or not rest:
            break
        # the launch died on rest[0] (memory bound, a crash of the runner): that test fails
        outcomes[rest[0]] = {"status": "died", "stderr": run.killed_reason or run.stderr[-300:]}
        pending = rest[1:]
        budget_s -= run.wall_s
        if budget_s <= 0:
            for i in pending:
                outcomes[i] = {"status": "skipped"}
            break
    return outcomes, run
