"""Reading query sources (JSONL, Parquet, Hugging Face datasets) into the normalised query schema.

A source entry of the config names its file or dataset, its category and a field mapping from the
source's columns to ours. Each row becomes one query or one reject with its row number and reason;
nothing is dropped silently (``rows_read == kept + rejected``).
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillery.core.canonical import qid
from distillery.core.release_records import SUFFIXES as JSONL_SUFFIXES
from distillery.core.release_records import open_binary, parse_record
from distillery.core.schema import INGEST_REJECT, QUERY, TESTTYPE_ALIASES

CONVERSATION_FIELDS = ("prompt", "messages", "conversations", "turns")

# ShareGPT and OpenAI speaker names, mapped onto ours.
ROLE_ALIASES = {
    "system": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "model": "assistant",
    "bot": "assistant",
}


# Why a row is rejected: every reason any ingest path gives, so that the README's list (generated from
# this, see tests/test_bad_input.py) and the rejects files always mean the same.
REJECT_REASONS = {
    "invalid_utf8": "the line (or a Parquet string) is not UTF-8",
    "invalid_json": "the line is not JSON (or nested too deeply to parse)",
    "not_an_object": "the line is JSON but not an object (a list, string or number)",
    "lone_surrogate": "a `\\uD800`-`\\uDFFF` escape without its other half (text that cannot be stored as UTF-8)",
    "not_a_release_record": "`format: release`: not a conversation ending in an assistant response",
    "bad_release_info": "`format: release`: the response's test_case or instruction_constrain is not JSON",
    "missing_field": "the mapped conversation field (prompt, messages, conversations or turns) is absent or null",
    "bad_message": "a messages/conversations entry is not an object with a role and a text",
    "unknown_role": "a speaker that is none of system, user (human) or assistant (gpt, model, bot)",
    "bad_type": "a field of the wrong type, e.g. text that is a number, or a null part of a content list",
    "non_text_content": "a content part that is not text (an image, audio)",
    "no_user_turn": "the conversation has no user message",
    "too_long": "all turns together are longer than ingest.max_chars",
    "bad_tests": "tests that are not a list of {input, output} with a known test type",
    "bad_kwargs": "IFEval kwargs that are not a list of objects, one per instruction id",
}


class RowError(Exception):
    """A row that cannot become a query; ``reason`` is one of :data:`REJECT_REASONS`."""

    def __init__(self, reason: str, detail: str):
        if reason not in REJECT_REASONS:
            raise ValueError(f"undocumented reject reason {reason!r}: add it to REJECT_REASONS")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SourceError(Exception):
    """The source as a whole is unusable (missing file, mapping that matches no row)."""


@dataclass(frozen=True)
class RawRow:
    row: int
    record: dict | None  # None when the row could not be decoded
    raw: str | None = None
    error: RowError | None = None


# --------------------------------------------------------------------------- reading


def read_rows(source: dict, base_dir: str | Path = ".") -> Iterator[RawRow]:
    """Rows of a source, numbered: JSONL line number (1-based), or table row index (0-based)."""
    if "path" in source:
        path = Path(base_dir, source["path"])
        where = f"source {source['name']!r}: {path}"
        if not path.exists():
            raise SourceError(f"source {source['name']!r}: file not found: {path}")
        if path.suffix == ".parquet":
            yield from _read_parquet(path, where)
        elif path.name.endswith(JSONL_SUFFIXES):
            yield from _read_jsonl(path, where)
        else:
            raise SourceError(f"{where}: expected .jsonl(.gz|.zst) or .parquet")
    else:
        yield from _read_hf(source["name"], source["hf"])


SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json(text: str) -> Any:
    """``json.loads`` for a source's text: a document nested deeper than the parser's stack is as unreadable
    as a malformed one (JSONDecodeError), and text with half a surrogate pair could not be stored (RowError)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply to parse", text, 0) from None
    if SURROGATE_ESCAPE.search(text):  # mostly emoji escaped as pairs
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as e:
            raise RowError("lone_surrogate", str(e)) from None
    return value


