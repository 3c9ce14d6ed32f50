"""Code verifier: run the response's program against the query's tests in the sandbox.

Score = fraction of tests passed (the first ``max_tests``, the paper uses up to 10), as in the
AM-Thinking-v1 report: the last ```python or ```cpp block (the language the query asks for, else
Python first), call-based and stdin/stdout tests. Every test of one program runs in a single sandbox
launch: call-based tests in a harness that loads the program once and calls the function per test
under its own timer; stdin tests in :mod:`distillery.verify.stdin_runner`; C++ is compiled first
(:mod:`distillery.verify.cpp_build`). Only the test *inputs* go into the sandbox and results are
compared here, on the host, so a program can neither see the expected outputs nor fake a comparison
(e.g. an object whose ``__eq__`` is always true: results must be JSON). A launch that dies mid-way (a
hang in C code, a crash) costs only the test in progress; the rest run in a new launch.

Problems with many valid outputs (a special judge) cannot be graded by exact output: when the query
carries a reference solution, the tests it does not pass exactly are left out of the score and named
in the detail, instead of failing valid answers.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import re
import textwrap
import time

from distillery.core.schema import TESTTYPE_ALIASES
from distillery.verify import sandbox
from distillery.verify.cpp_build import compile_cpp
from distillery.verify.parse import split_response
from distillery.verify.result import PASS_THRESHOLD, VerifyResult
from distillery.verify.stdin_runner import Program, run_programs

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
import json, os, sys, time
import _signal as signal  # the signal module would import enum
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
LANGUAGE_TAGS = {
    "python": {"python", "py", "python3", "py3", ""},
    "cpp": {"cpp", "c++", "cxx", "cc"},
}
_ASKS_CPP = re.compile(r"\b(?:in|using|with|write)\s+(?:a\s+)?(?:C\+\+|cpp)(?![\w+])", re.I)


def extract_program(answer: str, language: str = "python") -> str | None:
    """The last fenced block in ``language`` (untagged counts as Python); blocks in other languages
    are not programs to run (shell commands, sample output)."""
    if not answer:
        return None
    tags = LANGUAGE_TAGS[language]
    blocks = [m.group(2) for m in _FENCE.finditer(answer) if m.group(1).lower() in tags]
    if not blocks:
        return None
    code = textwrap.dedent(blocks[-1]).strip("\n")
    return code + "\n" if code.strip() else None


def asked_language(query: dict) -> str:
    """C++ when the query's last user turn asks for it, else Python."""
    users = [m.get("content") or "" for m in query.get("messages") or () if m.get("role") == "user"]
    return "cpp" if users and _ASKS_CPP.search(users[-1]) else "python"


def choose_program(answer: str, query: dict) -> tuple[str, str] | None:
    """(language, source): the asked language's last block, else the other's."""
    first = asked_language(query)
    for language in (first, *(other for other in LANGUAGE_TAGS if other != first)):
        code = extract_program(answer, language)
        if code is not None:
            return language, code
    return None


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


def _stdin_verdict(outcome: dict | None, expected_text: str, launch: sandbox.RunResult | None) -> tuple[bool, str]:
    if outcome is None:
        return False, "not run: an earlier test timed out"
    status = outcome["status"]
    if status == "ok":
        got, expected = _normalise_stdout(outcome["stdout"]), _normalise_stdout(expected_text)
        if got == expected:
            return True, ""
        return False, f"expected {_short(expected)}, got {_short(got)}"
    if status == "timeout":
        return False, "timed out"
    if status == "skipped":
        return False, "not run: time budget spent"
    if status == "output_limit":
        return False, "output limit exceeded"
    if status == "signal" and outcome.get("signal") == 9 and launch is not None and launch.oom_kills:
        return False, f"memory limit exceeded ({launch.memory_bound})"
    if status == "signal":
        return False, f"killed (signal {outcome.get('signal')})"
    if status == "died":
        return False, f"killed ({outcome.get('stderr') or 'sandbox'})"
    if status == "load":
        return False, f"program did not load: {outcome.get('stderr', '')}"
    last = outcome.get("stderr", "").strip().splitlines()[-1:] or [f"exit code {outcome.get('exit')}"]
    return False, f"runtime error: {last[0][:200]}"


