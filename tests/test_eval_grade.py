"""Grading for evaluation, on the real benchmarks in ../shared/data: every reference answer written as a
model's output is right, answers shifted to the next problem are wrong (except where two problems share an
answer), and hand-written programs pass or fail LiveCodeBench / CodeContests problems on all their tests."""

import shutil

import pytest

from conftest import shared_file
from distillery.evaluate.grading import grade_texts
from distillery.evaluate.problems import load_problems

pytestmark = pytest.mark.realdata

MATH = {"aime2024": "aime2024.jsonl", "aime2025": "aime2025.jsonl", "math500": "math500.jsonl"}

# (problem, next problem) pairs whose reference answers are equal, so the shifted answer is right there too.
SHIFT_COLLISIONS = {
    "aime2024": set(),
    "aime2025": set(),
    "math500": {
        ("test/algebra/1837.json", "test/algebra/2193.json"),  # 5 and x=5
        ("test/number_theory/978.json", "test/algebra/2199.json"),  # 7 and 7
        ("test/number_theory/928.json", "test/counting_and_probability/761.json"),
    },  # 3 and 3
}


def _response(answer: str) -> str:
    return (
        f"<think>Let me work this out carefully.</think><answer>So the final answer is $\\boxed{{{answer}}}$.</answer>"
    )


def _math_problems(name):
    data = {"path": str(shared_file(MATH[name])), "id": "id", "text": "problem"}
    return load_problems(name, data, {"kind": "math"}).to_pylist()


@pytest.mark.parametrize("name", sorted(MATH))
def test_reference_answers_grade_100_percent_and_shifted_ones_only_collide(name):
    problems = _math_problems(name)
    assert len(problems) == {"aime2024": 30, "aime2025": 30, "math500": 500}[name]
    answers = [p["reference"]["answer"] for p in problems]
    marks = grade_texts(problems, [_response(a) for a in answers], processes=2)
    wrong = [(p["problem_id"], m["detail"]) for p, m in zip(problems, marks, strict=True) if not m["correct"]]
    assert wrong == [] and all(m["gradeable"] for m in marks)
    shifted = answers[1:] + answers[:1]
    marks = grade_texts(problems, [_response(a) for a in shifted], processes=2)
    collisions = {
        (p["problem_id"], problems[(i + 1) % len(problems)]["problem_id"])
        for i, (p, m) in enumerate(zip(problems, marks, strict=True))
        if m["correct"]
    }
    assert collisions == SHIFT_COLLISIONS[name]
    assert sum(m["correct"] for m in marks) / len(marks) < 0.01


# ---------------------------------------------------------------------------------------------- code


def _program(code: str) -> str:
    return f"<think>Plan the algorithm.</think><answer>\n```python\n{code.strip()}\n```\n</answer>"


ABC383_D = """
import math, sys
n = int(sys.stdin.readline())
r = math.isqrt(n)
sieve = bytearray([1]) * (r + 1)
sieve[0:2] = bytes(min(2, r + 1))
for i in range(2, math.isqrt(r) + 1):
    if sieve[i]:
        sieve[i * i::i] = bytearray(len(range(i * i, r + 1, i)))
primes = [i for i in range(r + 1) if sieve[i]]
count = sum(1 for p in primes if p ** 8 <= n)  # p^8, and p^2 q^2 with p < q, i.e. p q <= sqrt(n)
j = len(primes) - 1
for i, p in enumerate(primes):
    while j >= i and p * primes[j] > r:
        j -= 1
    if j < i:
        break
    count += j - i
print(count)
"""

# question_id -> (a correct program, a wrong one). stdin (AtCoder, CodeContests) and call-based (LeetCode).
LCB_PROGRAMS = {
    "abc383_d": (ABC383_D, ABC383_D.replace("count += j - i", "count += j - i + 1")),  # wrong: also p^4 (5 divisors)
    "abc365_b": (
        """
n = int(input())
a = list(map(int, input().split()))
print(a.index(sorted(a)[-2]) + 1)
""",
        """
n = int(input())
a = list(map(int, input().split()))
print(a.index(max(a)) + 1)
""",
    ),
    "3676": (
        """
class Solution:
    def smallestNumber(self, n: int) -> int:
        return (1 << n.bit_length()) - 1
""",
        """
class Solution:
    def smallestNumber(self, n: int) -> int:
        return 1 << n.bit_length()
""",
    ),
    "3502": (
        """
class Solution:
    def numberOfSubstrings(self, s: str, k: int) -> int:
        n, total = len(s), 0
        for i in range(n):
            seen = {}
            for j in range(i, n):
                seen[s[j]] = seen.get(s[j], 0) + 1
                if seen[s[j]] >= k:
                    total += n - j
                    break
        return total
""",
        """
class Solution:
    def numberOfSubstrings(self, s: str, k: int) -> int:
        return len(s) * (len(s) + 1) // 2
""",
    ),
}

