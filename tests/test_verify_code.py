"""Code verifier and its sandbox: real reference solutions pass, mutants fail, attacks stay inside.

Every attack is checked from the host side after the run (the sentinel file, the listening socket,
the process table), not by trusting what the sandboxed program reports.
"""

import ast
import json
import multiprocessing
import re
import resource
import shutil
import socket
import time
from pathlib import Path

import pytest

if shutil.which("bwrap") is None:
    pytest.skip("bwrap (Debian package `bubblewrap`) is not installed", allow_module_level=True)

from distillery.verify import sandbox  # noqa: E402
from distillery.verify.code import extract_program, verify_code  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_CODE = REPO.parent / "shared/data/code_queries.jsonl"
TOY_CODE = REPO / "data/queries/code.jsonl"
SANDBOX_UIDS = range(sandbox.DEFAULT_UID_BASE, sandbox.DEFAULT_UID_BASE + sandbox.DEFAULT_UID_SLOTS)


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _query(tests, fn_name=None, qid="q") -> dict:
    return {
        "qid": qid,
        "source": "test",
        "category": "code",
        "messages": [{"role": "user", "content": "solve"}],
        "reference": {
            "answer": None,
            "options": None,
            "tests": tests,
            "fn_name": fn_name,
            "instruction_id_list": None,
            "kwargs": None,
        },
        "meta": "{}",
    }


def _answer(program: str) -> str:
    return f"<think>easy</think>\nHere it is:\n```python\n{program}\n```\n"


def _toy_query(row) -> dict:
    fn = row["fn_name"] if row["test_type"] == "functional" else None
    return _query(row["tests"], fn, row["id"])


def _shared_rows():
    if not SHARED_CODE.exists():
        pytest.skip(f"{SHARED_CODE} is absent (real data samples live in ../shared/data)")
    return [r for r in _rows(SHARED_CODE) if r["tests"] is not None]


def _shared_query(row) -> dict:
    tests = row["tests"]
    if isinstance(tests, str):  # APPS rows keep a Python repr of the list
        tests = ast.literal_eval(tests)
    fn = row["fn_name"] if row["test_type"] == "functional" else None
    return _query(tests, fn, row["id"])


_MUTATE_HELPER = (
    "def _mut(x):\n"
    "    if isinstance(x, bool): return not x\n"
    "    if isinstance(x, (int, float)): return x + 1\n"
    "    if isinstance(x, str): return x + 'x'\n"
    "    if isinstance(x, list): return x + [0]\n"
    "    return 0\n\n"
)


def _mutate_functional(program: str) -> str:
    """Every value returned is off by one (int), one char (str) or one element (list)."""
    body = re.sub(r"\breturn (?!$)(.+)$", r"return _mut(\1)", program, flags=re.M)
    return _MUTATE_HELPER + body


def _sandbox_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        if uid in SANDBOX_UIDS:
            found.append(int(entry.name))
    return found


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


# --- extraction and scoring rules -------------------------------------------------------------


def test_extract_program_takes_last_python_block():
    text = "```python\nprint(1)\n```\ntext\n```bash\nls\n```\n```py\nprint(2)\n```\n```text\nout\n```"
    assert extract_program(text) == "print(2)\n"
    assert extract_program("```\nprint(3)\n```") == "print(3)\n"
    assert extract_program("no code here") is None
    assert extract_program("  ```python\n  x = 1\n  ```") == "x = 1\n"


def test_no_tests_is_unscorable_and_no_code_fails():
    result = verify_code(_query([]), _answer("print(1)"))
    assert not result.scorable
    tests = [{"input": "", "output": "1", "testtype": "stdin"}]
    result = verify_code(_query(tests), "<think>x</think> the answer is 1")
    assert result.score == 0 and result.scorable and "code block" in result.detail
    result = verify_code(_query(tests), "<think>unfinished")
    assert result.score == 0 and "think" in result.detail


def test_functional_comparison_tuples_floats_and_detail():
    tests = [
        {"input": "[1, 2]", "output": "[2, 1]", "testtype": "functional"},
        {"input": "0.1\n0.2", "output": "0.3", "testtype": "functional"},
        {"input": "5", "output": "5", "testtype": "functional"},
    ]
    program = (
        "class Solution:\n"
        "    def f(self, *a):\n"
        "        if len(a) == 2: return a[0] + a[1]\n"
        "        if isinstance(a[0], list): return tuple(reversed(a[0]))\n"
        "        return a[0] - 1\n"
    )
    result = verify_code(_query(tests, "f"), _answer(program))
    assert result.score == pytest.approx(2 / 3)
    assert result.detail == "2/3 tests passed; first failure: test 3: expected '5', got '4'"


def test_result_object_with_fake_eq_does_not_pass():
    tests = [{"input": "1", "output": "2", "testtype": "functional"}]
    program = "class Always:\n    def __eq__(self, other): return True\ndef f(x): return Always()\n"
    result = verify_code(_query(tests, "f"), _answer(program))
    assert result.score == 0 and "JSON" in result.detail


def test_one_hanging_test_does_not_hide_the_others():
    tests = [{"input": str(x), "output": str(x * 2), "testtype": "functional"} for x in (1, 0, 3)]
    program = "def f(x):\n    while x == 0:\n        pass\n    return 2 * x\n"
    result = verify_code(_query(tests, "f"), _answer(program), timeout_s=1)
    assert result.score == pytest.approx(2 / 3)
    assert "test 2: timed out" in result.detail


def test_stdin_whitespace_rules():
    tests = [{"input": "3\n", "output": "1 2 3\n", "testtype": "stdin"}]
    program = "n = int(input())\nprint(*range(1, n + 1), end='   \\n\\n\\n')"
    assert verify_code(_query(tests), _answer(program)).score == 1


