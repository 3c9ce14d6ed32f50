"""The offline Gemma 3 270M: conversion from the packaged GGUF (for real, once: 70–110 s) and the prompts
teachers are sent."""

import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from distillery.core.prompts import FEW_SHOT, MATH_SUFFIX, STOP, SYSTEM_PROMPT, build_messages
from distillery.distill import local_model

REPO = Path(__file__).resolve().parents[1]
MODEL_FILES = {
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
}


def query(category, *turns, system=None):
    roles = ["user", "assistant"]
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": roles[i % 2], "content": t} for i, t in enumerate(turns)
    ]
    return {"qid": "q", "category": category, "messages": messages, "reference": {}}


# --------------------------------------------------------------------------- prompts


def test_system_prompt_comes_first():
    messages = build_messages(query("chat", "hello"), SYSTEM_PROMPT)
    assert messages == [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "hello"}]
    assert "<think> reasoning process here </think> <answer> answer here </answer>." in SYSTEM_PROMPT


def test_no_system_prompt():
    assert build_messages(query("chat", "hello"), None) == [{"role": "user", "content": "hello"}]


def test_query_system_message_joins_the_paper_prompt():
    messages = build_messages(query("general", "q", system="Be concise."), SYSTEM_PROMPT)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == SYSTEM_PROMPT + "\n\nBe concise."
    assert build_messages(query("general", "q", system="Be concise."), None)[0]["content"] == "Be concise."


def test_few_shot_sits_between_system_and_query():
    messages = build_messages(query("science", "Which?"), SYSTEM_PROMPT, FEW_SHOT["science"])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1:3] == FEW_SHOT["science"]
    assert messages[-1]["content"] == "Which?"


def test_math_gets_the_boxed_suffix_on_the_last_user_turn_only():
    q = query("math", "What is 1+1?", "2", "And 2+2?")
    messages = build_messages(q, SYSTEM_PROMPT, FEW_SHOT["math"])
    assert messages[-1]["content"] == "And 2+2?\n\n" + MATH_SUFFIX
    assert messages[-3]["content"] == "What is 1+1?"
    assert q["messages"][-1]["content"] == "And 2+2?"  # the query itself is untouched
    twice = build_messages({**q, "messages": messages[-3:]}, None)
    assert twice[-1]["content"].count(MATH_SUFFIX) == 1
    assert MATH_SUFFIX not in build_messages(query("general", "What is 1+1?"), None)[-1]["content"]


def test_multi_turn_conversation_is_kept():
    q = query("chat", "first", "reply", "second")
    assert build_messages(q, None) == q["messages"]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="user turn"):
        build_messages(query("chat", "a", "b"), None)
    with pytest.raises(ValueError, match="pairs"):
        build_messages(query("chat", "a"), None, FEW_SHOT["chat"][:1])


@pytest.mark.parametrize("category", sorted(FEW_SHOT))
def test_few_shot_examples_parse_and_verify_shape(category):
    from distillery.verify.parse import split_response

    turns = FEW_SHOT[category]
    assert turns and [m["role"] for m in turns] == ["user", "assistant"] * (len(turns) // 2)
    for user, assistant in zip(turns[::2], turns[1::2], strict=True):
        parsed = split_response(assistant["content"])
        assert parsed.think and parsed.answer and parsed.problem is None
        expected = {"math": "\\boxed{", "code": "```python", "science": "The answer is ("}.get(category)
        assert expected is None or expected in parsed.answer
        if category == "code":  # the starter code as sources render it (ending at the signature), then filled in
            signature = user["content"].split("```python\n")[1].removesuffix("\n```")
            assert signature.endswith(":") and f"```python\n{signature}\n        return " in parsed.answer


# --------------------------------------------------------------------------- conversion


def test_failed_conversion_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(local_model, "GGUF_PACKAGE", "no_such_gguf_package")
    with pytest.raises(ModuleNotFoundError):
        local_model.convert_gguf_model(tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The model converted once, through the Snakemake script as the rule runs it."""
    root = tmp_path_factory.mktemp("local_model")
    out, log = root / "models" / "gemma3-270m", root / "logs" / "convert.log"
    stub = SimpleNamespace(output=[str(out)], log=[str(log)], threads=2, params=SimpleNamespace())
    runpy.run_path(str(REPO / "scripts" / "local_model.py"), {"snakemake": stub}, run_name="__main__")
    return out, log


@pytest.fixture(scope="module")
def backend(converted):
    from distillery.generation.transformers_backend import TransformersBackend

    return TransformersBackend.load(str(converted[0]), dtype="bfloat16", device="cpu", batch_size=2)


@pytest.mark.workflow
def test_conversion_writes_a_complete_folder_atomically(converted):
    out, log = converted
    assert {p.name for p in out.iterdir()} == MODEL_FILES
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary folder left beside it
    assert "wrote" in log.read_text()
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["do_sample"] is True and generation["temperature"] == 0.6 and generation["top_p"] == 0.95
    assert generation["eos_token_id"] == [1, 106]
    config = json.loads((out / "config.json").read_text())
    assert config["dtype"] == "bfloat16" and "quantization_config" not in config
    assert 0.4e9 < (out / "model.safetensors").stat().st_size < 0.7e9


@pytest.mark.workflow
def test_folder_loads_and_renders_gemma_turns(converted):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = converted[0]
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.model_type.startswith("gemma3")
    messages = build_messages(query("chat", "hi", "hello", "bye", system="Be brief."), SYSTEM_PROMPT)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        f"<bos><start_of_turn>user\n{SYSTEM_PROMPT}\n\nBe brief.\n\nhi<end_of_turn>\n"
        "<start_of_turn>model\nhello<end_of_turn>\n"
        "<start_of_turn>user\nbye<end_of_turn>\n<start_of_turn>model\n"
    )
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert ids[:2] == [tokenizer.bos_token_id, local_model.START_OF_TURN]
    assert ids.count(local_model.START_OF_TURN) == 4 and ids.count(local_model.END_OF_TURN) == 3
    with pytest.raises(Exception, match="alternate"):
        tokenizer.apply_chat_template(
            [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], tokenize=False
        )


@pytest.mark.workflow
def test_generation_produces_text_and_stops(backend):
    from distillery.generation.backend import GenerationRequest

    q = query("science", "Which planet is closest to the Sun?\n\nA. Venus\nB. Mercury\nC. Mars\nD. Earth")
    messages = build_messages(q, SYSTEM_PROMPT, FEW_SHOT["science"])
    budget = 120
    stopped, free = backend.generate(
        [GenerationRequest(messages, max_new_tokens=budget, stop=STOP), GenerationRequest(messages, max_new_tokens=6)]
    )
    assert stopped.finish_reason == "stop" and stopped.completion_tokens < budget
    assert "<answer>" in stopped.text and stopped.text.endswith("</answer>")  # kept, as servers keep it
    assert stopped.prompt_tokens > 100 and free.text.strip() and free.completion_tokens <= 6
    assert backend.model.generation_config.eos_token_id == [1, local_model.END_OF_TURN]
