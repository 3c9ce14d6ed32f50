"""C++ programs, the run-wide memory bound, the cost of a hang and special-judge tests.

C++ solutions of real CodeContests problems (their hidden tests, from ../shared/data) pass and their
mutants fail; attacks of the Python suite, written in C++, stay inside. Every bound is checked from
the host side (the cgroup's or the watchdog's measurement, the host's process table, the clock).
"""

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

if shutil.which("bwrap") is None or shutil.which("g++") is None:
    pytest.skip("needs bwrap and g++ (Debian `bubblewrap`, `g++`)", allow_module_level=True)

from distillery.verify import sandbox  # noqa: E402
from distillery.verify.code import choose_program, verify_code  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CODECONTESTS = REPO.parent / "shared/data/codecontests_test_lcbformat.jsonl"

# code_contests_test_026: (2n)!/2 mod 1e9+7; code_contests_test_029: cnt(1) * 2^cnt(0).
PERMUTATIONS = """\
#include <bits/stdc++.h>
using namespace std;
int main() {
    const long long MOD = 1000000007LL;
    int t; scanf("%d", &t);
    while (t--) {
        int n; scanf("%d", &n);
        long long f = 1;
        for (int i = 3; i <= 2 * n; i++) f = f * i % MOD;
        printf("%lld\\n", f);
    }
}
"""
NEARLY_FULL = """\
#include <iostream>
int main() {
    int t; std::cin >> t;
    while (t--) {
        int n; std::cin >> n;
        unsigned long long zeros = 0, ones = 0;
        for (int i = 0; i < n; i++) { long long a; std::cin >> a; zeros += a == 0; ones += a == 1; }
        std::cout << (ones << zeros) << "\\n";
    }
}
"""
MUTANTS = {
    PERMUTATIONS: [("i = 3", "i = 2"), ("% MOD", "% (MOD + 2)")],
    NEARLY_FULL: [("ones << zeros", "ones << (zeros + 1)"), ("a == 1", "a == 2")],
}


def _rows() -> dict[str, dict]:
    if not CODECONTESTS.exists():
        pytest.skip(f"{CODECONTESTS} is absent (real data samples live in ../shared/data)")
    with open(CODECONTESTS, encoding="utf-8") as f:
        return {r["question_id"]: r for r in map(json.loads, f)}


def _query(tests, text="solve", solution=None) -> dict:
    return {
        "category": "code",
        "messages": [{"role": "user", "content": text}],
        "reference": {"tests": tests, "fn_name": None, "solution": solution},
    }


def _contest_query(row) -> dict:
    tests = [
        json.loads(row[k]) if isinstance(row[k], str) else row[k] for k in ("public_test_cases", "private_test_cases")
    ]
    return _query(tests[0] + tests[1], row["question_content"])


def _cpp(program: str) -> str:
    return f"<think>standard</think>\n```cpp\n{program}```\n"


def test_language_is_the_asked_one_else_python_first():
    both = "```python\nprint(1)\n```\n```cpp\nint main(){}\n```"
    assert choose_program(both, _query([]))[0] == "python"
    assert choose_program(both, _query([], "Solve it in C++."))[0] == "cpp"
    assert choose_program("```c++\nint main(){}\n```", _query([]))[0] == "cpp"
    assert choose_program("```java\nclass A{}\n```", _query([])) is None


def test_cpp_solutions_of_real_problems_pass_and_mutants_fail():
    rows = _rows()
    for qid, program in (("code_contests_test_026", PERMUTATIONS), ("code_contests_test_029", NEARLY_FULL)):
        query = _contest_query(rows[qid])
        result = verify_code(query, _cpp(program))
        assert result.score == 1 and result.passed and "(C++)" in result.detail, (qid, result)
        for old, new in MUTANTS[program]:
            mutant = verify_code(query, _cpp(program.replace(old, new)))
            assert not mutant.passed, (qid, old, mutant)


def test_compile_error_is_a_zero_with_the_compilers_message():
    result = verify_code(_query([{"input": "", "output": "1"}]), _cpp("int main() { return undeclared; }\n"))
    assert result.score == 0 and "compile error" in result.detail and "undeclared" in result.detail


