"""Corpora, statistics, figures and export as a library: the edge cases a workflow run does not reach
(thresholds, stale inputs, empty everything, responses with no tokens)."""

import json
import types

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis_fixture import attempt_rows, queries, response, teachers
from conftest import tiny_tokenizer
from distillery.analysis.figures import (
    fig2_category_distribution,
    fig3_math_token_spans,
    fig4_token_counts,
    fig5_perplexity,
    fig7_attempts,
    fig8_cost,
)
from distillery.analysis.figures.render import render
from distillery.analysis.sample_stats import sample_stats, turns_text
from distillery.analysis.token_counts import count_tokens, load_tokenizer
from distillery.core.paper_numbers import paper_teacher
from distillery.core.schema import ATTEMPT, CORPUS, PERPLEXITY, QUERY, SAMPLE_STATS
from distillery.corpora.export import (
    INFO_KEYS,
    RELEASE_CATEGORIES,
    dataset_card,
    export_corpus,
    release_model_name,
    release_sample,
)
from distillery.corpora.parallel_corpora import write_parallel
from distillery.corpora.perplexity import buckets
from distillery.corpora.teacher_corpus import build_corpus, read_attempts
from distillery.plan.rule_params import quality_settings

QUALITY = {
    "structure": {"enabled": True},
    "repetition": {"enabled": True, "ngram": 20, "max_repeats": 20},
    "perplexity": {"enabled": True, "max": None, "max_by_teacher": {"b": 5.0}},
}
COVERAGE = {"shards": 1, "missing_shards": [], "empty_shards": []}
FIGURES = (
    fig2_category_distribution,
    fig3_math_token_spans,
    fig4_token_counts,
    fig5_perplexity,
    fig7_attempts,
    fig8_cost,
)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    tiny_tokenizer().save_pretrained(folder)
    return load_tokenizer(str(folder))


def table(rows, schema):
    return pa.Table.from_pylist(rows, schema=schema)


def test_threshold_per_teacher_and_earliest_accepted_attempt():
    assert quality_settings(QUALITY, "a")["perplexity"] == {"enabled": False, "max": None}
    assert quality_settings(QUALITY, "b")["perplexity"] == {"enabled": True, "max": 5.0}
    qs = queries()[:3]
    t = teachers(qs)[0]
    rows = attempt_rows(t, qs)
    rows.append({**rows[-1], "attempt": 7, "response": "a later duplicate"})  # a merged shard
    ppl = table(
        [
            {"qid": q["qid"], "attempt": 0 if q is not qs[0] else 1, "ppl": p, "scored_tokens": 3}
            for q, p in zip(qs, [9.0, 2.0, 4.0], strict=True)
        ],
        PERPLEXITY,
    )
    kept, rejects, report = build_corpus(
        "b", table(rows, ATTEMPT), COVERAGE, table(qs, QUERY), ppl, quality_settings(QUALITY, "b")
    )
    assert kept.schema == CORPUS and rejects.column_names[-2:] == ["reason", "detail"]
    assert [r["reason"] for r in rejects.to_pylist()] == ["perplexity"] and rejects["qid"][0].as_py() == qs[0]["qid"]
    assert "a later duplicate" not in kept["response"].to_pylist()
    assert report["rows_in"] == report["kept"] + report["rejected"] == 3
    with pytest.raises(ValueError, match="stale"):
        build_corpus("b", table(rows, ATTEMPT), COVERAGE, table(qs[1:], QUERY), None, quality_settings(QUALITY, "b"))


def test_missing_zero_byte_and_empty_shards_are_gaps(tmp_path):
    (tmp_path / "zero.parquet").write_bytes(b"")
    pq.write_table(ATTEMPT.empty_table(), tmp_path / "empty.parquet")
    attempts, coverage = read_attempts(
        {"s0": tmp_path / "absent.parquet", "s1": tmp_path / "zero.parquet", "s2": tmp_path / "empty.parquet"}
    )
    assert attempts.num_rows == 0 and attempts.schema == ATTEMPT
    assert coverage == {"shards": 3, "missing_shards": ["s0"], "empty_shards": ["s1", "s2"]}
    kept, rejects, report = build_corpus(
        "x", attempts, coverage, table(queries(), QUERY), None, quality_settings(QUALITY, "x")
    )
    assert kept.num_rows == rejects.num_rows == 0 and report["not_distilled"] == len(queries())


