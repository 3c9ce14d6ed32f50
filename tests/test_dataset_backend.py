import json

import pytest

from conftest import write_jsonl
from distillery.generation.backend import GenerationRequest
from distillery.generation.dataset_backend import DatasetBackend


def sample(question, answer, follow_up=None):
    conv = [
        {"from": "human", "value": question, "info": {}},
        {"from": "assistant", "value": answer, "info": {"think_content": "t", "answer_content": answer}},
    ]
    if follow_up:
        conv += [
            {"from": "human", "value": follow_up, "info": {}},
            {"from": "assistant", "value": "second " + answer, "info": {}},
        ]
    return {"system": "You are a helpful assistant.", "conversations": conv}


def test_released_responses_are_matched_by_content(tmp_path):
    path = write_jsonl(
        tmp_path / "am.jsonl",
        [sample("What is 2+2?", "<think>add</think><answer>4</answer>"), sample("Hi", "Hello", follow_up="And now?")],
    )
    backend = DatasetBackend([path], "a-m-team/AM-Thinking-v1-Distilled")
    asks = [
        GenerationRequest([{"role": "system", "content": "ignored"}, {"role": "user", "content": " What is  2+2? "}]),
        GenerationRequest(
            [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "And now?"},
            ]
        ),
        GenerationRequest([{"role": "user", "content": "Unknown"}]),
    ]
    results = backend.generate(asks)
    assert results[0].text == "<think>add</think><answer>4</answer>" and results[0].finish_reason == "stop"
    assert results[1].text == "second Hello"
    assert results[2].finish_reason == "not_in_dataset" and results[2].text == ""


def test_malformed_release_lines_name_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [sample("q", "a"), json.dumps({"conversations": [{"from": "human"}]})])
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        DatasetBackend([path], "x")