# A JSONL file must be UTF-8. Others are told by a byte-order mark, or (JSON starts with an ASCII
# character) by the NUL bytes of the first character: RFC 4627, section 3.
BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32-LE"),  # before UTF-16-LE, whose mark starts it
    (codecs.BOM_UTF32_BE, "UTF-32-BE"),
    (codecs.BOM_UTF16_LE, "UTF-16-LE"),
    (codecs.BOM_UTF16_BE, "UTF-16-BE"),
)
NUL_PATTERNS = (
    (b"\0\0\0", 0, "UTF-32-BE"),
    (b"\0\0\0", 1, "UTF-32-LE"),
    (b"\0", 0, "UTF-16-BE"),
    (b"\0", 1, "UTF-16-LE"),
)
SNIFF_BYTES = 1 << 16  # the start that tells a file not UTF-8 from a UTF-8 file with a few bad lines


def _foreign_encoding(start: bytes) -> str | None:
    for bom, encoding in BOMS:
        if start.startswith(bom):
            return f"{encoding} (by its byte-order mark)"
    for nuls, at, encoding in NUL_PATTERNS:
        if start[at : at + len(nuls)] == nuls:
            return f"{encoding} (by the NUL bytes of its first character)"
    return None


def _check_encoding(head: list[tuple[int, bytes]], where: str) -> None:
    """A file that is not UTF-8 is one error, not a reject per line (whose count would not even be
    the file's): another encoding's mark, or a start mostly undecodable. A few bad lines in a UTF-8
    file are row rejects."""
    found = _foreign_encoding(b"".join(line for _, line in head)[:4])
    if found:
        raise SourceError(f"{where}: the file is {found}; JSONL must be UTF-8 (convert it, e.g. with iconv)")
    lines = [(lineno, line) for lineno, line in head if line.strip()]
    bad = []
    for lineno, line in lines:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as e:
            bad.append((lineno, e))
    if 2 * len(bad) > len(lines):
        lineno, e = bad[0]
        raise SourceError(
            f"{where}: the file is not UTF-8: {len(bad)} of its first {len(lines)} lines are not "
            f"(line {lineno}: byte 0x{e.object[e.start]:02X} at column {e.start + 1}); JSONL must be UTF-8 (convert it)"
        )


def _read_jsonl(path: Path, where: str) -> Iterator[RawRow]:
    errors: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error)  # gzip's, and I/O's
    if path.name.endswith(".zst"):
        import zstandard

        errors += (zstandard.ZstdError,)
    lineno = 0
    try:
        with open_binary(path) as f:
            lines = enumerate(f, start=1)
            head, size = [], 0
            for lineno, line in lines:
                head.append((lineno, line))
                size += len(line)
                if size >= SNIFF_BYTES:
                    break
            _check_encoding(head, where)
            if head and head[0][1].startswith(codecs.BOM_UTF8):
                head[0] = (1, head[0][1][len(codecs.BOM_UTF8) :])
            for lineno, line in itertools.chain(head, lines):
                if line.strip():
                    yield _jsonl_row(path, lineno, line)
    except errors as e:  # none of them names the file
        raise SourceError(f"{where}: cannot read the file after {lineno} lines ({type(e).__name__}: {e})") from e


def _jsonl_row(path: Path, lineno: int, line: bytes) -> RawRow:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        error = RowError("invalid_utf8", f"{path}:{lineno}: {e}")
        return RawRow(lineno, None, line.decode("utf-8", "backslashreplace"), error)
    try:
        record = parse_json(text)
    except json.JSONDecodeError as e:
        return RawRow(lineno, None, text, RowError("invalid_json", f"{path}:{lineno}: {e}"))
    except RowError as e:
        return RawRow(lineno, None, text, RowError(e.reason, f"{path}:{lineno}: {e.detail}"))
    if not isinstance(record, dict):
        error = RowError("not_an_object", f"{path}:{lineno}: a JSON {type(record).__name__}")
        return RawRow(lineno, None, text, error)
    return RawRow(lineno, record)


