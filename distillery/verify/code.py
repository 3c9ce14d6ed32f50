"""Code verifier: run the response's program against the query's tests in the sandbox.

Score = fraction of tests passed (the first ``max_tests``, the paper uses up to 10). Functional
(LeetCode/LiveCodeBench call-based) tests of one program run in a single sandbox launch: a harness
loads the program once, calls the function per test under its own timer and streams one result line
per test. Only the test *inputs* go into the sandbox and results are compared here, on the host, so a
program can neither see the expected outputs nor fake a comparison (e.g. an object whose ``__eq__``
is always true: results must be JSON). A launch that dies mid-way (a hang in C code, a crash) costs
only the test in progress; the rest run in a new launch. stdin tests run one launch each.
"""

from __future__ import annotations

import ast
import json
import math
import re
import textwrap
import time

from distillery.core.schema import TESTTYPE_ALIASES
from distillery.verify import sandbox
from distillery.verify.parse import split_response
from distillery.verify.result import PASS_THRESHOLD, VerifyResult

VERIFIER = "code"
_MARK = "@@distillery-result@@ "

# LeetCodeDataset's prompt preamble (without sortedcontainers, which the sandbox lacks), plus the
# list/tree node classes so that type hints naming them do not fail at definition time.
PREAMBLE = """\
import bisect, collections, copy, datetime, functools, heapq, itertools, math, operator, random, re, string, sys
from typing import *
from functools import *
from collections import *
from itertools import *
from heapq import *
from bisect import *
from string import *
from operator import *
from math import *
inf = float('inf')


class ListNode:
    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next


class TreeNode:
    def __init__(self, val=0, left=None, right=None):
        self.val = val
        self.left = left
        self.right = right


"""

# Runs inside the sandbox (system python3). It redirects fds 0-2 to /dev/null so that the program's
# own output cannot mix with (or flood) the result channel, a dup of the original stdout.
HARNESS = r"""
import json, os, signal, sys, time
MARK = %(mark)r
spec = json.load(open("spec.json"))
channel = os.fdopen(os.dup(1), "w")
null = os.open("/dev/null", os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)


def emit(obj):
    channel.write(MARK + json.dumps(obj) + "\n")
    channel.flush()


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _err(e):
    return (type(e).__name__ + ": " + str(e))[:300]


def _plain(x):
    if isinstance(x, (tuple, list)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


signal.signal(signal.SIGALRM, _alarm)
sys.setrecursionlimit(spec["recursion_limit"])
ns = {"__name__": "__solution__"}
try:
    # re-arming interval: a program that swallows the first _Timeout in a bare except still stops
    signal.setitimer(signal.ITIMER_REAL, spec["timeout"], 0.05)
    exec(compile(open("solution.py").read(), "solution.py", "exec"), ns)
    signal.setitimer(signal.ITIMER_REAL, 0)
except _Timeout:
    emit({"load": "timeout"})
    raise SystemExit(0)
except BaseException as e:
    signal.setitimer(signal.ITIMER_REAL, 0)
    emit({"load": "error", "error": _err(e)})
    raise SystemExit(0)
emit({"load": "ok"})
name = spec["fn_name"]
for i, text in zip(spec["indices"], spec["inputs"]):
    try:
        args = [json.loads(line) for line in text.split("\n") if line.strip()]
    except ValueError as e:
        emit({"i": i, "status": "bad_input", "error": _err(e)})
        continue
    try:
        sol = ns.get("Solution")
        if isinstance(sol, type) and hasattr(sol, name):
            fn = getattr(sol(), name)
        elif callable(ns.get(name)):
            fn = ns[name]
        else:
            emit({"i": i, "status": "error", "error": "no Solution.%%s or function %%s" %% (name, name)})
            continue
        signal.setitimer(signal.ITIMER_REAL, spec["timeout"], 0.05)
        result = fn(*args)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        signal.setitimer(signal.ITIMER_REAL, 0)
        emit({"i": i, "status": "timeout"})
        continue
    except BaseException as e:
        signal.setitimer(signal.ITIMER_REAL, 0)
        emit({"i": i, "status": "error", "error": _err(e)})
        continue
    try:
        payload = json.dumps(_plain(result))
    except (TypeError, ValueError, RecursionError) as e:
        emit({"i": i, "status": "error", "error": "result is not JSON: " + _err(e)})
        continue
    emit({"i": i, "status": "ok", "result": payload})
""" % {"mark": _MARK}

