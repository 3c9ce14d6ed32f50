"""Rebuilds that stop where content stops changing, on a finished run (tests/tiny_run.py), each a real
Snakemake invocation: an upstream job that reran and wrote the same bytes reruns nothing below it; touched
or copied results rerun nothing; a config switched back restores its results from the store instead of
training and evaluating again; `distillery store gc` frees exactly what the config no longer reaches.
Every artifact is put above Snakemake's checksum limit (``--max-checksum-file-size 1``), as every artifact
of a paper-scale run is: Snakemake then goes by file times alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import tiny_run
from distillery.plan.early_cutoff import STORED_RULES
from workflow import edited, planned_jobs, ran, settled, snakemake

pytestmark = pytest.mark.workflow

ABOVE_CHECKSUM_LIMIT = ("--max-checksum-file-size", "1")


def plan(workdir, *config_files) -> dict[str, int]:
    jobs = planned_jobs(
        workdir, *tiny_run.targets(), *ABOVE_CHECKSUM_LIMIT, extra=(*tiny_run.config_args(), *config_files)
    )
    jobs.pop("all", None)
    return jobs


def run(workdir, *config_files):
    return snakemake(workdir, *tiny_run.targets(), *ABOVE_CHECKSUM_LIMIT, *tiny_run.config_args(), *config_files)


def files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_an_upstream_rerun_that_writes_the_same_bytes_reruns_nothing_below(tiny_done, tmp_path):
    workdir = tiny_run.clone(tiny_done, tmp_path / "wf")
    deduped = (workdir / "results/queries/deduped.parquet").read_bytes()
    with edited(workdir / "distillery/queries/dedup.py"):  # a change of behaviour: dedup must run again
        assert plan(workdir)["train_student"] == 2  # Snakemake alone would retrain, re-evaluate, ...
        proc = run(workdir)
    assert ran(proc) == {"dedup_queries": 1}
    assert (workdir / "results/queries/deduped.parquet").read_bytes() == deduped
    cut = settled(proc, "cut off")
    assert {"filter_queries", "embed_queries", "decontaminate_queries"} <= set(cut), proc.stdout[-3000:]
    assert plan(workdir) == {}  # dedup's old code back: its outputs are that code's too


def test_touched_or_copied_results_rerun_nothing(tiny_done, tmp_path):
    workdir = tiny_run.clone(tiny_done, tmp_path / "wf")
    for path in sorted((workdir / "results").rglob("*"), reverse=True):  # outputs older than inputs now
        os.utime(path)
    assert plan(workdir) == {}
    # a new checkout beside it, results/ copied without times (cp -r), the store shared
    checkout = tmp_path / "checkout"
    shutil.copytree(workdir, checkout, symlinks=True, ignore=shutil.ignore_patterns("results", ".snakemake", ".store"))
    subprocess.run(["cp", "-r", str(workdir / "results"), str(checkout / "results")], check=True)
    with open(checkout / tiny_run.OVERRIDE, "a", encoding="utf-8") as handle:
        handle.write(f"store: {{path: {workdir / '.store'}}}\n")
    assert plan(checkout) == {}
    assert ran(run(checkout)) == {}


def test_a_config_switched_back_restores_instead_of_training_and_evaluating(tiny_done, tmp_path):
    workdir = tiny_run.clone(tiny_done, tmp_path / "wf")
    (workdir / "lr.yaml").write_text("train: {learning_rate: 1.0e-2}\n")
    b = run(workdir, "lr.yaml")
    assert ran(b)["train_student"] == 2 and ran(b)["eval_generate"] > 0
    trained = workdir / "results/train"
    assert files(trained) != files(tiny_done / "results/train")  # B's students differ
    a = run(workdir)
    assert not {"train_student", "eval_generate", "eval_grade"} & set(ran(a)), ran(a)
    restored = settled(a, "restored")
    assert restored["train_student"] == 2 and restored["eval_generate"] == ran(b)["eval_generate"]
    assert files(trained) == files(tiny_done / "results/train")
    evaluated = {k: v for k, v in files(workdir / "results/eval").items() if k.parts[-2] in ("samples", "graded")}
    assert evaluated and evaluated == {
        k: v for k, v in files(tiny_done / "results/eval").items() if k.parts[-2] in ("samples", "graded")
    }
    assert plan(workdir) == {}


def store(workdir, *args):
    cmd = [sys.executable, "-m", "distillery.cli", "store", *args]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=True).stdout


def test_store_gc_after_dropping_a_teacher_frees_exactly_what_it_no_longer_reaches(tiny_done, tmp_path):
    workdir = tiny_run.clone(tiny_done, tmp_path / "wf")
    current = f"config.yaml,{tiny_run.OVERRIDE}"
    assert " 0 actions and 0 objects" in store(workdir, "gc", "--dry-run", current)  # all of it is reached
    (workdir / "alpha.yaml").write_text(tiny_run.override(teachers=("alpha",)))
    report = store(workdir, "gc", f"config.yaml,{tiny_run.OVERRIDE},alpha.yaml")
    freed = {tuple(line.split()[:2]) for line in report.splitlines()[1:]}
    freed_stored = {(rule, wildcards) for rule, wildcards in freed if rule in STORED_RULES}
    # beta's release index, distillation and perplexity; the students (their parallel corpus is alpha's
    # alone now) and their evaluations; nothing of alpha's own distillation or of query preparation
    assert any("beta" in w for r, w in freed_stored if r == "distill_shard")
    teachers_own = ("release_index", "distill_shard", "corpus_perplexity")
    assert not any("alpha" in w for r, w in freed_stored if r in teachers_own)
    assert {w for r, w in freed_stored if r == "release_index"} == {'{"teacher":"beta"}'}
    assert {r for r, _ in freed_stored} == {
        "release_index",
        "distill_shard",
        "corpus_perplexity",
        "train_student",
        "eval_generate",
        "eval_grade",
    }
    held = [line for line in store(workdir, "du").splitlines() if "distill_shard" in line]
    assert held and held[0].split(": ")[1].startswith("2 actions")  # alpha's two shards are left
    assert "freed 0 actions" in store(workdir, "gc", f"config.yaml,{tiny_run.OVERRIDE},alpha.yaml")