def test_cpp_includes_of_host_files_do_not_compile():
    result = verify_code(
        _query([{"input": "", "output": "1"}]), _cpp(f'#include "{REPO}/pyproject.toml"\nint main(){{}}\n')
    )
    assert result.score == 0 and "compile error" in result.detail


def _sandbox_uid_processes() -> list[int]:
    uids = range(sandbox.DEFAULT_UID_BASE, sandbox.DEFAULT_UID_BASE + sandbox.DEFAULT_UID_SLOTS)
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
            if uid in uids:
                found.append(int(entry.name))
    return found


def test_cpp_attacks_are_contained(tmp_path):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("keep me")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    attacks = {
        "fork bomb": "#include <unistd.h>\nint main(){ while (1) fork(); }\n",
        "host write": (
            f'#include <cstdio>\nint main(){{ FILE*f=fopen("{sentinel}","w"); if(f) fputs("gone",f); puts("1"); }}\n'
        ),
        "project read": (
            f'#include <cstdio>\nint main(){{ FILE*f=fopen("{REPO}/pyproject.toml","r"); puts(f ? "read" : "1"); }}\n'
        ),
        "tcp": (
            "#include <arpa/inet.h>\n#include <sys/socket.h>\n#include <cstdio>\n"
            "int main(){ int s=socket(AF_INET,SOCK_STREAM,0); sockaddr_in a{}; a.sin_family=AF_INET;"
            f' a.sin_port=htons({port}); inet_pton(AF_INET,"127.0.0.1",&a.sin_addr);'
            ' puts(connect(s,(sockaddr*)&a,sizeof a)==0 ? "connected" : "1"); }\n'
        ),
        "daemon": (
            '#include <unistd.h>\n#include <cstdio>\nint main(){ if(fork()==0){ setsid(); sleep(30); } puts("1"); }\n'
        ),
        "huge allocation": (
            "#include <cstdlib>\n#include <cstring>\n"
            "int main(){ char*p=(char*)malloc(20000000000ULL); if(p) memset(p,1,20000000000ULL); }\n"
        ),
    }
    for name, program in attacks.items():
        start = time.monotonic()
        result = verify_code(_query([{"input": "", "output": "1"}]), _cpp(program), timeout_s=1)
        assert time.monotonic() - start < 10, name
        if name in ("fork bomb", "huge allocation"):
            assert result.score == 0, (name, result)
    with pytest.raises(TimeoutError):
        listener.accept()
    assert sentinel.read_text() == "keep me"
    time.sleep(0.2)
    assert _sandbox_uid_processes() == []


HOGS = """\
import os, time
pids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        block = bytearray(700 << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(1.5)
        os._exit(0)
    pids.append(pid)
print([os.waitpid(p, 0)[1] for p in pids])
"""


def _sample_host_memory(stop: threading.Event, peaks: list[int]) -> None:
    """The host's view: resident memory of every process of a sandbox uid, summed, every 20 ms."""
    page = 4096
    while not stop.is_set():
        total = 0
        for pid in _sandbox_uid_processes():
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
            except (OSError, IndexError):
                pass
        peaks.append(total)
        time.sleep(0.02)


@pytest.mark.parametrize("bound", ["auto", "watchdog"])
def test_children_together_are_held_to_one_memory_bound(bound, monkeypatch):
    monkeypatch.setenv("DISTILLERY_SANDBOX_MEMORY_BOUND", bound)
    stop, peaks = threading.Event(), []
    sampler = threading.Thread(target=_sample_host_memory, args=(stop, peaks))
    sampler.start()
    try:
        result = sandbox.run_python(HOGS, timeout_s=10, memory_mb=1024)
    finally:
        stop.set()
        sampler.join()
    assert result.killed_reason == "memory_limit" and result.oom_kills >= 1, result
    assert result.memory_bound.startswith("cgroup") if bound == "auto" else result.memory_bound == "watchdog"
    # 3 x 700 MB would be 2.1 GB; the watchdog may overshoot by what one tick allows
    slack = 1.0 if bound == "auto" else 1.35
    assert max(peaks) <= slack * (1024 << 20) + (64 << 20), max(peaks) / 2**20
    assert result.peak_memory_bytes <= slack * (1024 << 20) + (64 << 20)


