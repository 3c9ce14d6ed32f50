"""The corpora and analysis rules run for real by Snakemake on a known distillation result (written by
the test: two teachers, one with an empty and a missing shard), a tiny random LM for perplexity and
its word-level tokenizer for token counts; every CSV number is checked against values computed here
from the fixture, and the rerun rules (one figure's style, a perplexity threshold, the corpus mode)
against Snakemake's dry run."""

import csv
import json
import os
import re
from statistics import mean

import pyarrow.parquet as pq
import pytest

from analysis_fixture import NUM_SHARDS, queries, save_tiny_model, shard, teachers, write_distillation
from distillery.core.canonical import qid
from distillery.core.release_records import decode, scan
from distillery.generation.release_index import ReleaseIndex, build
from distillery.plan.paths import shard_names
from workflow import copy_workflow, planned, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

FIGURES = [
    "fig2_category_distribution",
    "fig3_math_token_spans",
    "fig4_token_counts",
    "fig5_perplexity",
    "fig7_attempts",
    "fig8_cost",
]
TARGETS = (
    ["results/corpora/parallel/report.json", "results/tables/dataset_stats.md"]
    + [f"results/figures/{f}.{k}" for f in FIGURES for k in ("pdf", "png", "csv")]
    + [f"results/export/{t}" for t in "ac"]
)
OVERRIDE = f"""
shards: {{num_shards: {NUM_SHARDS}}}
teachers:
  - {{name: a, backend: dataset, model: org/teacher-a, max_attempts: 3, system_prompt: null,
     dataset: {{paths: [x.jsonl]}}}}
  - {{name: c, backend: dataset, model: org/teacher-c, max_attempts: 3, system_prompt: null,
     dataset: {{paths: [x.jsonl]}}}}
corpus:
  partial: true
analysis:
  tokenizer: tiny
  perplexity: {{model: tiny, dtype: float32, max_tokens: 64, batch_size: 4}}
  paper_teachers: {{a: AM-Thinking-v1}}
  teacher_labels: {{a: Teacher A}}
  figures:
    fig3_math_token_spans: {{bin_width: 4, bins: 3}}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("wf"))
    qs = queries()
    ts = teachers(qs)
    write_distillation(workdir, qs, ts)
    save_tiny_model(workdir / "tiny")
    (workdir / "x.jsonl").touch()  # the teachers' release: named, so it must exist, and older than their shards
    os.utime(workdir / "x.jsonl", (0, 0))  # (so that they are not distilled again)
    (workdir / "override.yaml").write_text(OVERRIDE)
    snakemake(workdir, *TARGETS, "--configfile", "config.yaml", "override.yaml")
    return workdir, qs, {t.name: t for t in ts}


def config_args(*extra):
    return ("--configfile", "config.yaml", "override.yaml", *extra)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def kept(t):
    """qid -> accepted response of a teacher's corpus, by the fixture's own rules."""
    out = {}
    for q, attempts in t.attempts.items():
        accepted = [a for a in attempts if a.accepted]
        if accepted and "<think>" in accepted[0].text:
            out[q] = accepted[0].text
    return out


def test_corpora_and_parallel_corpora(run):
    workdir, qs, ts = run
    for name, t in ts.items():
        corpus = pq.read_table(workdir / f"results/corpora/{name}.parquet").to_pylist()
        assert {r["qid"]: r["response"] for r in corpus} == kept(t)
        assert [r["qid"] for r in corpus] == sorted(r["qid"] for r in corpus)
        assert all(r["ppl"] is not None and r["ppl"] > 1 for r in corpus)
    rejects = pq.read_table(workdir / "results/corpora/a.rejects.parquet").to_pylist()
    assert [(r["category"], r["reason"]) for r in rejects] == [("if", "structure")]
    report = json.loads((workdir / "results/corpora/c.report.json").read_text())
    names = shard_names(NUM_SHARDS)
    assert report["missing_shards"] == [names[2]] and report["empty_shards"] == [names[1]]
    assert report["not_distilled"] == sum(shard(q) != names[0] for q in qs)
    assert report["unscorable"] == sum(shard(q) == names[0] and q["category"] == "chat" for q in qs)

    parallel = set.intersection(*(set(kept(t)) for t in ts.values()))
    for name in ts:
        rows = pq.read_table(workdir / f"results/corpora/parallel/{name}.parquet").to_pylist()
        assert [r["qid"] for r in rows] == sorted(parallel)


def test_export_reads_back_as_a_release(run):
    workdir, qs, ts = run
    parallel = sorted(set.intersection(*(set(kept(t)) for t in ts.values())))
    files = sorted((workdir / "results/export/a/data").glob("*.jsonl"))
    assert [f.name for f in files] == ["train-00000-of-00001.jsonl"]
    records = [decode(line, f"{f}:{n}") for f in files for n, _, line in scan(f)]
    assert {qid(r.turns): r.response for r in records} == {q: kept(ts["a"])[q] for q in parallel}
    sample = json.loads(files[0].read_text().splitlines()[0])
    info = sample["conversations"][-1]["info"]
    assert info["model_name"] == "org/teacher-a" and info["verify_score"] == 1.0 and info["ppl"] > 1
    assert info["think_content"] and info["answer_content"] and sample["system"] == ""
    card = (workdir / "results/export/a/README.md").read_text()
    assert f"{len(parallel)} responses of `org/teacher-a`" in card and "path: data/train-*.jsonl" in card
    assert "`ppl` is the response's perplexity" in card and "the threshold applied:" in card


def test_export_in_the_releases_layout_reads_as_their_users_read_it(run, tmp_path):
    """One file per category with the releases' names, read back by our reader (index, lookups) and by a
    loader written the way the releases' users write them."""
    workdir, qs, ts = run
    parallel = sorted(set.intersection(*(set(kept(t)) for t in ts.values())))
    folder = workdir / "results/export/a/release"
    ours = {q["qid"]: q["category"] for q in qs}
    theirs = {"math": "math", "code": "code", "science": "science", "if": "if", "chat": "multiturn", "general": "other"}
    assert sorted(p.name for p in folder.iterdir()) == sorted({f"{theirs[ours[q]]}.jsonl" for q in parallel})
    build([str(folder)], tmp_path / "index.parquet", tmp_path / "rejects.parquet")
    records = ReleaseIndex(tmp_path / "index.parquet", [str(folder)]).lookup(parallel)
    assert {q: r.response for q, r in records.items()} == {q: kept(ts["a"])[q] for q in parallel}
    answered = re.compile(r"<think>(.*?)</think>\s*<answer>(.*?)</answer>", re.S)
    for path in folder.iterdir():
        for line in path.read_text(encoding="utf-8").splitlines():
            sample = json.loads(line)
            first, last = sample["conversations"][0], sample["conversations"][-1]
            assert first["info"]["category"] == path.stem == last["info"]["category"]
            assert last["info"]["verify_score"] == 1.0 and last["info"]["model_name"] == "teacher_a"
            assert last["info"]["ppl"] < 1e9  # a number, as public filters compare it
            think, answer = answered.search(last["value"]).groups()
            assert last["info"]["think_content"] == think.strip() and last["info"]["answer_content"] == answer.strip()


