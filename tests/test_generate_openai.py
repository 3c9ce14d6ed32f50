"""The OpenAI-compatible backend against a real server (`transformers serve` on a tiny random model) and against a
server that fails on purpose; and the vLLM backend's result mapping."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import TINY_WORDS, tiny_llama_config, tiny_tokenizer
from distillery.generation.backend import GenerationRequest
from distillery.generation.openai_backend import GenerationError, OpenAIBackend
from distillery.generation.vllm_backend import result_from_vllm, sampling_kwargs
from fault_server import FaultServer
from model_server import free_port, transformers_serve

KEY_ENV = "DISTILLERY_TEST_API_KEY"
SECRET = "sk-test-7f3a9c-never-print-me"


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised tiny Llama with a chat template; sampling on, since `transformers serve` samples
    only when the folder's generation config says so. The extra token "abcdef" is there because stop strings
    make transformers tokenize "abcdef" to clean its vocabulary, and a word-level vocabulary without it fails."""
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    path = tmp_path_factory.mktemp("tiny_llama")
    tokenizer = tiny_tokenizer()
    tokenizer.add_tokens(["abcdef"])
    config = tiny_llama_config()
    config.vocab_size = len(tokenizer)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(do_sample=True, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def served(tiny_model_dir):
    log = tiny_model_dir / "serve.log"
    with transformers_serve(tiny_model_dir, log, "--device", "cpu", "--dtype", "float32") as url:
        yield url, str(tiny_model_dir)


def test_transformers_serve_results_in_order(served, tiny_model_dir):
    from transformers import AutoTokenizer

    base_url, model = served
    words = "what is two plus four the answer a b c d e f".split()
    requests = [
        GenerationRequest(
            messages=[{"role": "user", "content": " ".join(words[: 1 + i])}],
            max_new_tokens=2 + i % 4,
            temperature=0.0 if i % 3 == 0 else 0.8,
            top_p=0.95,
            seed=i,
        )
        for i in range(10)
    ]
    backend = OpenAIBackend(base_url, model, api_key_env=None, max_concurrency=4, timeout_s=60)
    results = backend.generate(requests)

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert len(results) == len(requests)
    for request, result in zip(requests, results, strict=True):
        prompt = tokenizer.apply_chat_template(request.messages, tokenize=True, add_generation_prompt=True)
        prompt_ids = prompt["input_ids"] if hasattr(prompt, "keys") else prompt
        assert result.prompt_tokens == len(prompt_ids)  # distinct per request: results are in request order
        assert 1 <= result.completion_tokens <= request.max_new_tokens
        assert result.finish_reason in ("stop", "length")
        if result.finish_reason == "length":
            assert result.completion_tokens == request.max_new_tokens
        assert isinstance(result.text, str) and result.latency_s > 0
    assert backend.retries == 0


def test_transformers_serve_stop_string_is_kept(served):
    """`transformers serve` keeps the stop string in the text, as all our backends return it. Every word is a
    stop string here, so the first word the (greedy) random model writes ends the generation."""
    base_url, model = served
    stop = tuple(w for w in TINY_WORDS if not w.startswith("<") and w != "</s>") + ("abcdef",)
    request = GenerationRequest(messages=[{"role": "user", "content": "hello"}], max_new_tokens=8, stop=stop)
    [result] = OpenAIBackend(base_url, model, timeout_s=60).generate([request])
    assert result.finish_reason == "stop" and result.completion_tokens < 8
    assert result.text.strip() in stop


def fault_requests(n: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": f"request {i}"}],
            max_new_tokens=16,
            temperature=0.7,
            seed=i,
            stop=("</s>",),
        )
        for i in range(n)
    ]


