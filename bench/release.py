"""Benchmark of reading an a-m-team release at full size: the index against holding every response.

What is measured
----------------
A synthetic release of ``--gb`` GB (default 10) in the a-m-team shape, one file per category
(``math.jsonl``, ``code.jsonl``, ...), responses of realistic length (mean ``--mean-chars`` characters,
exponentially distributed: reasoning traces are long-tailed), ~1% duplicate records planted:

1. Index build (``distillery.generation.release_index.build``, what rule ``release_index`` runs): wall
   time, and the peak RSS of the process that builds it.
2. Lookups of one distillation shard's queries (``--lookups`` qids drawn at random from the release,
   plus as many absent ones), through ``ReleaseIndex`` as a job does: records per second and peak RSS.
3. Baseline, same run: the dataset backend before the index (commit 068c221, copied below as
   ``whole_release``: every response text of the release in one dict, in every job) on a ``--baseline-gb``
   GB part of the release: time and peak RSS.

Each measurement runs in a process of its own, so that each peak RSS is its own. Targets (PASS/FAIL):
the reader (index build and lookups) under 2 GiB whatever the release's size.

    .venv/bin/python bench/release.py [--gb 10] [--baseline-gb 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CATEGORIES = ("math", "code", "science", "if", "multiturn", "other")
TARGET_RSS_GIB = 2.0
WORDS = "the of and to in is that for it as with was on be by this are or an at from which we then so".split()


def text_pool(rng: random.Random, size: int = 1 << 20) -> str:
    """A megabyte of words that responses are cut from (drawing every word would take longer than the
    benchmark)."""
    words, length = [], 0
    while length < size:
        words.append(rng.choice(WORDS))
        length += len(words[-1]) + 1
    return " ".join(words)


def record(i: int, chars: int, rng: random.Random, pool: str) -> str:
    chars = min(chars, len(pool) - 1)
    start = rng.randrange(len(pool) - chars)
    text = pool[start : start + chars]
    question = f"Question {i}: what follows from {rng.randrange(10**9)}?"
    answer = f"<think>{text}</think>\n<answer>{i}</answer>"
    info = {"source": "bench", "category": CATEGORIES[i % len(CATEGORIES)], "verify_score": 1.0, "ppl": 2.0}
    return json.dumps(
        {
            "system": "",
            "conversations": [
                {"from": "human", "value": question, "info": {}},
                {"from": "assistant", "value": answer, "info": info},
            ],
        }
    )


def write_release(folder: Path, gb: float, mean_chars: int, seed: int = 0) -> int:
    """Per-category files of ``gb`` GB in all; returns the records written."""
    rng = random.Random(seed)
    pool = text_pool(rng)
    folder.mkdir(parents=True, exist_ok=True)
    handles = {c: open(folder / f"{c}.jsonl", "w", encoding="utf-8") for c in CATEGORIES}
    written, n, last = 0, 0, None
    try:
        while written < gb * 1e9:
            line = (
                last
                if last is not None and rng.random() < 0.01
                else record(n, int(rng.expovariate(1 / mean_chars)), rng, pool)
            )
            handles[CATEGORIES[n % len(CATEGORIES)]].write(line + "\n")
            written += len(line) + 1
            last, n = line, n + 1
    finally:
        for handle in handles.values():
            handle.close()
    return n


def whole_release(paths: list[str]) -> dict[str, str]:
    """The dataset backend before the index (commit 068c221): qid -> every response text, in memory."""
    from distillery.core.canonical import qid

    roles = {"human": "user", "assistant": "assistant"}
    responses: dict[str, str] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                sample = json.loads(line)
                turns = [{"role": roles[t["from"]], "content": t["value"]} for t in sample["conversations"]]
                responses.setdefault(qid(turns[:-1]), turns[-1]["content"])
    return responses


def measured(step: str, *args: str) -> dict:
    """One step in a process of its own: its result, wall time and peak RSS."""
    proc = subprocess.run([sys.executable, __file__, "--step", step, *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{step} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def step(name: str, args: list[str]) -> None:
    start = time.monotonic()
    if name == "index":
        from distillery.generation.release_index import build

        folder, out = args
        result = build([folder], Path(out) / "index.parquet", Path(out) / "rejects.parquet")
        result = {k: result[k] for k in ("records", "indexed", "duplicates", "conflicts")}
    elif name == "lookup":
        import pyarrow.parquet as pq

        from distillery.generation.release_index import ReleaseIndex

        folder, out, n = args
        qids = pq.read_table(Path(out) / "index.parquet", columns=["qid"]).column("qid").to_pylist()
        asked = random.Random(1).sample(qids, min(int(n), len(qids))) + [f"{i:032x}" for i in range(int(n))]
        del qids
        start = time.monotonic()  # the job's part: load the index, read the asked records
        index = ReleaseIndex(Path(out) / "index.parquet", [folder])
        found = index.lookup(asked)
        result = {"asked": len(asked), "found": len(found)}
    else:
        paths = args
        result = {"responses": len(whole_release(paths))}
    result["seconds"] = time.monotonic() - start
    result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gb", type=float, default=10.0)
    ap.add_argument("--baseline-gb", type=float, default=1.0)
    ap.add_argument("--mean-chars", type=int, default=15_000)
    ap.add_argument("--lookups", type=int, default=30_000, help="one shard's queries (1.89M / 64)")
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--step", help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args()
    if args.step:
        step(args.step, rest)
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="release-bench-"))
    try:
        start = time.monotonic()
        records = write_release(work / "release", args.gb, args.mean_chars)
        size = sum(p.stat().st_size for p in (work / "release").iterdir()) / 1e9
        print(f"release: {records} records, {size:.2f} GB, written in {time.monotonic() - start:.0f} s", flush=True)
        index = measured("index", str(work / "release"), str(work))
        print(f"index: {index}", flush=True)
        lookup = measured("lookup", str(work / "release"), str(work), str(args.lookups))
        print(f"lookup: {lookup}", flush=True)
        write_release(work / "part", args.baseline_gb, args.mean_chars)
        part = sorted(str(p) for p in (work / "part").iterdir())
        part_gb = sum(os.path.getsize(p) for p in part) / 1e9
        old = measured("whole", *part)
        print(f"old backend on {part_gb:.2f} GB: {old}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    reader = max(index["peak_rss_gib"], lookup["peak_rss_gib"])
    print()
    print(f"| {size:.1f} GB release, {records} records | seconds | peak RSS | target |")
    print("| --- | ---: | ---: | --- |")
    ok = "PASS" if reader < TARGET_RSS_GIB else "FAIL"
    print(
        f"| index build ({index['indexed']} indexed, {index['duplicates']} duplicates reported) | "
        f"{index['seconds']:.0f} | {index['peak_rss_gib']:.2f} GiB | < {TARGET_RSS_GIB:.0f} GiB {ok} |"
    )
    rate = lookup["asked"] / lookup["seconds"]
    print(
        f"| lookups: {lookup['asked']} qids ({lookup['found']} found), index loaded | {lookup['seconds']:.1f} "
        f"({rate:,.0f}/s) | {lookup['peak_rss_gib']:.2f} GiB | < {TARGET_RSS_GIB:.0f} GiB {ok} |"
    )
    print(
        f"| old backend, {part_gb:.2f} GB part ({old['responses']} responses in memory) | {old['seconds']:.0f} "
        f"| {old['peak_rss_gib']:.2f} GiB | |"
    )
    print(
        f"release reader: peak RSS {reader:.2f} GiB for a {size:.1f} GB release; "
        f"old backend {old['peak_rss_gib']:.2f} GiB for {part_gb:.1f} GB"
    )


if __name__ == "__main__":
    main()
