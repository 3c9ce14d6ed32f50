"""Table 1 and Table 2: one row per benchmark, per model our value, the paper's and the difference."""

import csv
import io

import pytest

from distillery.core.paper_numbers import TABLE1_PASS_AT_1, TABLE2_MEAN_TOKENS
from distillery.evaluate.tables import render

MODELS = ["am_student", "r1_student", "base"]
BENCHMARKS = {"aime2024": "AIME2024", "livecodebench_v5": "LiveCodeBench", "toy": None}
PAPER = {"am_student": "AM-Thinking-v1", "r1_student": "DeepSeek-R1"}


def _scores():
    scores = {}
    for i, m in enumerate(MODELS):
        for j, b in enumerate(BENCHMARKS):
            scores[(m, b)] = {
                "pass@1": 0.1 * (i + j + 1),
                "pass@1_stderr": 0.01 * (i + 1),
                "mean_tokens": 1000.0 * (i + 1),
                "truncation_rate": 0.5,
                "problems": 30 + j,
                "samples_per_problem": 4,
            }
    return scores


def test_table1_has_ours_the_papers_and_the_difference():
    out = render("table1_accuracy", _scores(), MODELS, BENCHMARKS, PAPER)
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    assert [r["benchmark"] for r in rows] == list(BENCHMARKS)
    aime = rows[0]
    assert float(aime["am_student"]) == pytest.approx(10.0) and float(aime["am_student_stderr"]) == pytest.approx(1.0)
    assert float(aime["am_student_paper"]) == TABLE1_PASS_AT_1["AM-Thinking-v1"]["AIME2024"] == 84.3
    assert float(aime["am_student_diff"]) == pytest.approx(10.0 - 84.3)
    assert float(rows[1]["r1_student_paper"]) == TABLE1_PASS_AT_1["DeepSeek-R1"]["LiveCodeBench"] == 57.0
    assert aime["base_paper"] == "" and aime["base_diff"] == "" and rows[2]["am_student_paper"] == ""
    md = out["md"].splitlines()
    assert "| benchmark | problems | n | am_student | paper (AM-Thinking-v1) | Δ | r1_student |" in md[2]
    assert md[4] == (
        "| aime2024 (AIME2024) | 30 | 4 | 10.0 ± 1.0 | 84.3 | -74.3 | 20.0 ± 2.0 | 70.9 | -50.9 | 30.0 ± 3.0 | – | – |"
    )
    assert len(md) == 4 + len(BENCHMARKS)
    tex = out["tex"]
    assert "\\multicolumn{3}{c}{am\\_student}" in tex and "10.0 $\\pm$ 1.0 & 84.3 & -74.3" in tex
    assert tex.count("\\\\") == 2 + len(BENCHMARKS)  # two header rows, one per benchmark


def test_table2_is_mean_generation_length_against_the_papers():
    out = render("table2_generation_length", _scores(), MODELS, BENCHMARKS, PAPER)
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    assert float(rows[0]["r1_student"]) == 2000.0
    assert float(rows[0]["r1_student_paper"]) == TABLE2_MEAN_TOKENS["DeepSeek-R1"]["AIME2024"] == 11853.5
    assert float(rows[1]["am_student_paper"]) == TABLE2_MEAN_TOKENS["AM-Thinking-v1"]["LiveCodeBench"] == 23426.9
    assert rows[0]["r1_student_stderr"] == "" and float(rows[0]["r1_student_truncation_rate"]) == 0.5
    assert "| aime2024 (AIME2024) | 30 | 4 | 1000.0 | 15273.8 | -14273.8 |" in out["md"]


def test_no_models_yet_still_writes_the_tables():
    out = render("table1_accuracy", {}, [], {"toy": None}, {})
    assert "| toy | – | – |" in out["md"] and "\\bottomrule" in out["tex"]
