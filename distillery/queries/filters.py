"""The paper's query filters, vectorised over Arrow (RE2 regular expressions, no Python row loop).

Each filter is switched and tuned in ``config.filters.<name>`` and counted separately. A query failing
several filters is rejected under the first in :data:`FILTER_ORDER`; its ``detail`` lists all of them,
and the report counts both (``reasons``: first failure; ``flagged``: every failure).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillery.core.schema import as_queries, reject_rows

FILTER_ORDER = ("empty", "too_short", "incomplete", "unusual_unicode", "url", "table", "image")

# Characters that do not belong in a well-formed query: C0/C1 controls other than tab and newlines,
# format characters (zero-width space/joiners, bidi overrides), private-use code points, and U+FFFD,
# the replacement character left by a broken decode.
UNUSUAL_CHARS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\p{Cf}\p{Co}\x{FFFD}]"

DEFAULT_PATTERNS = {
    "url": r"(?i)\b(?:https?|ftp)://[^\s<>\"']+|\bwww\.[a-z0-9-]+\.[a-z]{2,}",
    # A Markdown separator row (|---|:--:|), an HTML table, or a LaTeX tabular.
    "table": (
        r"(?im)^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$"
        r"|<table\b|\\begin\{tabular\}"
    ),
    # Embedded images, image files, and prose that points at a picture the text does not contain.
    "image": (
        r"(?i)!\[[^\]]*\]\([^)]*\)|<img\b|\b[\w-]+\.(?:png|jpe?g|gif|bmp|svg|webp|tiff?)\b"
        r"|\b(?:in|see|shown in|from|refer to|based on) the (?:following |attached |given )?"
        r"(?:figure|image|picture|diagram|photo|graph|screenshot|illustration)s?\b"
        r"|\b(?:figure|image|picture|diagram|photo|screenshot|illustration) (?:below|above)\b"
    ),
}

# A last user turn whose last line is a sentence (six words or more) stopping on one of these words,
# or a turn ending on a comma, colon or opening bracket, was cut off.
DANGLING_END = (
    r"(?i)(?:^|\n)[ \t]*(?:\S+[ \t]+){5,}(?:a|an|the|and|or|but|of|to|with|for|as|in|on|at|by"
    r"|from|my|your|our|their|is|are|was|were|that|which|because|if|then)$|[,:;(\[{]$"
)
# A line that is only a code fence (with its language); an odd number of them leaves one open.
FENCE = r"(?m)^[ \t]*```[\w+#.-]*[ \t]*$"


class _Columns:
    """Per-query views of the messages that every filter works on."""

    def __init__(self, queries: pa.Table):
        messages = queries.column("messages").combine_chunks()
        if isinstance(messages, pa.ChunkedArray):  # an empty table combines to an empty chunked array
            messages = pa.array([], type=messages.type)
        offsets = messages.offsets.to_numpy()
        values = messages.values.slice(offsets[0], offsets[-1] - offsets[0])
        offsets = offsets - offsets[0]
        content = pc.utf8_trim_whitespace(values.field("content"))
        role = values.field("role")
        self.n = len(queries)
        single_turn = bool((np.diff(offsets) == 1).all())  # the common case: text and last turn are the turn itself
        self.text = (
            content
            if single_turn
            else pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), content), "\n")
        )
        self.text_chars = pc.utf8_length(self.text).to_numpy(zero_copy_only=False)
        turn_chars = pc.utf8_length(content).to_numpy(zero_copy_only=False)
        is_user = pc.equal(role, "user").to_numpy(zero_copy_only=False)
        row_of_turn = np.repeat(np.arange(self.n), np.diff(offsets))
        self.user_chars = np.bincount(row_of_turn, weights=turn_chars * is_user, minlength=self.n)
        self.empty_turns = np.bincount(row_of_turn, weights=turn_chars == 0, minlength=self.n)
        last = offsets[1:] - 1
        has_turns = np.diff(offsets) > 0
        last = np.where(has_turns, last, 0)
        if single_turn:
            self.last_text = content
        else:
            self.last_text = content.take(pa.array(last)) if len(content) else pa.array([""] * self.n, pa.string())
        self.last_is_user = has_turns & (is_user[last] if len(is_user) else False)


def _matches(array: pa.Array, pattern: str) -> np.ndarray:
    return pc.match_substring_regex(array, pattern).to_numpy(zero_copy_only=False)


def _first_match(array: pa.Array, pattern: str) -> list[str]:
    found = pc.extract_regex(array, f"(?P<m>{pattern})")
    return [(m or {}).get("m", "")[:80] for m in found.to_pylist()]


def _count(array: pa.Array, pattern: str) -> np.ndarray:
    return pc.count_substring_regex(array, pattern).to_numpy(zero_copy_only=False)


def evaluate(queries: pa.Table, config: dict, threads: int = 1) -> tuple[dict[str, np.ndarray], _Columns]:
    """For each enabled filter, the mask of the queries it flags; and the columns, for details.

    The regular-expression scans dominate and release the GIL, so they run side by side.
    """
    cols = _Columns(queries)
    enabled = {name for name in FILTER_ORDER if config[name]["enabled"]}
    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
        scans = {
            name: pool.submit(_matches, cols.text, config[name].get("pattern") or DEFAULT_PATTERNS[name])
            for name in ("url", "table", "image")
            if name in enabled
        }
        if "incomplete" in enabled:
            fences = pool.submit(_count, cols.text, FENCE)
            dangling = pool.submit(_matches, cols.last_text, DANGLING_END)
        if "unusual_unicode" in enabled:
            unusual = pool.submit(_count, cols.text, UNUSUAL_CHARS)

        flags: dict[str, np.ndarray] = {}
        if "empty" in enabled:
            flags["empty"] = cols.user_chars == 0
        if "too_short" in enabled:
            flags["too_short"] = cols.user_chars < config["too_short"]["min_chars"]
        if "incomplete" in enabled:
            flags["incomplete"] = (
                ~cols.last_is_user | (cols.empty_turns > 0) | (fences.result() % 2 == 1) | dangling.result()
            )
        if "unusual_unicode" in enabled:
            cols.unusual_ratio = unusual.result() / np.maximum(cols.text_chars, 1)
            flags["unusual_unicode"] = cols.unusual_ratio > config["unusual_unicode"]["max_ratio"]
        flags.update({name: scan.result() for name, scan in scans.items()})
    return flags, cols


def _details(name: str, rows: np.ndarray, cols: _Columns, config: dict) -> list[str]:
    if name in ("url", "table", "image"):
        subset = cols.text.take(pa.array(rows))
        return [f"{name}: {m!r}" for m in _first_match(subset, config[name].get("pattern") or DEFAULT_PATTERNS[name])]
    if name == "unusual_unicode":
        limit = config["unusual_unicode"]["max_ratio"]
        return [f"unusual_unicode: ratio {cols.unusual_ratio[r]:.3f} > {limit}" for r in rows]
    if name == "too_short":
        return [
            f"too_short: {int(cols.user_chars[r])} user characters < {config['too_short']['min_chars']}" for r in rows
        ]
    if name == "incomplete":
        tails = cols.last_text.take(pa.array(rows)).to_pylist()
        return [f"incomplete: ends with {t[-40:]!r}" for t in tails]
    return [name] * len(rows)


def apply_filters(queries: pa.Table, config: dict, threads: int = 1) -> tuple[pa.Table, pa.Table, dict]:
    """(kept, rejects, report)."""
    queries = as_queries(queries)
    flags, cols = evaluate(queries, config, threads)
    reason = np.full(len(queries), "", dtype=object)
    for name in reversed([n for n in FILTER_ORDER if n in flags]):  # the first failing filter wins
        reason[flags[name]] = name
    rejected = np.flatnonzero(reason != "")

    per_row: dict[int, list[str]] = {int(r): [] for r in rejected}
    for name in FILTER_ORDER:
        if name in flags:
            rows = np.flatnonzero(flags[name])
            for r, d in zip(rows, _details(name, rows, cols, config), strict=True):
                per_row[int(r)].append(d)
    rejects = reject_rows(
        queries.take(pa.array(rejected, pa.int64())),
        list(reason[rejected]),
        ["; ".join(per_row[int(r)]) for r in rejected],
    )
    kept = queries.filter(pa.array(reason == ""))
    report = {
        "rows_in": len(queries),
        "kept": len(kept),
        "rejected": len(rejects),
        "reasons": {k: v for k, v in sorted(Counter(reason[rejected]).items())},
        "flagged": {name: int(mask.sum()) for name, mask in flags.items()},
        "disabled": [name for name in FILTER_ORDER if name not in flags],
    }
    return kept, rejects, report
