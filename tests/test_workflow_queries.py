"""The query-preparation DAG run for real by Snakemake on the embedded default config."""

import json
from collections import Counter

import pyarrow.parquet as pq
import pytest

from distillery.core.canonical import shard_of
from workflow import copy_workflow, edited, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

Q = "results/queries"
PLANTED_STAGE = {
    "duplicate": "dedup",
    "duplicate-whitespace": "dedup",
    "duplicate-cross-source": "dedup",
    "missing-field": "ingest",
    "url": "filter",
    "table": "filter",
    "image": "filter",
    "unicode-junk": "filter",
    "empty": "filter",
    "incomplete": "filter",
    "too-short": "filter",
    "contaminated-verbatim": "decontaminate",
    "contaminated-normalized": "decontaminate",
    "contaminated-paraphrase": "decontaminate",
}
# The query-preparation outputs (`all` also distils, trains and evaluates: far more than these tests need).
PREP = (f"{Q}/report.md", f"{Q}/shards.report.json")
REJECTS = {
    "dedup": "deduped.rejects.parquet",
    "filter": "filtered.rejects.parquet",
    "decontaminate": "clean.rejects.parquet",
}


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("wf"))
    snakemake(workdir, *PREP)
    return workdir


def parseable_rows(path):
    rows = []
    for line in open(path, encoding="utf-8"):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # the planted broken line, checked separately
    return rows


def ids(table, source=None):
    return {
        (json.loads(m)["source_id"], s)
        for m, s in zip(table.column("meta").to_pylist(), table.column("source").to_pylist(), strict=True)
        if source is None or s == source
    }


def test_every_row_is_kept_or_rejected_with_a_reason(done):
    config_sources = {
        "toy_math": "math",
        "toy_code": "code",
        "toy_science": "science",
        "toy_if": "if",
        "toy_chat": "chat",
        "toy_general": "general",
    }
    lines = {
        name: sum(1 for line in open(done / f"data/queries/{f}.jsonl", encoding="utf-8") if line.strip())
        for name, f in config_sources.items()
    }
    clean = pq.read_table(done / f"{Q}/clean.parquet")
    shards = [pq.read_table(p) for p in sorted((done / f"{Q}/shards").glob("*.parquet"))]
    ingest_rejects = sum(len(pq.read_table(done / f"{Q}/raw/{s}.rejects.parquet")) for s in lines)
    later_rejects = sum(len(pq.read_table(done / Q / f)) for f in REJECTS.values())
    assert sum(lines.values()) == len(clean) + ingest_rejects + later_rejects
    assert sum(len(s) for s in shards) == len(clean)
    report = json.loads((done / f"{Q}/report.json").read_text())
    assert report["accounted"] and report["stages"][0]["in"] == sum(lines.values())
    assert report["max_reject_share"] == 0.5 and report["flagged_sources"] == []  # the toy sources pass


def test_planted_problems_are_removed_by_their_stage_and_clean_rows_survive(done):
    removed_by = {}
    for stage, f in REJECTS.items():
        for key in ids(pq.read_table(done / Q / f)):
            removed_by[key] = stage
    for source in ("toy_math", "toy_code", "toy_science", "toy_if", "toy_chat", "toy_general"):
        for row in pq.read_table(done / f"{Q}/raw/{source}.rejects.parquet").to_pylist():
            removed_by[
                (json.loads(row["record"]).get("id") if row["reason"] != "invalid_json" else "broken", source)
            ] = "ingest"
    data = {
        "toy_math": "math",
        "toy_code": "code",
        "toy_science": "science",
        "toy_if": "if",
        "toy_chat": "chat",
        "toy_general": "general",
    }
    clean = ids(pq.read_table(done / f"{Q}/clean.parquet"))
    for source, f in data.items():
        for row in parseable_rows(done / f"data/queries/{f}.jsonl"):
            key = (row.get("id", row.get("key")), source)
            if "planted" in row:
                assert removed_by.get(key) == PLANTED_STAGE[row["planted"]], (key, row["planted"])
            else:
                assert key in clean, key
    assert ("broken", "toy_general") in removed_by


def test_rejects_explain_themselves(done):
    decontam = pq.read_table(done / f"{Q}/clean.rejects.parquet").to_pylist()
    assert decontam and all(r["benchmark"] and r["benchmark_item"] and r["similarity"] is not None for r in decontam)
    dedup = pq.read_table(done / f"{Q}/deduped.rejects.parquet").to_pylist()
    assert all("kept from source" in r["detail"] for r in dedup)
    filtered = pq.read_table(done / f"{Q}/filtered.rejects.parquet").to_pylist()
    assert {r["reason"] for r in filtered} >= {"url", "table", "image", "unusual_unicode", "empty", "incomplete"}