@pytest.mark.parametrize("bound", ["auto", "watchdog"])
def test_files_created_in_the_tmpfs_are_bounded(bound, monkeypatch):
    monkeypatch.setenv("DISTILLERY_SANDBOX_MEMORY_BOUND", bound)
    program = "for i in range(2_000_000):\n    open(f'/tmp/f{i}', 'w').close()\nprint('made them all')\n"
    result = sandbox.run_python(program, timeout_s=20, memory_mb=256)
    assert "made them all" not in result.stdout
    assert result.killed_reason == ("memory_limit" if bound == "auto" else "file_limit"), result


def test_bounded_run_costs_little_more_than_a_plain_one():
    sandbox.run_python("print(1)")  # probe, slot folder
    start = time.perf_counter()
    for _ in range(10):
        assert sandbox.run_python("print(1)").ok
    per_run = (time.perf_counter() - start) / 10
    assert per_run < 0.5, per_run  # the overhead itself is measured by bench/verify.py


def test_hanging_program_costs_one_timer_not_one_per_test():
    tests = [{"input": f"{i}\n", "output": f"{i}\n"} for i in range(10)]
    start = time.monotonic()
    result = verify_code(_query(tests), "```python\nwhile True:\n    pass\n```", timeout_s=2)
    elapsed = time.monotonic() - start
    assert result.score == 0 and "timed out" in result.detail
    assert elapsed < 2 + 1.5, elapsed


def test_all_stdin_tests_of_a_program_run_in_one_launch(monkeypatch):
    launches = []
    real = sandbox.run_command
    monkeypatch.setattr(sandbox, "run_command", lambda *a, **k: launches.append(a[0]) or real(*a, **k))
    tests = [{"input": f"{i} {i + 1}\n", "output": f"{2 * i + 1}\n"} for i in range(10)]
    result = verify_code(_query(tests), "```python\na, b = map(int, input().split())\nprint(a + b)\nexit(0)\n```")
    assert result.score == 1, result
    assert len(launches) == 1


SMALLEST_DIVISOR = """\
n = int(input())
print(next((d for d in range(2, n) if n % d == 0), -1))
"""
LARGEST_DIVISOR = """\
n = int(input())
print(next((d for d in range(n - 1, 1, -1) if n % d == 0), -1))
"""


def test_tests_a_reference_solution_fails_are_left_out_not_failed():
    """'Print any divisor d of n, 1 < d < n, or -1': the setter's outputs use the largest divisor; a
    valid answer printing the smallest one passes the tests with one valid output (primes) and the
    others are left out, named in the detail."""
    ns = [7, 12, 13, 15, 17, 30]
    tests = [{"input": f"{n}\n", "output": str(next((d for d in range(n - 1, 1, -1) if n % d == 0), -1))} for n in ns]
    query = _query(tests, solution=f"```python\n{SMALLEST_DIVISOR}```")
    valid = verify_code(query, f"```python\n{LARGEST_DIVISOR}```")
    other_valid = verify_code(query, f"```python\n{SMALLEST_DIVISOR}```")
    wrong = verify_code(query, "```python\nprint(1)\n```")
    assert valid.score == 1 and other_valid.score == 1, (valid, other_valid)
    assert "tests 2, 4, 6 not exactly gradeable" in other_valid.detail
    assert wrong.score == 0
    # without the reference, the valid smallest-divisor answer fails half the tests
    assert verify_code(_query(tests), f"```python\n{SMALLEST_DIVISOR}```").score == 0.5


