import time

from distillery.verify.pool import RULE_VERIFIERS, verify_all


def q(category, answer=None, options=None):
    return {"category": category, "reference": {"answer": answer, "options": options}}


def test_pool_scores_in_order_on_every_core():
    queries = [q("math", str(i)) for i in range(40)]
    responses = [f"<think>...</think><answer>\\boxed{{{i if i % 3 else i + 1}}}</answer>" for i in range(40)]
    results = verify_all(queries, responses, processes=2)
    assert [r.score for r in results] == [1.0 if i % 3 else 0.0 for i in range(40)]


def test_a_hanging_item_costs_only_itself():
    verifiers = {**RULE_VERIFIERS, "math": "verify_helpers:hang"}
    queries = [q("math", "1")] * 6
    responses = ["ok", "ok", "hang", "ok", "ok", "ok"]
    started = time.monotonic()
    results = verify_all(queries, responses, processes=2, item_timeout_s=3, verifiers=verifiers, chunk_size=2)
    assert time.monotonic() - started < 30
    assert [r.score for r in results] == [1, 1, 0, 1, 1, 1]
    assert "killed" in results[2].detail


def test_verifier_errors_and_unknown_categories_are_reasons_not_crashes():
    verifiers = {**RULE_VERIFIERS, "math": "verify_helpers:crash"}
    results = verify_all([q("math", "1"), q("poetry")], ["x", "y"], processes=1, verifiers=verifiers)
    assert results[0].score == 0 and "RuntimeError: boom" in results[0].detail
    assert not results[1].scorable


def test_options_reach_the_category_verifier():
    query = {
        "category": "code",
        "reference": {"tests": [{"input": "1", "output": "2", "testtype": "functional"}], "fn_name": "f"},
    }
    answer = "<think>x</think><answer>```python\ndef f(x):\n    return x + 1\n```</answer>"
    assert verify_all([query], [answer], processes=1)[0].score == 1.0
    result = verify_all([query], [answer], processes=1, options={"code": {"max_tests": 0}})[0]
    assert not result.scorable and "max_tests=0" in result.detail


def test_unknown_verifier_options_are_refused_up_front():
    import pytest

    from distillery.verify import Verifier

    with pytest.raises(ValueError, match="max_test"):
        Verifier(options={"code": {"max_test": 3}})
    with pytest.raises(ValueError, match="poetry"):
        Verifier(options={"poetry": {}})
    Verifier(options={"code": {"max_tests": 3, "allow_unsandboxed": True}})