def test_faults_every_request_completes_once_in_order(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with FaultServer(fault_rate=0.3, max_faults=3, slow_s=2.5, reasoning=True, api_key=SECRET) as server:
        backend = OpenAIBackend(
            server.base_url,
            "fault-model",
            api_key_env=KEY_ENV,
            max_concurrency=16,
            timeout_s=1.0,
            max_retries=6,
            backoff_s=0.01,
        )
        requests = fault_requests(50)
        results = backend.generate(requests)

    names = [f"request {i}" for i in range(50)]
    assert dict(server.successes) == {name: 1 for name in names}
    assert sum(server.faults.values()) >= 10 and set(server.faults) == {"429", "500", "slow"}
    assert backend.retries == sum(server.faults.values())
    assert sum(server.attempts.values()) == 50 + backend.retries
    for name, result in zip(names, results, strict=True):
        assert result.text == f"<think>thinking about {name}</think>echo: {name}</s>"  # stop string kept
        assert result.finish_reason == "stop"
        assert result.prompt_tokens == 2 + len(name.split())
        assert result.completion_tokens == 3  # "echo: request N</s>"
    body = server.bodies[0]
    assert body["n"] == 1 and body["max_tokens"] == 16 and body["max_completion_tokens"] == 16
    assert body["stop"] == ["</s>"] and body["temperature"] == 0.7 and "seed" in body and body["top_p"] == 1.0


def test_length_finish_and_extra_body():
    with FaultServer(fault_rate=0.0) as server:
        backend = OpenAIBackend(server.base_url, "m", extra_body={"top_k": 20})
        [result] = backend.generate([GenerationRequest(messages=[{"role": "user", "content": "x"}], max_new_tokens=2)])
    assert result.finish_reason == "length" and result.text == "echo: x"
    assert server.bodies[0]["top_k"] == 20


def test_bad_request_is_raised_not_retried():
    with FaultServer(fault_rate=0.0, status_for={"request 3": 400}) as server:
        backend = OpenAIBackend(server.base_url, "m", max_concurrency=1, max_retries=6, backoff_s=0.01)
        with pytest.raises(GenerationError, match="HTTP 400.*not retried"):
            backend.generate(fault_requests(8))
    assert server.attempts["request 3"] == 1
    assert "request 7" not in server.attempts  # a failure stops the requests that had not started


def test_a_prompt_over_the_context_is_a_rejected_attempt_not_a_failed_job():
    too_long = "This model's maximum context length is 2048 tokens. However, your request has 5000 input tokens."
    with FaultServer(fault_rate=0.0, status_for={"request 3": (400, too_long)}) as server:
        backend = OpenAIBackend(server.base_url, "m", max_concurrency=2, backoff_s=0.01)
        results = backend.generate(fault_requests(6))
    assert server.attempts["request 3"] == 1  # never retried
    assert results[3].finish_reason == "rejected" and results[3].text == "" and too_long in results[3].error
    assert all(r.error is None and r.text.startswith("echo: request") for i, r in enumerate(results) if i != 3)


def test_retries_are_bounded():
    with FaultServer(fault_rate=0.0, status_for={"request 0": 503}) as server:
        backend = OpenAIBackend(server.base_url, "m", max_retries=2, backoff_s=0.01)
        with pytest.raises(GenerationError, match="gave up after 3 attempts"):
            backend.generate(fault_requests(1))
    assert server.attempts["request 0"] == 3


def test_missing_key_variable_is_named(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(GenerationError, match=KEY_ENV):
        OpenAIBackend("http://127.0.0.1:9/v1", "m", api_key_env=KEY_ENV)


def test_key_value_never_in_errors(monkeypatch):
    """A server that echoes the wrong key in its 401 body: the message names the failure, never the key."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    with FaultServer(fault_rate=0.0, api_key="the-right-key") as server:
        backend = OpenAIBackend(server.base_url, "m", api_key_env=KEY_ENV)
        with pytest.raises(GenerationError) as info:
            backend.generate(fault_requests(1))
    assert "HTTP 401" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value) and SECRET not in repr(backend)
    assert info.value.__cause__ is None and info.value.__context__ is None  # the client's error is not chained


def test_an_unreachable_server_is_waited_for_then_raised():
    """Refused connections are not failed answers: tried again for server_wait_s however many tries that takes."""
    backend = OpenAIBackend(
        f"http://127.0.0.1:{free_port()}/v1", "m", max_retries=1, backoff_s=0.01, timeout_s=2, server_wait_s=1.5
    )
    started = time.monotonic()
    with pytest.raises(GenerationError, match=r"unreachable for \d+ s \(server_wait_s 1.5\).*APIConnectionError"):
        backend.generate(fault_requests(1))
    assert time.monotonic() - started >= 1.5 and backend.retries > 2  # more tries than max_retries allows


def test_requests_wait_for_a_server_that_comes_back():
    """A server down when the requests start (killed, restarting): each request is answered once it is back."""
    port = free_port()
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", max_concurrency=8, backoff_s=0.05, max_retries=0)
    pool = ThreadPoolExecutor(1)
    results = pool.submit(backend.generate, fault_requests(8))
    time.sleep(3)  # longer than max_retries' backoff would ever wait
    assert not results.done()
    with FaultServer(fault_rate=0.0, port=port) as server:
        answered = results.result(timeout=30)
    assert [r.text for r in answered] == [f"echo: request {i}</s>" for i in range(8)]
    assert dict(server.successes) == {f"request {i}": 1 for i in range(8)}


def test_vllm_result_mapping_with_a_stand_in():
    """A plain stand-in shaped like vLLM's RequestOutput: the vLLM engine itself is not exercised here (vLLM
    cannot be installed on these machines); only the mapping and the sampling settings are."""
    stand_in = SimpleNamespace(
        prompt_token_ids=[1, 2, 3, 4],
        outputs=[SimpleNamespace(text="<think>hm</think>42", token_ids=(5, 6, 7), finish_reason="length")],
    )
    result = result_from_vllm(stand_in, latency_s=1.5)
    assert (result.text, result.finish_reason, result.prompt_tokens, result.completion_tokens, result.latency_s) == (
        "<think>hm</think>42",
        "length",
        4,
        3,
        1.5,
    )
    stand_in.outputs[0].finish_reason = "stop"
    assert result_from_vllm(stand_in).finish_reason == "stop"
    request = GenerationRequest(
        messages=[{"role": "user", "content": "q"}],
        max_new_tokens=7,
        temperature=0.6,
        top_p=0.95,
        seed=11,
        stop=("\n\n",),
    )
    assert sampling_kwargs(request) == {
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 7,
        "seed": 11,
        "stop": ["\n\n"],
        "n": 1,
        "include_stop_str_in_output": True,
    }


def test_stop_string_is_put_back_from_vllm_stop_reason():
    from distillery.generation.openai_backend import with_stop_string

    assert with_stop_string("<answer>4", ("</answer>",), "</answer>") == "<answer>4</answer>"  # vLLM server
    assert with_stop_string("<answer>4</answer>", ("</answer>",), None) == "<answer>4</answer>"  # kept already
    assert with_stop_string("<answer>4", ("</answer>",), None) == "<answer>4"  # the server cannot tell
    assert with_stop_string("<answer>4", ("</answer>",), None, restore=True) == "<answer>4</answer>"  # llama.cpp's
    assert with_stop_string("<answer>4", (), None, restore=True) == "<answer>4"
    assert with_stop_string("<answer>4", ("</answer>",), 106) == "<answer>4"  # ended on a token, not a string
