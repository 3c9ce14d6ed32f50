"""A teacher whose responses already exist: an a-m-team release (AM-Thinking-v1-Distilled, AM-Qwen3-Distilled,
AM-DeepSeek-R1-Distilled-1.4M; also what Distillery exports), matched to requests by conversation content.

The release is read through its index (:mod:`distillery.generation.release_index`, built once by rule
``release_index``): a job holds the index's columns, not the texts, and reads only the records it is asked
for. A request is matched on the qid of its messages without the system prompt, so the teacher must be
configured without a system prompt or few-shot turns of ours; a query absent from the release gets an
empty response with finish reason ``not_in_dataset`` (verification then fails it; retrying is pointless,
so give such a teacher ``max_attempts: 1``). Response lengths are counted with a tokenizer.
"""

from __future__ import annotations

from pathlib import Path

from distillery.core.canonical import qid
from distillery.generation.backend import GenerationRequest, GenerationResult
from distillery.generation.release_index import ReleaseIndex


class DatasetBackend:
    # A generate() call reads a compressed file in one pass: as many requests a call as there are.
    batch_size = 1 << 16

    def __init__(self, paths: list[str | Path], model_id: str, index: str | Path, tokenizer: str):
        from distillery.analysis.token_counts import load_tokenizer

        self.model_id = model_id
        self.index = ReleaseIndex(index, [str(p) for p in paths])
        self.tokenizer = load_tokenizer(tokenizer)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        from distillery.analysis.token_counts import count_tokens

        keys = [qid(m for m in request.messages if m["role"] != "system") for request in requests]
        records = self.index.lookup(keys)
        texts = [records[k].response if k in records else None for k in keys]
        lengths = count_tokens(self.tokenizer, texts).to_pylist()
        return [
            GenerationResult(text, "stop", 0, n, 0.0)
            if text is not None
            else GenerationResult("", "not_in_dataset", 0, 0, 0.0)
            for text, n in zip(texts, lengths, strict=True)
        ]
