"""Evaluation benchmarks as problems: the prompt a model is sent and the reference it is graded against.

A benchmark's data (a local JSONL/Parquet file or a Hugging Face dataset, with its id and text fields)
is declared once, under the config's top-level ``benchmarks:``, which is also what decontamination
removes from the training queries; ``evaluate.benchmarks`` adds how to evaluate it. Two kinds:

* ``math`` (AIME, MATH500): the problem as the user turn (the ``\\boxed{}`` instruction is appended when
  the conversation is built, :func:`distillery.core.prompts.build_messages`), the answer field as
  the reference;
* ``livecodebench`` (LiveCodeBench's layout, also CodeContests converted to it): LiveCodeBench's own
  prompt (statement; starter code for call-based problems, stdin/stdout instructions otherwise), public
  and private tests (the hub release compresses the private ones), ``metadata.func_name``; filtered by
  contest date, as the paper evaluated only problems from 2024-10 to 2025-02.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillery.core.schema import MESSAGE, REFERENCE
from distillery.queries.sources import MISSING, RowError, SourceError, lookup, normalize_tests, read_rows

PROBLEM = pa.schema(
    [
        ("benchmark", pa.string()),
        ("problem_id", pa.string()),
        ("category", pa.string()),  # math | code: which verifier grades it
        ("messages", pa.list_(MESSAGE)),  # the user turn; the system prompt is added at generation
        ("reference", REFERENCE),
        ("meta", pa.string()),  # JSON: contest date, platform, ...
    ]
)

KIND_CATEGORY = {"math": "math", "livecodebench": "code"}

# LiveCodeBench's generic code-generation prompt (lcb_runner/prompts/code_generation.py).
LCB_WITH_STARTER = (
    "You will use the following starter code to write the solution to the problem and enclose "
    "your code within delimiters."
)
LCB_WITHOUT_STARTER = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly "
    "test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when "
    "the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT."
)


def lcb_prompt(statement: str, starter_code: str | None) -> str:
    prompt = f"### Question:\n{statement}\n\n"
    if starter_code:
        prompt += f"### Format: {LCB_WITH_STARTER}\n```python\n{starter_code}\n```\n\n"
    else:
        prompt += f"### Format: {LCB_WITHOUT_STARTER}\n```python\n# YOUR CODE HERE\n```\n\n"
    return prompt + "### Answer: (use the provided format with backticks)\n\n"


class _NoObjects(pickle.Unpickler):
    """The hub release pickles a plain JSON string; anything that needs a class is refused, so a
    tampered dataset cannot run code through pickle."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def decode_tests(value: Any) -> Any:
    """Test cases as a list: already a list, a JSON string, or LiveCodeBench's compressed form
    (base64 of zlib of a pickled JSON string, used for ``private_test_cases`` on the hub)."""
    if value is None or isinstance(value, list):
        return value or []
    if not isinstance(value, str):
        raise RowError("bad_tests", f"tests: expected a list or a string, got {type(value).__name__}")
    if not value.strip():
        return []
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        pass
    try:
        decoded = _NoObjects(io.BytesIO(zlib.decompress(base64.b64decode(value)))).load()
    except Exception as e:  # binascii, zlib and pickle errors all mean the same here
        raise RowError("bad_tests", f"tests: neither JSON nor LiveCodeBench's compressed form ({e})") from None
    return json.loads(decoded) if isinstance(decoded, (str, bytes)) else decoded


def contest_date(value: Any) -> datetime | None:
    if value is None or value is MISSING:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.fromisoformat(str(value)).replace(tzinfo=None)


def _math_problem(record: dict, statement: str, spec: dict) -> tuple[str, dict, dict]:
    answer = lookup(record, spec.get("answer", "answer"))
    if answer is MISSING or answer is None or not str(answer).strip():
        raise RowError("missing_field", f"answer field {spec.get('answer', 'answer')!r} is absent or empty")
    return statement, {"answer": str(answer)}, {}