# --- real data ----------------------------------------------------------------------------------


def test_toy_solutions_pass_and_mutants_fail():
    for row in _rows(TOY_CODE):
        query = _toy_query(row)
        result = verify_code(query, _answer(row["solution"]))
        assert result.score == 1, (row["id"], result.detail)
        if row["test_type"] == "functional":
            mutant = _mutate_functional(row["solution"])
        else:  # a debug print left in
            mutant = row["solution"] + "\nprint('debug')\n"
        result = verify_code(query, _answer(mutant))
        assert result.score < 1, (row["id"], result.detail)


def test_leetcode_reference_solutions_pass():
    rows = [r for r in _shared_rows() if r["test_type"] == "functional"]
    assert len(rows) >= 90
    for row in rows:
        result = verify_code(_shared_query(row), _answer(row["reference_solution"]))
        assert result.score == 1, (row["id"], result.detail)
    for row in rows[:25]:
        result = verify_code(_shared_query(row), _answer(_mutate_functional(row["reference_solution"])))
        assert result.score < 1, (row["id"], result.detail)


def test_apps_stdin_rows_are_checked_by_output():
    """APPS rows come without a solution: a program that prints the expected output for each known
    input must score 1, and one that is off on every test must score 0."""
    rows = [r for r in _shared_rows() if r["test_type"] == "stdin"]
    assert len(rows) >= 40
    for row in rows[:12]:
        query = _shared_query(row)
        table = {t["input"]: t["output"] for t in query["reference"]["tests"][:10]}
        oracle = f"import sys\nsys.stdout.write({table!r}[sys.stdin.read()])\n"
        result = verify_code(query, _answer(oracle))
        n = min(len(query["reference"]["tests"]), 10)
        assert result.score == 1 or len(table) < n, (row["id"], result.detail)
        wrong = oracle.replace("sys.stdin.read()]", "sys.stdin.read()] + 'x'")
        assert verify_code(query, _answer(wrong)).score == 0


# --- adversarial: each contained, checked from the host -----------------------------------------


def _attack(program: str, expected: str = "ok", timeout_s: float = 2.0):
    tests = [{"input": "", "output": expected, "testtype": "stdin"}]
    start = time.monotonic()
    result = verify_code(_query(tests), _answer(program), timeout_s=timeout_s)
    assert time.monotonic() - start < timeout_s + 5
    assert result.score == 0 and result.detail, result
    return result


def test_infinite_loop_times_out():
    result = _attack("while True:\n    pass\n", timeout_s=1)
    assert "timed out" in result.detail


def test_fork_bomb_is_contained():
    _attack("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", timeout_s=1)
    time.sleep(0.2)
    assert _sandbox_processes() == []


def test_huge_allocation_fails():
    result = _attack("x = bytearray(20 * 10**9)\nprint('ok')\n")
    assert "MemoryError" in result.detail


def test_host_files_cannot_be_written_or_deleted(tmp_path):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("keep me")
    _attack(f"import os\nos.remove({str(sentinel)!r})\nprint('ok')\n")
    _attack(f"open({str(sentinel)!r}, 'w').write('gone')\nprint('ok')\n")
    _attack(f"open({str(tmp_path / 'new.txt')!r}, 'w').write('x')\nprint('ok')\n")
    _attack("import shutil\nshutil.rmtree('/usr')\nprint('ok')\n")
    assert sentinel.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sentinel.txt"]
    assert Path("/usr/bin/env").exists()


def test_tcp_to_localhost_is_blocked():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        _attack(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nprint('ok')\n")
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


def test_project_files_are_not_readable():
    target = REPO / "pyproject.toml"
    content = target.read_text()
    # the expected output IS the file: reading it would pass the test
    _attack(f"import sys\nsys.stdout.write(open({str(target)!r}).read())\n", expected=content)
    run = sandbox.run_python(f"print(open({str(target)!r}).read())")
    assert run.returncode != 0 and content[:40] not in run.stdout
    assert "FileNotFoundError" in run.stderr
    run = sandbox.run_python("import os\nprint(os.listdir('/'))\nprint(open('/etc/passwd').read())")
    assert "work" not in run.stdout and "root:" not in run.stdout


def test_gigabyte_of_stdout_is_capped():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = _attack("import sys\nchunk = 'x' * 65536\nfor _ in range(16384):\n    sys.stdout.write(chunk)\n")
    assert "output limit" in result.detail
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200


def test_background_process_does_not_outlive_the_run(tmp_path):
    marker = "31.4159265"
    out = tmp_path / "late.txt"
    program = (
        "import os\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.system('sleep 0.5; echo escaped > {out}')\n"
        f"        os.execv('/usr/bin/sleep', ['sleep', '{marker}'])\n"
        "    os._exit(0)\n"
        "print('done')\n"
    )
    _attack(program)
    time.sleep(1.0)
    assert not out.exists()
    assert _processes_with(marker) == []
    assert _sandbox_processes() == []


def test_missing_bwrap_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="bubblewrap"):
        sandbox.run_python("print(1)")


# --- parallel -------------------------------------------------------------------------------------


def _verify_row(row):
    query = _toy_query(row)
    good = verify_code(query, _answer(row["solution"])).score
    bad = verify_code(query, _answer(row["solution"] + "\nraise SystemExit(3)\n")).score
    return row["id"], good, bad


def test_parallel_pool_gives_correct_results():
    rows = _rows(TOY_CODE)
    with multiprocessing.get_context("fork").Pool(3) as pool:
        results = pool.map(_verify_row, rows * 2)
    assert len(results) == 2 * len(rows)
    assert all(good == 1 and bad == 0 for _, good, bad in results), results
