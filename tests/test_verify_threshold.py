"""distill.threshold: the acceptance threshold is a setting, applied to every verifier's score."""

import json

from distillery.verify import Verifier
from distillery.verify.result import PASS_THRESHOLD

# Two instructions, the response follows one of them (all lowercase, but it has a comma): score 0.5.
QUERY = {
    "category": "if",
    "messages": [{"role": "user", "content": "write two lines, lowercase, no commas"}],
    "reference": {
        "instruction_id_list": ["change_case:english_lowercase", "punctuation:no_comma"],
        "kwargs": json.dumps([{}, {}]),
    },
}
HALF = "<think>ok</think><answer>rain taps the window, leaves let go</answer>"
MATH = {"category": "math", "reference": {"answer": "4"}}


def test_default_threshold_is_the_papers():
    with Verifier(processes=1) as verifier:
        half, right, wrong = verifier.score(
            [QUERY, MATH, MATH], [HALF, "<answer>\\boxed{4}</answer>", "<answer>\\boxed{5}</answer>"]
        )
    assert PASS_THRESHOLD == 0.9
    assert half.score == 0.5 and not half.passed
    assert right.passed and not wrong.passed


def test_a_lower_threshold_accepts_partial_scores_and_never_a_zero():
    with Verifier.from_config({"threshold": 0.5}, processes=1) as verifier:
        half, wrong = verifier.score([QUERY, MATH], [HALF, "<answer>\\boxed{5}</answer>"])
    assert half.score == 0.5 and half.passed
    assert wrong.score == 0 and not wrong.passed
    with Verifier(processes=1, threshold=0.6) as verifier:
        assert not verifier.score([QUERY], [HALF])[0].passed
