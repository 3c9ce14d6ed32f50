"""The a-m-team release format, as the releases really ship it: records of either shape, in ``.jsonl``,
``.jsonl.gz`` or ``.jsonl.zst``, read line by line with each record's place in its (decompressed) file, so
that an index can name a record and a lookup read it alone, whatever the size of the release.

Shapes (the last assistant turn is the response to everything before it; its ``info`` is the release's
metadata: ``verify_score``, ``ppl``, ``model_name``, ...):

* ``{"system": ..., "conversations": [{"from": "human"|"assistant", "value": ..., "info": {...}}, ...]}``
  (AM-Thinking-v1-Distilled, AM-Qwen3-Distilled, and Distillery's own export);
* ``{"messages": [{"role": "user"|"assistant", "content": ..., "info": {...}}, ...]}``
  (AM-DeepSeek-R1-Distilled-1.4M).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROLES = {"human": "user", "user": "user", "assistant": "assistant", "gpt": "assistant", "system": "system"}
SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst")
READ = 8 << 20


@dataclass(frozen=True)
class ReleaseRecord:
    turns: list[dict]  # the conversation before the response: {"role", "content"}, no system prompt
    response: str
    info: dict = field(default_factory=dict)  # the response's
    system: str = ""


def parse_record(sample: object) -> ReleaseRecord:
    """A decoded JSON line as a record; ValueError saying what is wrong."""
    if not isinstance(sample, dict):
        raise ValueError("not a JSON object")
    if "conversations" in sample:
        raw, role_key, text_key = sample["conversations"], "from", "value"
    elif "messages" in sample:
        raw, role_key, text_key = sample["messages"], "role", "content"
    else:
        raise ValueError("neither `conversations` nor `messages`")
    if not isinstance(raw, list) or not raw:
        raise ValueError("an empty conversation")
    turns, system = [], sample.get("system") or ""
    for i, turn in enumerate(raw):
        if not isinstance(turn, dict) or turn.get(role_key) not in ROLES or not isinstance(turn.get(text_key), str):
            raise ValueError(f"turn {i}: needs `{role_key}` (one of {sorted(ROLES)}) and a string `{text_key}`")
        role = ROLES[turn[role_key]]
        if role == "system":
            system = turn[text_key]
            continue
        turns.append({"role": role, "content": turn[text_key], "info": turn.get("info") or {}})
    if len(turns) < 2 or turns[-1]["role"] != "assistant":
        raise ValueError("the last turn is not an assistant response to a conversation")
    info = turns[-1]["info"] if isinstance(turns[-1]["info"], dict) else {}
    return ReleaseRecord(
        [{"role": t["role"], "content": t["content"]} for t in turns[:-1]], turns[-1]["content"], info, system
    )


def release_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files of a release: files as given, folders as every release file under them, sorted."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"release file {path} does not exist")
    return found


@contextlib.contextmanager
def open_binary(path: str | Path) -> Iterator[io.BufferedIOBase]:
    """The file's decompressed bytes, streamed (``.gz``, ``.zst`` by name, anything else as it is). A corrupt
    or truncated file's error, raised while the block reads, names the file (gzip's and zstd's name none:
    "Not a gzipped file", "zstd decompress error: Unknown frame descriptor"); the original is chained."""
    path = Path(path)
    corrupt: tuple[type[Exception], ...] = (gzip.BadGzipFile, EOFError, zlib.error)
    if path.name.endswith(".gz"):
        handle = gzip.open(path, "rb")
    elif path.name.endswith(".zst"):
        import zstandard

        corrupt += (zstandard.ZstdError,)
        handle = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True), READ)
    else:
        handle = open(path, "rb", buffering=READ)
    with handle:
        try:
            yield handle
        except corrupt as e:
            raise type(e)(f"{path}: {e}") from e


def compressed(path: str | Path) -> bool:
    return Path(path).name.endswith((".gz", ".zst"))


def scan(path: str | Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number, offset in the decompressed file, line) of every non-blank line."""
    offset = 0
    with open_binary(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            if line.strip():
                yield lineno, offset, line
            offset += len(line)


def read_spans(path: str | Path, spans: list[tuple[int, int]]) -> Iterator[bytes]:
    """The bytes at each (offset, length) of the decompressed file, in ascending order of offset: a seek
    each in a plain file; one pass that skips what is not asked for in a compressed one."""
    seekable = not compressed(path)
    with open_binary(path) as handle:
        position = 0
        for offset, length in sorted(spans):
            if not seekable:
                while position < offset:  # skip: decompressed but never decoded
                    position += len(handle.read(min(READ, offset - position)))
            else:
                handle.seek(offset)
            data = handle.read(length)
            position = offset + len(data)
            yield data


def decode(line: bytes, where: str) -> ReleaseRecord:
    try:
        return parse_record(json.loads(line))
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{where}: not an a-m-team record ({e})") from None
