"""n samples per problem from one model, one shard at a time, through the generation cache.

A benchmark's (problem, sample) pairs are dealt round-robin to its shards, so that every shard of a
benchmark costs about the same and a slow benchmark is spread over many jobs. Each sample has its own
seed (from the base seed, the benchmark, the problem and the sample number), so the cache key of every
sample is fixed by the model, the conversation, the sampling settings and that seed: a rerun, a
re-sharding, or a new grader or scoring never regenerates a sample.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pyarrow as pa

from distillery.core.canonical import attempt_seed
from distillery.core.prompts import build_messages
from distillery.generation.backend import GenerationRequest
from distillery.generation.cache import SEGMENT_SCHEMA, GenerationCache
from distillery.generation.scheduler import Feeding, stream_attempts
from distillery.generation.streaming import EngineStream
from distillery.plan.eval_sampling import Sampling

GENERATION = pa.schema(
    [
        ("model", pa.string()),
        ("benchmark", pa.string()),
        ("problem_id", pa.string()),
        ("sample", pa.int32()),
        ("seed", pa.int64()),
        *SEGMENT_SCHEMA,  # the cache key and the generation result (finish_reason "length" = truncated)
        ("cached", pa.bool_()),
    ]
)


def shard_pairs(num_problems: int, samples: int, shard: int, num_shards: int) -> list[tuple[int, int]]:
    """(problem index, sample number) pairs of one shard: every num_shards-th pair, problem-major, so
    that the samples of one problem sit together (batched together, they share a prompt length)."""
    pairs = [(p, s) for p in range(num_problems) for s in range(samples)]
    return pairs[shard::num_shards]


def sample_seed(base: int, benchmark: str, problem_id: str, sample: int) -> int:
    return attempt_seed(base, f"{benchmark}/{problem_id}", sample)


def generate_shard(
    problems: list[dict],
    pairs: list[tuple[int, int]],
    sampling: Sampling,
    open_stream: Callable[[], EngineStream],
    cache: GenerationCache,
    model_name: str,
    feeding: Feeding | None = None,
    progress: Callable | None = None,
) -> tuple[pa.Table, Counter]:
    """The samples of ``pairs`` (from the cache where it has them), and counts of generated / cache hits.
    Every sample not cached is streamed to the engine at once (``open_stream``, called on the first miss)."""
    messages = [build_messages(p, sampling.system_prompt) for p in problems]
    seeds = [sample_seed(sampling.seed, problems[p]["benchmark"], problems[p]["problem_id"], s) for p, s in pairs]

    def request_for(i: int, attempt: int) -> GenerationRequest:
        return GenerationRequest(
            messages[pairs[i][0]],
            sampling.max_new_tokens,
            sampling.temperature,
            sampling.top_p,
            seeds[i],
            sampling.stop,
        )

    counts: Counter = Counter()
    attempts = stream_attempts(
        len(pairs), 1, request_for, open_stream, cache, feeding or Feeding(), counts=counts, progress=progress
    )
    rows = [
        {
            "model": model_name,
            "benchmark": problems[p]["benchmark"],
            "problem_id": problems[p]["problem_id"],
            "sample": s,
            "seed": seed,
            "key": a.key,
            "text": a.result.text,
            "finish_reason": a.result.finish_reason,
            "prompt_tokens": a.result.prompt_tokens,
            "completion_tokens": a.result.completion_tokens,
            "latency_s": a.result.latency_s,
            "cached": a.cached,
        }
        for (p, s), seed, a in zip(pairs, seeds, attempts, strict=True)
    ]
    return pa.Table.from_pylist(rows, schema=GENERATION), counts
