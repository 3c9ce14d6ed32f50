"""vLLM's engine as a generation backend, for GPU nodes. Streaming (what the scheduler uses): requests are added
to the engine one by one as the scheduler frees room, and the engine is stepped until some finish, so vLLM's
continuous batching never runs dry between chunks. ``generate()`` (one ``LLM.chat`` call) stays for plain lists.

vLLM is imported inside ``__init__``: it installs only on GPU machines, and the rest of the package (and its
tests) must import without it. What is worth testing without a GPU lives in the pure functions below."""

from __future__ import annotations

import time

from distillery.core.model_resolution import resolve_model
from distillery.generation.backend import GenerationRequest, GenerationResult
from distillery.generation.streaming import EngineStream

MAX_IN_FLIGHT = 1024  # vLLM queues what its scheduler cannot run yet; keeping some queued keeps it full


def sampling_kwargs(request: GenerationRequest) -> dict:
    """``SamplingParams`` keywords for one request. The stop string stays in the text, as every backend of
    ours returns it (``</answer>`` closes the answer the verifier reads)."""
    return {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_new_tokens,
        "seed": request.seed,
        "stop": list(request.stop),
        "n": 1,
        "include_stop_str_in_output": True,
    }


def result_from_vllm(output, latency_s: float = 0.0) -> GenerationResult:
    """One vLLM ``RequestOutput`` as a result; vLLM's finish reasons are "stop" (eos or a stop string),
    "length" and "abort", and an aborted request did not run out of tokens. The latency is from the request's
    submission (streaming) or of the whole call (``generate``): per-request metrics are not in every version."""
    completion = output.outputs[0]
    return GenerationResult(
        text=completion.text,
        finish_reason="length" if completion.finish_reason == "length" else "stop",
        prompt_tokens=len(output.prompt_token_ids or ()),
        completion_tokens=len(completion.token_ids),
        latency_s=latency_s,
    )


class VLLMBackend:
    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        pipeline_parallel_size: int = 1,
        dtype: str = "auto",
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        **engine_kwargs,
    ):
        from vllm import LLM, SamplingParams

        self.model_id = model
        self._sampling_params = SamplingParams
        self.llm = LLM(
            model=resolve_model(model),
            tensor_parallel_size=tensor_parallel_size,
            pipeline_parallel_size=pipeline_parallel_size,
            dtype=dtype,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            **engine_kwargs,
        )

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """vLLM returns outputs in the order of its inputs."""
        if not requests:
            return []
        params = [self._sampling_params(**sampling_kwargs(r)) for r in requests]
        start = time.monotonic()
        outputs = self.llm.chat([list(r.messages) for r in requests], params, use_tqdm=False)
        latency_s = time.monotonic() - start
        return [result_from_vllm(o, latency_s) for o in outputs]

    def open_stream(self, max_in_flight: int | None = None) -> "VLLMStream":
        return VLLMStream(self.llm.llm_engine, self.llm.get_tokenizer(), self._sampling_params, max_in_flight)


class VLLMStream(EngineStream):
    """vLLM's ``LLMEngine`` fed request by request (``add_request``) and stepped (``step``) inside
    :meth:`completed`, which is where the scheduler waits; the chat template is applied as ``LLM.chat`` does."""

    def __init__(self, engine, tokenizer, sampling_params, max_in_flight: int | None = None):
        self.engine, self.tokenizer, self.sampling_params = engine, tokenizer, sampling_params
        self.max_in_flight = max_in_flight or MAX_IN_FLIGHT
        self._started: dict[str, float] = {}

    def submit(self, ticket: int, request: GenerationRequest) -> None:
        prompt = self.tokenizer.apply_chat_template(list(request.messages), tokenize=False, add_generation_prompt=True)
        self._started[str(ticket)] = time.monotonic()
        self.engine.add_request(str(ticket), prompt, self.sampling_params(**sampling_kwargs(request)))

    def completed(self, timeout: float | None) -> list[tuple[int, GenerationResult]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        done = []
        while not done and self.engine.has_unfinished_requests():
            for output in self.engine.step():
                if output.finished:
                    latency = time.monotonic() - self._started.pop(output.request_id)
                    done.append((int(output.request_id), result_from_vllm(output, latency)))
            if deadline is not None and time.monotonic() >= deadline:
                break
        return done

    def close(self) -> None:
        if self._started:
            self.engine.abort_request(list(self._started))
