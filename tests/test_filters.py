import json

import pyarrow as pa
import pytest

from distillery.core.canonical import qid
from distillery.core.schema import QUERY
from distillery.queries.filters import FILTER_ORDER, apply_filters


def queries(*conversations):
    rows = []
    for row, messages in enumerate(conversations):
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        rows.append(
            {
                "qid": qid(messages),
                "source": "t",
                "category": "general",
                "messages": messages,
                "reference": None,
                "meta": json.dumps({"row": row}),
            }
        )
    return pa.Table.from_pylist(rows, schema=QUERY)


CLEAN = [
    "Solve for x: 3x + 5 = 20. Give the exact value.",
    "Write a Python function that returns the n-th Fibonacci number.",
    "Explain why the sky is blue, in two sentences.",
    "Find the area of a triangle with sides 3, 4 and 5.",
    "List the sequence 2, 4, 8, ... and its next term.",
    "Print `x` with ```python\nprint(x)\n``` and explain it.",
    "The vertices of the figure satisfy x + y = 1; find the set.",
    "Email me back: what is a monad in Haskell?",
]

FLAGGED = {
    "empty": ["   \n\t "],
    "too_short": ["Fix it", "hi?"],
    "incomplete": [
        "Can you help me write a cover letter for a job as a",
        "Here is my code:\n```python\ndef f(x):\n    return x",
        [
            {"role": "user", "content": "Hello there, please help me."},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "What did you say about that?"},
        ],
        "Translate the following sentence into French:",
    ],
    "unusual_unicode": ["\ue000\ue001\ufffd\u200b\u200b hello there what is this \x07\x07\x07\x07"],
    "url": ["See https://example.org/problem?id=3 and solve it.", "Visit www.example.com for the rules."],
    "table": [
        "Given the data\n| x | y |\n|---|---|\n| 1 | 2 |\nfind the slope.",
        "Read <table><tr><td>1</td></tr></table> and sum it.",
    ],
    "image": [
        "As shown in the figure below, find the angle ABC.",
        "Describe ![plot](plot.png) in words.",
        "What is in the attached image of my cat?",
    ],
}


@pytest.mark.parametrize("name", FILTER_ORDER)
def test_each_filter_flags_its_cases_and_keeps_clean_queries(name, filters_config):
    table = queries(*CLEAN, *FLAGGED[name])
    kept, rejects, report = apply_filters(table, filters_config)
    assert report["rows_in"] == len(kept) + len(rejects) == len(table)
    assert report["reasons"] == {name: len(FLAGGED[name])}, rejects.column("detail").to_pylist()
    assert sorted(m[-1]["content"] for m in kept.column("messages").to_pylist()) == sorted(CLEAN)


@pytest.mark.parametrize("name", FILTER_ORDER)
def test_a_disabled_filter_keeps_its_cases(name, filters_config):
    filters_config[name]["enabled"] = False
    table = queries(*FLAGGED[name])
    _, _, report = apply_filters(table, filters_config)
    assert name not in report["reasons"] and name in report["disabled"]


def test_first_failing_filter_is_the_reason_and_all_are_in_the_detail(filters_config):
    kept, rejects, report = apply_filters(queries("See https://x.org/a.png"), filters_config)
    (row,) = rejects.to_pylist()
    assert row["reason"] == "url" and "image:" in row["detail"]
    assert report["flagged"]["url"] == report["flagged"]["image"] == 1 and report["reasons"] == {"url": 1}


def test_thresholds_are_configurable(filters_config):
    table = queries("What is 1+1?\u200b")
    filters_config["unusual_unicode"]["max_ratio"] = 0.0
    assert apply_filters(table, filters_config)[2]["reasons"] == {"unusual_unicode": 1}
    filters_config["unusual_unicode"]["max_ratio"] = 0.5
    filters_config["too_short"]["min_chars"] = 50
    assert apply_filters(table, filters_config)[2]["reasons"] == {"too_short": 1}
    filters_config["url"]["pattern"] = r"1\+1"
    filters_config["too_short"]["min_chars"] = 1
    assert apply_filters(table, filters_config)[2]["reasons"] == {"url": 1}


def test_empty_input(filters_config):
    kept, rejects, report = apply_filters(QUERY.empty_table(), filters_config)
    assert len(kept) == len(rejects) == report["rows_in"] == 0


def test_mixed_turn_counts_keep_texts_on_their_rows(filters_config):
    two_turns = [
        {"role": "user", "content": "Tell me about tides, please."},
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": "See www.example.com"},
    ]
    table = queries(two_turns, "A clean single-turn question about the moon?")
    kept, rejects, _ = apply_filters(table, filters_config)
    assert rejects.column("reason").to_pylist() == ["url"]
    assert kept.column("messages").to_pylist()[0][0]["content"].startswith("A clean")
