import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import write_jsonl
from distillery.queries.sources import SourceError, ingest

MAX = 100_000


def src(path, category="math", **fields):
    return {"name": "s", "category": category, "path": str(path), "fields": {"meta": [], **fields}}


def run(path, rows, category="math", max_chars=MAX, **fields):
    write_jsonl(path, rows)
    queries, rejects, report = ingest(src(path, category, **fields), max_chars)
    assert report["rows_read"] == report["kept"] + report["rejected"] == len(queries) + len(rejects)
    return queries.to_pylist(), rejects.to_pylist(), report


def test_prompt_source_becomes_single_user_turn_with_reference(tmp_path):
    queries, rejects, _ = run(
        tmp_path / "m.jsonl",
        [{"id": 7, "problem": "What is 2+2?", "answer": 4, "level": "easy"}],
        id="id",
        prompt="problem",
        answer="answer",
        meta=["level"],
    )
    assert not rejects
    (q,) = queries
    assert q["messages"] == [{"role": "user", "content": "What is 2+2?"}]
    assert q["reference"]["answer"] == "4" and q["category"] == "math" and q["source"] == "s"
    assert json.loads(q["meta"]) == {"source_id": 7, "row": 1, "level": "easy"}
    assert len(q["qid"]) == 32


def test_sharegpt_conversation_keeps_turns_and_drops_trailing_reply(tmp_path):
    conv = [
        {"from": "human", "value": "Hi"},
        {"from": "gpt", "value": "Hello!"},
        {"from": "human", "value": "Tell me a joke about cats."},
        {"from": "gpt", "value": "..."},
    ]
    queries, _, _ = run(
        tmp_path / "c.jsonl", [{"c": conv, "sys": "Be funny."}], "chat", conversations="c", system="sys"
    )
    (q,) = queries
    assert [m["role"] for m in q["messages"]] == ["system", "user", "assistant", "user"]
    assert q["messages"][-1]["content"] == "Tell me a joke about cats."
    assert json.loads(q["meta"])["dropped_trailing_assistant_turns"] == 1


def test_openai_messages_with_text_parts_and_user_turn_lists(tmp_path):
    msgs = [{"role": "user", "content": [{"type": "text", "text": "Explain "}, {"type": "text", "text": "tides."}]}]
    queries, _, _ = run(tmp_path / "o.jsonl", [{"m": msgs}], "general", messages="m")
    assert queries[0]["messages"] == [{"role": "user", "content": "Explain tides."}]
    queries, _, _ = run(tmp_path / "t.jsonl", [{"t": ["First question?", "And a follow-up?"]}], "chat", turns="t")
    assert [m["role"] for m in queries[0]["messages"]] == ["user", "user"]


def test_mcq_options_are_listed_and_index_answers_become_letters(tmp_path):
    queries, _, _ = run(
        tmp_path / "s.jsonl",
        [{"q": "Which is a noble gas?", "opts": ["N", "Ne", "O"], "a": 1}],
        "science",
        prompt="q",
        options="opts",
        answer="a",
    )
    (q,) = queries
    assert q["messages"][0]["content"].endswith("\n\nA. N\nB. Ne\nC. O")
    assert q["reference"]["options"] == ["N", "Ne", "O"] and q["reference"]["answer"] == "B"


def test_code_tests_from_json_string_and_nested_fn_name(tmp_path):
    tests = json.dumps([{"input": "[1, 2]", "output": "3", "testtype": "functional"}])
    queries, rejects, _ = run(
        tmp_path / "c.jsonl",
        [
            {
                "q": "Add the numbers in the list.",
                "tests": tests,
                "metadata": json.dumps({"func_name": "add"}),
                "starter": "class Solution:\n    def add(self, xs):\n        ",
                "solutions": ["class Solution:\n    def add(self, xs):\n        return sum(xs)\n", "other"],
            },
            {"q": "Subtract.", "tests": tests, "metadata": json.dumps({"func_name": "sub"}), "solutions": 7},
        ],
        "code",
        prompt="q",
        tests="tests",
        fn_name="metadata.func_name",
        starter_code="starter",
        solution="solutions",
    )
    ref = queries[0]["reference"]
    assert ref["tests"] == [{"input": "[1, 2]", "output": "3", "testtype": "functional"}]
    assert ref["fn_name"] == "add"
    assert ref["solution"].endswith("return sum(xs)\n")  # a list of solutions gives its first
    assert len(queries) == 1 and [(r["row"], r["reason"]) for r in rejects] == [(2, "bad_type")]  # line 2
    # LeetCode's empty body (trailing indentation) is cut: the block ends at the signature
    assert queries[0]["messages"][0]["content"].endswith("```python\nclass Solution:\n    def add(self, xs):\n```")


