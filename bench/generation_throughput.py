"""How busy generation keeps the engine: the old lockstep feeding against the streaming scheduler.

(a) ``--simulated``: a continuous-batching engine simulated behind the stream interface (the boundary
that cannot exist here: a GPU running vLLM), with a simulated clock, fed by the real scheduler
(:func:`distillery.generation.scheduler.stream_attempts`, verification included) and by the lockstep
feeding Distillery had before it (chunks of ``flush_every`` requests, each chunk generated, then verified,
failures retried attempt by attempt). Engine: ``--slots`` sequence slots, a decode step costing
``--step-ms`` + ``--per-seq-ms`` per active sequence; responses log-normal (mean ``--mean-tokens``,
capped), a share failing verification. Utilization = ideal makespan (every token generated at full
occupancy) / makespan. Cases: a 3.7k-query shard (the paper's queries in 512 shards), a shard of
``configs/paper.yaml`` (1.89M queries in its ``num_shards``), and an evaluation job (64 samples x 30 AIME
problems, up to 49k tokens).

(b) ``--server``: a real OpenAI-compatible server on this CPU (``transformers serve --continuous-batching``
with the local model) and one default shard through the old feeding and the new, in the same run.

(c) ``--paper``: model loads and GPU-hours of ``configs/paper.yaml`` at 1.89M queries, from the config,
before (512 shards, lockstep) and now; load times are assumptions (``LOAD_MINUTES``), printed with the figures.

    .venv/bin/python bench/generation_throughput.py --simulated
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import math
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distillery.generation.backend import GenerationRequest, GenerationResult  # noqa: E402
from distillery.generation.cache import GenerationCache  # noqa: E402
from distillery.generation.scheduler import Feeding, Verification, stream_attempts  # noqa: E402
from distillery.generation.streaming import EngineStream  # noqa: E402


@dataclass(frozen=True)
class EngineModel:
    slots: int = 256
    step_ms: float = 25.0
    per_seq_ms: float = 0.12

    def step_s(self, active: int) -> float:
        return (self.step_ms + self.per_seq_ms * active) / 1000


@dataclass(frozen=True)
class Workload:
    name: str
    items: int
    max_attempts: int
    mean_tokens: float
    cap: int
    fail: float  # share of responses failing verification
    sigma: float = 1.0

    def draw(self, seed: int) -> tuple[int, bool]:
        """The length and verdict of the response to one request: fixed by its seed, like a sampled model's."""
        rng = np.random.default_rng(seed)
        length = rng.lognormal(math.log(self.mean_tokens) - self.sigma**2 / 2, self.sigma)
        return int(min(self.cap, max(1, round(length)))), bool(rng.random() >= self.fail)


class SimulatedEngine(EngineStream):
    """A continuous-batching engine on a simulated clock: ``slots`` sequences decode one token per step,
    a finished one frees its slot for the next queued request at once. :meth:`completed` advances the
    clock to the next completion; nothing sleeps."""

    def __init__(self, model: EngineModel, workload: Workload, max_in_flight: int):
        self.model, self.workload, self.max_in_flight = model, workload, max_in_flight
        self.now = 0.0
        self.tokens = 0
        self._steps = 0  # decode steps taken so far
        self._running: list[tuple[int, int, int, bool]] = []  # heap of (finish step, ticket, length, passes)
        self._queued: deque = deque()

    def submit(self, ticket: int, request: GenerationRequest) -> None:
        length, passes = self.workload.draw(request.seed)
        self._queued.append((ticket, length, passes))
        self._admit()

    def _admit(self) -> None:
        while self._queued and len(self._running) < self.model.slots:
            ticket, length, passes = self._queued.popleft()
            heapq.heappush(self._running, (self._steps + length, ticket, length, passes))

    def completed(self, timeout: float | None) -> list[tuple[int, GenerationResult]]:
        if not self._running:
            return []
        finish = self._running[0][0]
        self.now += (finish - self._steps) * self.model.step_s(len(self._running))
        self._steps = finish
        done = []
        while self._running and self._running[0][0] == finish:
            _, ticket, length, passes = heapq.heappop(self._running)
            self.tokens += length
            done.append((ticket, GenerationResult("pass" if passes else "fail", "stop", 0, length, 0.0)))
        self._admit()
        return done

    def close(self) -> None:
        pass

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """The whole list at once, returned when its last response is done (how a chunk was fed before)."""
        for ticket, request in enumerate(requests):
            self.submit(ticket, request)
        results: dict[int, GenerationResult] = {}
        while len(results) < len(requests):
            results.update(self.completed(None))
        return [results[t] for t in range(len(requests))]

    def ideal_makespan(self) -> float:
        """Every generated token decoded at full occupancy."""
        return self.tokens / self.model.slots * self.model.step_s(self.model.slots)