def _read_parquet(path: Path, where: str) -> Iterator[RawRow]:
    row = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            yield from _parquet_rows(path, batch, row)
            row += batch.num_rows
    except (pa.ArrowException, OSError) as e:  # Arrow's errors know no file name
        raise SourceError(f"{where}: cannot read the Parquet file after {row} rows ({type(e).__name__}: {e})") from e


def _parquet_rows(path: Path, batch: pa.RecordBatch, first: int) -> Iterator[RawRow]:
    try:
        records = batch.to_pylist()
    except UnicodeDecodeError:  # Arrow checks that strings are UTF-8 only when they are read: find the rows
        yield from (_parquet_row(path, batch, i, first + i) for i in range(batch.num_rows))
        return
    yield from (RawRow(first + i, record) for i, record in enumerate(records))


def _parquet_row(path: Path, batch: pa.RecordBatch, i: int, row: int) -> RawRow:
    record, bad = {}, []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        try:
            record[name] = column[i].as_py()
        except UnicodeDecodeError:
            bad.append(name)
            record[name] = _undecodable(column, i)
    if not bad:
        return RawRow(row, record)
    error = RowError("invalid_utf8", f"{path} row {row}: column(s) {', '.join(bad)} not UTF-8")
    return RawRow(row, None, json.dumps(_jsonable(record), ensure_ascii=False), error)


def _undecodable(column: pa.Array, i: int) -> str | None:
    """A string column's bytes as text, with the bad ones escaped; nested columns are left out."""
    binary = {pa.string(): pa.binary(), pa.large_string(): pa.large_binary()}.get(column.type)
    return None if binary is None else column[i : i + 1].view(binary)[0].as_py().decode("utf-8", "backslashreplace")


def _read_hf(name: str, spec: dict) -> Iterator[RawRow]:
    """A Hugging Face dataset (hub id, or a local dataset folder); needs the hub unless cached."""
    import datasets

    try:
        ds = datasets.load_dataset(
            spec["id"], name=spec.get("config"), split=spec.get("split", "train"), revision=spec.get("revision")
        )
    except Exception as e:  # the hub raises many kinds; all mean the same to the user
        raise SourceError(
            f"source {name!r}: cannot load Hugging Face dataset {spec['id']!r} "
            f"({type(e).__name__}: {e}); is the hub reachable, or the dataset cached?"
        ) from e
    for row, record in enumerate(ds):
        yield RawRow(row, record)


# --------------------------------------------------------------------------- mapping


MISSING = object()


def lookup(record: dict, path: str) -> Any:
    """Dotted-path lookup (``metadata.func_name``); JSON strings along the way are decoded."""
    value: Any = record
    for key in path.split("."):
        if isinstance(value, str):
            try:
                value = parse_json(value)
            except json.JSONDecodeError:
                return MISSING
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def _field(record: dict, fields: dict, name: str, required: bool = False) -> Any:
    column = fields.get(name)
    if column is None:
        return None
    value = lookup(record, column)
    if value is MISSING or value is None:
        if required:
            raise RowError("missing_field", f"mapped field {name!r} (column {column!r}) is absent")
        return None
    return value


