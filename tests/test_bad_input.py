"""Bad input at the edges of ingest (issue 18), one file per case: every malformed row is a reject with a
documented reason, a file that cannot be read is one error naming it, and a source that yields nothing
stops the run unless it is optional."""

import ast
import codecs
import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO
from distillery.core.artifacts import write_json
from distillery.queries import prep_report
from distillery.queries.sources import REJECT_REASONS, SourceError, ingest

MAX = 100_000
QUESTION = "What is six times seven?"


def jsonl(*rows) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def chat(content) -> dict:
    return {"m": [{"role": "user", "content": content}]}


@dataclass(frozen=True)
class Kept:
    """The source is read: these rows rejected with these reasons (``detail`` in the first's detail),
    the others kept with exactly these texts."""

    texts: list[str]
    rejected: dict[int, str] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class Fails:
    """One error whose message names the file and says these words."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    content: bytes | pa.Table
    expect: Kept | Fails
    fields: dict = field(default_factory=lambda: {"prompt": "p"})
    optional: bool = False


UTF8_LINES = jsonl({"p": QUESTION}, {"p": "And seven times eight?"})
LATIN1 = "".join(json.dumps({"p": f"Café n°{i}?"}, ensure_ascii=False) + "\n" for i in range(3)).encode("latin-1")

CASES = [
    Case("utf8_bom", "bom.jsonl", codecs.BOM_UTF8 + UTF8_LINES, Kept([QUESTION, "And seven times eight?"])),
    Case("utf16_bom", "u16.jsonl", UTF8_LINES.decode().encode("utf-16"), Fails(("UTF-16-LE", "byte-order mark"))),
    Case("utf16_no_bom", "u16be.jsonl", UTF8_LINES.decode().encode("utf-16-be"), Fails(("UTF-16-BE", "NUL bytes"))),
    Case("utf32_bom", "u32.jsonl", UTF8_LINES.decode().encode("utf-32"), Fails(("UTF-32-LE", "byte-order mark"))),
    Case("latin1", "latin1.jsonl", LATIN1, Fails(("not UTF-8", "3 of its first 3 lines", "line 1: byte 0xE9"))),
    Case(
        "one_undecodable_line",
        "one_bad.jsonl",
        UTF8_LINES + b'{"p": "Caf\xe9?"}\n',
        Kept([QUESTION, "And seven times eight?"], {3: "invalid_utf8"}, "one_bad.jsonl:3"),
    ),
    Case(
        "null_text_part",
        "null_part.jsonl",
        jsonl(chat([{"type": "text", "text": None}]), chat(QUESTION)),
        Kept([QUESTION], {1: "bad_type"}, "messages[0] part 0: a text part whose text is NoneType"),
        fields={"messages": "m"},
    ),
    Case(
        "null_in_content_list",
        "null_in_list.jsonl",
        jsonl(chat([None, QUESTION]), chat([QUESTION, " Show your work."])),
        Kept([QUESTION + " Show your work."], {1: "bad_type"}, "messages[0] part 0: expected text"),
        fields={"messages": "m"},
    ),
    Case(
        "null_option",
        "null_option.jsonl",
        jsonl({"p": "Pick one.", "o": ["6", None]}, {"p": "Pick one.", "o": [6, 7]}),
        Kept(["Pick one.\n\nA. 6\nB. 7"], {1: "bad_type"}, "options[1]"),
        fields={"prompt": "p", "options": "o"},
    ),
    Case(
        "lone_surrogate",
        "surrogate.jsonl",
        b'{"p": "Half an emoji \\ud83d?"}\n{"p": "A whole one \\ud83d\\ude00?"}\n',
        Kept(["A whole one \U0001f600?"], {1: "lone_surrogate"}, "surrogate.jsonl:1"),
    ),
    Case(
        "nested_too_deeply",
        "deep.jsonl",
        b"[" * 100_000 + b"]" * 100_000 + b"\n" + UTF8_LINES,
        Kept([QUESTION, "And seven times eight?"], {1: "invalid_json"}, "nested too deeply"),
    ),
    Case(
        "parquet_string_not_utf8",
        "not_utf8.parquet",
        pa.table({"p": pa.array([QUESTION.encode(), b"Caf\xe9?"], pa.binary()).view(pa.string())}),
        Kept([QUESTION], {1: "invalid_utf8"}, "column(s) p"),
    ),
    Case("empty_file", "empty.jsonl", b"", Fails(("source 'bad'", "yields no query", "no rows", "optional: true"))),
    Case("blank_lines", "blank.jsonl", b"\n  \n\t\r\n", Fails(("source 'bad'", "yields no query", "no rows"))),
    Case(
        "parquet_wrong_types",
        "wrong.parquet",
        pa.table({"p": [1, 2, 3]}),
        Fails(("source 'bad'", "every row is rejected (bad_type 3;", "row 0", "expected text, got int")),
    ),
    Case(
        "all_rows_rejected",
        "all_bad.jsonl",
        b'{"p": 1}\n[2]\n{"p": \n',
        Fails(("every row is rejected (bad_type 1, invalid_json 1, not_an_object 1;", "row 1")),
    ),
    Case("optional_empty", "opt_empty.jsonl", b"", Kept([]), optional=True),
    Case("optional_all_rejected", "opt_bad.jsonl", b'{"p": 1}\n', Kept([], {1: "bad_type"}), optional=True),
    Case("truncated_gzip", "cut.jsonl.gz", gzip.compress(UTF8_LINES)[:-12], Fails(("cannot read", "EOFError"))),
    Case("not_parquet", "junk.parquet", b"not a parquet file\n", Fails(("cannot read the Parquet file",))),
]


def write(path: Path, content: bytes | pa.Table) -> None:
    if isinstance(content, pa.Table):
        pq.write_table(content, path)
    else:
        path.write_bytes(content)


def source_of(path: Path, fields: dict, optional: bool = False) -> dict:
    return {
        "name": "bad",
        "category": "chat",
        "path": str(path),
        "fields": {"meta": [], **fields},
        "optional": optional,
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, tmp_path):
    path = tmp_path / case.file
    write(path, case.content)
    source = source_of(path, case.fields, case.optional)
    if isinstance(case.expect, Fails):
        with pytest.raises(SourceError) as error:
            ingest(source, MAX)
        for words in (str(path), *case.expect.words):
            assert words in str(error.value)
        return
    queries, rejects, report = ingest(source, MAX)
    rejects = rejects.to_pylist()
    assert [m[-1]["content"] for m in queries.column("messages").to_pylist()] == case.expect.texts
    assert {r["row"]: r["reason"] for r in rejects} == case.expect.rejected
    assert case.expect.detail in (rejects[0]["detail"] if rejects else "")
    assert report["rows_read"] == len(case.expect.texts) + len(rejects)
    assert all(r["record"] for r in rejects)  # nothing lost: the row is kept with its reason


def test_a_source_over_the_reject_share_is_flagged_in_the_query_report(tmp_path):
    shares = {"mostly_bad": (1, 3), "half_bad": (2, 2)}  # kept, rejected
    for name, (kept, rejected) in shares.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(jsonl(*[{"p": f"Question {i}?"} for i in range(kept)]) + b"{broken\n" * rejected)
        _, _, report = ingest(dict(source_of(path, {"prompt": "p"}), name=name), MAX)
        write_json(report, tmp_path / "raw" / f"{name}.report.json")
    summary = prep_report.collect(prep_report.discover(tmp_path)[0], max_reject_share=0.5)
    assert summary["flagged_sources"] == [
        {"source": "mostly_bad", "rows_read": 4, "rejected": 3, "reasons": {"invalid_json": 3}, "reject_share": 0.75}
    ]
    assert (
        "WARNING: source mostly_bad rejected 3 of its 4 rows (75%, more than ingest.max_reject_share 50%): "
        "invalid_json 3." in prep_report.to_markdown(summary)
    )
    assert prep_report.collect(prep_report.discover(tmp_path)[0])["flagged_sources"] == []  # no share: no flags


# --------------------------------------------------------------------------- the reasons are documented

README_BLOCK = re.compile(r"<!-- reject-reasons:start[^>]*-->\n(.*?)<!-- reject-reasons:end -->\n", re.S)


def reasons_table() -> str:
    rows = [f"| `{reason}` | {meaning} |" for reason, meaning in REJECT_REASONS.items()]
    return "\n".join(["| reason | the row |", "| --- | --- |", *rows]) + "\n"


def test_the_readme_lists_exactly_the_registered_reject_reasons():
    (block,) = README_BLOCK.findall((REPO / "README.md").read_text(encoding="utf-8"))
    assert block == reasons_table(), f"put this between the reject-reasons markers of README.md:\n{reasons_table()}"


def test_every_reason_the_code_raises_is_registered_and_every_registered_one_is_raised():
    raised = {}
    for path in sorted((REPO / "distillery").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "RowError":
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    raised.setdefault(first.value, f"{path.relative_to(REPO)}:{node.lineno}")
    assert {r: where for r, where in raised.items() if r not in REJECT_REASONS} == {}
    assert set(REJECT_REASONS) - set(raised) == set()