class NoCache(GenerationCache):
    """The cache is not what is measured here: nothing found, nothing written."""

    def __init__(self):
        self.model_identity = "simulated"

    def lookup(self, keys):
        return {}

    def store(self, entries):
        pass


def request_for(workload: Workload):
    def make(item: int, attempt: int) -> GenerationRequest:
        seed = int.from_bytes(hashlib.blake2b(f"{workload.name}/{item}/{attempt}".encode(), digest_size=8).digest())
        return GenerationRequest([{"role": "user", "content": str(item)}], workload.cap, 0.6, 0.95, seed)

    return make


def streaming(model: EngineModel, workload: Workload, max_in_flight: int) -> tuple[float, float, int]:
    """(utilization, makespan s, generations) of the scheduler feeding the simulated engine."""
    engine = SimulatedEngine(model, workload, max_in_flight)
    counts = Counter()
    stream_attempts(
        workload.items,
        workload.max_attempts,
        request_for(workload),
        lambda: engine,
        NoCache(),
        Feeding(flush_every=64, flush_seconds=30),
        Verification(lambda items, results: [r.text == "pass" for r in results], threaded=False),
        retry=lambda passed: not passed,
        counts=counts,
        clock=lambda: engine.now,
    )
    return engine.ideal_makespan() / engine.now, engine.now, counts["generated"]


def lockstep(n_items: int, max_attempts: int, request_for, generate, retry, chunk: int) -> list[GenerationResult]:
    """The feeding before the scheduler: per attempt, the pending items in chunks of ``chunk``, each chunk
    generated to its last response before the next is sent, then verified (``retry(items, results)``: which to
    try again); the failures go to the next attempt. Returns every result."""
    pending, out = list(range(n_items)), []
    for attempt in range(max_attempts):
        failed = []
        for start in range(0, len(pending), chunk):
            items = pending[start : start + chunk]
            results = generate([request_for(i, attempt) for i in items])
            out += results
            failed += [i for i, again in zip(items, retry(items, results), strict=True) if again]
        pending = failed
    return out


def lockstep_simulated(model: EngineModel, workload: Workload, chunk: int) -> tuple[float, float, int]:
    """(utilization, makespan s, generations) of the old feeding of the simulated engine."""
    engine = SimulatedEngine(model, workload, chunk)
    failed = lambda items, results: [r.text != "pass" for r in results]  # noqa: E731
    results = lockstep(workload.items, workload.max_attempts, request_for(workload), engine.generate, failed, chunk)
    return engine.ideal_makespan() / engine.now, engine.now, len(results)


def simulated(args) -> dict:
    model = EngineModel(args.slots, args.step_ms, args.per_seq_ms)
    job = paper_job_queries()
    cases = [
        Workload("distill-shard-3.7k", args.queries, args.attempts, args.mean_tokens, args.cap, args.fail),
        Workload("distill-job", job, args.attempts, args.mean_tokens, args.cap, args.fail),
        Workload("eval-aime", 64 * 30, 1, args.eval_mean_tokens, args.eval_cap, 0.0),
    ]
    out = {}
    for case in cases:
        old = lockstep_simulated(model, case, args.chunk)
        new = streaming(model, case, args.max_in_flight)
        assert old[2] == new[2], "the same seeds must give the same generations, whatever the feeding"
        out[case.name] = {
            "items": case.items,
            "generations": new[2],
            "lockstep": {"utilization": round(old[0], 3), "makespan_h": round(old[1] / 3600, 2)},
            "streaming": {"utilization": round(new[0], 3), "makespan_h": round(new[1] / 3600, 2)},
            "speedup": round(old[1] / new[1], 2),
        }
        print(
            f"{case.name}: {case.items:,} items, {new[2]:,} generations; lockstep {old[0]:.3f} "
            f"({old[1] / 3600:.2f} h), streaming {new[0]:.3f} ({new[1] / 3600:.2f} h): {old[1] / new[1]:.1f}x faster",
            flush=True,
        )
    job = out["distill-job"]
    print(f"(below: a distill job of configs/paper.yaml, {job['items']:,} queries)")
    print(f"engine utilization: lockstep {job['lockstep']['utilization']}, streaming {job['streaming']['utilization']}")
    return out


def paper_config() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())


def paper_job_queries() -> int:
    return round(PAPER_QUERIES / paper_config()["shards"]["num_shards"])


PAPER_QUERIES = 1_890_000
# Assumed, not measured (no GPU here): minutes from job start to the first token for one engine load
# (weights from a shared file system, engine start-up, CUDA graph capture), by model.
LOAD_MINUTES = {"a-m-team/AM-Thinking-v1": 8, "Qwen/Qwen3-235B-A22B": 20, "Qwen/Qwen2.5-32B": 8}