def test_figure_numbers_match_the_fixture(run):
    workdir, qs, ts = run
    category = {q["qid"]: q["category"] for q in qs}
    parallel = set.intersection(*(set(kept(t)) for t in ts.values()))

    fig4 = {r["teacher"]: r for r in read_csv(workdir / "results/figures/fig4_token_counts.csv")}
    fig2 = read_csv(workdir / "results/figures/fig2_category_distribution.csv")
    fig3 = read_csv(workdir / "results/figures/fig3_math_token_spans.csv")
    for name, t in ts.items():
        lengths = {q: len(text.split()) for q, text in kept(t).items() if q in parallel}
        assert int(fig4[name]["n"]) == len(parallel)
        assert float(fig4[name]["mean"]) == pytest.approx(mean(lengths.values()))
        assert float(fig4[name]["max"]) == max(lengths.values())
        for row in (r for r in fig2 if r["teacher"] == name):
            mine = [q for q in parallel if category[q] == row["category"]]
            assert int(row["samples"]) == len(mine)
            assert int(row["tokens"]) == sum(lengths[q] for q in mine)
            if mine:
                assert float(row["token_share"]) == pytest.approx(sum(lengths[q] for q in mine) / sum(lengths.values()))
        math = [lengths[q] for q in parallel if category[q] == "math"]
        spans = [int(r["samples"]) for r in fig3 if r["teacher"] == name]
        assert spans == [sum(4 * b <= n < 4 * (b + 1) for n in math) for b in range(3)] + [sum(n >= 12 for n in math)]

    fig7 = {(r["teacher"], r["category"]): r for r in read_csv(workdir / "results/figures/fig7_attempts.csv")}
    assert fig7["a", "all"]["queries"] == str(len(qs))
    assert (fig7["a", "all"]["accepted_at_1"], fig7["a", "all"]["accepted_at_2"]) == (str(len(qs) - 2), "1")
    assert fig7["a", "code"]["never_accepted"] == "1" and fig7["a", "if"]["qa_rejected"] == "1"
    assert float(fig7["a", "math"]["mean_attempts_to_accept"]) == pytest.approx(6 / 5)
    distilled_c = [q for q in qs if shard(q) == shard_names(NUM_SHARDS)[0]]
    assert fig7["c", "all"]["queries"] == str(len(distilled_c))
    assert fig7["c", "chat"]["unscorable"] == str(sum(q["category"] == "chat" for q in distilled_c))
    assert fig7["c", "if"]["queries"] == "0" and fig7["c", "if"]["share_never_accepted"] == ""

    fig8 = {(r["teacher"], r["category"]): r for r in read_csv(workdir / "results/figures/fig8_cost.csv")}
    a_words = sum(len(x.text.split()) if x.tokens is None else x.tokens for v in ts["a"].attempts.values() for x in v)
    kept_a = kept(ts["a"])
    row = fig8["a", "all"]
    assert int(row["total_tokens"]) == a_words and int(row["corpus_samples"]) == len(kept_a)
    assert int(row["kept_tokens"]) == sum(len(text.split()) for text in kept_a.values())
    assert int(row["qa_removed_tokens"]) == len("a plain answer with no tags".split())
    assert int(row["failed_tokens"]) == 10 + 3 * 10
    assert float(row["tokens_per_sample"]) == pytest.approx(a_words / len(kept_a))

    fig5 = {r["teacher"]: r for r in read_csv(workdir / "results/figures/fig5_perplexity.csv")}
    ppl = pq.read_table(workdir / "results/corpora/c.parquet").to_pandas().set_index("qid")["ppl"]
    assert float(fig5["c"]["mean"]) == pytest.approx(ppl[sorted(parallel)].mean())


