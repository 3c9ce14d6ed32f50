"""Any OpenAI-compatible chat server (vLLM, SGLang, `transformers serve`, a hosted API) as a generation backend.

One HTTP request per GenerationRequest (servers differ on ``n>1``: some ignore it), up to ``max_concurrency`` at
once (a continuous-batching server is only busy with many sequences in flight); transient failures (429, 5xx,
timeouts) are retried with exponential backoff and jitter so that a long generation run survives a flaky or
overloaded server. A server that cannot be reached at all (killed, restarting, its SLURM job requeued) is
waited for, up to ``server_wait_s``, however many tries that takes: a teacher server restarts in minutes
(loading DeepSeek-R1 takes that long), and the job's requests go on when it is back."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from distillery.generation.backend import GenerationRequest, GenerationResult
from distillery.generation.streaming import PerRequestStream

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 429}  # and every 5xx
MAX_BACKOFF_S = 60.0
DOWN_POLL_S = 5.0  # how often a request looks again for a server that refused the connection
LENGTH_REASONS = {"length", "max_tokens", "model_length"}
TOO_LONG = ("maximum context length", "context_length_exceeded")
# Sent when no key is configured, so that the client never falls back to OPENAI_API_KEY from the environment
# and hands a real key to a local server.
NO_KEY = "EMPTY"


class GenerationError(RuntimeError):
    """A request that failed for good: a non-retryable answer, or retries exhausted. Never carries the API key."""


def read_api_key(api_key_env: str | None) -> str:
    """The key from the variable NAMED in the config, so that configs, logs and provenance never hold the value."""
    if api_key_env is None:
        return NO_KEY
    key = os.environ.get(api_key_env)
    if not key:
        raise GenerationError(
            f"the API key variable {api_key_env} is not set (or empty) in the environment; "
            f"export {api_key_env}=... or set api_key_env to null for a server without keys"
        )
    return key


def too_long(message: str) -> bool:
    """A refusal of the prompt's length (vLLM's and OpenAI's words): that request can never succeed, unlike a
    bad parameter or a wrong model name, which would fail every request and must stop the job."""
    return any(words in message for words in TOO_LONG)


def finish_reason(reason: str | None) -> str:
    """Servers spell "ran out of tokens" differently; everything else (eos, stop string, tool call) ended on its own."""
    return "length" if reason in LENGTH_REASONS else "stop"


def with_stop_string(text: str, stop: tuple[str, ...], matched, restore: bool = False) -> str:
    """The text ending with the stop string that ended it, as every backend of ours returns it
    (``</answer>`` closes the answer the verifier reads). ``transformers serve`` keeps it already;
    vLLM's server drops it but names it in ``stop_reason``; llama.cpp's server drops it without a word:
    with ``restore`` the first stop string is put back (wrong only for a reply that hit the end of
    sequence before any stop string)."""
    if not stop or any(s and text.endswith(s) for s in stop):
        return text
    if isinstance(matched, str) and matched in stop:
        return text + matched
    return text + stop[0] if restore and matched is None else text


def message_text(message) -> str:
    """The content, with reasoning that the server split off (``reasoning_content``: vLLM/DeepSeek/SGLang;
    ``reasoning``: newer vLLM, OpenRouter) put back as ``<think>...</think>`` so that parsing sees one format."""
    content = message.content or ""
    extra = getattr(message, "model_extra", None) or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    if reasoning is None:
        reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    if reasoning and isinstance(reasoning, str):
        return f"<think>{reasoning}</think>{content}"
    return content


class OpenAIBackend:
    """Generation through an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    The client's own retries are off: this class retries, so that backoff, jitter and the retry count are ours.
    ``max_tokens_fields`` names the body fields that carry the token limit: both by default, since older servers
    read only ``max_tokens`` and ``transformers serve`` prefers ``max_completion_tokens``; OpenAI's reasoning
    models reject ``max_tokens``, so pass ``("max_completion_tokens",)`` there. ``extra_body`` is merged into every
    request (``top_k``, ``chat_template_kwargs``, ...). ``restore_stop``: the server drops the stop string without
    naming it (llama.cpp's)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        max_concurrency: int = 256,
        timeout_s: float = 600,
        max_retries: int = 6,
        backoff_s: float = 1.0,
        server_wait_s: float = 1800,
        extra_body: dict | None = None,
        max_tokens_fields: tuple[str, ...] = ("max_tokens", "max_completion_tokens"),
        restore_stop: bool = False,
    ):
        from openai import OpenAI

        self.model_id = model
        self.base_url = base_url
        self.max_concurrency = max(1, int(max_concurrency))
        self.max_retries = max_retries
        self.server_wait_s = server_wait_s
        self.backoff_s = backoff_s
        self.extra_body = dict(extra_body or {})
        self.max_tokens_fields = tuple(max_tokens_fields)
        self.restore_stop = restore_stop
        key = read_api_key(api_key_env)
        self._secret = key if key != NO_KEY else None
        self._client = OpenAI(base_url=base_url, api_key=key, timeout=timeout_s, max_retries=0)
        self._lock = threading.Lock()
        self.retries = 0  # retried attempts over this backend's life: a sign of an overloaded server

    def __repr__(self) -> str:
        return f"OpenAIBackend(base_url={self.base_url!r}, model={self.model_id!r})"

    def open_stream(self, max_in_flight: int | None = None) -> PerRequestStream:
        """``max_concurrency`` requests at the server all the time (a ``vllm serve`` node batches them)."""
        return PerRequestStream(self._complete, max_in_flight or self.max_concurrency)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        if not requests:
            return []
        pool = ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests)), thread_name_prefix="openai")
        try:
            futures = [pool.submit(self._complete, r) for r in requests]
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # after a failure, what has not started never starts

    def _body(self, request: GenerationRequest) -> dict:
        body = {
            "model": self.model_id,
            "messages": list(request.messages),
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "n": 1,
        }
        for name in self.max_tokens_fields:
            body[name] = request.max_new_tokens
        if request.stop:
            body["stop"] = list(request.stop)
        return body

    def _complete(self, request: GenerationRequest) -> GenerationResult:
        import openai

        body = self._body(request)
        failures, down_since, down_tries = 0, None, 0  # answers that were errors; the server unreachable since
        while True:
            fatal = None
            try:
                start = time.monotonic()
                response = self._client.chat.completions.create(**body, extra_body=self.extra_body or None)
                return self._result(response, request, time.monotonic() - start)
            except openai.APIStatusError as e:
                if e.status_code == 400 and too_long(str(e.message)):  # this request only: the job goes on
                    return GenerationResult.rejected(f"HTTP 400: {self._scrub(str(e.message))[:500]}")
                if not (e.status_code in RETRYABLE_STATUS or e.status_code >= 500):
                    fatal = GenerationError(
                        f"{self.model_id} at {self.base_url}: HTTP {e.status_code} "
                        f"(not retried): {self._scrub(str(e.message))}"
                    )
                error = f"HTTP {e.status_code}: {self._scrub(str(e.message))[:200]}"
                retry_after, down_since, down_tries = _retry_after(e.response), None, 0
                failures += 1
            except openai.APITimeoutError as e:  # the server is there but did not answer in time
                error, retry_after, down_since, down_tries = type(e).__name__, None, None, 0
                failures += 1
            except openai.APIConnectionError as e:  # nobody answers: wait for the server to come back
                error, retry_after = type(e).__name__, None
                down_since = time.monotonic() if down_since is None else down_since
                down_tries += 1
            if fatal is not None:
                raise fatal  # outside the handler: the client's error, which may quote the key, is not chained
            if failures > self.max_retries:
                raise GenerationError(
                    f"{self.model_id} at {self.base_url}: gave up after {failures} attempts, last error {error}"
                )
            if down_since is not None:
                down_s = time.monotonic() - down_since
                if down_s > self.server_wait_s:
                    raise GenerationError(
                        f"{self.model_id} at {self.base_url}: unreachable for {down_s:.0f} s "
                        f"(server_wait_s {self.server_wait_s:g}), last error {error}"
                    )
                delay = min(DOWN_POLL_S, self.backoff_s * 2 ** min(down_tries - 1, 10))
            else:
                delay = retry_after if retry_after is not None else self.backoff_s * 2 ** (failures - 1)
            delay = min(MAX_BACKOFF_S, delay) * random.uniform(0.5, 1.0)
            with self._lock:
                self.retries += 1
            log.warning("%s: %s, retry in %.1fs", self.model_id, error, delay)
            time.sleep(delay)

    def _result(self, response, request: GenerationRequest, latency_s: float) -> GenerationResult:
        """Missing usage (some servers omit it) counts as 0 tokens rather than failing a finished generation.
        The latency is the successful attempt's: retries and backoff are the server's health, counted apart."""
        choice = response.choices[0]
        reason = finish_reason(choice.finish_reason)
        text = message_text(choice.message)
        if reason == "stop":
            matched = (getattr(choice, "model_extra", None) or {}).get("stop_reason")
            text = with_stop_string(text, request.stop, matched, self.restore_stop)
        usage = response.usage
        return GenerationResult(
            text=text,
            finish_reason=reason,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_s=latency_s,
        )

    def _scrub(self, text: str) -> str:
        """A server may echo the key back in an error body; it must not reach an exception or a log."""
        return text.replace(self._secret, "***") if self._secret else text


def _retry_after(response) -> float | None:
    """The server's own Retry-After (seconds), when it gives one."""
    try:
        value = float(response.headers.get("retry-after"))
    except (AttributeError, TypeError, ValueError):
        return None
    return value if value >= 0 else None
