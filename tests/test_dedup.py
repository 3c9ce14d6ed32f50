import json

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from distillery.core.canonical import first_occurrence, qid
from distillery.core.schema import QUERY
from distillery.queries.dedup import dedup


def table(source, texts):
    rows = []
    for row, t in enumerate(texts):
        messages = [{"role": "user", "content": t}]
        rows.append(
            {
                "qid": qid(messages),
                "source": source,
                "category": "math",
                "messages": messages,
                "reference": None,
                "meta": json.dumps({"row": row}),
            }
        )
    return pa.Table.from_pylist(rows, schema=QUERY)


texts = st.lists(st.sampled_from(["a b", "a  b", " a b\n", "c", "d", "e f", "é", "e\u0301"]), max_size=30)


@settings(max_examples=200)
@given(texts, texts)
def test_dedup_keeps_first_canonical_occurrence_and_loses_nothing(first, second):
    kept, rejects, report = dedup([table("high", first), table("low", second)])
    everything = first + second
    assert len(kept) + len(rejects) == len(everything) == report["rows_in"]
    qids = kept.column("qid").to_pylist()
    assert len(set(qids)) == len(qids)
    # Survivors are the first occurrences, in priority then row order.
    expected, seen = [], set()
    for source, rows in (("high", first), ("low", second)):
        for row, t in enumerate(rows):
            q = qid([{"role": "user", "content": t}])
            if q not in seen:
                seen.add(q)
                expected.append((source, row))
    assert [
        (s, json.loads(m)["row"])
        for s, m in zip(kept.column("source").to_pylist(), kept.column("meta").to_pylist(), strict=True)
    ] == expected
    assert set(rejects.column("qid").to_pylist()) <= set(qids)


def test_reject_names_the_kept_copy_and_counts_per_source():
    kept, rejects, report = dedup([table("a", ["same question", "other"]), table("b", ["same  question"])])
    assert rejects.column("reason").to_pylist() == ["duplicate"]
    assert "kept from source 'a' row 0" in rejects.column("detail")[0].as_py()
    assert report["by_source"] == {"a": {"in": 2, "kept": 2, "removed": 0}, "b": {"in": 1, "kept": 0, "removed": 1}}


@given(st.lists(st.integers(0, 5), max_size=50))
def test_first_occurrence_matches_a_python_loop(keys):
    first = first_occurrence(pa.array([str(k) for k in keys], pa.string()))
    seen = {}
    assert list(first) == [seen.setdefault(k, i) for i, k in enumerate(keys)]