CODECONTESTS_PROGRAMS = {
    "code_contests_test_140": (
        """
def iroot(n, k):
    r = int(round(n ** (1.0 / k)))
    while r ** k > n:
        r -= 1
    while (r + 1) ** k <= n:
        r += 1
    return r
for _ in range(int(input())):
    n = int(input())
    print(iroot(n, 2) + iroot(n, 3) - iroot(n, 6))
""",
        """
for _ in range(int(input())):
    n = int(input())
    print(int(n ** 0.5) + int(n ** (1 / 3)) - int(n ** (1 / 6)))
""",
    ),
    "code_contests_test_139": (
        """
for _ in range(int(input())):
    s = input().strip()
    h = len(s) // 2
    print("YES" if len(s) % 2 == 0 and s[:h] == s[h:] else "NO")
""",
        """
for _ in range(int(input())):
    s = input().strip()
    print("YES" if s == s[::-1] else "NO")
""",
    ),
    "code_contests_test_052": (
        """
import sys
MOD = 10 ** 9 + 7
data = sys.stdin.read().split()
out = []
for t in range(int(data[0])):
    n, k = int(data[1 + 2 * t]), int(data[2 + 2 * t])
    result, power = 0, 1
    while k:
        if k & 1:
            result = (result + power) % MOD
        power = power * n % MOD
        k >>= 1
    out.append(str(result))
print("\\n".join(out))
""",
        """
import sys
MOD = 10 ** 9 + 7
data = sys.stdin.read().split()
for t in range(int(data[0])):
    n, k = int(data[1 + 2 * t]), int(data[2 + 2 * t])
    print(pow(n, k - 1, MOD))
""",
    ),
}


def _code_problems(file, name, programs):
    data = {"path": str(shared_file(file)), "id": "question_id", "text": "question_content"}
    problems = load_problems(name, data, {"kind": "livecodebench", "ids": sorted(programs)}).to_pylist()
    assert sorted(p["problem_id"] for p in problems) == sorted(programs)
    return problems


@pytest.fixture(scope="module")
def code_problems():
    if shutil.which("bwrap") is None:
        pytest.skip("bwrap (Debian package `bubblewrap`) is not installed: code is only run sandboxed")
    return _code_problems("livecodebench_sample.jsonl", "livecodebench", LCB_PROGRAMS) + _code_problems(
        "codecontests_test_lcbformat.jsonl", "codecontests", CODECONTESTS_PROGRAMS
    )


def test_correct_programs_pass_every_test_and_wrong_ones_fail(code_problems):
    programs = {**LCB_PROGRAMS, **CODECONTESTS_PROGRAMS}
    kinds = {p["problem_id"]: {t["testtype"] for t in p["reference"]["tests"]} for p in code_problems}
    assert {"stdin"} in kinds.values() and {"functional"} in kinds.values()
    assert max(len(p["reference"]["tests"]) for p in code_problems) > 100  # hidden tests, all of them run
    texts = [_program(programs[p["problem_id"]][0]) for p in code_problems]
    texts += [_program(programs[p["problem_id"]][1]) for p in code_problems]
    marks = grade_texts(code_problems * 2, texts, processes=2)
    n = len(code_problems)
    right = {p["problem_id"]: m for p, m in zip(code_problems, marks[:n], strict=True)}
    wrong = {p["problem_id"]: m for p, m in zip(code_problems, marks[n:], strict=True)}
    assert all(m["correct"] for m in right.values()), {k: m["detail"] for k, m in right.items() if not m["correct"]}
    assert not any(m["correct"] for m in wrong.values()), {k: m["detail"] for k, m in wrong.items() if m["correct"]}
    assert all(m["gradeable"] for m in marks)


def test_one_failing_hidden_test_is_a_fail(code_problems):
    """Distillation accepts 90% of tests; a benchmark needs all of them."""
    problem = next(p for p in code_problems if p["problem_id"] == "code_contests_test_140")
    tests = problem["reference"]["tests"]
    last = tests[-1]
    hacked = (
        f"import sys\ndata = sys.stdin.read()\nif data == {last['input']!r}:\n    print('0')\n    raise SystemExit\n"
        f"sys.stdin = __import__('io').StringIO(data)\n" + CODECONTESTS_PROGRAMS["code_contests_test_140"][0]
    )
    [mark] = grade_texts([problem], [_program(hacked)], processes=1)
    assert not mark["correct"] and mark["gradeable"]
    assert mark["score"] == pytest.approx((len(tests) - 1) / len(tests))


def test_problems_that_cannot_be_graded_are_marked_so():
    problem = {"problem_id": "p", "category": "code", "reference": {"tests": [], "fn_name": None}}
    unparsable = {"problem_id": "q", "category": "math", "reference": {"answer": "\\text{}"}}
    marks = grade_texts([problem, unparsable], [_program("print(1)"), _response("1")], processes=1)
    assert [m["gradeable"] for m in marks] == [False, False]
    assert [m["correct"] for m in marks] == [False, False]