def test_parallel_corpora_share_sorted_qids_and_an_empty_teacher_empties_them(tmp_path):
    qs = queries()
    corpora = {}
    for name, picked in (("a", qs[:6]), ("b", qs[3:]), ("c", [])):
        rows = [
            {
                **q,
                "teacher": name,
                "attempt": 0,
                "response": response(1, 1),
                "think": "t",
                "answer": "a",
                "score": 1.0,
                "verifier": "v",
                "prompt_tokens": 1,
                "completion_tokens": 7,
                "ppl": None,
            }
            for q in picked
        ]
        pq.write_table(table(rows, CORPUS), tmp_path / f"{name}.parquet")
        corpora[name] = tmp_path / f"{name}.parquet"
    out = {n: tmp_path / f"parallel-{n}.parquet" for n in corpora}
    report = write_parallel({n: corpora[n] for n in "ab"}, out)
    expected = sorted(q["qid"] for q in qs[3:6])
    assert report["queries"] == 3
    assert [pq.read_table(out[n])["qid"].to_pylist() for n in "ab"] == [expected, expected]
    assert write_parallel(corpora, out)["queries"] == 0 and pq.read_table(out["a"]).num_rows == 0


def test_statistics_count_tokens_of_every_part_and_empty_responses(tokenizer):
    qs = queries()[-1:]  # the multi-turn chat
    assert turns_text(table(qs, QUERY)["messages"]).to_pylist() == [
        "tell me a joke please\n\nwhy did the chicken cross\n\nand another one please"
    ]
    assert count_tokens(tokenizer, ["a b", "", None]).to_pylist() == [2, 0, None]
    no_qa = {k: {**v, "enabled": False} for k, v in QUALITY.items()}
    row = {
        "qid": qs[0]["qid"],
        "teacher": "t",
        "category": "chat",
        "attempt": 0,
        "seed": 0,
        "key": "k",
        "response": "",
        "think": None,
        "answer": None,
        "finish_reason": "stop",
        "prompt_tokens": 1,
        "completion_tokens": 0,
        "latency_s": 0.0,
        "cached": False,
        "score": 1.0,
        "scorable": True,
        "verifier": "v",
        "detail": "",
        "accepted": True,
    }
    attempts = table([row], ATTEMPT)
    kept, rejects, _ = build_corpus("t", attempts, COVERAGE, table(qs, QUERY), None, quality_settings(no_qa, "t"))
    stats = sample_stats("t", table(qs, QUERY), attempts, kept, rejects, {qs[0]["qid"]}, tokenizer).to_pylist()[0]
    assert stats["status"] == "kept" and stats["response_tokens"] == 0 and stats["think_tokens"] is None
    assert stats["prompt_tokens"] == 5 + 5 + 4 and stats["in_parallel"] and stats["accepted_attempt"] == 1


def stats_rows(teacher, n, **columns):
    base = {name: None for name in SAMPLE_STATS.names}
    base.update(
        teacher=teacher,
        source="s",
        category="math",
        status="kept",
        in_parallel=True,
        attempts=1,
        accepted_attempt=1,
        response_tokens=10,
        generated_tokens=10,
        accepted_generated_tokens=10,
        ppl=2.0,
    )
    return [{**base, "qid": f"{teacher}{i}", **columns} for i in range(n)]


@pytest.mark.parametrize("case", ["no teachers", "no samples", "zero tokens, no perplexity"])
def test_figures_draw_and_label_gaps(tmp_path, case):
    style = {
        "font_size": 8,
        "dpi": 60,
        "width": 4.0,
        "height": 3.0,
        "corpus": "parallel",
        "bin_width": 4,
        "bins": 3,
        "max_attempts_shown": 3,
        "teacher_labels": {},
    }
    rows, teachers_ = [], []
    if case == "no samples":
        teachers_ = ["a", "b"]
        rows = stats_rows("a", 3) + stats_rows(
            "b",
            2,
            status="not_accepted",
            accepted_attempt=None,
            response_tokens=None,
            accepted_generated_tokens=None,
            ppl=None,
        )
    elif case == "zero tokens, no perplexity":
        teachers_ = ["a"]
        rows = stats_rows("a", 2, response_tokens=0, ppl=None) + stats_rows("a", 1, category="code")
    paths = []
    if rows:
        pq.write_table(table(rows, SAMPLE_STATS), tmp_path / "stats.parquet")
        paths = [tmp_path / "stats.parquet"]
    for module in FIGURES:
        name = module.__name__.rsplit(".", 1)[-1]
        out = types.SimpleNamespace(**{k: tmp_path / f"{name}.{k}" for k in ("pdf", "png", "csv")})
        result = render(module.__name__, paths, teachers_, style, out)
        assert out.pdf.stat().st_size and out.png.stat().st_size and len(result) == sum(1 for _ in open(out.csv)) - 1
    if case == "no samples":
        assert "b,0" in (tmp_path / "fig4_token_counts.csv").read_text()
    if case == "zero tokens, no perplexity":
        fig4 = (tmp_path / "fig4_token_counts.csv").read_text().splitlines()[1].split(",")
        assert fig4[1] == "3" and fig4[-1] == "2"  # n, zero_token_samples
        assert (tmp_path / "fig5_perplexity.csv").read_text().splitlines()[1].split(",")[-1] == "2"


