"""vLLM's offline engine as a generation backend, for GPU nodes: one ``LLM.chat`` call for all requests, each with
its own sampling settings, so that vLLM schedules the whole list with continuous batching.

vLLM is imported inside ``__init__``: it installs only on GPU machines, and the rest of the package (and its
tests) must import without it. What is worth testing without a GPU lives in the pure functions below."""

from __future__ import annotations

import time

from distillery.core.model_resolution import resolve_model
from distillery.generation.backend import GenerationRequest, GenerationResult


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
    "length" and "abort", and an aborted request did not run out of tokens. The latency is the whole call's:
    vLLM batches every request together, and its per-request metrics are not filled in by every version."""
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
