"""Generation throughput of TransformersBackend on CPU with the offline Gemma 3 270M: how much batching
and bf16 buy, so that teacher/student generation settings (batch_size, dtype) are chosen on figures.

Prompts are real teacher prompts (paper system prompt + one few-shot pair + a toy query). Figures are
completion tokens per second (tokens a caller gets; padding after an early end is not counted), each
ratio against batch 1 of the same dtype and decoding measured in the same run; "sample-full" is
the baseline of distillery's NucleusSampler: transformers' way, a full vocabulary sort for top-p and a
draw over the whole vocabulary at every step. The model is converted
into a cache folder first when absent (70–110 s, not counted). 1.5–4 minutes on 2 cores.

    .venv/bin/python bench/generate.py [--model DIR] [--new-tokens 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

import torch
import yaml

from distillery.core.prompts import FEW_SHOT, SYSTEM_PROMPT, build_messages
from distillery.distill.local_model import convert_gguf_model
from distillery.generation import transformers_backend
from distillery.generation.backend import GenerationRequest
from distillery.generation.nucleus_sampling import NucleusSampler
from distillery.generation.transformers_backend import TransformersBackend
from distillery.queries.sources import ingest

REPO = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "distillery" / "gemma3-270m"
# (dtype, decoding, batch): batch 1 first in each group, the reference for its ratios.
# "sample-full" is the baseline of our sampler: top-p by a full sort, a draw over the whole vocabulary.
RUNS = [
    ("bfloat16", "sample", 1),
    ("bfloat16", "sample", 8),
    ("bfloat16", "sample", 16),
    ("bfloat16", "sample-full", 16),
    ("bfloat16", "greedy", 1),
    ("bfloat16", "greedy", 16),
    ("float32", "sample", 1),
    ("float32", "sample", 8),
]


def toy_prompts(n: int) -> list[list[dict]]:
    """Teacher prompts for the default config's toy queries, categories interleaved."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    by_source = [ingest(source, 100_000, REPO)[0].to_pylist() for source in config["sources"]]
    queries = [q for group in zip(*by_source, strict=False) for q in group]  # round robin, to the shortest
    return [build_messages(q, SYSTEM_PROMPT, FEW_SHOT[q["category"]]) for q in (queries * n)[:n]]


def run(backend: TransformersBackend, prompts: list[list[dict]], decoding: str, new_tokens: int) -> dict:
    sampling = decoding.startswith("sample")
    # candidates=0 sends every step to the fallback: transformers' TopPLogitsWarper, a full-vocabulary draw.
    transformers_backend.NucleusSampler = partial(NucleusSampler, candidates=0 if decoding == "sample-full" else 1024)
    requests = [
        GenerationRequest(
            p, max_new_tokens=new_tokens, temperature=0.6 if sampling else 0.0, top_p=0.95 if sampling else 1.0
        )
        for p in prompts
    ]
    started = time.perf_counter()
    results = backend.generate(requests)
    elapsed = time.perf_counter() - started
    tokens = sum(r.completion_tokens for r in results)
    return {
        "seconds": elapsed,
        "completion_tokens": tokens,
        "tok_per_s": tokens / elapsed,
        "prompt_tokens": sum(r.prompt_tokens for r in results),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=CACHE, help="converted model folder (made when absent)")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not (args.model / "model.safetensors").exists():
        print(f"converting into {args.model} ...", flush=True)
        convert_gguf_model(args.model)
    backend = TransformersBackend.load(str(args.model), dtype="bfloat16", device="cpu")
    prompts = toy_prompts(max(batch for *_, batch in RUNS))
    print(
        f"{args.threads} threads, {args.new_tokens} new tokens, prompts of ~"
        f"{run(backend, prompts[:1], 'greedy', 1)['prompt_tokens']} tokens (first)",
        flush=True,
    )
    figures, started = {}, time.perf_counter()
    for dtype, decoding, batch in RUNS:
        if backend.model.dtype != getattr(torch, dtype):
            backend.model.to(getattr(torch, dtype))  # bf16 -> fp32 is exact: the same weights
        backend.batch_size = batch
        result = run(backend, prompts[:batch], decoding, args.new_tokens)
        key = f"{dtype}_{decoding}_b{batch}"
        base = figures.get(f"{dtype}_{decoding}_b1", result)
        result["vs_batch1"] = result["tok_per_s"] / base["tok_per_s"]
        if decoding == "sample-full":
            result["fast_top_p_speedup"] = figures[f"{dtype}_sample_b{batch}"]["tok_per_s"] / result["tok_per_s"]
        bf16 = figures.get(f"bfloat16_{decoding}_b{batch}")
        if dtype != "bfloat16" and bf16:
            result["vs_bf16"] = result["tok_per_s"] / bf16["tok_per_s"]
        figures[key] = result
        extra = f"  ({result['vs_bf16']:.2f}x bf16)" if "vs_bf16" in result else ""
        if "fast_top_p_speedup" in result:
            extra = f"  (our sampler is {result['fast_top_p_speedup']:.2f}x faster)"
        print(
            f"{dtype:9s} {decoding:6s} batch {batch:2d}: {result['tok_per_s']:6.1f} tok/s "
            f"({result['completion_tokens']} tokens in {result['seconds']:.1f} s; "
            f"{result['vs_batch1']:.2f}x batch 1){extra}",
            flush=True,
        )
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
