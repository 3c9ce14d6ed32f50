"""Benchmark loaders: math and LiveCodeBench layouts, the contest-date window, the hub's compressed private
tests, subsets; and which models are evaluated, how their shards split and how their cache identity moves."""

import base64
import json
import pickle
import shutil
import zlib

import pytest

from conftest import REPO, shared_file, write_jsonl
from distillery.core.model_resolution import model_fingerprint, model_identity
from distillery.core.prompts import MATH_SUFFIX, SYSTEM_PROMPT, build_messages
from distillery.evaluate.problems import LCB_WITH_STARTER, LCB_WITHOUT_STARTER, decode_tests, load_problems
from distillery.evaluate.samples import sample_seed, shard_pairs
from distillery.plan.eval_sampling import Sampling
from distillery.plan.evaluated_models import evaluated_models, paper_models, workflow_inputs
from distillery.queries.sources import SourceError

LCB = {"id": "question_id", "text": "question_content"}


@pytest.mark.realdata
def test_livecodebench_window_keeps_the_papers_problems():
    data = {"path": str(shared_file("livecodebench_sample.jsonl")), **LCB}
    rows = [json.loads(line) for line in open(data["path"])]
    window = load_problems("lcb", data, {"kind": "livecodebench", "date_from": "2024-10-01", "date_to": "2025-03-01"})
    expected = [r["question_id"] for r in rows if r["in_2410_2502_window"]]
    assert window.column("problem_id").to_pylist() == expected and len(expected) == 166
    everything = load_problems("lcb", data, {"kind": "livecodebench"})
    assert len(everything) == len(rows) == 279
    problems = {p["problem_id"]: p for p in everything.to_pylist()}
    leetcode, atcoder = problems["3676"], problems["abc383_d"]
    assert leetcode["reference"]["fn_name"] == "smallestNumber"
    assert {t["testtype"] for t in leetcode["reference"]["tests"]} == {"functional"}
    assert LCB_WITH_STARTER in leetcode["messages"][0]["content"]
    assert "def smallestNumber(self, n: int) -> int:" in leetcode["messages"][0]["content"]
    assert atcoder["reference"]["fn_name"] is None and LCB_WITHOUT_STARTER in atcoder["messages"][0]["content"]
    assert atcoder["category"] == "code" and json.loads(atcoder["meta"])["contest_date"].startswith("2024-12-07")


@pytest.mark.realdata
def test_math_benchmarks_get_the_papers_prompt():
    data = {"path": str(shared_file("aime2025.jsonl")), "id": "id", "text": "problem"}
    problems = load_problems("aime2025", data, {"kind": "math", "limit": 2}).to_pylist()
    assert [p["problem_id"] for p in problems] == ["2025-I-1", "2025-I-2"] and problems[0]["reference"][
        "answer"
    ] == "70"
    messages = build_messages(problems[0], SYSTEM_PROMPT)
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert messages[1]["content"].startswith("Find the sum of all integer bases") and messages[1]["content"].endswith(
        MATH_SUFFIX
    )


def test_hub_private_tests_are_decoded_and_pickled_objects_refused(tmp_path):
    tests = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]
    packed = base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()
    assert decode_tests(packed) == tests and decode_tests(json.dumps(tests)) == tests and decode_tests("") == []
    evil = base64.b64encode(zlib.compress(pickle.dumps(pytest.approx(1)))).decode()
    with pytest.raises(Exception, match="refusing to unpickle|neither JSON"):
        decode_tests(evil)
    row = {
        "question_id": "x1",
        "question_content": "Add two numbers.",
        "starter_code": "",
        "metadata": "{}",
        "public_test_cases": json.dumps(tests),
        "private_test_cases": packed,
        "contest_date": "2024-11-02T00:00:00",
    }
    path = write_jsonl(tmp_path / "lcb.jsonl", [row])
    [problem] = load_problems("lcb", {"path": str(path), **LCB}, {"kind": "livecodebench"}).to_pylist()
    assert len(problem["reference"]["tests"]) == 2 and json.loads(problem["meta"])["private_tests"] == 1


def test_subsets_and_errors(tmp_path):
    data = {"path": str(REPO / "data/benchmarks/demo_code.jsonl"), **LCB}
    some = load_problems("demo_code", data, {"kind": "livecodebench", "ids": ["demo-code-04", "demo-code-01"]})
    assert some.column("problem_id").to_pylist() == ["demo-code-01", "demo-code-04"]  # the benchmark's order
    with pytest.raises(SourceError, match="demo-code-99"):
        load_problems("demo_code", data, {"kind": "livecodebench", "ids": ["demo-code-99"]})
    with pytest.raises(SourceError, match="no problems"):
        load_problems("demo_code", data, {"kind": "livecodebench", "date_from": "2030-01-01"})
    path = write_jsonl(tmp_path / "m.jsonl", [{"id": 1, "problem": "What is 1 + 1?"}])
    with pytest.raises(SourceError, match="answer"):
        load_problems("m", {"path": str(path), "id": "id", "text": "problem"}, {"kind": "math"})
    path = write_jsonl(tmp_path / "c.jsonl", [{"question_id": "a", "question_content": "x", "contest_date": None}])
    with pytest.raises(SourceError, match="contest_date"):
        load_problems("c", {"path": str(path), **LCB}, {"kind": "livecodebench", "date_to": "2025-01-01"})