def test_ifeval_kwargs_drop_nulls_and_must_match_instructions(tmp_path):
    row = {
        "p": "Write a haiku without commas.",
        "ids": ["punctuation:no_comma", "length_constraints:number_words"],
        "kw": [{"num_words": None}, {"relation": "at least", "num_words": 5}],
    }
    bad = dict(row, ids=["punctuation:no_comma"])
    queries, rejects, _ = run(
        tmp_path / "i.jsonl", [row, bad], "if", prompt="p", instruction_id_list="ids", kwargs="kw"
    )
    assert json.loads(queries[0]["reference"]["kwargs"]) == [{}, {"relation": "at least", "num_words": 5}]
    assert [r["reason"] for r in rejects] == ["bad_kwargs"] and rejects[0]["row"] == 2


def test_bad_rows_are_rejected_with_row_number_and_reason(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"problem": "What is 3 squared?"}).encode()
    lines = [
        good,
        b'{"problem": "truncated',  # 2 invalid JSON
        b'"just a string"',  # 3 not an object
        json.dumps({"question": "wrong column"}).encode(),  # 4 missing field
        b'{"problem": "caf\xe9 au lait"}',  # 5 invalid UTF-8
        b"",  # blank: not a row
        json.dumps({"problem": "x" * 10_000_000}).encode(),  # 7 a 10 MB query
        json.dumps({"problem": {"nested": 1}}).encode(),  # 8 wrong type
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    queries, rejects, report = ingest(src(path, prompt="problem"), MAX)
    assert len(queries) == 1 and report["rows_read"] == 7
    by_row = {r["row"]: r for r in rejects.to_pylist()}
    assert {row: r["reason"] for row, r in by_row.items()} == {
        2: "invalid_json",
        3: "not_an_object",
        4: "missing_field",
        5: "invalid_utf8",
        7: "too_long",
        8: "bad_type",
    }
    assert "bad.jsonl:2" in by_row[2]["detail"] and "'problem'" in by_row[4]["detail"]
    # Nothing is lost: the rejected row is kept whole, even the 10 MB one.
    assert len(by_row[7]["record"]) > 10_000_000 and "caf\\xe9" in by_row[5]["record"]


def test_mapping_that_matches_no_row_is_an_error_naming_the_field(tmp_path):
    write_jsonl(tmp_path / "m.jsonl", [{"question": "a"}, {"question": "b"}])
    with pytest.raises(SourceError, match="'problem'"):
        ingest(src(tmp_path / "m.jsonl", prompt="problem"), MAX)


def test_missing_file_and_unknown_role_and_no_user_turn(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        ingest(src(tmp_path / "nope.jsonl", prompt="p"), MAX)
    rows = [
        {"m": [{"role": "narrator", "content": "Once"}]},
        {"m": [{"role": "system", "content": "Hi"}]},
        {"m": [{"role": "user", "content": "Hi"}]},
    ]
    _, rejects, _ = run(tmp_path / "r.jsonl", rows, "chat", messages="m")
    assert [r["reason"] for r in rejects] == ["unknown_role", "no_user_turn"]


def test_parquet_source_rows_are_numbered_from_zero(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"problem": ["One plus one?", None], "answer": ["2", "3"]}), path)
    queries, rejects, report = ingest(src(path, prompt="problem", answer="answer"), MAX)
    assert report == {
        "source": "s",
        "category": "math",
        "rows_read": 2,
        "kept": 1,
        "rejected": 1,
        "reasons": {"missing_field": 1},
    }
    assert rejects.column("row").to_pylist() == [1]


def test_hugging_face_loader_reads_a_local_dataset_folder(tmp_path):
    # The hub is unreachable here; `datasets` loads a local folder through the same code path.
    folder = tmp_path / "ds"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", [{"problem": "What is 6 times 7?", "answer": "42"}])
    source = {
        "name": "hf",
        "category": "math",
        "hf": {"id": str(folder), "split": "train"},
        "fields": {"prompt": "problem", "answer": "answer", "meta": []},
    }
    queries, _, report = ingest(source, MAX)
    assert report["kept"] == 1 and queries.column("reference").to_pylist()[0]["answer"] == "42"


def test_batches_stream_and_add_up(tmp_path):
    from distillery.queries.sources import ingest_batches, new_report

    path = write_jsonl(
        tmp_path / "b.jsonl", [{"p": f"Question number {i}?"} if i % 3 else "{broken" for i in range(10)]
    )
    source = src(path, prompt="p")
    report = new_report(source)
    batches = list(ingest_batches(source, MAX, report, batch_rows=4))
    assert len(batches) == 3
    assert sum(len(q) for q, _ in batches) == report["kept"] == 6
    assert sum(len(r) for _, r in batches) == report["rejected"] == 4 and report["rows_read"] == 10