def test_shards_hold_each_query_where_its_hash_says(done):
    for path in sorted((done / f"{Q}/shards").glob("*.parquet")):
        index, _, total = path.stem.partition("-of-")
        qids = pq.read_table(path).column("qid").to_pylist()
        assert qids == sorted(qids)
        assert all(shard_of(q, int(total)) == int(index) for q in qids)
    counts = Counter(pq.read_table(done / f"{Q}/clean.parquet").column("category").to_pylist())
    assert set(counts) == {"math", "code", "science", "if", "chat", "general"}


def test_every_rule_wrote_a_log(done):
    logs = {p.relative_to(done / "logs").as_posix() for p in (done / "logs").rglob("*.log")}
    assert {
        "queries/dedup_queries.log",
        "queries/filter_queries.log",
        "queries/embed_queries.log",
        "queries/decontaminate_queries.log",
        "queries/ingest_source/toy_math.log",
    } <= logs
    assert "done in" in (done / "logs/queries/embed_queries.log").read_text()


def test_second_run_has_nothing_to_do(done):
    assert planned_jobs(done, *PREP) == {}


def test_threshold_change_reruns_decontamination_but_does_not_re_embed(done, tmp_path):
    override = tmp_path / "threshold.yaml"
    override.write_text("decontaminate: {threshold: 0.8}\n")
    jobs = planned_jobs(done, *PREP, extra=("--configfile", "config.yaml", str(override)))
    assert set(jobs) == {"decontaminate_queries", "query_shards", "query_report"}


def test_editing_package_code_reruns_only_the_rules_that_use_it(done):
    with edited(done / "distillery/queries/dedup.py"):
        jobs = planned_jobs(done, *PREP)
    assert set(jobs) == {
        "dedup_queries",
        "filter_queries",
        "embed_queries",
        "decontaminate_queries",
        "query_shards",
        "query_report",
    }
    with edited(done / "distillery/core/canonical.py"):  # imported by sources, dedup and decontaminate
        jobs = planned_jobs(done, *PREP)
    assert {"ingest_source", "benchmark_items", "decontaminate_queries"} <= set(jobs)
    assert planned_jobs(done, *PREP) == {}


def test_one_target_builds_only_what_it_needs(tmp_path):
    workdir = copy_workflow(tmp_path)
    jobs = planned_jobs(workdir, f"{Q}/clean.parquet")
    assert "query_shards" not in jobs and "query_report" not in jobs and jobs["ingest_source"] == 6
    assert planned_jobs(workdir, f"{Q}/deduped.parquet") == {"ingest_source": 6, "dedup_queries": 1}


def test_config_errors_name_the_bad_key(tmp_path):
    workdir = copy_workflow(tmp_path)
    proc = snakemake(workdir, "--dry-run", "all", "--config", "decontaminate={'treshold': 0.8}", check=False)
    out = proc.stderr + proc.stdout
    assert proc.returncode != 0 and "config: decontaminate: unknown key 'treshold' (did you mean 'threshold'?)" in out
    config = (workdir / "config.yaml").read_text().replace("category: math", "category: maths")
    (workdir / "config.yaml").write_text(config)
    proc = snakemake(workdir, "--dry-run", "all", check=False)
    out = proc.stderr + proc.stdout
    assert proc.returncode != 0 and "config: sources[toy_math].category: 'maths' is not one of" in out


def test_editing_one_source_reruns_only_its_ingest(done):
    path = done / "data/queries/science.jsonl"
    path.write_text(
        path.read_text()
        + json.dumps(
            {"id": "s999", "question": "Which planet is largest?", "choices": ["Mars", "Jupiter"], "answer": "B"}
        )
        + "\n"
    )
    jobs = planned_jobs(done, *PREP)
    assert jobs["ingest_source"] == 1 and "benchmark_items" not in jobs and "embed_benchmarks" not in jobs


def test_a_source_that_yields_no_query_stops_its_ingest(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "data/queries/math.jsonl").write_text("\n")
    proc = snakemake(workdir, f"{Q}/raw/toy_math.parquet", check=False)
    log = (workdir / "logs/queries/ingest_source/toy_math.log").read_text()
    assert proc.returncode != 0
    assert "source 'toy_math' (data/queries/math.jsonl) yields no query: it has no rows" in log
