"""Benchmark of the analysis stage: per-sample statistics of 1M samples, redrawing the figures from
them, and perplexity throughput of the local model.

What is measured
----------------
1. ``stats``: :func:`distillery.analysis.sample_stats.sample_stats` of one teacher on ``--n`` synthetic samples (default
   1,000,000): the query table (``QUERY``), every attempt (``ATTEMPT``: the accepted one per query and a
   failed one for 20% of them), the corpus (``CORPUS``, 97% of the queries) and its QA rejects (1%).
   Responses are ``<think> … </think> <answer> … </answer>`` of words drawn from the toy query set
   (``data/queries``: English, numbers, LaTeX, code); think ~40 words, answer ~8, prompt ~20
   (lognormal; ~130 Gemma tokens per response, like the toy teachers' <= 160 new tokens), built from
   20,000 distinct texts tiled. Tokens per second is the figure to scale from: the paper's responses
   average ~3,800 tokens. Token counts use the student's tokenizer: the local Gemma 3 270M's ``tokenizer.json`` when
   ``results/models/gemma3-270m`` exists (``rule local_model``), else a word-level tokenizer over the
   vocabulary (said in the output). Peak RSS is the worker process's own (``ru_maxrss``); building the
   inputs is not timed but is part of it.
2. ``figures``: the six figures drawn from those 1M rows (``distillery.analysis.figures.render``), from the
   statistics file, as a figure rule does.
3. ``baseline``: the same token counts one text at a time (``Tokenizer.encode`` per response, think,
   answer and prompt) on ``--baseline-n`` samples, extrapolated: what batching buys.
4. ``perplexity``: ``--ppl-n`` responses of mixed length (50-400 tokens) scored by the local model on
   CPU (bf16): length-bucketed batches under a budget of 1,024 tokens
   (:func:`distillery.corpora.perplexity.score_responses`)
   against fixed batches of 8 in arrival order; response tokens scored per second. Skipped, and said
   so, when the local model is absent (``--ppl-tiny`` uses a tiny random Llama instead).

Target: 1M samples' statistics in under 2 minutes on 2 cores.

    .venv/bin/python bench/analysis.py [--n 1000000] [--ppl-n 48] [--baseline-n 20000] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LOCAL_MODEL = ROOT / "results/models/gemma3-270m"
TARGET_SECONDS = 120.0
DISTINCT = 20_000


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def vocabulary(rng=None) -> list[str]:
    """The words of the toy query set (data/queries): English, numbers, LaTeX and code, as a teacher
    writes them; ``rng`` unused (the list is fixed)."""

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    words = set()
    for path in sorted((ROOT / "data/queries").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            for text in strings(record):
                words.update(text.split())
    return sorted(w for w in words if len(w) < 20 and w.isprintable() and w.isascii())


def texts(rng, vocab: list[str], mean_words: float, n: int) -> list[str]:
    lengths = np.maximum(1, rng.lognormal(np.log(mean_words), 0.5, n).astype(int))
    picks = rng.integers(0, len(vocab), lengths.sum())
    out, at = [], 0
    for length in lengths:
        out.append(" ".join(vocab[i] for i in picks[at : at + length]))
        at += length
    return out


def word_tokenizer(vocab: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(["<unk>"] + vocab)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


def synthetic(n: int, seed: int):
    """(queries, attempts, corpus, rejects, parallel qids, vocabulary) of one teacher, as Arrow tables."""
    import pyarrow as pa

    from distillery.core.schema import ATTEMPT, CORPUS, CORPUS_REJECT, QUERY

    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    think, answer, prompt = (texts(rng, vocab, m, DISTINCT) for m in (40, 8, 20))
    response = [f"<think>\n{t}\n</think>\n<answer>\n{a}\n</answer>" for t, a in zip(think, answer, strict=True)]
    pick = np.arange(n) % DISTINCT
    qids = [f"{i:032x}" for i in range(n)]
    categories = np.array(["math", "code", "science", "if", "chat", "general"])[rng.integers(0, 6, n)].tolist()
    contents = pa.array([prompt[i] for i in pick], pa.string())
    messages = pa.ListArray.from_arrays(
        pa.array(np.arange(n + 1, dtype=np.int32)),
        pa.StructArray.from_arrays([pa.array(["user"] * n), contents], names=["role", "content"]),
    )
    queries = pa.table(
        {
            "qid": qids,
            "source": pa.array(["synthetic"] * n),
            "category": categories,
            "messages": messages,
            "reference": pa.nulls(n, QUERY.field("reference").type),
            "meta": pa.array(["{}"] * n),
        },
        schema=QUERY,
    )
    resp = pa.array([response[i] for i in pick], pa.string())
    th = pa.array([think[i] for i in pick], pa.string())
    an = pa.array([answer[i] for i in pick], pa.string())
    failed = np.flatnonzero(rng.random(n) < 0.2)
    m = len(failed)
    attempts = pa.table(
        {
            "qid": pa.concat_arrays([pa.array(qids), pa.array([qids[i] for i in failed])]),
            "teacher": pa.array(["t"] * (n + m)),
            "category": categories + [categories[i] for i in failed],
            "attempt": np.concatenate([np.where(np.isin(np.arange(n), failed), 1, 0), np.zeros(m)]).astype(np.int32),
            "seed": np.zeros(n + m, np.int64),
            "key": pa.array(["k"] * (n + m)),
            "response": pa.concat_arrays([resp, pa.array(["wrong"] * m)]),
            "think": pa.concat_arrays([th, pa.nulls(m, pa.string())]),
            "answer": pa.concat_arrays([an, pa.array(["wrong"] * m)]),
            "finish_reason": pa.array(["stop"] * (n + m)),
            "prompt_tokens": np.full(n + m, 30, np.int64),
            "completion_tokens": np.full(n + m, 100, np.int64),
            "latency_s": np.zeros(n + m),
            "cached": np.zeros(n + m, bool),
            "score": np.concatenate([np.ones(n), np.zeros(m)]),
            "scorable": np.ones(n + m, bool),
            "verifier": pa.array(["v"] * (n + m)),
            "detail": pa.array([""] * (n + m)),
            "accepted": np.concatenate([np.ones(n, bool), np.zeros(m, bool)]),
        },
        schema=ATTEMPT,
    )
    outcome = rng.random(n)
    kept_idx, reject_idx = np.flatnonzero(outcome < 0.97), np.flatnonzero((outcome >= 0.97) & (outcome < 0.98))

    def corpus_rows(idx, schema, extra):
        take = pa.array(idx)
        cols = {c: queries[c].take(take) for c in QUERY.names}
        cols.update(
            teacher=pa.array(["t"] * len(idx)),
            attempt=pa.array(np.zeros(len(idx), np.int32)),
            response=resp.take(take),
            think=th.take(take),
            answer=an.take(take),
            score=pa.array(np.ones(len(idx))),
            verifier=pa.array(["v"] * len(idx)),
            prompt_tokens=pa.array(np.full(len(idx), 30)),
            completion_tokens=pa.array(np.full(len(idx), 100)),
            ppl=pa.array(rng.lognormal(1, 0.3, len(idx))),
            **extra,
        )
        return pa.table(cols, schema=schema)

    corpus = corpus_rows(kept_idx, CORPUS, {})
    rejects = corpus_rows(
        reject_idx,
        CORPUS_REJECT,
        {"reason": pa.array(["repetition"] * len(reject_idx)), "detail": pa.array(["x"] * len(reject_idx))},
    )
    parallel = pa.array([qids[i] for i in kept_idx[: int(0.9 * len(kept_idx))]])
    return queries, attempts, corpus, rejects, parallel, vocab


def tokenizer_for(vocab):
    from distillery.analysis.token_counts import load_tokenizer

    if LOCAL_MODEL.exists():
        return load_tokenizer(str(LOCAL_MODEL)), "Gemma 3 270M (local model's tokenizer.json)"
    return word_tokenizer(vocab), "word-level over the synthetic vocabulary (local model absent)"


def worker_stats(args) -> dict:
    import pyarrow.parquet as pq

    from distillery.analysis.sample_stats import sample_stats

    t0 = time.perf_counter()
    queries, attempts, corpus, rejects, parallel, vocab = synthetic(args.n, args.seed)
    build_s = time.perf_counter() - t0
    rss_inputs = peak_rss_gib()
    tokenizer, which = tokenizer_for(vocab)
    t0 = time.perf_counter()
    stats = sample_stats("t", queries, attempts, corpus, rejects, parallel, tokenizer)
    stats_s = time.perf_counter() - t0
    tokens = sum(int(pa_sum(stats[c])) for c in ("response_tokens", "prompt_tokens"))
    pq.write_table(stats, args.stats_path)
    return {
        "n": args.n,
        "tokenizer": which,
        "build_s": build_s,
        "rss_inputs_gib": rss_inputs,
        "stats_s": stats_s,
        "samples_per_s": args.n / stats_s,
        "tokens_counted": tokens,
        "tokens_per_s": tokens / stats_s,
        "mean_response_tokens": float(np.nanmean(stats["response_tokens"].to_numpy(zero_copy_only=False))),
        "peak_rss_gib": peak_rss_gib(),
    }


def pa_sum(column):
    import pyarrow.compute as pc

    return pc.sum(column).as_py() or 0


def worker_figures(args) -> dict:
    from distillery.analysis.figures.render import render
    from distillery.plan.figure_registry import FIGURES, module

    style = {
        "font_size": 8,
        "dpi": 200,
        "corpus": "parallel",
        "bin_width": 32,
        "bins": 10,
        "max_attempts_shown": 4,
        "teacher_labels": {},
        "width": 7.0,
        "height": 3.2,
    }
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, figure in FIGURES.items():
            if figure.source != "stats":
                continue
            out = types.SimpleNamespace(**{k: Path(tmp) / f"{name}.{k}" for k in ("pdf", "png", "csv")})
            t0 = time.perf_counter()
            render(module(name), [args.stats_path], ["t"], style, out)
            seconds[name] = time.perf_counter() - t0
    return {"seconds": seconds, "peak_rss_gib": peak_rss_gib()}


def worker_baseline(args) -> dict:
    queries, attempts, corpus, rejects, parallel, vocab = synthetic(args.baseline_n, args.seed)
    tokenizer, which = tokenizer_for(vocab)
    texts_ = [corpus[c].to_pylist() for c in ("response", "think", "answer")]
    prompts = [" ".join(m["content"] for m in msgs) for msgs in corpus["messages"].to_pylist()]
    t0 = time.perf_counter()
    for column in texts_ + [prompts]:
        for text in column:
            len(tokenizer.encode(text, add_special_tokens=False).ids)
    seconds = time.perf_counter() - t0
    return {"n": corpus.num_rows, "tokenizer": which, "seconds": seconds, "samples_per_s": corpus.num_rows / seconds}


def worker_perplexity(args) -> dict:
    import torch

    from distillery.corpora.perplexity import load_model, response_perplexities, score_responses

    torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(args.seed)
    if LOCAL_MODEL.exists() and not args.ppl_tiny:
        model, tokenizer = load_model(str(LOCAL_MODEL), "bfloat16", "cpu")
        which = "Gemma 3 270M (local), bf16, CPU"
    else:
        from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

        tok = word_tokenizer(vocabulary(rng))
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<unk>")
        model = LlamaForCausalLM(
            LlamaConfig(
                vocab_size=tok.get_vocab_size(),
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
            )
        ).eval()
        which = "tiny random Llama (local model absent), float32, CPU"
    vocab = vocabulary(rng)
    words = rng.integers(40, 320, args.ppl_n)  # ~50-400 tokens
    responses = [" ".join(vocab[i] for i in rng.integers(0, len(vocab), w)) for w in words]
    prompts = ["Question: " + " ".join(vocab[i] for i in rng.integers(0, len(vocab), 20)) + "\nAnswer:"] * args.ppl_n
    t0 = time.perf_counter()
    ppl, scored = score_responses(
        model, tokenizer, prompts, responses, batch_size=8, batch_tokens=1024, max_tokens=1024
    )
    bucketed_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = []
    for s in range(0, args.ppl_n, 8):
        naive += response_perplexities(
            model, tokenizer, prompts[s : s + 8], responses[s : s + 8], batch_size=8, max_tokens=1024
        )
    naive_s = time.perf_counter() - t0
    agree = max(abs(a - b) / b for a, b in zip(ppl, naive, strict=True) if a is not None)
    tokens = sum(scored)
    return {
        "model": which,
        "responses": args.ppl_n,
        "response_tokens": tokens,
        "bucketed_s": bucketed_s,
        "bucketed_tokens_per_s": tokens / bucketed_s,
        "fixed_s": naive_s,
        "fixed_tokens_per_s": tokens / naive_s,
        "max_relative_difference": agree,
        "peak_rss_gib": peak_rss_gib(),
    }


WORKERS = {
    "stats": worker_stats,
    "figures": worker_figures,
    "baseline": worker_baseline,
    "perplexity": worker_perplexity,
}


def run_worker(name: str, args) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result = f.name
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--result",
        result,
        "--n",
        str(args.n),
        "--seed",
        str(args.seed),
        "--ppl-n",
        str(args.ppl_n),
        "--baseline-n",
        str(args.baseline_n),
        "--stats-path",
        str(args.stats_path),
    ] + (["--ppl-tiny"] if args.ppl_tiny else [])
    try:
        subprocess.run(cmd, check=True, cwd=ROOT)
        return json.loads(Path(result).read_text())
    finally:
        os.unlink(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="synthetic samples (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-n", type=int, default=20_000, help="samples for the one-at-a-time baseline")
    parser.add_argument("--ppl-n", type=int, default=48, help="responses scored for perplexity (0: skip)")
    parser.add_argument("--ppl-tiny", action="store_true", help="a tiny random model instead of the local one")
    parser.add_argument("--skip-figures", action="store_true")
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stats-path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.result.write_text(json.dumps(WORKERS[args.worker](args)))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        args.stats_path = Path(tmp) / "stats.parquet"
        figures = {"stats": run_worker("stats", args)}
        s = figures["stats"]
        print(
            f"statistics of {s['n']:,} samples ({s['tokenizer']}): {s['stats_s']:.1f} s, "
            f"{s['samples_per_s']:,.0f} samples/s, {s['tokens_per_s'] / 1e6:.2f}M tokens/s "
            f"(mean response {s['mean_response_tokens']:.0f} tokens), peak RSS {s['peak_rss_gib']:.2f} GiB "
            f"(inputs alone {s['rss_inputs_gib']:.2f}); target < {TARGET_SECONDS:.0f} s: "
            f"{'PASS' if s['stats_s'] < TARGET_SECONDS else 'FAIL'}",
            flush=True,
        )
        if not args.skip_figures:
            figures["figures"] = f = run_worker("figures", args)
            print(
                "figures from those statistics: "
                + ", ".join(f"{k.split('_')[0]} {v:.1f} s" for k, v in f["seconds"].items())
                + f"; peak RSS {f['peak_rss_gib']:.2f} GiB",
                flush=True,
            )
    if args.baseline_n:
        figures["baseline"] = b = run_worker("baseline", args)
        print(
            f"one text at a time: {b['samples_per_s']:,.0f} samples/s on {b['n']:,} samples "
            f"({s['samples_per_s'] / b['samples_per_s']:.1f}x slower than the batched statistics)",
            flush=True,
        )
    if args.ppl_n:
        if not LOCAL_MODEL.exists() and not args.ppl_tiny:
            print(f"perplexity: skipped, {LOCAL_MODEL} is absent (snakemake results/models/gemma3-270m, or --ppl-tiny)")
        else:
            figures["perplexity"] = p = run_worker("perplexity", args)
            print(
                f"perplexity, {p['model']}: {p['responses']} responses, {p['response_tokens']:,} response tokens: "
                f"length-bucketed {p['bucketed_tokens_per_s']:.0f} tokens/s ({p['bucketed_s']:.1f} s), fixed "
                f"batches of 8 {p['fixed_tokens_per_s']:.0f} tokens/s ({p['fixed_s']:.1f} s); largest relative "
                f"difference {p['max_relative_difference']:.1e}; peak RSS {p['peak_rss_gib']:.2f} GiB"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
