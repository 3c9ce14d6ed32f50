"""The evaluation rules run for real by Snakemake on the embedded default's benchmarks: a tiny random
student (standing in for a trained one; only the mechanics matter here) is evaluated, both tables come
out, and reruns, re-grading and re-scoring generate nothing again. The tiny word-level tokenizer cannot
hold stop strings, so the default's stop string is dropped here."""

import csv
import json

import pyarrow.parquet as pq
import pytest

from conftest import tiny_llama_config, tiny_tokenizer
from workflow import copy_workflow, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

TABLES = ["results/tables/table1_accuracy", "results/tables/table2_generation_length"]
TARGETS = [f"{t}.{ext}" for t in TABLES for ext in ("md", "csv", "tex")]
OVERRIDE = """
teachers:
  - {name: tiny_teacher, backend: dataset, model: released, dataset: {paths: [released.jsonl]}}
evaluate:
  benchmarks:
    demo_math_easy: {samples: 3, limit: 3, paper: AIME2024}
    demo_code_easy: {samples: 2, shards: 2, max_new_tokens: 8}
  student_model: "students/{teacher}"
  student_backend: {batch_size: 4, dtype: float32}
  max_new_tokens: 8
  stop: []
  extra_models: []
  paper_models: {tiny_teacher: AM-Thinking-v1}
"""


def _tiny_model(folder, seed):
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    LlamaForCausalLM(tiny_llama_config()).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("wf"))
    _tiny_model(workdir / "students/tiny_teacher", 0)
    (workdir / "released.jsonl").touch()  # the teacher's release: named, so it must exist; nothing distils here
    override = workdir / "eval.yaml"
    override.write_text(OVERRIDE)
    snakemake(workdir, *TARGETS, "--configfile", "config.yaml", str(override))
    return workdir, ("--configfile", "config.yaml", str(override))


def test_every_model_and_benchmark_is_generated_graded_and_scored(done):
    workdir, _ = done
    for model in ("tiny_teacher",):
        math = pq.read_table(workdir / f"results/eval/{model}/demo_math_easy.parquet").to_pylist()
        assert [(r["problem_id"], r["sample"]) for r in math] == [
            (f"demo-easy-0{p}", s) for p in (1, 2, 3) for s in range(3)
        ]
        code = pq.read_table(workdir / f"results/eval/{model}/demo_code_easy.parquet").to_pylist()
        assert sorted({r["problem_id"] for r in code}) == ["demo-easy-code-01", "demo-easy-code-02"] and len(code) == 4
        for row in math + code:
            assert row["completion_tokens"] <= 8 and row["finish_reason"] in ("stop", "length")
            assert row["gradeable"] and row["correct"] is False and row["detail"]  # random words are never right
        assert len({r["seed"] for r in math}) == len(math)  # every sample has its own seed
        scores = json.loads((workdir / f"results/eval/{model}/demo_math_easy.json").read_text())
        assert scores["pass@1"] == 0.0 and list(scores["pass@k"]) == ["1", "2", "3"]
        assert scores["problems"] == 3 and scores["samples"] == 9 and scores["ungradeable"]["samples"] == 0
        assert scores["mean_tokens"] == pytest.approx(sum(r["completion_tokens"] for r in math) / 9)
        assert scores["truncation_rate"] == pytest.approx(sum(r["finish_reason"] == "length" for r in math) / 9)
        assert scores["paper_benchmark"] == "AIME2024" and scores["max_new_tokens"] == 8
    shards = sorted((workdir / "results/eval/tiny_teacher/demo_code_easy/samples").glob("*.parquet"))
    assert [s.name for s in shards] == ["00000-of-00002.parquet", "00001-of-00002.parquet"]
    assert [len(pq.read_table(s)) for s in shards] == [2, 2]


def test_both_tables_in_three_formats_with_the_papers_values(done):
    workdir, _ = done
    md = (workdir / "results/tables/table1_accuracy.md").read_text()
    assert "| demo_math_easy (AIME2024) | 3 | 3 | 0.0 ± 0.0 | 84.3 | -84.3 |" in md
    assert "| demo_code_easy | 2 | 2 | 0.0 ± 0.0 | – | – |" in md
    assert "paper (AM-Thinking-v1)" in md
    rows = list(csv.DictReader(open(workdir / "results/tables/table2_generation_length.csv")))
    assert [r["benchmark"] for r in rows] == ["demo_math_easy", "demo_code_easy"]
    math_tokens = json.loads((workdir / "results/eval/tiny_teacher/demo_math_easy.json").read_text())["mean_tokens"]
    assert float(rows[0]["tiny_teacher"]) == pytest.approx(math_tokens)
    assert float(rows[0]["tiny_teacher_paper"]) == 15273.8
    assert float(rows[0]["tiny_teacher_diff"]) == pytest.approx(math_tokens - 15273.8)
    assert rows[1]["tiny_teacher_paper"] == "" and rows[1]["tiny_teacher_diff"] == ""
    tex = (workdir / "results/tables/table2_generation_length.tex").read_text()
    assert "\\multicolumn{3}{c}{tiny\\_teacher}" in tex and "\\bottomrule" in tex


def test_a_table_is_its_own_target_and_reruns_generate_nothing(done):
    workdir, config = done
    assert planned_jobs(workdir, *TARGETS, extra=config) == {}
    # re-grading (a new per-test time limit) and re-scoring do not regenerate
    (workdir / "regrade.yaml").write_text("evaluate: {grading: {code: {timeout_s: 3}}}\n")
    regrade = planned_jobs(workdir, *TARGETS, extra=(*config, str(workdir / "regrade.yaml")))
    assert "eval_generate" not in regrade and regrade["eval_grade"] == 3
    snakemake(workdir, "results/eval/tiny_teacher/demo_math_easy.json", "--forcerun", "eval_generate", *config)
    report = json.loads((workdir / "results/eval/tiny_teacher/demo_math_easy/samples/00000-of-00001.json").read_text())
    assert report["generated"] == 0 and report["cache_hits"] == report["samples"] == 9
    samples = pq.read_table(workdir / "results/eval/tiny_teacher/demo_math_easy.parquet")
    assert all(samples.column("cached").to_pylist())
    logs = workdir / "logs/eval/tiny_teacher"
    assert "loading model" not in (logs / "demo_math_easy/generate-00000-of-00001.log").read_text()
    assert "loading model" in (logs / "demo_code_easy/generate-00000-of-00002.log").read_text()
