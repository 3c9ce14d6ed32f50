"""Rebuild guarantees on a finished run (tests/tiny_run.py): a rerun does nothing; a new verify threshold
re-verifies from the generation cache and generates nothing; a new teacher runs only its own jobs and the
aggregates; an edited source file or package module reruns what depends on it and nothing else.
(One figure's style redrawing only that figure is tested with the analysis rules.)"""

import json

import pytest

import tiny_run
from distillery.plan.figure_registry import FIGURES
from workflow import edited, planned, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

QUERY_RULES = {
    "ingest_source",
    "dedup_queries",
    "filter_queries",
    "benchmark_items",
    "embed_queries",
    "embed_benchmarks",
    "decontaminate_queries",
    "query_shards",
    "query_report",
}


def plan(workdir, *config_files, override=tiny_run.OVERRIDE):
    """rule -> jobs a run of `all` would do now (the `all` rule itself left out)."""
    jobs = planned_jobs(workdir, *tiny_run.targets(), extra=("--configfile", "config.yaml", override, *config_files))
    jobs.pop("all", None)
    return jobs


def test_a_second_run_has_nothing_to_do(tiny_done):
    assert plan(tiny_done) == {}


def test_a_new_threshold_reverifies_from_the_cache(tiny_done, tmp_path):
    workdir = tiny_run.clone(tiny_done, tmp_path / "wf")
    before = {t: json.loads((workdir / f"results/distill/{t}/summary.json").read_text()) for t in tiny_run.TEACHERS}
    (workdir / "threshold.yaml").write_text("distill: {threshold: 0.5}\n")
    jobs = plan(workdir, "threshold.yaml")
    assert jobs["distill_shard"] == 2 * len(tiny_run.TEACHERS) and not QUERY_RULES & set(jobs)
    summaries = [f"results/distill/{t}/summary.json" for t in tiny_run.TEACHERS]
    snakemake(workdir, *summaries, "--configfile", "config.yaml", tiny_run.OVERRIDE, "threshold.yaml")
    for t in tiny_run.TEACHERS:
        after = json.loads((workdir / f"results/distill/{t}/summary.json").read_text())
        assert after["generated"] == 0 and after["cache_hits"] == after["attempts"] == before[t]["attempts"]
        # the IF answer that follows one of its two instructions (score 0.5) passes now, and only it
        assert after["accepted"] == before[t]["accepted"] + 1
        assert after["by_category"]["if"]["accepted"] == before[t]["by_category"]["if"]["accepted"] + 1


def test_a_new_teacher_runs_only_its_jobs_and_the_aggregates(tiny_done):
    teachers = (*tiny_run.TEACHERS, "gamma")
    (tiny_done / "gamma.yaml").write_text(tiny_run.override(teachers))
    jobs = plan(tiny_done, override="gamma.yaml")
    assert not QUERY_RULES & set(jobs)
    # gamma's own work, once per shard / per teacher: nothing of alpha's or beta's
    assert jobs["distill_shard"] == 2 and jobs["distill_summary"] == 1 and jobs["teacher_corpus"] == 1
    assert jobs["corpus_perplexity"] == len(list((tiny_done / "results/corpora/perplexity/alpha").glob("*.parquet")))
    # the aggregates over teachers: the parallel corpora (their intersection changes), so every student
    # trains again on its new parallel corpus, and the tables and figures over all teachers
    assert jobs["parallel_corpora"] == 1 and jobs["dataset_stats"] == 1 and jobs["figure"] == len(FIGURES)
    assert jobs["train_student"] == 3 and jobs["eval_table"] == 2
    # students trained on their teacher's own corpus (corpus.mode union): only gamma's is new
    (tiny_done / "union.yaml").write_text("corpus: {mode: union}\n")
    (tiny_done / "gamma-union.yaml").write_text(tiny_run.override(teachers) + "corpus: {mode: union}\n")
    union_done, union_gamma = plan(tiny_done, "union.yaml"), plan(tiny_done, override="gamma-union.yaml")
    assert union_gamma["train_student"] == union_done.get("train_student", 0) + 1


def test_editing_one_source_file_reruns_only_what_reads_it(tiny_done):
    with edited(tiny_done / "data/queries/code.jsonl"):
        jobs = plan(tiny_done)
    assert jobs["ingest_source"] == 1  # toy_code, not the five other sources
    assert not {"benchmark_items", "embed_benchmarks"} & set(jobs)
    assert {"dedup_queries", "embed_queries", "decontaminate_queries", "query_shards"} <= set(jobs)
    with edited(tiny_done / "data/benchmarks/demo_math.jsonl"):
        jobs = plan(tiny_done)
    assert {"benchmark_items", "embed_benchmarks", "decontaminate_queries"} <= set(jobs)
    assert not {"ingest_source", "dedup_queries", "filter_queries", "embed_queries"} & set(jobs)
    assert plan(tiny_done) == {}


def test_docstrings_and_comments_rerun_nothing(tiny_done):
    def reworded(text):
        return text.replace('"""', '"""Reworded. ', 1) + "\n# a comment\n"

    with (
        edited(tiny_done / "distillery/queries/dedup.py", reworded),
        edited(tiny_done / "distillery/verify/math.py", reworded),
    ):
        assert plan(tiny_done) == {}


def test_editing_package_code_reruns_only_the_rules_that_run_it(tiny_done):
    with edited(tiny_done / "distillery/analysis/figures/fig4_token_counts.py"):
        assert planned(tiny_done, *tiny_run.targets(), extra=tiny_run.config_args()) == [
            ("figure", {"figure": "fig4_token_counts"}),
            ("all", {}),
        ]
    with edited(tiny_done / "distillery/corpora/export.py"):
        assert plan(tiny_done) == {"export_corpus": len(tiny_run.TEACHERS)}
    with edited(tiny_done / "distillery/verify/math.py"):
        jobs = plan(tiny_done)
    assert jobs["distill_shard"] == 2 * len(tiny_run.TEACHERS) and not QUERY_RULES & set(jobs)
    assert plan(tiny_done) == {}
