"""Which engine and dtype CPU runs should generate with: transformers against vLLM's CPU build, bfloat16 against
float32, on this CPU's own instruction set and held to AVX2 (``ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2``: torch and oneDNN behave as on an AVX2-only CPU, such as the 2-core AMD EPYC where
`make run` took 97-107 minutes in bf16).

Each case is its own process (the instruction set is fixed when torch loads; vLLM runs in .venv-vllm): the
same 16 teacher prompts of the embedded default (bench/generate.py), 48 sampled tokens at most (T 0.6, top-p
0.95), one batch; figures are completion tokens per second and the model's load time. vLLM's own kernels
choose their instruction set from the CPU, not from these variables: its AVX2 row holds only torch to AVX2.

    .venv/bin/python bench/cpu_engines.py [--json out.json]     # ~8 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
CASES = [(engine, dtype) for engine in ("transformers", "vllm") for dtype in ("bfloat16", "float32")]
PROMPTS, NEW_TOKENS = 16, 48
MARK = "cpu_engines: "  # the line of a case's figures among what its engine prints


def measure(engine: str, dtype: str, model: str) -> dict:
    """One case, in this process."""
    sys.path.insert(0, str(REPO / "bench"))
    from generate import toy_prompts

    from distillery.generation.backend import GenerationRequest

    requests = [GenerationRequest(p, NEW_TOKENS, 0.6, 0.95, seed) for seed, p in enumerate(toy_prompts(PROMPTS))]
    started = time.perf_counter()
    if engine == "vllm":
        from distillery.generation.vllm_backend import VLLMBackend

        engine_settings = {"max_model_len": 2048, "kv_cache_memory_bytes": 1 << 30, "enforce_eager": True}
        backend = VLLMBackend(model, dtype=dtype, max_num_seqs=PROMPTS, **engine_settings)
    else:
        from distillery.generation.transformers_backend import TransformersBackend

        backend = TransformersBackend.load(model, dtype=dtype, device="cpu", batch_size=PROMPTS)
    loaded = time.perf_counter()
    backend.generate(requests[:2])  # warm-up
    start = time.perf_counter()
    results = backend.generate(requests)
    seconds = time.perf_counter() - start
    tokens = sum(r.completion_tokens for r in results)
    return {"load_s": round(loaded - started, 1), "tokens": tokens, "tok_s": round(tokens / seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO / "results/models/gemma3-270m"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", nargs=2, metavar=("ENGINE", "DTYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(MARK + json.dumps(measure(*args.one, args.model)))
        return 0

    from distillery.generation.engine_python import vllm_python

    figures = {}
    for isa, env in (("native", {}), ("avx2", AVX2)):
        for engine, dtype in CASES:
            python = str(vllm_python()) if engine == "vllm" else sys.executable
            cmd = [python, __file__, "--model", args.model, "--one", engine, dtype]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, cwd=REPO)
            if proc.returncode:
                raise SystemExit(f"{engine} {dtype} {isa} failed:\n{proc.stderr[-3000:]}")
            line = next(x for x in proc.stdout.splitlines() if x.startswith(MARK))
            figures[f"{isa}/{engine}/{dtype}"] = result = json.loads(line[len(MARK) :])
            print(f"{isa:6s} {engine:12s} {dtype:8s} {result['tok_s']:6.1f} tok/s  (load {result['load_s']} s)")
    for isa in ("native", "avx2"):
        best = max((k for k in figures if k.startswith(isa)), key=lambda k: figures[k]["tok_s"])
        print(f"{isa}: fastest {best.split('/', 1)[1]} at {figures[best]['tok_s']} tok/s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