def test_special_judge_problem_without_an_exact_test_is_unscorable():
    """code_contests_test_031 ("print any array b"): a valid C++ answer differs from every expected output."""
    row = _rows()["code_contests_test_031"]
    vupsen = """\
#include <bits/stdc++.h>
using namespace std;
int main() {
    int t; scanf("%d", &t);
    while (t--) {
        int n; scanf("%d", &n);
        vector<long long> a(n), b(n);
        for (auto &x : a) scanf("%lld", &x);
        int start = 0;
        if (n % 2) {
            if (a[0] + a[1] != 0) { b[0] = a[2]; b[1] = a[2]; b[2] = -(a[0] + a[1]); }
            else if (a[0] + a[2] != 0) { b[0] = a[1]; b[2] = a[1]; b[1] = -(a[0] + a[2]); }
            else { b[1] = a[0]; b[2] = a[0]; b[0] = -(a[1] + a[2]); }
            start = 3;
        }
        for (int i = start; i < n; i += 2) { b[i] = a[i + 1]; b[i + 1] = -a[i]; }
        for (int i = 0; i < n; i++) printf("%lld ", b[i]);
        printf("\\n");
    }
}
"""
    query = _contest_query(row)
    assert verify_code(query, _cpp(vupsen)).score < 1  # graded by exact output, a valid answer fails
    query["reference"]["solution"] = f"```cpp\n{vupsen}```"
    result = verify_code(query, _cpp(vupsen))
    assert not result.scorable and "passes no test exactly" in result.detail


def test_concurrent_runs_of_one_process_share_nothing_but_the_rules():
    """One run takes the process's launcher (born in its slot's cgroup), the others their own slots."""
    from concurrent.futures import ThreadPoolExecutor

    program = "import sys, time\ntime.sleep(0.3)\nprint(sum(map(int, sys.stdin.read().split())))\n"
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda k: sandbox.run_python(program, stdin=f"{k} {k}"), range(8)))
    assert [r.stdout for r in runs] == [f"{2 * k}\n" for k in range(8)]
    assert all(r.ok and r.memory_bound == runs[0].memory_bound for r in runs)


CLEAN_STATE = """\
import os
others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid())]
leftovers = os.listdir('/tmp') + os.listdir('/dev/shm') + [f for f in os.listdir('.') if f.startswith('left')]
print('clean' if not others and not leftovers else f'dirty {others} {leftovers}')
open('/tmp/answer', 'w').write('x')
open('left.txt', 'w').write('x')
if os.fork() == 0:
    os.setsid()
    import time
    time.sleep(30)
"""

FORGER = """\
import os
forged = b"@@distillery-test@@ 1 0 ok 0 -1 0.0 6 0\\nclean\\n"
opened = 0
for fd in range(3, 16):
    try:
        out = os.open(f'/proc/1/fd/{fd}', os.O_WRONLY)
    except OSError:
        continue
    opened += 1
    os.write(out, forged)
print('clean' if not opened else 'forged')
"""


def test_programs_sharing_a_launch_find_it_as_new():
    """Three samples in one launch: each sees no file or process of the one before, and one that
    tries to write results for the next through the runner's /proc entries cannot."""
    from distillery.verify.code import verify_code_batch

    tests = [{"input": "", "output": "clean"}]
    answers = [f"```python\n{CLEAN_STATE}```", f"```python\n{CLEAN_STATE}```", f"```python\n{FORGER}```"]
    results = verify_code_batch(_query(tests), answers + ["```python\nprint('wrong')\n```"])
    assert [r.score for r in results] == [1, 1, 1, 0], results
    time.sleep(0.2)
    assert _sandbox_uid_processes() == []


def test_samples_of_a_problem_are_graded_as_one_by_one():
    from distillery.verify.pool import VerifyPool

    problems = [_query([{"input": f"{a} {k}\n", "output": f"{a + k}\n"} for a in range(4)]) for k in (1, 2)]
    answers = {
        "right": "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
        "wrong": "```python\na, b = map(int, input().split())\nprint(a - b)\n```",
        "slow": "```python\nimport time\ntime.sleep(5)\n```",
        "none": "no code",
        "cpp": _cpp('#include <cstdio>\nint main(){int a,b;scanf("%d %d",&a,&b);printf("%d\\n",a+b);}\n'),
    }
    queries = [p for p in problems for _ in answers]
    texts = [a for _ in problems for a in answers.values()]
    with VerifyPool(2, options={"code": {"timeout_s": 1}}) as pool:
        batched = pool.map(queries, texts)
    alone = [verify_code(q, t, timeout_s=1) for q, t in zip(queries, texts, strict=True)]
    assert [(r.score, r.detail) for r in batched] == [(r.score, r.detail) for r in alone]
    assert [r.score for r in batched[:5]] == [1, 0, 0, 0, 1]
