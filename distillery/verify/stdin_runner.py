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

import json
from dataclasses import dataclass

from distillery.verify import sandbox

MARK = "@@distillery-test@@ "
STACK_MB = 256  # compiled programs: deep recursion is common in contest solutions

# Runs inside the sandbox (the system python3, -I -S -B).
RUNNER = r"""
import builtins, json, os, resource, select, signal, sys, time, traceback
MARK = %(mark)r
spec = json.load(open("spec.json"))
channel = os.dup(1)
null = os.open("/dev/null", os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)


def emit(obj):
    data = (MARK + json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(channel, data):]


program = None
if spec["exec"] is None:
    try:
        program = compile(open("program.py", encoding="utf-8").read(), "/sandbox/main.py", "exec")
    except BaseException as e:
        emit({"load": "error", "error": (type(e).__name__ + ": " + str(e))[:300]})
        raise SystemExit(0)
emit({"load": "ok"})


def child(infd, out_w, err_w):
    os.setpgid(0, 0)
    os.dup2(infd, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.closerange(3, 65536)
    if program is None:
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
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        code = code or 1
    os._exit(code & 0xFF)


def run(text, timeout):
    infd = os.memfd_create("input")
    data = text.encode()
    while data:
        data = data[os.write(infd, data):]
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
    if status is None:
        # the pipes are closed; the program itself may still run until its timer
        while True:
            done, wait = os.waitpid(pid, os.WNOHANG)
            if done or time.monotonic() >= deadline:
                break
            time.sleep(0.002)
        if not done:
            status = "timeout"
    try:
        os.killpg(pid, signal.SIGKILL)  # the test's group: whatever it started
    except OSError:
        pass
    if status is not None or not done:
        _, wait = os.waitpid(pid, 0)
    for fd in (out_r, err_r):
        os.close(fd)
    outcome = {"wall": round(time.monotonic() - start, 4)}
    if status is None:
        if os.WIFSIGNALED(wait):
            status, outcome["signal"] = "signal", os.WTERMSIG(wait)
        else:
            code = os.WEXITSTATUS(wait)
            status = "ok" if code == 0 else "exit"
            outcome["exit"] = code
    outcome["status"] = status
    outcome["stdout"] = b"".join(chunks[out_r]).decode("utf-8", "replace")
    outcome["stderr"] = b"".join(chunks[err_r])[-400:].decode("utf-8", "replace")
    return outcome


budget_end = time.monotonic() + spec["budget"]
for i, text in zip(spec["indices"], spec["inputs"]):
    left = budget_end - time.monotonic()
    if left <= 0:
        emit({"i": i, "status": "skipped", "why": "time budget spent"})
        continue
    outcome = run(text, min(spec["timeout"], left))
    outcome["i"] = i
    emit(outcome)
    if outcome["status"] == "timeout":
        emit({"stop": i})
        break
""" % {"mark": MARK}


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
            "inputs": [inputs[i] for i in pending],
        }
        run = sandbox.run_python(
            RUNNER,
            files={**files, "spec.json": json.dumps(spec)},
            timeout_s=min(timeout_s * len(pending), budget_s) + 1.0,
            executables=executables,
            max_output_bytes=2 * max_output_bytes * len(pending) + (1 << 20),
            **options,
        )
        seen, stopped, loaded = [], False, None
        for line in run.stdout.split("\n"):
            if not line.startswith(MARK):
                continue
            try:
                obj = json.loads(line[len(MARK) :])
            except ValueError:
                continue
            if "load" in obj:
                loaded = obj
            elif "stop" in obj:
                stopped = True
            elif obj.get("i") in inputs and obj["i"] not in outcomes:
                outcomes[obj["i"]] = obj
                seen.append(obj["i"])
        if loaded is not None and loaded["load"] != "ok":
            for i in pending:
                outcomes[i] = {"i": i, "status": "load", "stderr": loaded.get("error", "")}
            break
        rest = [i for i in pending if i not in outcomes]
        if stopped or not rest:
            break
        # the launch died on rest[0] (memory bound, a crash of the runner): that test fails
        outcomes[rest[0]] = {"i": rest[0], "status": "died", "stderr": run.killed_reason or run.stderr[-300:]}
        pending = rest[1:]
        budget_s -= run.wall_s
        if budget_s <= 0:
            for i in pending:
                outcomes[i] = {"i": i, "status": "skipped", "why": "time budget spent"}
            break
    return outcomes, run