_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+.#-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
_PYTHON_TAGS = {"python", "py", "python3", "py3", ""}


def extract_program(answer: str) -> str | None:
    """The last fenced block tagged python/py (or untagged); blocks in other languages are not
    programs to run (shell commands, sample output)."""
    if not answer:
        return None
    blocks = [m.group(2) for m in _FENCE.finditer(answer) if m.group(1).lower() in _PYTHON_TAGS]
    if not blocks:
        return None
    code = textwrap.dedent(blocks[-1]).strip("\n")
    return code + "\n" if code.strip() else None


def _tests_of(query: dict) -> tuple[list[dict], str | None]:
    reference = query.get("reference") or {}
    tests = reference.get("tests")
    if isinstance(tests, str):  # a serialised list (APPS rows keep a Python repr)
        try:
            tests = json.loads(tests)
        except ValueError:
            try:
                tests = ast.literal_eval(tests)
            except (ValueError, SyntaxError):
                tests = None
    fn_name = reference.get("fn_name")
    if fn_name in ("", "None"):
        fn_name = None
    return list(tests or []), fn_name


def _short(value: str, n: int = 80) -> str:
    value = repr(value)
    return value if len(value) <= n else value[: n - 3] + "..."


def _normalise_stdout(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().split("\n")).strip()


def _values_equal(got, expected) -> bool:
    if isinstance(got, bool) or isinstance(expected, bool):
        return got == expected
    if isinstance(got, (int, float)) and isinstance(expected, (int, float)):
        if isinstance(got, float) or isinstance(expected, float):
            return math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9)
        return got == expected
    if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(got) == len(expected) and all(_values_equal(a, b) for a, b in zip(got, expected, strict=True))
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(_values_equal(got[k], expected[k]) for k in got)
    return got == expected


def _reason_of(run: sandbox.RunResult) -> str:
    if run.killed_reason in ("timeout", "cpu_limit"):
        return "timed out"
    if run.killed_reason == "output_limit":
        return "output limit exceeded"
    if run.killed_reason:
        return f"killed ({run.killed_reason})"
    last = run.stderr.strip().splitlines()[-1:] or [f"exit code {run.returncode}"]
    return f"runtime error: {last[0][:200]}"


def _run_stdin(program: str, test: dict, opts: dict) -> tuple[bool, str]:
    run = sandbox.run_python(program, stdin=test.get("input") or "", **opts)
    if not run.ok:
        return False, _reason_of(run)
    got, expected = _normalise_stdout(run.stdout), _normalise_stdout(test.get("output") or "")
    if got == expected:
        return True, ""
    return False, f"expected {_short(expected)}, got {_short(got)}"


def _check_functional(expected_text: str, outcome: dict) -> tuple[bool, str]:
    status = outcome.get("status")
    if status == "timeout":
        return False, "timed out"
    if status != "ok":
        return False, f"{status}: {outcome.get('error', '')}"
    got = json.loads(outcome["result"])
    try:
        expected = json.loads(expected_text)
    except ValueError:
        ok = outcome["result"].strip() == (expected_text or "").strip()
        return ok, "" if ok else f"expected {_short(expected_text)}, got {_short(outcome['result'])}"
    if _values_equal(got, expected):
        return True, ""
    return False, f"expected {_short(json.dumps(expected))}, got {_short(outcome['result'])}"


