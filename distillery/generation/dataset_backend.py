"""A teacher whose responses already exist: the a-m-team release format (AM-Thinking-v1-Distilled,
AM-Qwen3-Distilled; also what Distillery exports), matched to requests by conversation content.

Each JSONL sample is ``{"system": ..., "conversations": [{"from": "human"|"assistant", "value",
"info"}, ...]}``; the last assistant turn is the response to everything before it. A request is
matched on the qid of its messages (without the system prompt), so the teacher must be configured
without a system prompt or few-shot turns of ours; a query absent from the release gets an empty
response with finish reason ``not_in_dataset`` (verification then fails it; retrying is pointless,
so give such a teacher ``max_attempts: 1``).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from distillery.core.canonical import qid
from distillery.generation.backend import GenerationRequest, GenerationResult

ROLES = {"human": "user", "user": "user", "assistant": "assistant", "gpt": "assistant"}


def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.name.endswith(".gz") else open(path, encoding="utf-8")


def read_release(paths: list[str | Path]) -> dict[str, str]:
    """qid of the conversation before the final assistant turn -> that turn's text."""
    responses: dict[str, str] = {}
    for path in map(Path, paths):
        with _open(path) as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    sample = json.loads(line)
                    turns = [{"role": ROLES[t["from"]], "content": t["value"]} for t in sample["conversations"]]
                except (json.JSONDecodeError, KeyError, TypeError) as e:
                    raise ValueError(f"{path}:{lineno}: not an a-m-team sample ({type(e).__name__}: {e})") from None
                if len(turns) < 2 or turns[-1]["role"] != "assistant":
                    raise ValueError(f"{path}:{lineno}: the last turn is not an assistant response")
                responses.setdefault(qid(turns[:-1]), turns[-1]["content"])
    return responses


class DatasetBackend:
    def __init__(self, paths: list[str | Path], model_id: str):
        self.model_id = model_id
        self.responses = read_release(paths)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        out = []
        for request in requests:
            messages = [m for m in request.messages if m["role"] != "system"]
            text = self.responses.get(qid(messages))
            if text is None:
                out.append(GenerationResult("", "not_in_dataset", 0, 0, 0.0))
            else:
                out.append(GenerationResult(text, "stop", 0, len(text.split()), 0.0))
        return out
