"""The streaming scheduler against lockstep chunks on a real engine (vLLM's CPU build), and the simulator of
bench/generation_throughput.py checked against it.

The same long-tailed request set both ways (log-normal lengths as the paper's responses, scaled down; the
same prompts and seeds; every request generates exactly its drawn length: ``min_tokens = max_tokens``,
end of sequence ignored), on one engine of ``--slots`` sequences (``max_num_seqs``):
- lockstep: chunks of ``--slots`` requests, each generated to its last token before the next is sent (how
  Distillery fed engines before the scheduler);
- streaming: :func:`distillery.generation.scheduler.stream_attempts` keeping ``--in-flight`` requests at the
  engine, through the vllm backend's own stream.
Every engine step is timed and the engine's own running-sequence count (its ``vllm:num_requests_running``
gauge) read after it; the simulator's step-time model (``step_ms + per_seq_ms x running``) is fitted to
those steps by least squares, and the simulator then replays both feedings over the same lengths. Run it in
vLLM's environment:

    .venv-vllm/bin/python bench/vllm_engine.py            # ~10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from generation_throughput import (  # noqa: E402
    EngineModel,
    NoCache,
    Workload,
    lockstep_simulated,
    request_for,
    streaming,
)

from distillery.generation.backend import GenerationRequest  # noqa: E402
from distillery.generation.scheduler import Feeding, stream_attempts  # noqa: E402
from distillery.generation.streaming import EngineStream  # noqa: E402
from distillery.generation.vllm_backend import VLLMBackend, VLLMStream, sampling_kwargs  # noqa: E402


class Timed(EngineStream):
    """The engine stepped one step at a time: each step's duration and the engine's running count after it."""

    def __init__(self, inner: VLLMStream, running):
        self.inner, self.running, self.max_in_flight = inner, running, inner.max_in_flight
        self.steps: list[tuple[float, int]] = []  # (seconds, sequences running)

    def submit(self, ticket: int, request: GenerationRequest) -> None:
        self.inner.submit(ticket, request)

    def completed(self, timeout: float | None) -> list:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            start = time.perf_counter()
            done = self.inner.completed(0)  # one engine step
            self.steps.append((time.perf_counter() - start, self.running()))
            if done or (deadline is not None and time.monotonic() >= deadline) or not self.running():
                return done

    def close(self) -> None:
        self.inner.close()


def exact_length(request: GenerationRequest):
    """Sampling params that generate exactly the request's ``max_new_tokens``."""
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    kwargs = {**sampling_kwargs(request), "min_tokens": request.max_new_tokens, "ignore_eos": True, "stop": []}
    return SamplingParams(**kwargs, output_kind=RequestOutputKind.FINAL_ONLY)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "results/models/gemma3-270m"))
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--slots", type=int, default=16, help="max_num_seqs, and the lockstep chunk")
    parser.add_argument("--in-flight", type=int, default=64, help="requests outstanding when streaming")
    parser.add_argument("--mean-tokens", type=float, default=40)
    parser.add_argument("--cap", type=int, default=320)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    workload = Workload("vllm-engine", args.requests, 1, args.mean_tokens, args.cap, fail=0.0)
    drawn = request_for(workload)
    lengths = [workload.draw(drawn(i, 0).seed)[0] for i in range(args.requests)]

    def request(item: int, attempt: int) -> GenerationRequest:
        r = drawn(item, attempt)
        return GenerationRequest(r.messages, lengths[item], 0.6, 0.95, r.seed)

    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    from vllm.exceptions import VLLMValidationError

    started = time.monotonic()
    backend = VLLMBackend(
        args.model,
        dtype=args.dtype,
        max_model_len=args.cap + 64,
        max_num_seqs=args.slots,
        kv_cache_memory_bytes=2 << 30,
        enforce_eager=True,
        disable_log_stats=False,
    )
    print(f"engine loaded in {time.monotonic() - started:.0f} s", flush=True)
    llm = backend.llm

    def running() -> int:
        return int(next(m.value for m in llm.get_metrics() if m.name == "vllm:num_requests_running"))

    def stream(in_flight: int) -> Timed:
        return Timed(VLLMStream(llm, exact_length, VLLMValidationError, in_flight), running)

    # warm-up: the first steps of a fresh engine are slower (allocations)
    warm = stream(args.slots)
    for t in range(args.slots):
        warm.submit(t, GenerationRequest([{"role": "user", "content": "warm up"}], 8, 0.6, 0.95, t))
    while warm.completed(None) or warm.running():
        pass

    figures = {}
    # lockstep: chunks of `slots`, each to its last token
    old = stream(args.slots)
    start = time.monotonic()
    for first in range(0, args.requests, args.slots):
        chunk = range(first, min(first + args.slots, args.requests))
        for i in chunk:
            old.submit(i, request(i, 0))
        left = set(chunk)
        while left:
            left -= {t for t, _ in old.completed(None)}
    figures["lockstep"] = time.monotonic() - start
    # streaming: the scheduler, `in_flight` outstanding
    new = stream(args.in_flight)
    counts = Counter()
    start = time.monotonic()
    attempts = stream_attempts(args.requests, 1, request, lambda: new, NoCache(), Feeding(), counts=counts)
    figures["streaming"] = time.monotonic() - start
    generated = [a.result.completion_tokens for a in attempts]
    assert generated == lengths, "every request generates exactly its drawn length"

    tokens = sum(lengths)
    steps = np.array(old.steps + new.steps)
    busy = steps[steps[:, 1] > 0]
    per_seq, fixed = np.polyfit(busy[:, 1], busy[:, 0], 1)
    model = EngineModel(slots=args.slots, step_ms=fixed * 1000, per_seq_ms=per_seq * 1000)
    sim_old = lockstep_simulated(model, workload, args.slots)
    sim_new = streaming(model, workload, args.in_flight)
    measured = figures["lockstep"] / figures["streaming"]
    predicted = sim_old[1] / sim_new[1]
    mean_running = {
        name: float(np.mean([r for _, r in s.steps])) for name, s in (("lockstep", old), ("streaming", new))
    }
    result = {
        "requests": args.requests,
        "tokens": tokens,
        "lengths": {"mean": float(np.mean(lengths)), "p50": int(np.median(lengths)), "max": max(lengths)},
        "slots": args.slots,
        "dtype": args.dtype,
        "seconds": {k: round(v, 1) for k, v in figures.items()},
        "tok_s": {k: round(tokens / v, 1) for k, v in figures.items()},
        "mean_running": {k: round(v, 2) for k, v in mean_running.items()},
        "step_model": {"step_ms": round(model.step_ms, 2), "per_seq_ms": round(model.per_seq_ms, 3)},
        "simulated_s": {"lockstep": round(sim_old[1], 1), "streaming": round(sim_new[1], 1)},
        "measured_ratio": round(measured, 3),
        "predicted_ratio": round(predicted, 3),
        "agreement": round(predicted / measured, 3),
    }
    backend.shutdown()  # what vLLM says on its way out comes before the figures
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"vllm engine: lockstep {tokens / figures['lockstep']:.1f} tok/s, streaming "
        f"{tokens / figures['streaming']:.1f} tok/s, measured ratio {measured:.2f}, simulator predicts {predicted:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