def _text(value: Any, what: str) -> str:
    """The text as the source wrote it: anything else is a reject, never its ``str()``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI content parts
        return "".join(_part(part, f"{what} part {i}") for i, part in enumerate(value))
    raise RowError("bad_type", f"{what}: expected text, got {type(value).__name__}")


def _part(part: Any, what: str) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        raise RowError("bad_type", f"{what}: expected text or a text part, got {type(part).__name__}")
    if part.get("type") != "text":
        raise RowError("non_text_content", f"{what}: content part of type {part.get('type')!r}")
    if not isinstance(part.get("text"), str):
        raise RowError("bad_type", f"{what}: a text part whose text is {type(part.get('text')).__name__}")
    return part["text"]


def _role(raw: Any, what: str) -> str:
    role = ROLE_ALIASES.get(str(raw).lower())
    if role is None:
        raise RowError("unknown_role", f"{what}: role {raw!r}")
    return role


def _messages(record: dict, fields: dict) -> tuple[list[dict], dict]:
    """The conversation up to its last user turn, and notes about what was changed."""
    notes: dict = {}
    kind = next(k for k in CONVERSATION_FIELDS if k in fields)
    value = _field(record, fields, kind, required=True)
    if kind == "prompt":
        messages = [{"role": "user", "content": _text(value, "prompt")}]
    elif kind == "turns":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise RowError("bad_type", f"turns: expected a list, got {type(value).__name__}")
        messages = [{"role": "user", "content": _text(t, f"turns[{i}]")} for i, t in enumerate(value)]
    else:
        role_key, text_key = ("role", "content") if kind == "messages" else ("from", "value")
        if not isinstance(value, list):
            raise RowError("bad_type", f"{kind}: expected a list, got {type(value).__name__}")
        messages = []
        for i, m in enumerate(value):
            if not isinstance(m, dict) or role_key not in m or text_key not in m:
                raise RowError("bad_message", f"{kind}[{i}]: needs {role_key!r} and {text_key!r}")
            messages.append({"role": _role(m[role_key], f"{kind}[{i}]"), "content": _text(m[text_key], f"{kind}[{i}]")})
    system = _field(record, fields, "system")
    if system is not None and _text(system, "system").strip():
        messages.insert(0, {"role": "system", "content": _text(system, "system")})
    # The teacher writes the final reply: a dialogue that already ends with one is cut back to its
    # last user turn (ShareGPT dumps are complete dialogues).
    dropped = 0
    while messages and messages[-1]["role"] == "assistant":
        messages.pop()
        dropped += 1
    if dropped:
        notes["dropped_trailing_assistant_turns"] = dropped
    if not any(m["role"] == "user" for m in messages):
        raise RowError("no_user_turn", f"{kind}: no user message")
    return messages, notes


def _letter(i: int) -> str:
    return chr(ord("A") + i)


def _options(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, dict):  # {"A": "...", "B": "..."}
        value = [value[k] for k in sorted(value)]
    if not isinstance(value, list):
        raise RowError("bad_type", f"options: expected a list, got {type(value).__name__}")
    for i, v in enumerate(value):
        if not isinstance(v, (str, int, float)):
            raise RowError("bad_type", f"options[{i}]: expected text or a number, got {type(v).__name__}")
    return [str(v) for v in value]


def normalize_tests(value: Any, default_type: str | None) -> list[dict] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = parse_json(value)
        except json.JSONDecodeError as e:
            raise RowError("bad_tests", f"tests: not JSON: {e}") from None
    if not isinstance(value, list):
        raise RowError("bad_tests", f"tests: expected a list, got {type(value).__name__}")
    tests = []
    for i, t in enumerate(value):
        if not isinstance(t, dict) or "input" not in t or "output" not in t:
            raise RowError("bad_tests", f"tests[{i}]: needs 'input' and 'output'")
        declared = t.get("testtype") or t.get("type") or default_type
        testtype = TESTTYPE_ALIASES.get(str(declared).lower())
        if testtype is None:
            raise RowError("bad_tests", f"tests[{i}]: test type {declared!r} (functional or stdin)")
        as_text = [v if isinstance(v, str) else json.dumps(v) for v in (t["input"], t["output"])]
        tests.append({"input": as_text[0], "output": as_text[1], "testtype": testtype})
    return tests


def _kwargs(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = parse_json(value)
        except json.JSONDecodeError as e:
            raise RowError("bad_kwargs", f"kwargs: not JSON: {e}") from None
    if not isinstance(value, list) or not all(kw is None or isinstance(kw, dict) for kw in value):
        raise RowError("bad_kwargs", "kwargs: expected a list of objects, one per instruction")
    # IFEval dumps carry null for the arguments an instruction does not take.
    return json.dumps([{k: v for k, v in (kw or {}).items() if v is not None} for kw in value], sort_keys=True)


def _string_list(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise RowError("bad_type", f"{what}: expected a list, got {type(value).__name__}")
    for i, v in enumerate(value):
        if not isinstance(v, str):
            raise RowError("bad_type", f"{what}[{i}]: expected text, got {type(v).__name__}")
    return value


def _solution(value: Any) -> str | None:
    """A reference program; a source's list of solutions gives its first."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise RowError("bad_type", f"solution: expected a program (text), got {type(value).__name__}")
    return value


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# An a-m-team release record (format: release), once flattened by :func:`release_query`.
RELEASE_FIELDS = {
    "conversations": "conversations",
    "answer": "answer",
    "tests": "tests",
    "test_type": "test_type",
    "fn_name": "fn_name",
    "instruction_id_list": "instruction_id_list",
    "kwargs": "kwargs",
    "meta": ["release"],
}
RELEASE_META = ("source", "category", "verify_score", "ppl", "model_name")


