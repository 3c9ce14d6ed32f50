"""The code verifier's stdin path as it was before issue 17, kept only as the benchmarks' baseline:
one sandbox launch per test, every test run whatever happened before (a hang costs its timer each
time). Same sandbox, same limits and comparison as :func:`distillery.verify.code.verify_code`."""

from __future__ import annotations

from distillery.verify import sandbox
from distillery.verify.code import _normalise_stdout, _tests_of, extract_program
from distillery.verify.parse import split_response
from distillery.verify.result import PASS_THRESHOLD, VerifyResult


def verify_code_per_test(
    query: dict,
    response: str,
    max_tests: int | None = 10,
    timeout_s: float = 5.0,
    total_timeout_s: float = 60.0,
    memory_mb: int = 1024,
    threshold: float = PASS_THRESHOLD,
    allow_unsandboxed: bool = False,
) -> VerifyResult:
    tests, _ = _tests_of(query)
    parsed = split_response(response)
    program = extract_program(parsed.answer or "")
    if program is None:
        return VerifyResult.fail("code", "no code")
    tests = tests[:max_tests]
    passed = 0
    for test in tests:
        run = sandbox.run_python(program, stdin=test["input"], timeout_s=timeout_s, memory_mb=memory_mb)
        passed += run.ok and _normalise_stdout(run.stdout) == _normalise_stdout(test["output"])
    return VerifyResult.of(passed / len(tests), "code", f"{passed}/{len(tests)}", threshold=threshold)
