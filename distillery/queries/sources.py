"""Reading query sources (JSONL, Parquet, Hugging Face datasets) into the normalised query schema.

A source entry of the config names its file or dataset, its category and a field mapping from the
source's columns to ours. Each row becomes one query or one reject with its row number and reason;
nothing is dropped silently (``rows_read == kept + rejected``).
"""

from __future__ import annotations

import json
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


class RowError(Exception):
    """A row that cannot become a query; ``reason`` is a short machine-readable tag."""

    def __init__(self, reason: str, detail: str):
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
        if not path.exists():
            raise SourceError(f"source {source['name']!r}: file not found: {path}")
        if path.suffix == ".parquet":
            yield from _read_parquet(path)
        elif path.name.endswith(JSONL_SUFFIXES):
            yield from _read_jsonl(path)
        else:
            raise SourceError(f"source {source['name']!r}: {path}: expected .jsonl(.gz|.zst) or .parquet")
    else:
        yield from _read_hf(source["name"], source["hf"])


def _read_jsonl(path: Path) -> Iterator[RawRow]:
    with open_binary(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                yield RawRow(
                    lineno,
                    None,
                    line.decode("utf-8", "backslashreplace"),
                    RowError("invalid_utf8", f"{path}:{lineno}: {e}"),
                )
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                yield RawRow(lineno, None, text, RowError("invalid_json", f"{path}:{lineno}: {e}"))
                continue
            if not isinstance(record, dict):
                yield RawRow(
                    lineno, None, text, RowError("not_an_object", f"{path}:{lineno}: a JSON {type(record).__name__}")
                )
                continue
            yield RawRow(lineno, record)


def _read_parquet(path: Path) -> Iterator[RawRow]:
    row = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for record in batch.to_pylist():
                yield RawRow(row, record)
                row += 1
    except pa.ArrowException as e:  # "Parquet magic bytes not found in footer": no file named
        raise SourceError(f"{path}: {e}") from e


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
                value = json.loads(value)
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
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI content parts
        parts = []
        for part in value:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(part.get("text", ""))
            elif isinstance(part, dict):
                raise RowError("non_text_content", f"{what}: content part of type {part.get('type')!r}")
            else:
                parts.append(str(part))
        return "".join(parts)
    raise RowError("bad_type", f"{what}: expected text, got {type(value).__name__}")


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
    return [str(v) for v in value]


def normalize_tests(value: Any, default_type: str | None) -> list[dict] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
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
            value = json.loads(value)
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
    return [str(v) for v in value]


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
            return json.loads(value)
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
    first_missing = None
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
            if error.reason == "missing_field" and first_missing is None:
                first_missing = error.detail
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

    if report["kept"] == 0 and report["rejected"] and report["reasons"].get("missing_field") == report["rejected"]:
        raise SourceError(
            f"source {source['name']!r}: every row lacks a mapped field ({first_missing}); "
            f"check sources[].fields in the config"
        )
    report["reasons"] = dict(sorted(report["reasons"].items()))
    yield pa.Table.from_pylist(kept, schema=QUERY), pa.Table.from_pylist(rejects, schema=INGEST_REJECT)


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