def _run_stdin(programs: list[Program], items, opts: dict) -> list[dict[int, tuple[bool, str]]]:
    """``items``: (index, test); every program's tests in one launch (see
    :mod:`distillery.verify.stdin_runner`), each program with ``total_timeout_s`` of its own."""
    tests = dict(items)
    outcomes, launch = run_programs(
        programs,
        {i: t.get("input") or "" for i, t in items},
        timeout_s=opts["timeout_s"],
        budget_s=opts["total_timeout_s"],
        memory_mb=opts["memory_mb"],
        allow_unsandboxed=opts["allow_unsandboxed"],
    )
    return [
        {i: _stdin_verdict(found.get(i), tests[i].get("output") or "", launch) for i in tests} for found in outcomes
    ]


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
        run = sandbox.run_python(
            HARNESS,
            files={"solution.py": PREAMBLE + program, "spec.json": json.dumps(spec)},
            timeout_s=min(per_test * len(pending) + 1.0, max(budget_end - time.monotonic(), 0.1)),
            memory_mb=opts["memory_mb"],
            allow_unsandboxed=opts["allow_unsandboxed"],
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


def _program_of(language: str, source: str, opts: dict) -> tuple[Program | None, str]:
    if language == "python":
        return Program("python", source), ""
    build = compile_cpp(source, allow_unsandboxed=opts["allow_unsandboxed"])
    if build.binary is None:
        return None, build.message
    return Program("cpp", source, build.binary), ""


def _run_all(programs: list[Program], fn_name, items, opts) -> list[dict[int, tuple[bool, str]]]:
    """Verdict per test index of each program; ``items`` are (index, test, kind)."""
    verdicts: list[dict[int, tuple[bool, str]]] = [{} for _ in programs]
    functional = [(i, t) for i, t, kind in items if kind == "functional"]
    stdin = [(i, t) for i, t, kind in items if kind == "stdin"]
    for program, found in zip(programs, verdicts, strict=True):
        if functional and program.language != "python":
            found.update((i, (False, "call-based tests need a Python program")) for i, _ in functional)
        elif functional:
            budget_end = time.monotonic() + opts["total_timeout_s"]
            found.update(_run_functional(program.source, fn_name, functional, opts, budget_end))
    if stdin:
        for found, more in zip(verdicts, _run_stdin(programs, stdin, opts), strict=True):
            found.update(more)
    return verdicts


def _solution_program(solution: str) -> tuple[str, str]:
    """A reference solution: a fenced block in a known language, else bare source."""
    for language in LANGUAGE_TAGS:
        code = extract_program(solution, language)
        if code is not None and "```" in solution:
            return language, code
    return ("cpp" if "#include" in solution else "python"), solution


@functools.lru_cache(maxsize=512)
def _reference_passes(solution: str, items_json: str, fn_name, opts_json: str) -> tuple[int, ...] | str:
    """Indices of the tests the reference solution passes exactly (or why it could not run), once
    per problem in a worker: every response to the problem needs it."""
    opts = json.loads(opts_json)
    program, why = _program_of(*_solution_program(solution), opts)
    if program is None:
        return f"reference solution: {why}"
    items = [tuple(x) for x in json.loads(items_json)]
    verdicts = _run_all([program], fn_name, items, opts)[0]
    return tuple(i for i, (ok, _) in sorted(verdicts.items()) if ok)


def verify_code(
    query: dict,
    response: str,
    max_tests: int | None = 10,
    timeout_s: float = 5.0,
    total_timeout_s: float = 60.0,
    memory_mb: int = 1024,
    threshold: float = PASS_THRESHOLD,
    allow_unsandboxed: bool = False,
) -> VerifyResult:
    """``timeout_s`` is per test (a test that runs out ends the program's run); ``total_timeout_s``
    bounds one response (tests not started by then fail); ``memory_mb`` bounds each process and the
    run as a whole. ``allow_unsandboxed`` lets :func:`sandbox.run_command` fall back to rlimits alone
    where bubblewrap cannot run: an explicit opt-out, never for untrusted code on a shared machine."""
    options = dict(
        max_tests=max_tests,
        timeout_s=timeout_s,
        total_timeout_s=total_timeout_s,
        memory_mb=memory_mb,
        threshold=threshold,
        allow_unsandboxed=allow_unsandboxed,
    )
    return verify_code_batch(query, [response], **options)[0]


def verify_code_batch(
    query: dict,
    responses: list[str],
    max_tests: int | None = 10,
    timeout_s: float = 5.0,
    total_timeout_s: float = 60.0,
    memory_mb: int = 1024,
    threshold: float = PASS_THRESHOLD,
    allow_unsandboxed: bool = False,
) -> list[VerifyResult]:
    """:func:`verify_code` of several responses to one query: their stdin tests share a launch."""
    tests, fn_name = _tests_of(query)
    if not tests:
        return [VerifyResult.unscorable(VERIFIER, "query has no tests")] * len(responses)
    tests = tests[:max_tests]
    if not tests:
        return [VerifyResult.unscorable(VERIFIER, f"no tests to run (max_tests={max_tests})")] * len(responses)
    items = []
    for i, test in enumerate(tests):
        declared = test.get("testtype") or ("functional" if fn_name else "stdin")
        kind = TESTTYPE_ALIASES.get(str(declared).lower())
        if kind is None:
            return [VerifyResult.unscorable(VERIFIER, f"test {i + 1}: unknown test type {declared!r}")] * len(responses)
        if kind == "functional" and not fn_name:
            return [VerifyResult.unscorable(VERIFIER, "functional tests but no fn_name")] * len(responses)
        items.append((i, test, kind))
    opts = dict(
        timeout_s=timeout_s, memory_mb=memory_mb, allow_unsandboxed=allow_unsandboxed, total_timeout_s=total_timeout_s
    )
    gradeable, note = set(range(len(tests))), ""
    solution = (query.get("reference") or {}).get("solution")
    if solution:
        passes = _reference_passes(solution, json.dumps(items), fn_name, json.dumps(opts, sort_keys=True))
        if isinstance(passes, str):
            return [VerifyResult.unscorable(VERIFIER, passes)] * len(responses)
        if not passes:
            return [VerifyResult.unscorable(VERIFIER, "the reference solution passes no test exactly")] * len(responses)
        gradeable = set(passes)
        if len(gradeable) < len(tests):
            others = ", ".join(str(i + 1) for i in range(len(tests)) if i not in gradeable)
            note = f"; tests {others} not exactly gradeable (the reference solution's output differs): left out"
    results: list[VerifyResult | None] = [None] * len(responses)
    programs, owners = [], []
    for k, response in enumerate(responses):
        parsed = split_response(response)
        chosen = choose_program(parsed.answer, query) if parsed.answer is not None else None
        if parsed.answer is None:
            results[k] = VerifyResult.fail(VERIFIER, parsed.problem or "no answer")
        elif chosen is None:
            results[k] = VerifyResult.fail(VERIFIER, "no ```python or ```cpp code block in the answer")
        else:
            program, why = _program_of(*chosen, opts)
            if program is None:
                results[k] = VerifyResult.fail(VERIFIER, why)
            else:
                programs.append(program)
                owners.append(k)
    to_run = [x for x in items if x[0] in gradeable]
    if programs:
        for k, program, verdicts in zip(owners, programs, _run_all(programs, fn_name, to_run, opts), strict=True):
            n_pass = sum(ok for ok, _ in verdicts.values())
            detail = f"{n_pass}/{len(verdicts)} tests passed" + (" (C++)" if program.language == "cpp" else "")
            failures = [i for i in sorted(verdicts) if not verdicts[i][0]]
            if failures:
                detail += f"; first failure: test {failures[0] + 1}: {verdicts[failures[0]][1]}"
            results[k] = VerifyResult.of(n_pass / len(verdicts), VERIFIER, detail + note, threshold=threshold)
    return results