def test_release_sample_carries_the_query_fields_and_the_verdict(tmp_path):
    code, instruct = queries()[5], queries()[8]
    row = {
        **code,
        "messages": [{"role": "system", "content": "Be brief."}] + code["messages"],
        "response": "r",
        "think": "t",
        "answer": "a",
        "score": 0.95,
        "ppl": float("nan"),
    }
    sample = release_sample(row, "org/m", "paper prompt", with_ppl=False)  # a corpus not scored throughout
    assert sample["system"] == "Be brief." and [t["from"] for t in sample["conversations"]] == ["human", "assistant"]
    info = sample["conversations"][-1]["info"]
    assert tuple(info) == tuple(k for k in INFO_KEYS if k != "ppl") and info["verify_score"] == 0.95
    assert all("ppl" not in turn["info"] for turn in sample["conversations"])  # never a null to compare
    scored = release_sample({**row, "ppl": 2.5}, "org/m", "", categories=RELEASE_CATEGORIES)
    assert scored["conversations"][-1]["info"]["ppl"] == 2.5
    assert {t["info"]["category"] for t in scored["conversations"]} == {RELEASE_CATEGORIES[code["category"]]}
    assert json.loads(info["test_case"])["tests"][0]["output"] == "2"
    assert sample["conversations"][0]["info"]["think_content"] is None
    constrain = json.loads(
        release_sample({**instruct, "response": "r", "think": "t", "answer": "a", "score": 1.0, "ppl": 2.0}, "m", "")[
            "conversations"
        ][-1]["info"]["instruction_constrain"]
    )
    assert constrain == {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    pq.write_table(CORPUS.empty_table(), tmp_path / "empty.parquet")
    summary = export_corpus(tmp_path / "empty.parquet", tmp_path / "out", {"name": "t", "model": "m"}, 10)
    assert summary["samples"] == 0 and (tmp_path / "out/data/train-00000-of-00001.jsonl").read_text() == ""
    card = dataset_card({"name": "t", "model": "m"}, summary, {}, {"license": "other"}, "parallel")
    assert "size_categories:\n- n<1K" in card and "0 responses of `m`" in card


def test_release_model_names_in_the_releases_style():
    assert release_model_name({"model": "a-m-team/AM-Thinking-v1"}) == "am_thinking_v1"
    assert release_model_name({"model": "Qwen/Qwen3-235B-A22B"}) == "qwen3_235b_a22b"
    assert release_model_name({"model": "deepseek-reasoner", "release_model_name": "deepseek_r1"}) == "deepseek_r1"


def test_length_buckets_respect_the_token_budget():
    groups = buckets([5, 100, 6, 50, 7, 400], batch_size=3, batch_tokens=150)
    assert groups == [[0, 2, 4], [3], [1], [5]]
    assert all(len(g) * max([5, 100, 6, 50, 7, 400][i] for i in g) <= 150 or len(g) == 1 for g in groups)


def test_paper_teacher_from_config_or_model_name():
    assert paper_teacher("x", "deepseek-reasoner", {}) == "DeepSeek-R1"
    assert paper_teacher("x", "a-m-team/AM-Thinking-v1", {}) == "AM-Thinking-v1"
    assert paper_teacher("x", "local", {"x": "Qwen3-235B-A22B"}) == "Qwen3-235B-A22B"
    assert paper_teacher("x", "local", {}) is None


def test_per_teacher_settings_must_name_teachers():
    from distillery.plan.config_checks import ConfigError, check_analysis

    config = {
        "teachers": [{"name": "a"}],
        "corpus": {"quality": {"perplexity": {"max_by_teacher": {"a": 3.0}}}},
        "analysis": {"teacher_labels": {"a": "A"}, "paper_teachers": {}},
    }
    check_analysis(config)
    config["analysis"]["paper_teachers"] = {"r1": "DeepSeek-R1"}
    with pytest.raises(ConfigError, match=r"analysis.paper_teachers: \['r1'\]"):
        check_analysis(config)


def test_dataset_table_for_teachers_the_paper_lacks():
    from distillery.analysis import dataset_stats

    stats = pd.DataFrame(stats_rows("x", 2, response_tokens=5, ppl=None))
    table = dataset_stats.table(stats, {"x": "local"}, {}, "parallel")
    text = dataset_stats.markdown(
        table, stats, {"x": "local"}, {"corpus": "parallel", "tokenizer": "t", "perplexity_model": None}
    )
    assert "| x | – | 2 / – | 5.0 / – | – / – |" in text and "| – | DeepSeek-R1 | – / 1,890,000 |" in text
    assert "perplexity: not computed" in text and "- x: 2 samples without perplexity" in text
