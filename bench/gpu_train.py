"""GPU check of the training stage (run where a GPU is lent; results under $OUT).

A Qwen2.5-1.5B-architecture student built from its config with random weights (no hub), bf16, packed
sequences of 16k tokens, flash-attention 2 if installed else sdpa, gradient checkpointing, fused AdamW,
10 steps with the project's trainer (bench/train.py -> distillery.train, python launcher); then the same
with DeepSpeed ZeRO-3 on the one GPU (DeepSpeed's launcher) when deepspeed imports. Prints tokens/s, MFU
(6 x N x tokens/s over the card's bf16 dense peak, 989 TFLOP/s for H100/H200 SXM) and peak memory.
Target: MFU >= 35% (published SFT runs report 33-55%).

Needs a CUDA build of torch in the environment (the project's .venv has the CPU build):
    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128
    OUT=/tmp/out python bench/gpu_train.py            # ~3-5 minutes on one H100
    python bench/gpu_train.py --smoke                 # the same path on CPU with a tiny model (plumbing only)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(out: Path, name: str, extra: list[str]) -> dict | None:
    cmd = [
        sys.executable,
        str(HERE / "train.py"),
        "--workdir",
        str(out / name),
        "--out",
        str(out / f"{name}.json"),
        *extra,
    ]
    print("$", " ".join(cmd), flush=True)
    started = time.monotonic()
    with open(out / f"{name}.log", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    print(
        f"{name}: exit {proc.returncode} after {time.monotonic() - started:.0f} s (log: {out / name}.log)", flush=True
    )
    if proc.returncode:
        print((out / f"{name}.log").read_text()[-3000:])
        return None
    result = json.loads((out / f"{name}.json").read_text())
    for path in (out / name / "model", out / name / "checkpoints"):  # gigabytes of random weights
        subprocess.run(["rm", "-rf", str(path)])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny model on CPU: checks the script, not the GPU")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    out = Path(os.environ.get("OUT", "gpu_train_out"))
    out.mkdir(parents=True, exist_ok=True)

    import torch

    env = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "flash_attn": importlib.util.find_spec("flash_attn") is not None,
        "deepspeed": importlib.util.find_spec("deepspeed") is not None,
    }
    print(json.dumps(env), flush=True)
    if not torch.cuda.is_available() and not args.smoke:
        raise SystemExit("no CUDA device (a CPU build of torch?); --smoke runs the same path on CPU")
    common = (
        ["--model", "tiny", "--max-seq-len", "512", "--steps", "2", "--samples", "40", "--mean-tokens", "120"]
        if args.smoke
        else [
            "--model",
            "qwen2.5-1.5b",
            "--max-seq-len",
            "16384",
            "--steps",
            str(args.steps),
            "--samples",
            "120",
            "--mean-tokens",
            "4000",
            "--global-batch",
            "1",
            "--micro-batch",
            "1",
            "--threads",
            "8",
        ]
    )
    results = {"env": env, "plain": run(out, "plain", common)}
    if env["deepspeed"]:
        results["zero3"] = run(
            out, "zero3", [*common, "--deepspeed", str(HERE.parent / "configs/deepspeed/zero3.json")]
        )
    (out / "gpu_train.json").write_text(json.dumps(results, indent=2) + "\n")
    for name in ("plain", "zero3"):
        r = results.get(name)
        if r:
            print(
                f"{name}: {r['tokens_per_s_median']} tokens/s, MFU {r.get('mfu_6N')}, peak "
                f"{r['peak_gpu_memory_gib']} GiB, packing {r['packing_efficiency']:.2%}"
            )
    if not results["plain"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
