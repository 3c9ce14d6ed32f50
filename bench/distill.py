"""Distillation bookkeeping costs: generation-cache lookups at 1M cached entries, and the loop's own
overhead around generation (target: < 2% of generation time).

The model is a stand-in that sleeps a fixed time per batch (real generation is what is being
compared against, and it is minutes per batch on a GPU); verification time is measured apart.

    .venv/bin/python bench/distill.py [--entries 1000000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from distillery.core.artifacts import write_parquet
from distillery.core.canonical import qid
from distillery.distill.verify_and_retry import TeacherSettings, distill
from distillery.generation.backend import GenerationRequest, GenerationResult
from distillery.generation.cache import SEGMENT_SCHEMA, GenerationCache
from distillery.generation.scheduler import Feeding
from distillery.generation.streaming import open_stream
from distillery.verify import Verifier


class SleepingModel:
    """Stand-in teacher: a fixed generation time per batch, answers right half the time."""

    model_id = "sleeping-model"
    batch_size = 64  # the streaming feeder's static batch

    def __init__(self, seconds_per_batch: float):
        self.seconds_per_batch = seconds_per_batch
        self.busy_s = 0.0

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        time.sleep(self.seconds_per_batch)
        self.busy_s += self.seconds_per_batch
        return [
            GenerationResult(
                f"<think>{'x ' * 300}</think><answer>\\boxed{{{r.seed % 2}}}</answer>",
                "stop",
                50,
                300,
                self.seconds_per_batch,
            )
            for r in requests
        ]


def fill_cache(cache: GenerationCache, entries: int, per_segment: int = 50_000) -> float:
    started = time.perf_counter()
    text = "<think>" + "reasoning " * 40 + "</think><answer>42</answer>"
    for start in range(0, entries, per_segment):
        n = min(per_segment, entries - start)
        table = pa.table(
            {
                "key": [f"{i:032x}" for i in range(start, start + n)],
                "text": [text] * n,
                "finish_reason": ["stop"] * n,
                "prompt_tokens": [100] * n,
                "completion_tokens": [400] * n,
                "latency_s": [1.0] * n,
            },
            schema=SEGMENT_SCHEMA,
        )
        write_parquet(table, cache.folder / f"bench-{start // per_segment:06d}.parquet")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookup", type=int, default=4000, help="keys looked up at once (one shard's attempt)")
    parser.add_argument("--queries", type=int, default=256)
    parser.add_argument("--seconds-per-batch", type=float, default=2.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = GenerationCache(tmp, "bench-model")
        figures["fill_s"] = fill_cache(cache, args.entries)
        wanted = [f"{i:032x}" for i in range(0, args.entries, max(1, args.entries // args.lookup))][: args.lookup]
        wanted += [f"{args.entries + i:032x}" for i in range(args.lookup // 4)]  # misses too
        started = time.perf_counter()
        found = cache.lookup(wanted)
        elapsed = time.perf_counter() - started
        figures.update(lookup_s=elapsed, lookup_ms_per_request=1000 * elapsed / len(wanted), found=len(found))
        print(
            f"cache: {args.entries:,} entries in {len(list(cache.folder.glob('*.parquet')))} segments; "
            f"lookup of {len(wanted):,} keys ({len(found):,} hits): {elapsed:.2f} s = "
            f"{figures['lookup_ms_per_request']:.3f} ms per request"
        )

    queries = []
    for i in range(args.queries):
        messages = [{"role": "user", "content": f"Question {i}"}]
        queries.append({"qid": qid(messages), "category": "math", "messages": messages, "reference": {"answer": "1"}})
    teacher = TeacherSettings("bench", 512, 0.6, 0.95, max_attempts=4)
    with tempfile.TemporaryDirectory() as tmp, Verifier(processes=1) as verifier:
        verify_time = [0.0]
        score = verifier.score

        def timed_score(q, r):
            started = time.perf_counter()
            try:
                return score(q, r)
            finally:
                verify_time[0] += time.perf_counter() - started

        verifier.score = timed_score
        model = SleepingModel(args.seconds_per_batch)
        started = time.perf_counter()
        _, report = distill(
            queries,
            teacher,
            lambda: open_stream(model),
            GenerationCache(tmp, "bench"),
            verifier,
            lambda q: q["messages"],
            Feeding(flush_every=32),
        )
        wall = time.perf_counter() - started
    overhead = wall - model.busy_s  # verification runs beside generation: only what it does not hide counts
    figures.update(
        loop_wall_s=wall,
        generation_s=model.busy_s,
        verify_s=verify_time[0],
        overhead_s=overhead,
        overhead_ratio=overhead / model.busy_s,
        generated=report["generated"],
    )
    print(
        f"loop: {report['generated']} generations in {report['attempts']} attempts; wall {wall:.2f} s = generation "
        f"{model.busy_s:.2f} s + loop and unhidden verification {overhead:.3f} s (verification beside it: "
        f"{verify_time[0]:.2f} s) "
        f"({100 * overhead / model.busy_s:.2f}% of generation; target < 2%: "
        f"{'PASS' if overhead / model.busy_s < 0.02 else 'FAIL'})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