def engine_gpus(entry: dict) -> int:
    vllm = entry.get("vllm") or {}
    return vllm.get("tensor_parallel_size", 1) * vllm.get("pipeline_parallel_size", 1)


def paper(args, utilization: dict) -> dict:
    """Model loads and GPU-hours of configs/paper.yaml: before (512 shards and 36 evaluation shards per
    student, lockstep feeding) and now (the config's shards, the streaming scheduler)."""
    config = paper_config()
    model = EngineModel(args.slots, args.step_ms, args.per_seq_ms)
    engine_tok_s = model.slots / model.step_s(model.slots)
    attempts_per_query = sum(args.fail**k for k in range(args.attempts))
    tokens = PAPER_QUERIES * attempts_per_query * args.mean_tokens
    shards = config["shards"]["num_shards"]
    out, lines = {}, []
    for entry in config["teachers"]:
        if entry["backend"] != "vllm":
            lines.append(f"  {entry['name']}: served outside the DAG ({entry['backend']}), loaded once either way")
            continue
        gpus, load_h = engine_gpus(entry), LOAD_MINUTES.get(entry["model"], 10) / 60
        generate_gpu_h = tokens / engine_tok_s / 3600 * gpus
        row = {}
        for label, loads, util in (
            ("before", args.before_shards, utilization["distill-shard-3.7k"]["lockstep"]["utilization"]),
            ("now", shards, utilization["distill-job"]["streaming"]["utilization"]),
        ):
            row[label] = {
                "loads": loads,
                "load_gpu_h": round(loads * load_h * gpus),
                "generate_gpu_h": round(generate_gpu_h / util),
            }
        out[entry["name"]] = row
        lines.append(
            f"  {entry['name']} ({gpus} GPUs/engine): loads {row['before']['loads']} -> {row['now']['loads']}; "
            f"GPU-h loading {row['before']['load_gpu_h']:,} -> {row['now']['load_gpu_h']:,}, generating "
            f"{row['before']['generate_gpu_h']:,} -> {row['now']['generate_gpu_h']:,}"
        )
    evaluate = config["evaluate"]
    students = sum(t["backend"] != "dataset" for t in config["teachers"])
    gpus = evaluate.get("gpus", 1)
    jobs_now = sum(b.get("shards", 1) for b in evaluate["benchmarks"].values())
    load_h = LOAD_MINUTES[config["train"]["base_model"]] / 60
    out["evaluation"] = {
        "students": students,
        "loads_before": students * args.before_eval_shards,
        "loads_now": students * jobs_now,
        "load_gpu_h_before": round(students * args.before_eval_shards * load_h * gpus),
        "load_gpu_h_now": round(students * jobs_now * load_h * gpus),
    }
    e = out["evaluation"]
    lines.append(
        f"  evaluation ({students} students, {gpus} GPUs/engine): loads {e['loads_before']} -> {e['loads_now']}; "
        f"GPU-h loading {e['load_gpu_h_before']:,} -> {e['load_gpu_h_now']:,}"
    )
    print(
        f"configs/paper.yaml at {PAPER_QUERIES:,} queries ({attempts_per_query:.2f} attempts/query, "
        f"{args.mean_tokens:,.0f} tokens each; engine {engine_tok_s:,.0f} tok/s at full occupancy; "
        f"load minutes assumed {LOAD_MINUTES}):"
    )
    print("\n".join(lines))
    return out