def _lcb_problem(record: dict, statement: str) -> tuple[str, dict, dict]:
    metadata = lookup(record, "metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata) if metadata.strip() else {}
    fn_name = (metadata or {}).get("func_name") if isinstance(metadata, dict) else None
    public = decode_tests(record.get("public_test_cases"))
    private = decode_tests(record.get("private_test_cases"))
    tests = normalize_tests(public + private, "functional" if fn_name else "stdin") or []
    starter = record.get("starter_code") or ""
    meta = {k: record.get(k) for k in ("platform", "contest_id", "difficulty") if record.get(k) is not None}
    meta.update(public_tests=len(public), private_tests=len(private))
    reference = {"tests": tests, "fn_name": fn_name}
    return lcb_prompt(statement, starter), reference, meta


def load_problems(name: str, data: dict, spec: dict, base_dir: str | Path = ".") -> pa.Table:
    """The problems of benchmark ``name``: ``data`` is its entry under the config's ``benchmarks``
    (where the rows are, their id and text fields), ``spec`` its entry under ``evaluate.benchmarks``
    (kind, answer field, contest-date window, ``ids``/``limit`` to evaluate a subset)."""
    kind = spec["kind"]
    start = contest_date(spec.get("date_from"))
    end = contest_date(spec.get("date_to"))
    rows, seen = [], set()
    for raw in read_rows({"name": name, **data}, base_dir):
        if raw.error is not None:
            raise SourceError(f"benchmark {name!r}: {raw.error}")
        record = raw.record
        problem_id, text = lookup(record, data["id"]), lookup(record, data["text"])
        if problem_id is MISSING or problem_id is None or not isinstance(text, str) or not text.strip():
            raise SourceError(
                f"benchmark {name!r} row {raw.row}: needs id field {data['id']!r} and text field {data['text']!r}"
            )
        problem_id = str(problem_id)
        if problem_id in seen:
            raise SourceError(f"benchmark {name!r} row {raw.row}: problem id {problem_id!r} repeats")
        seen.add(problem_id)
        meta: dict = {"row": raw.row}
        if start is not None or end is not None:
            date = contest_date(lookup(record, "contest_date"))
            if date is None:
                raise SourceError(f"benchmark {name!r} row {raw.row}: no contest_date, but a date window is set")
            if (start is not None and date < start) or (end is not None and date >= end):
                continue
        if lookup(record, "contest_date") not in (None, MISSING):
            meta["contest_date"] = str(lookup(record, "contest_date"))
        try:
            if kind == "math":
                prompt, reference, extra = _math_problem(record, text, spec)
            else:
                prompt, reference, extra = _lcb_problem(record, text)
        except (RowError, json.JSONDecodeError) as e:
            raise SourceError(f"benchmark {name!r} row {raw.row} ({problem_id}): {e}") from None
        meta.update(extra)
        rows.append(
            {
                "benchmark": name,
                "problem_id": problem_id,
                "category": KIND_CATEGORY[kind],
                "messages": [{"role": "user", "content": prompt}],
                "reference": {
                    "answer": None,
                    "options": None,
                    "tests": None,
                    "fn_name": None,
                    "instruction_id_list": None,
                    "kwargs": None,
                    **reference,
                },
                "meta": json.dumps(meta, ensure_ascii=False, default=str),
            }
        )
    rows = _subset(name, rows, spec)
    if not rows:
        raise SourceError(
            f"benchmark {name!r}: no problems (after the date window {spec.get('date_from')} .. {spec.get('date_to')})"
        )
    return pa.Table.from_pylist(rows, schema=PROBLEM)


def _subset(name: str, rows: list[dict], spec: dict) -> list[dict]:
    """``ids`` picks problems by id (in the benchmark's order), then ``limit`` keeps the first ones."""
    if spec.get("ids"):
        wanted = set(spec["ids"])
        missing = wanted - {r["problem_id"] for r in rows}
        if missing:
            raise SourceError(f"benchmark {name!r}: ids not found (or outside the date window): {sorted(missing)}")
        rows = [r for r in rows if r["problem_id"] in wanted]
    return rows[: spec["limit"]] if spec.get("limit") else rows
