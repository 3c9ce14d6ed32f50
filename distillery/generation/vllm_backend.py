"""vLLM's engine as a generation backend: in-process on a GPU node (envs/vllm.yaml), and on CPUs through vLLM's
CPU build (``.venv-vllm``, see :mod:`distillery.generation.engine_python`), the same code on both.

Streaming (what the scheduler uses): each request is rendered with the model's chat template and queued by
``LLM.enqueue_chat`` (vLLM's own rendering, not a raw prompt string), and the engine is stepped until some
finish, so continuous batching never runs dry between chunks. Outputs are final-only: a running sequence's
text is not rebuilt at every step. ``max_num_seqs`` bounds the sequences the engine runs at once (the rest
wait in its queue holding no KV cache), so long reasoning sequences are not preempted and recomputed over and
over. A request the engine refuses (a prompt longer than ``max_model_len``) becomes a rejected result with
the engine's reason; the others go on.

Seeds: vLLM gives each request its own generator, but the text still depends on the batch it ran in (the
same seed gave another text alone than among 32 requests, on the CPU build). A seed names a sample; it
does not reproduce one. Reruns are reproducible because the generation cache answers them.

vLLM is imported inside ``__init__``: only the vLLM environment has it, and the rest of the package (and its
tests) must import without it. The pure functions below are tested without it."""

from __future__ import annotations

import time

from distillery.core.model_resolution import resolve_model
from distillery.generation.backend import GenerationRequest, GenerationResult
from distillery.generation.streaming import EngineStream

MAX_IN_FLIGHT = 1024  # queued at the engine: enough waiting that a finished sequence is replaced at once
MAX_NUM_SEQS = 256  # run at once, unless the config says (vllm.max_num_seqs): sized to the KV cache


def sampling_kwargs(request: GenerationRequest) -> dict:
    """``SamplingParams`` keywords for one request (``output_kind`` is set where vLLM is imported). The stop
    string stays in the text, as every backend of ours returns it (``</answer>`` closes the answer the
    verifier reads)."""
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
    submission."""
    completion = output.outputs[0]
    return GenerationResult(
        text=completion.text,
        finish_reason="length" if completion.finish_reason == "length" else "stop",
        prompt_tokens=len(output.prompt_token_ids or ()),
        completion_tokens=len(completion.token_ids),
        latency_s=latency_s,
    )


def external_id(request_id: str) -> str:
    """The id outputs carry: ``enqueue_chat`` returns the engine's internal id, which is ours (a counter) plus
    a random suffix ("17-1a2b3c4d"; none with VLLM_DISABLE_REQUEST_ID_RANDOMIZATION)."""
    return request_id.rsplit("-", 1)[0]


class VLLMBackend:
    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        pipeline_parallel_size: int = 1,
        dtype: str = "auto",
        max_model_len: int | None = None,
        max_num_seqs: int = MAX_NUM_SEQS,
        **engine_kwargs,
    ):
        from vllm import LLM, SamplingParams
        from vllm.exceptions import VLLMValidationError
        from vllm.sampling_params import RequestOutputKind

        self.model_id = model
        self._params = lambda request: SamplingParams(
            **sampling_kwargs(request), output_kind=RequestOutputKind.FINAL_ONLY
        )
        self._refused = VLLMValidationError
        self.llm = LLM(
            model=resolve_model(model),
            tensor_parallel_size=tensor_parallel_size,
            pipeline_parallel_size=pipeline_parallel_size,
            dtype=dtype,
            max_model_len=max_model_len,
            max_num_seqs=max_num_seqs,
            **engine_kwargs,
        )

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Results in the order of ``requests``, through the same stream (rejections included)."""
        results: dict[int, GenerationResult] = {}
        with VLLMStream(self.llm, self._params, self._refused, max(1, len(requests))) as stream:
            for ticket, request in enumerate(requests):
                stream.submit(ticket, request)
            while len(results) < len(requests):
                results.update(stream.completed(None))
        return [results[i] for i in range(len(requests))]

    def open_stream(self, max_in_flight: int | None = None) -> "VLLMStream":
        """The job's stream: closing it shuts the engine down, while the job's log is still open for what
        vLLM says on the way out (at interpreter exit it would write to a closed file)."""
        return VLLMStream(self.llm, self._params, self._refused, max_in_flight, on_close=self.shutdown)

    def shutdown(self) -> None:
        self.llm.llm_engine.engine_core.shutdown()


class VLLMStream(EngineStream):
    """The engine fed request by request (``LLM.enqueue_chat``) and stepped inside :meth:`completed`, which is
    where the scheduler waits."""

    def __init__(self, llm, params, refused: type[Exception], max_in_flight: int | None = None, on_close=None):
        self.llm, self.params, self.refused, self.on_close = llm, params, refused, on_close
        self.max_in_flight = max_in_flight or MAX_IN_FLIGHT
        self._tickets: dict[str, tuple[int, float]] = {}  # vLLM's request id -> (ticket, submitted at)
        self._rejected: list[tuple[int, GenerationResult]] = []

    def submit(self, ticket: int, request: GenerationRequest) -> None:
        started = time.monotonic()
        try:
            (request_id,) = self.llm.enqueue_chat([list(request.messages)], [self.params(request)], use_tqdm=False)
        except self.refused as e:  # this request only (its prompt is too long): the shard goes on
            self._rejected.append((ticket, GenerationResult.rejected(f"vllm: {e}")))
            return
        self._tickets[external_id(request_id)] = (ticket, started)

    def completed(self, timeout: float | None) -> list[tuple[int, GenerationResult]]:
        done, self._rejected = self._rejected, []
        deadline = None if timeout is None else time.monotonic() + timeout
        engine = self.llm.llm_engine
        while not done and engine.has_unfinished_requests():
            for output in engine.step():
                if output.finished:
                    ticket, started = self._tickets.pop(output.request_id)
                    done.append((ticket, result_from_vllm(output, time.monotonic() - started)))
            if deadline is not None and time.monotonic() >= deadline:
                break
        return done

    def close(self) -> None:
        if self._tickets:
            self.llm.llm_engine.abort_request(list(self._tickets))
            self._tickets.clear()
        if self.on_close is not None:
            self.on_close()