def test_malformed_reference_fields_are_row_rejects_not_crashes(tmp_path):
    rows = [
        {"p": "Write two lines of verse.", "ids": "punctuation:no_comma", "kw": [{}]},
        {"p": "Write two lines of verse.", "ids": ["punctuation:no_comma"], "kw": "{not json"},
        {"p": "Return the sum of a list.", "fn": 7},
    ]
    queries, rejects, _ = run(
        tmp_path / "r.jsonl", rows, "if", prompt="p", instruction_id_list="ids", kwargs="kw", fn_name="fn"
    )
    assert [r["reason"] for r in rejects] == ["bad_type", "bad_kwargs"]
    assert queries[0]["reference"]["fn_name"] == "7"


def test_benchmark_item_ids_must_be_unique(tmp_path):
    from distillery.queries.benchmark_items import load_items

    write_jsonl(tmp_path / "b.jsonl", [{"id": 1, "problem": "One?"}, {"id": 1, "problem": "Two?"}])
    with pytest.raises(SourceError, match="repeats row 1"):
        load_items("b", {"path": str(tmp_path / "b.jsonl"), "id": "id", "text": "problem"})


def test_a_release_file_is_a_query_source_whose_qids_meet_its_responses(tmp_path):
    """format: release: either record shape, compressed; the turns before the response become the query
    (the qid a dataset teacher looks it up by), the response's info its references and meta."""
    import zstandard

    from distillery.core.canonical import qid

    code = {"tests": [{"input": "[1, 2]", "output": "3", "testtype": "functional"}], "fn_name": "add"}
    records = [
        {
            "system": "You are a helpful assistant.",
            "conversations": [
                {"from": "human", "value": "Add two numbers.", "info": {}},
                {
                    "from": "assistant",
                    "value": "<think>t</think><answer>def add(a, b): return a + b</answer>",
                    "info": {"source": "leetcode", "test_case": json.dumps(code), "verify_score": 1.0, "ppl": 2.5},
                },
            ],
        },
        {
            "messages": [
                {"role": "user", "content": "Stdin sum.", "info": {}},
                {"role": "assistant", "content": "r", "info": {"test_case": {"inputs": ["1 2\n"], "outputs": ["3\n"]}}},
            ]
        },
        {"conversations": [{"from": "human", "value": "no response"}]},
    ]
    path = tmp_path / "code.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    source = {"name": "am_code", "category": "code", "path": str(path), "format": "release"}
    queries, rejects, report = ingest(source, MAX)
    queries, rejects = queries.to_pylist(), rejects.to_pylist()
    assert report["rows_read"] == 3 and report["kept"] == 2
    assert [r["reason"] for r in rejects] == ["not_a_release_record"] and rejects[0]["row"] == 3
    first, second = queries
    assert first["qid"] == qid([{"role": "user", "content": "Add two numbers."}])  # no system prompt: as looked up
    assert first["reference"]["fn_name"] == "add" and first["reference"]["tests"][0]["output"] == "3"
    assert json.loads(first["meta"])["release"] == {"source": "leetcode", "verify_score": 1.0, "ppl": 2.5}
    assert second["reference"]["tests"] == [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]


def test_a_corrupt_or_truncated_file_is_an_error_naming_it(tmp_path):
    """gzip's, zlib's, zstd's and Parquet's own errors name no file; the original stays chained."""
    import gzip
    import zlib

    import zstandard

    from distillery.core.release_records import scan

    whole = gzip.compress(b'{"p": "One plus one?"}\n' * 2000)
    damaged = bytearray(whole)
    damaged[20:30] = b"x" * 10
    files = {
        "not.jsonl.gz": (b"plain text\n", gzip.BadGzipFile),
        "cut.jsonl.gz": (whole[: len(whole) // 2], EOFError),
        "damaged.jsonl.gz": (bytes(damaged), zlib.error),
        "not.jsonl.zst": (b"plain text\n", zstandard.ZstdError),
    }
    for name, (data, cause) in files.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(SourceError, match=f"^source 's': {re.escape(str(tmp_path / name))}: ") as caught:
            ingest(src(tmp_path / name, prompt="p"), MAX)
        assert isinstance(caught.value.__cause__, cause)
        with pytest.raises(cause, match=name):
            list(scan(tmp_path / name))
    (tmp_path / "not.parquet").write_bytes(b"PAR1 not a parquet file")
    with pytest.raises(SourceError, match=f"{tmp_path / 'not.parquet'}: cannot read the Parquet file .*magic bytes"):
        ingest(src(tmp_path / "not.parquet", prompt="p"), MAX)
