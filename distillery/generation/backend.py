"""The generation interface every backend implements: requests in, results out, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class GenerationRequest:
    messages: list[dict]  # [{role, content}], ending with a user turn
    max_new_tokens: int = 1024
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class GenerationResult:
    text: str
    finish_reason: str  # "stop" (end of sequence or a stop string), "length", or "rejected" (see error)
    prompt_tokens: int
    completion_tokens: int
    latency_s: float = 0.0  # wall time of the request (of its batch, for batched backends)
    error: str | None = None  # the engine refused the request (why): nothing was generated, nothing is cached

    @classmethod
    def rejected(cls, reason: str) -> "GenerationResult":
        """A request that cannot succeed as it is (a prompt longer than the model's context): an attempt
        with a reason, not a failure of the job."""
        return cls(text="", finish_reason="rejected", prompt_tokens=0, completion_tokens=0, error=reason)


class Backend(Protocol):
    model_id: str

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]: ...