def test_dataset_stats_table_and_gaps(run):
    workdir, qs, ts = run
    parallel = set.intersection(*(set(kept(t)) for t in ts.values()))
    rows = read_csv(workdir / "results/tables/dataset_stats.csv")
    mean_a = next(r for r in rows if r["teacher"] == "a" and r["metric"] == "mean_tokens")
    assert mean_a["paper_teacher"] == "AM-Thinking-v1" and float(mean_a["paper"]) == 3757.3
    assert float(mean_a["ours"]) == pytest.approx(mean(len(kept(ts["a"])[q].split()) for q in parallel))
    # the paper's teachers that no teacher of ours stands for are listed with the paper's numbers alone
    assert {r["paper_teacher"] for r in rows if not r["teacher"]} == {"Qwen3-235B-A22B", "DeepSeek-R1"}
    text = (workdir / "results/tables/dataset_stats.md").read_text()
    missing = sum(shard(q) != shard_names(NUM_SHARDS)[0] for q in qs)
    assert f"c: {missing} of {len(qs)} queries not distilled (shard missing or empty)" in text
    assert "| a | AM-Thinking-v1 |" in text
    log = (workdir / "logs/figures/fig2_category_distribution.log").read_text()
    assert f"c: {missing} of {len(qs)} queries not distilled" in log


def test_rebuilds_only_what_a_change_touches(run):
    """(Nothing else is stale: a figure's style change plans that figure alone.)"""
    workdir, _, _ = run
    style = workdir / "style.yaml"
    style.write_text("analysis: {figures: {fig4_token_counts: {width: 5.0}}}\n")
    assert planned(workdir, *TARGETS, extra=config_args(str(style))) == [("figure", {"figure": "fig4_token_counts"})]
    threshold = workdir / "threshold.yaml"
    threshold.write_text("corpus: {quality: {perplexity: {max_by_teacher: {c: 1.5}}}}\n")
    jobs = planned_jobs(workdir, *TARGETS, extra=config_args(str(threshold)))
    assert jobs["teacher_corpus"] == 1 and "corpus_perplexity" not in jobs  # re-filtered, not re-scored
    mode = workdir / "mode.yaml"
    mode.write_text("corpus: {mode: union}\n")
    assert planned_jobs(workdir, *TARGETS, extra=config_args(str(mode))) == {"export_corpus": 2}