def _run_functional(program, fn_name, items, opts, budget_end) -> dict[int, tuple[bool, str]]:
    """``items``: (index, test). Relaunches after a launch that died, without the test it died on."""
    verdicts: dict[int, tuple[bool, str]] = {}
    pending = list(items)
    per_test = opts["timeout_s"]
    while pending:
        if time.monotonic() >= budget_end:
            for i, _ in pending:
                verdicts[i] = (False, "not run: time budget spent")
            break
        spec = {
            "fn_name": fn_name,
            "timeout": per_test,
            "recursion_limit": 10000,
            "indices": [i for i, _ in pending],
            "inputs": [t.get("input") or "" for _, t in pending],
        }
        launch_opts = dict(opts, timeout_s=min(per_test * len(pending) + 1.0, max(budget_end - time.monotonic(), 0.1)))
        run = sandbox.run_python(
            HARNESS,
            files={"solution.py": PREAMBLE + program, "spec.json": json.dumps(spec)},
            **launch_opts,
        )
        outcomes, load = {}, None
        for line in run.stdout.split("\n"):
            if line.startswith(_MARK):
                try:
                    obj = json.loads(line[len(_MARK) :])
                except ValueError:
                    continue
                if "load" in obj:
                    load = obj
                elif obj.get("i") in dict(pending):
                    outcomes[obj["i"]] = obj
        if load is None or load["load"] != "ok":
            if load is None:
                reason = f"program did not load: {_reason_of(run)}"
            elif load["load"] == "timeout":
                reason = "timed out while loading the program"
            else:
                reason = f"program did not load: {load.get('error', '')}"
            for i, _ in pending:
                verdicts[i] = (False, reason)
            break
        tests = dict(pending)
        for i, outcome in outcomes.items():
            verdicts[i] = _check_functional(tests[i].get("output") or "", outcome)
        rest = [(i, t) for i, t in pending if i not in outcomes]
        if rest:  # the launch died on rest[0]
            verdicts[rest[0][0]] = (False, _reason_of(run) if not run.ok else "harness stopped")
            rest = rest[1:]
        pending = rest
    return verdicts


def verify_code(
    query: dict,
    response: str,
    max_tests: int = 10,
    timeout_s: float = 5.0,
    total_timeout_s: float = 60.0,
    memory_mb: int = 1024,
    threshold: float = PASS_THRESHOLD,
    allow_unsandboxed: bool = False,
) -> VerifyResult:
    """``timeout_s`` is per test; ``total_timeout_s`` bounds one response (tests not started by then
    fail), so that a program that hangs on every test costs at most that. ``allow_unsandboxed`` lets
    :func:`sandbox.run_python` fall back to rlimits alone where bubblewrap cannot run: an explicit
    opt-out, never for untrusted code on a shared machine."""
    tests, fn_name = _tests_of(query)
    if not tests:
        return VerifyResult.unscorable(VERIFIER, "query has no tests")
    parsed = split_response(response)
    if parsed.answer is None:
        return VerifyResult.fail(VERIFIER, parsed.problem or "no answer")
    program = extract_program(parsed.answer)
    if program is None:
        return VerifyResult.fail(VERIFIER, "no ```python code block in the answer")
    tests = tests[:max_tests]
    if not tests:
        return VerifyResult.unscorable(VERIFIER, f"no tests to run (max_tests={max_tests})")
    opts = dict(timeout_s=timeout_s, memory_mb=memory_mb, allow_unsandboxed=allow_unsandboxed)
    budget_end = time.monotonic() + total_timeout_s
    verdicts: dict[int, tuple[bool, str]] = {}
    functional = []
    for i, test in enumerate(tests):
        declared = test.get("testtype") or ("functional" if fn_name else "stdin")
        kind = TESTTYPE_ALIASES.get(str(declared).lower())
        if kind is None:
            return VerifyResult.unscorable(VERIFIER, f"test {i + 1}: unknown test type {declared!r}")
        if kind == "functional":
            if not fn_name:
                return VerifyResult.unscorable(VERIFIER, "functional tests but no fn_name")
            functional.append((i, test))
        elif time.monotonic() >= budget_end:
            verdicts[i] = (False, "not run: time budget spent")
        else:
            verdicts[i] = _run_stdin(program, test, opts)
    if functional:
        verdicts.update(_run_functional(program, fn_name, functional, opts, budget_end))
    n_pass = sum(ok for ok, _ in verdicts.values())
    detail = f"{n_pass}/{len(tests)} tests passed"
    failures = [i for i in sorted(verdicts) if not verdicts[i][0]]
    if failures:
        detail += f"; first failure: test {failures[0] + 1}: {verdicts[failures[0]][1]}"
    return VerifyResult.of(n_pass / len(tests), VERIFIER, detail, threshold=threshold)