def test_shards_partition_the_samples_and_seeds_differ():
    shards = [shard_pairs(5, 4, i, 3) for i in range(3)]
    pairs = sorted(p for s in shards for p in s)
    assert pairs == [(p, s) for p in range(5) for s in range(4)] and [len(s) for s in shards] == [7, 7, 6]
    seeds = {sample_seed(0, "b", str(p), s) for p, s in pairs}
    assert len(seeds) == 20 and sample_seed(0, "b", "1", 2) == sample_seed(0, "b", "1", 2)
    sampling = Sampling.from_config(
        {
            "benchmarks": {"b": {"samples": 4, "max_new_tokens": 7}},
            "max_new_tokens": 100,
            "temperature": 0.6,
            "top_p": 0.95,
            "seed": 1,
            "stop": ["</answer>"],
            "system_prompt": "paper",
        },
        "b",
    )
    assert sampling.max_new_tokens == 7 and sampling.system_prompt == SYSTEM_PROMPT
    assert Sampling(**sampling.as_dict()) == sampling


def test_students_extra_models_and_teachers_as_models():
    config = {
        "teachers": [
            {"name": "r1", "backend": "openai", "model": "deepseek-reasoner", "openai": {"base_url": "http://x/v1"}},
            {"name": "am", "backend": "vllm", "model": "am"},
        ],
        "evaluate": {
            "student_backend": {"backend": "vllm", "vllm": {"tensor_parallel_size": 4}},
            "extra_models": [
                {"name": "base", "model": "results/models/gemma3-270m", "backend": "transformers"},
                {"name": "r1-itself", "teacher": "r1"},
            ],
        },
    }
    models = evaluated_models(config)
    assert list(models) == ["r1", "am", "base", "r1-itself"]
    assert models["am"]["model"] == "results/train/am/model" and models["am"]["backend"] == "vllm"
    assert models["am"]["vllm"] == {"tensor_parallel_size": 4}
    assert models["r1-itself"]["backend"] == "openai" and models["r1-itself"]["name"] == "r1-itself"
    assert workflow_inputs(models["am"]) == ["results/train/am/model"]
    assert workflow_inputs(models["base"]) == ["results/models/gemma3-270m"]
    assert workflow_inputs(models["r1-itself"]) == []
    # students and teachers go with their teacher's paper counterpart (by model name, or as configured)
    config["analysis"] = {"paper_teachers": {"am": "AM-Thinking-v1"}}
    assert paper_models(config, models) == {"r1": "DeepSeek-R1", "am": "AM-Thinking-v1", "r1-itself": "DeepSeek-R1"}
    config["evaluate"]["paper_models"] = {"base": "Qwen3-235B-A22B"}
    assert paper_models(config, models)["base"] == "Qwen3-235B-A22B"
    config["evaluate"]["students"] = ["am"]
    assert list(evaluated_models(config)) == ["am", "base", "r1-itself"]


def test_config_checks_keep_evaluation_and_decontamination_consistent():
    import yaml

    from distillery.plan.config_checks import ConfigError, check_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    check_config(config)
    bad = json.loads(json.dumps(config))
    bad["evaluate"]["benchmarks"]["aime2099"] = {"kind": "math"}
    with pytest.raises(ConfigError, match="aime2099"):
        check_config(bad)
    bad = json.loads(json.dumps(config))
    bad["decontaminate"]["benchmarks"] = ["demo_math"]
    with pytest.raises(ConfigError, match="not decontaminated"):
        check_config(bad)
    bad = json.loads(json.dumps(config))
    bad["evaluate"]["extra_models"].append({"name": "base", "model": "x"})
    with pytest.raises(ConfigError, match="unique"):
        check_config(bad)
    bad = json.loads(json.dumps(config))
    bad["evaluate"]["paper_models"] = {"nobody": "DeepSeek-R1"}
    with pytest.raises(ConfigError, match="nobody"):
        check_config(bad)


def test_a_retrained_model_is_a_new_cache_identity(tmp_path):
    """Same file names, sizes and config as before: only the content differs. Teachers, judges and evaluated
    models share this one identity."""
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    weights = bytearray(1 << 20)
    (folder / "model.safetensors").write_bytes(bytes(weights))
    entry = {"backend": "transformers", "model": str(folder)}
    before, identity = model_fingerprint(folder), model_identity(entry)
    weights[700_000] = 1
    (folder / "model.safetensors").write_bytes(bytes(weights))
    retrained = model_identity(entry)
    assert model_fingerprint(folder) != before and retrained != identity
    (folder / "config.json").write_text('{"changed": 1}')
    assert model_identity(entry) != retrained
    changed = model_identity(entry)
    (folder / "chat_template.jinja").write_text("{{ messages }}")
    assert model_identity(entry) != changed  # a new template renders other prompts
    copy = tmp_path / "elsewhere" / "same-student"
    shutil.copytree(folder, copy)
    assert model_identity({**entry, "model": str(copy)}) == model_identity(entry)  # content, not path
    assert model_identity({**entry, "backend": "vllm"}) != model_identity(entry)