def _decoded(value: Any, what: str) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return parse_json(value)
        except json.JSONDecodeError as e:
            raise RowError("bad_release_info", f"{what}: not JSON: {e}") from None
    return value


def release_query(record: dict) -> dict:
    """A release record (either shape) as the flat columns of :data:`RELEASE_FIELDS`: the turns before the
    response, and the response's ``info`` (ground truth, test cases, instruction constraints; its own
    verdict and perplexity kept in the query's meta, to compare ours with)."""
    try:
        released = parse_record(record)
    except ValueError as e:
        raise RowError("not_a_release_record", str(e)) from None
    info = released.info
    flat = {
        "conversations": [{"from": t["role"], "value": t["content"]} for t in released.turns],
        "answer": info.get("ground_truth", info.get("reference_answer")),
        "release": {k: info[k] for k in RELEASE_META if k in info},
    }
    tests = _decoded(info.get("test_case"), "test_case")
    if isinstance(tests, dict) and "tests" in tests:  # what Distillery exports
        flat.update(tests=tests["tests"], fn_name=tests.get("fn_name"))
    elif isinstance(tests, dict) and "inputs" in tests and "outputs" in tests:  # APPS/TACO style
        flat["tests"] = [{"input": i, "output": o} for i, o in zip(tests["inputs"], tests["outputs"], strict=False)]
        flat["fn_name"] = tests.get("fn_name")
        flat["test_type"] = "functional" if tests.get("fn_name") else "stdin"
    elif tests is not None:
        flat["tests"] = tests
    constraint = _decoded(info.get("instruction_constrain"), "instruction_constrain")
    if isinstance(constraint, dict):
        flat.update(instruction_id_list=constraint.get("instruction_id_list"), kwargs=constraint.get("kwargs"))
    return flat


def normalize_record(record: dict, source: dict, row: int, max_chars: int) -> dict:
    """One source row as a query (``schema.QUERY``), or :class:`RowError`."""
    if source.get("format") == "release":
        record, fields = release_query(record), RELEASE_FIELDS
    else:
        fields = source["fields"]
    messages, notes = _messages(record, fields)

    options = _options(_field(record, fields, "options"))
    starter_code = _field(record, fields, "starter_code")
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    if options:
        listed = "\n".join(f"{_letter(i)}. {o}" for i, o in enumerate(options))
        messages[last_user]["content"] += "\n\n" + listed
    if starter_code:  # LeetCode's ends in the empty body's indentation: the block ends at the signature
        messages[last_user]["content"] += f"\n\n```python\n{_text(starter_code, 'starter_code').rstrip()}\n```"

    size = sum(len(m["content"]) for m in messages)
    if size > max_chars:
        raise RowError("too_long", f"{size} characters > ingest.max_chars={max_chars}")

    answer = _field(record, fields, "answer")
    if isinstance(answer, int) and options and 0 <= answer < len(options):
        answer = _letter(answer)
    fn_name = _field(record, fields, "fn_name")
    reference = {
        "answer": None if answer is None else str(answer),
        "options": options,
        "tests": normalize_tests(_field(record, fields, "tests"), _field(record, fields, "test_type")),
        "fn_name": None if fn_name is None else str(fn_name),
        "instruction_id_list": _string_list(_field(record, fields, "instruction_id_list"), "instruction_id_list"),
        "kwargs": _kwargs(_field(record, fields, "kwargs")),
        "solution": _solution(_field(record, fields, "solution")),
    }
    if reference["instruction_id_list"] is not None and reference["kwargs"] is not None:
        n_ids, n_kwargs = len(reference["instruction_id_list"]), len(json.loads(reference["kwargs"]))
        if n_ids != n_kwargs:
            raise RowError("bad_kwargs", f"{n_ids} instruction ids but {n_kwargs} kwargs entries")

    meta = {"source_id": _field(record, fields, "id"), "row": row, **notes}
    for column in fields.get("meta", []):
        value = lookup(record, column)
        if value is not MISSING:
            meta[column] = _jsonable(value)
    return {
        "qid": qid(messages),
        "source": source["name"],
        "category": source["category"],
        "messages": messages,
        "reference": reference,
        "meta": json.dumps(_jsonable(meta), ensure_ascii=False, sort_keys=True),
    }


