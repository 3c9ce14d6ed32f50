"""Canonical text and content hashes: the identity of a query.

A query's id must not change when a source is re-read, reordered or re-sharded, and two queries that
differ only in Unicode composition or spacing are the same query. So the id is a hash of the
*canonical* conversation, defined here once:

- each message's text is Unicode NFC-normalised, every run of Unicode whitespace (``str.split``)
  becomes one space, and leading/trailing whitespace is removed;
- the canonical content is the sequence of ``(role, text)`` pairs, joined with ASCII unit/record
  separators (which NFC text never contains once whitespace is collapsed);
- the qid is the 128-bit BLAKE2b digest of that content, in hex.

Case and punctuation are kept: they change the meaning of maths and code. Decontamination uses the
looser :func:`loose_text` instead.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UNIT_SEP = "\x1f"
RECORD_SEP = "\x1e"
QID_HEX_CHARS = 32


def canonical_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def canonical_content(messages: Iterable[dict]) -> str:
    return RECORD_SEP.join(m["role"] + UNIT_SEP + canonical_text(m["content"]) for m in messages)


def content_hash(content: str) -> str:
    return hashlib.blake2b(content.encode("utf-8", "surrogatepass"), digest_size=QID_HEX_CHARS // 2).hexdigest()


def qid(messages: Iterable[dict]) -> str:
    return content_hash(canonical_content(messages))


_NON_WORD = re.compile(r"[\W_]+")


def loose_text(text: str) -> str:
    """Text folded for contamination matching: NFKC, case-folded, punctuation and spacing removed.

    A benchmark item copied with other capitalisation, spacing, quotes or TeX spacing still matches.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", folded).split())


def shard_of(qid_hex: str, num_shards: int) -> int:
    """Shard index of a query: its hash modulo the shard count (stable, near-uniform)."""
    return int(qid_hex[:16], 16) % num_shards


def attempt_seed(base: int, qid: str, attempt: int) -> int:
    """A seed per (query, attempt): retries differ, reruns repeat."""
    digest = hashlib.blake2b(f"{base}:{qid}:{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2**31 - 1)


def first_occurrence(keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """For every row, the index of the first row with the same key (vectorised, no Python loop)."""
    encoded = pc.dictionary_encode(keys)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    return first[inverse]
