"""configs/release.yaml, scaled down: synthetic a-m-team releases of three teachers (both record shapes,
one file per category, a .gz and a .zst, duplicates, a conflict and a malformed line planted) through the
workflow: the first release's queries through query preparation, every release as a dataset teacher,
corpora, the data figures (2-5), the dataset table and the exports. The counts must add up and every
planted duplicate be reported. (Training and evaluation on dataset teachers' corpora run in every test
of the shared cheap run, tests/tiny_run.py.)"""

from __future__ import annotations

import gzip
import json

import pyarrow.parquet as pq
import pytest
import zstandard

import tiny_run
from analysis_fixture import save_tiny_model
from workflow import copy_workflow, snakemake

pytestmark = pytest.mark.workflow

PER_CATEGORY = 8
TARGETS = (
    "figures/fig2_category_distribution.pdf",
    "figures/fig3_math_token_spans.pdf",
    "figures/fig4_token_counts.pdf",
    "figures/fig5_perplexity.pdf",
    "tables/dataset_stats.md",
)
FILES = {"math": "math", "code": "code", "science": "science", "if": "if", "chat": "multiturn", "general": "other"}


def query(category: str, i: int) -> tuple[list[dict], dict, str]:
    """(user turns, the response's info, a right response) of query ``i`` of a category."""
    if category == "math":
        return [f"Compute {i} plus {i + 3}."], {"ground_truth": str(2 * i + 3)}, f"\\boxed{{{2 * i + 3}}}"
    if category == "code":
        tests = {"tests": [{"input": "1", "output": str(1 + i), "testtype": "functional"}], "fn_name": "add"}
        return (
            [f"Write add(x) returning x + {i}."],
            {"test_case": json.dumps(tests)},
            f"```python\ndef add(x):\n    return x + {i}\n```",
        )
    if category == "science":
        return [f"Which is a noble gas (case {i})?\n\nA. Iron\nB. Neon\nC. Salt\nD. Sand"], {"ground_truth": "B"}, "B"
    if category == "if":
        constraint = {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
        return [f"Describe sea number {i} without commas."], {"instruction_constrain": json.dumps(constraint)}, "Blue"
    if category == "chat":
        return [f"Hello {i}.", "Tell me more."], {}, "More."
    return [f"Give advice number {i}."], {}, "Sleep well."


def sample(category: str, i: int, model: str, right: bool, shape: str) -> dict:
    users, info, answer = query(category, i)
    response = f"<think>Step {i}.</think>\n<answer>{answer if right else 'wrong'}</answer>"
    final = {**info, "category": FILES[category], "verify_score": 1.0 if right else 0.0, "model_name": model}
    turns = []
    for k, text in enumerate(users):
        turns.append(("user", text, {}))
        turns.append(("assistant", "Earlier reply." if k < len(users) - 1 else response, final))
    if shape == "messages":
        return {"messages": [{"role": r, "content": t, "info": inf} for r, t, inf in turns]}
    speaker = {"user": "human", "assistant": "assistant"}
    return {"system": "", "conversations": [{"from": speaker[r], "value": t, "info": inf} for r, t, inf in turns]}


def lines(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def write_releases(workdir) -> dict[str, dict]:
    """The three releases at configs/release.yaml's paths; returns what was planted in each."""
    root = workdir / "releases"
    planted = {}
    am = root / "AM-Thinking-v1-Distilled"
    am.mkdir(parents=True)
    for category, name in FILES.items():
        rows = [sample(category, i, "am_thinking_v1", i % 4 != 3, "conversations") for i in range(PER_CATEGORY)]
        if category == "math":
            rows += rows[:2]  # two duplicates
        (am / f"{name}.jsonl").write_bytes(lines(rows))
    planted["am-thinking-v1"] = {"duplicate": 2, "conflict": 0, "malformed": 0}
    qwen = root / "AM-Qwen3-Distilled"
    qwen.mkdir(parents=True)
    for category, name in FILES.items():
        rows = [sample(category, i, "qwen3_235b_a22b", i % 3 != 2, "conversations") for i in range(PER_CATEGORY)]
        if category == "math":  # compressed; one record again, and one query with another response
            rows += [rows[0], sample("math", 1, "qwen3_235b_a22b", False, "conversations")]
            (qwen / f"{name}.jsonl.gz").write_bytes(gzip.compress(lines(rows)))
        else:
            (qwen / f"{name}.jsonl").write_bytes(lines(rows))
    planted["qwen3-235b-a22b"] = {"duplicate": 1, "conflict": 1, "malformed": 0}
    r1 = root / "AM-DeepSeek-R1-Distilled-1.4M"
    r1.mkdir(parents=True)
    rows = [sample(c, i, "deepseek_r1", True, "messages") for c in FILES for i in range(PER_CATEGORY) if i % 2 == 0]
    data = lines(rows + rows[:1]) + b'{"messages": []}\n'  # a duplicate, a malformed record
    (r1 / "am_0.5M.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    planted["deepseek-r1"] = {"duplicate": 1, "conflict": 0, "malformed": 1}
    return planted


@pytest.fixture(scope="module")
def release_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("release"))
    planted = write_releases(workdir)
    save_tiny_model(workdir / "tiny")
    (workdir / "release-test.yaml").write_text(
        "shards: {num_shards: 2}\n"
        "distill: {judge: null, verify_processes: 1}\n"
        "analysis:\n  tokenizer: tiny\n  perplexity: {model: tiny, dtype: float32, max_tokens: 64, batch_size: 4}\n"
        + tiny_run.TRAIN_EVAL
    )
    targets = [f"results/{t}" for t in TARGETS]
    targets += [f"results/export/{t}" for t in planted] + [f"results/distill/{t}/summary.json" for t in planted]
    proc = snakemake(workdir, *targets, "--configfile", "config.yaml", "configs/release.yaml", "release-test.yaml")
    return workdir, planted, proc


def test_the_release_path_builds_everything_and_its_counts_add_up(release_run):
    workdir, planted, _ = release_run
    results = workdir / "results"
    for teacher, expected in planted.items():
        report = json.loads((results / f"distill/{teacher}/release/index.report.json").read_text())
        assert report["records"] == report["indexed"] + report["duplicates"] + report["conflicts"] + report["malformed"]
        assert {k: report[f"{k}s" if k != "malformed" else k] for k in expected} == expected, teacher
        rejects = pq.read_table(results / f"distill/{teacher}/release/index.rejects.parquet").to_pylist()
        assert sorted(r["reason"] for r in rejects) == sorted(k for k, n in expected.items() for _ in range(n))
    for name in FILES.values():  # every row of every source read is kept or rejected with a reason
        report = json.loads((results / f"queries/raw/am_{name}.report.json").read_text())
        assert report["rows_read"] == report["kept"] + report["rejected"]
    clean = pq.read_table(results / "queries/clean.parquet").num_rows
    assert clean == len(FILES) * PER_CATEGORY
    summaries = {t: json.loads((results / f"distill/{t}/summary.json").read_text()) for t in planted}
    assert {s["queries"] for s in summaries.values()} == {clean}
    assert summaries["deepseek-r1"]["accepted"] < summaries["am-thinking-v1"]["accepted"]  # half the queries
    for summary in summaries.values():  # every release re-verified, its own verdicts compared with ours
        agreement = summary["release_agreement"]
        assert agreement["compared"] == agreement["agree"] + agreement["ours_only"] + agreement["release_only"]
        assert agreement["agree"] >= 0.75 * agreement["compared"] > 0, agreement
    sizes = {pq.read_table(results / f"corpora/parallel/{t}.parquet").num_rows for t in planted}
    assert len(sizes) == 1 and sizes.pop() > 0
    for artifact in TARGETS:
        assert (results / artifact).stat().st_size > 0, artifact
    for teacher in planted:  # exported in the releases' layout again
        assert (results / f"export/{teacher}/release/math.jsonl").stat().st_size > 0
    # the queries carry the release's own verdict, to compare ours with
    meta = json.loads(pq.read_table(results / "queries/clean.parquet").column("meta")[0].as_py())
    assert "verify_score" in meta["release"]