# --------------------------------------------------------------------------- ingest


BATCH_ROWS = 50_000


def ingest_batches(
    source: dict, max_chars: int, report: dict, base_dir: str | Path = ".", progress=None, batch_rows: int = BATCH_ROWS
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Normalise one source as (queries, rejects) batches, so that a big source never sits in
    memory as Python objects; ``report`` (see :func:`new_report`) is filled in as rows go by."""
    kept: list[dict] = []
    rejects: list[dict] = []
    first_reject = None
    rows = read_rows(source, base_dir)
    if progress is not None:
        rows = progress(rows)
    for raw in rows:
        error = raw.error
        if error is None:
            try:
                kept.append(normalize_record(raw.record, source, raw.row, max_chars))
                report["kept"] += 1
            except RowError as e:
                error = e
        if error is not None:
            report["reasons"][error.reason] = report["reasons"].get(error.reason, 0) + 1
            report["rejected"] += 1
            if first_reject is None:
                first_reject = (raw.row, error)
            record = raw.raw if raw.record is None else json.dumps(_jsonable(raw.record), ensure_ascii=False)
            rejects.append(
                {
                    "source": source["name"],
                    "row": raw.row,
                    "reason": error.reason,
                    "detail": error.detail,
                    "record": record,
                }
            )
        report["rows_read"] += 1
        if len(kept) + len(rejects) >= batch_rows:
            yield pa.Table.from_pylist(kept, schema=QUERY), pa.Table.from_pylist(rejects, schema=INGEST_REJECT)
            kept, rejects = [], []

    report["reasons"] = dict(sorted(report["reasons"].items()))
    if report["kept"] == 0:
        _no_query(source, report, first_reject)
    yield pa.Table.from_pylist(kept, schema=QUERY), pa.Table.from_pylist(rejects, schema=INGEST_REJECT)


def _no_query(source: dict, report: dict, first_reject: tuple[int, RowError] | None) -> None:
    """A source that yields nothing is a mistake (wrong file, encoding or mapping) unless the config says
    it may be empty; a mapping that matches no row is one even then."""
    name = source["name"]
    if report["rejected"] and report["reasons"].get("missing_field") == report["rejected"]:
        raise SourceError(
            f"source {name!r}: every row lacks a mapped field ({first_reject[1].detail}); "
            f"check sources[].fields in the config"
        )
    if source.get("optional"):
        return
    if report["rows_read"] == 0:
        why = "it has no rows (an empty file, or only blank lines)"
    else:
        row, error = first_reject
        reasons = ", ".join(f"{reason} {n}" for reason, n in report["reasons"].items())
        why = f"every row is rejected ({reasons}; the first, row {row}: {error})"
    where = source["path"] if "path" in source else f"hf {source['hf']['id']}"
    raise SourceError(f"source {name!r} ({where}) yields no query: {why}; mark it `optional: true` if it may be empty")


def new_report(source: dict) -> dict:
    return {
        "source": source["name"],
        "category": source["category"],
        "rows_read": 0,
        "kept": 0,
        "rejected": 0,
        "reasons": {},
    }


def ingest(source: dict, max_chars: int, base_dir: str | Path = ".") -> tuple[pa.Table, pa.Table, dict]:
    """Normalise one source in memory: (queries, rejects, report)."""
    report = new_report(source)
    batches = list(ingest_batches(source, max_chars, report, base_dir))
    return (pa.concat_tables([q for q, _ in batches]), pa.concat_tables([r for _, r in batches]), report)