def real_shard(args) -> dict:
    """One default shard, the old lockstep feeding and the scheduler in turn with the same engine: (1) a real
    server, `transformers serve --continuous-batching` with the local model (float32: this CPU has no fast
    bf16), 16 requests in flight either way; (2) the local model in-process (the transformers backend as the
    embedded default runs it, batches of 24, but float32 here)."""
    import tempfile

    sys.path.insert(0, str(ROOT / "tests"))
    from distillery.core.artifacts import read_parquet
    from distillery.core.canonical import attempt_seed
    from distillery.distill import teachers
    from distillery.distill.verify_and_retry import distill
    from distillery.generation.openai_backend import OpenAIBackend
    from distillery.generation.streaming import open_stream
    from distillery.generation.transformers_backend import TransformersBackend
    from distillery.verify import Verifier
    from model_server import transformers_serve

    model, shard = ROOT / "results/models/gemma3-270m", ROOT / "results/queries/shards/00000-of-00002.parquet"
    if not (model.exists() and shard.exists()):
        raise SystemExit(
            f"--server needs the local model and a default shard: snakemake -c2 {model.relative_to(ROOT)} "
            f"{shard.relative_to(ROOT)}"
        )
    queries = read_parquet(shard).to_pylist()
    entry = {"name": "gemma-t06", "backend": "openai", "system_prompt": "paper", "few_shot": True, "max_new_tokens": 96,
             "temperature": 0.6, "top_p": 0.95, "max_attempts": 2, "stop": ["</answer>"]}  # fmt: skip
    settings, conversation = teachers.settings(entry, 0), teachers.conversation(entry)
    out = {"queries": len(queries)}

    def request_for(i: int, attempt: int) -> GenerationRequest:
        seed = attempt_seed(settings.seed, queries[i]["qid"], attempt)
        return GenerationRequest(conversation(queries[i]), settings.max_new_tokens, settings.temperature,
                                 settings.top_p, seed, settings.stop)  # fmt: skip

    def failed(items, results):
        verdicts = verifier.score([queries[i] for i in items], [r.text for r in results])
        return [v.scorable and not v.passed for v in verdicts]

    with tempfile.TemporaryDirectory() as tmp, Verifier(processes=1) as verifier:

        def compare(engine: str, backend, stream):
            for label in ("lockstep", "streaming"):
                started = time.perf_counter()
                if label == "lockstep":
                    results = lockstep(
                        len(queries), settings.max_attempts, request_for, backend.generate, failed, args.chunk
                    )
                    tokens = sum(r.completion_tokens for r in results)
                else:
                    cache = GenerationCache(tmp, f"{engine}-{label}")
                    table, _ = distill(queries, settings, stream, cache, verifier, conversation)
                    tokens = sum(table.column("completion_tokens").to_pylist())
                wall = time.perf_counter() - started
                out[f"{engine}_{label}"] = {
                    "wall_s": round(wall, 1),
                    "tokens": tokens,
                    "tok_per_s": round(tokens / wall, 1),
                }
                print(f"{engine}, one default shard ({len(queries)} queries), {label}: {tokens} tokens in {wall:.1f} s "
                      f"= {tokens / wall:.1f} tok/s", flush=True)  # fmt: skip
            out[f"{engine}_speedup"] = round(
                out[f"{engine}_lockstep"]["wall_s"] / out[f"{engine}_streaming"]["wall_s"], 2
            )
            print(f"{engine}: streaming {out[f'{engine}_speedup']}x the lockstep feeding's speed", flush=True)

        if not args.local_only:
            serve = ("--device", "cpu", "--dtype", "float32", "--continuous-batching")
            with transformers_serve(model.relative_to(ROOT), Path(tmp) / "serve.log", *serve, cwd=ROOT) as url:
                backend = OpenAIBackend(url, str(model.relative_to(ROOT)), max_concurrency=args.server_concurrency)
                compare("server", backend, backend.open_stream)
        local = TransformersBackend.load(str(model), dtype="float32", batch_size=24)  # feedings compared, not dtypes
        compare("local", local, lambda: open_stream(local))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--simulated", action="store_true", help="part (a) alone")
    parser.add_argument("--slots", type=int, default=EngineModel.slots)
    parser.add_argument("--step-ms", type=float, default=EngineModel.step_ms)
    parser.add_argument("--per-seq-ms", type=float, default=EngineModel.per_seq_ms)
    parser.add_argument("--queries", type=int, default=3700, help="queries per shard (the paper's 1.89M / 512)")
    parser.add_argument("--attempts", type=int, default=4)
    parser.add_argument("--mean-tokens", type=float, default=3800)
    parser.add_argument("--cap", type=int, default=32768)
    parser.add_argument("--fail", type=float, default=0.3)
    parser.add_argument("--eval-mean-tokens", type=float, default=12000)
    parser.add_argument("--eval-cap", type=int, default=49152)
    parser.add_argument("--chunk", type=int, default=64, help="the old feeding's flush_every")
    parser.add_argument("--max-in-flight", type=int, default=1024)
    parser.add_argument("--paper", action="store_true", help="part (c) alone (runs (a) for its utilizations)")
    parser.add_argument("--before-shards", type=int, default=512, help="configs/paper.yaml's shards before")
    parser.add_argument("--before-eval-shards", type=int, default=36, help="evaluation jobs per student before")
    parser.add_argument("--server", action="store_true", help="part (b) alone")
    parser.add_argument("--local-only", action="store_true", help="part (b) without the server")
    parser.add_argument("--server-concurrency", type=int, default=16, help="requests in flight at the CPU server")
    parser.add_argument("--json")
    args = parser.parse_args()
    everything = not (args.simulated or args.paper or args.server)
    figures = {}
    if everything or args.simulated or args.paper:
        figures["simulated"] = simulated(args)
    if everything or args.paper:
        figures["paper"] = paper(args, figures["simulated"])
    if everything or args.server:
        figures["server"] = real_shard(args)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
