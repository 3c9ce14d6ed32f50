"""Training throughput of the project's trainer (TRL SFTTrainer, packing, final-turn labels) on a
randomly initialised student, and packing efficiency: real tokens / capacity of the packed sequences
(target >= 98%), beside what padded batches without packing would waste.

CPU (default): a ~19M-parameter Llama with a 32k vocabulary, 1,024-token packed sequences. On a GPU,
``--model qwen2.5-1.5b`` and ``--max-seq-len 16384``, and MFU (6 x parameters x tokens/s over the card's
bf16 peak, ``--peak-tflops``) is printed too (bench/gpu_train.py is the full GPU check).

    .venv/bin/python bench/train.py [--steps 6] [--samples 400] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import train_synthetic  # noqa: E402

from distillery.core.artifacts import read_json  # noqa: E402
from distillery.train.launch import launch, write_spec  # noqa: E402
from distillery.train.sft_data import build_dataset  # noqa: E402

H100_BF16_TFLOPS = 989.0  # dense bf16 peak of an H100/H200 SXM


def model_config(name: str, words: int):
    from transformers import LlamaConfig, Qwen2Config

    if name == "tiny":
        return LlamaConfig(
            vocab_size=32000,
            hidden_size=256,
            intermediate_size=688,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=32768,
            bos_token_id=2,
            eos_token_id=7,
            pad_token_id=0,
        )
    if name == "qwen2.5-1.5b":  # Qwen/Qwen2.5-1.5B's config.json, written out (no hub)
        return Qwen2Config(
            vocab_size=151936,
            hidden_size=1536,
            intermediate_size=8960,
            num_hidden_layers=28,
            num_attention_heads=12,
            num_key_value_heads=2,
            max_position_embeddings=32768,
            rope_theta=1000000.0,
            rms_norm_eps=1e-6,
            tie_word_embeddings=True,
            bos_token_id=2,
            eos_token_id=7,
            pad_token_id=0,
        )
    raise ValueError(name)


def train_section(args) -> dict:
    import torch
    import yaml

    schema = yaml.safe_load((Path(__file__).parents[1] / "schemas/config.schema.yaml").read_text())
    train = {k: v.get("default") for k, v in schema["properties"]["train"]["properties"].items()}
    gpu = torch.cuda.is_available()
    train.update(
        max_steps=args.steps,
        max_seq_len=args.max_seq_len,
        global_batch=args.global_batch,
        micro_batch=args.micro_batch,
        learning_rate=1e-4,
        system_prompt=None,
        bf16=gpu,
        dtype="bfloat16" if gpu else "float32",
        gradient_checkpointing=gpu,
        save_steps=10**6,
        optimizer="adamw_torch_fused" if gpu else "adamw_torch",
        threads=args.threads,
        attn_implementation="auto",
        deepspeed=args.deepspeed,
        launcher="deepspeed" if args.deepspeed else "python",
        port=29571,
    )
    return train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", choices=["tiny", "qwen2.5-1.5b"])
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--mean-tokens", type=float, default=250, help="mean response length (log-normal)")
    parser.add_argument("--max-seq-len", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--global-batch", type=int, default=2)
    parser.add_argument("--micro-batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--deepspeed", default=None, help="a DeepSpeed config (deepspeed launcher, one process)")
    parser.add_argument("--peak-tflops", type=float, default=H100_BF16_TFLOPS)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--out", default=None, help="write the result as JSON here")
    args = parser.parse_args()

    import torch

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-train-"))
    words = 1000
    config = model_config(args.model, words)
    base = train_synthetic.save_student(
        work / "base", config, words, dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32
    )
    corpus = train_synthetic.corpus(
        work / "corpus.parquet", args.samples, args.mean_tokens, max_tokens=args.max_seq_len, words=words
    )
    import pyarrow.parquet as pq

    dataset, _ = build_dataset(pq.read_table(corpus), train_synthetic.tokenizer(words), None, args.max_seq_len)
    lengths = [len(ids) for ids in dataset["input_ids"]]
    spec = write_spec(
        teacher="bench",
        corpus=str(corpus),
        base_model=str(base),
        model_dir=str(work / "model"),
        log_history=str(work / "log_history.jsonl"),
        report=str(work / "train_report.json"),
        checkpoints=str(work / "checkpoints"),
        train=train_section(args),
    )
    if launch(spec, threads=args.threads) != 0:
        raise SystemExit("training failed")
    report = read_json(work / "train_report.json")
    log = [json.loads(line) for line in (work / "log_history.jsonl").read_text().splitlines()]
    steps = [e for e in log if "loss" in e]
    rates = [e["tokens_per_s"] for e in steps if e.get("tokens_per_s")]
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        params = sum(p.numel() for p in AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(base)).parameters())
    tokens_per_s = statistics.median(rates) if rates else None
    result = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu ({args.threads} threads)",
        "model": args.model,
        "parameters": params,
        "max_seq_len": args.max_seq_len,
        "samples": report["data"]["kept"],
        "mean_sample_tokens": round(statistics.mean(lengths), 1),
        "packed_sequences": report["training_sequences"],
        "packing_efficiency": round(report["packing_efficiency"], 4),
        "padded_batches_efficiency": {b: round(train_synthetic.padded_efficiency(lengths, b), 4) for b in (4, 16)},
        "steps": report["steps"],
        "tokens_per_step": args.global_batch * args.max_seq_len,
        "tokens_per_s_median": tokens_per_s,
        "tokens_per_s_by_step": rates,
        "peak_gpu_memory_gib": report.get("peak_gpu_memory_gib"),
        "deepspeed": args.deepspeed,
    }
    if torch.cuda.is_available() and tokens_per_s:
        result["mfu_6N"] = round(6 * params * tokens_per_s / (args.peak_tflops * 1e12), 4)
    print(json.dumps(result, indent=2))
    print(
        f"packing efficiency {result['packing_efficiency']:.2%} (target >= 98%); padded batches of 16 without "
        f"packing {result['padded_batches_efficiency'][16]:.2%}; {tokens_per_s} tokens/s (median of steps 2..)"
    )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
