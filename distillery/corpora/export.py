"""A corpus in the a-m-team release format (AM-Thinking-v1-Distilled, AM-Qwen3-Distilled), twice: as JSONL
shards and a dataset card, ready to push to the Hugging Face hub, and in the release's own layout (one
file per category at ``release/``, the release's category names and ``model_name`` style), for the
scripts written against the releases; the dataset backend reads either back.

Each line is ``{"system": ..., "conversations": [{"from": "human"|"assistant", "value", "info"}]}``;
the last turn is the teacher's response and its ``info`` holds ``source, category, ground_truth,
test_case, instruction_constrain, think_content, answer_content, verify_score, model_name, ppl``.
Every turn carries all these keys (null where they do not apply) so that the hub infers one schema, but
``ppl``: public filters compare it as a number (``info["ppl"] < 3.25``), so it is left out of every
record when some response has none (perplexity off), and the card says so.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from distillery.core.artifacts import atomic_path, write_text
from distillery.core.prompts import SYSTEM_PROMPT
from distillery.verify.result import PASS_THRESHOLD

INFO_KEYS = (
    "source",
    "category",
    "ground_truth",
    "test_case",
    "instruction_constrain",
    "think_content",
    "answer_content",
    "verify_score",
    "model_name",
    "ppl",
)
SPEAKERS = {"user": "human", "assistant": "assistant"}
BATCH = 10_000
# Our categories as the releases name them, and their files (math.jsonl, ..., multiturn.jsonl, other.jsonl).
RELEASE_CATEGORIES = {
    "math": "math",
    "code": "code",
    "science": "science",
    "if": "if",
    "chat": "multiturn",
    "general": "other",
}


def release_model_name(teacher: dict) -> str:
    """``info.model_name`` in the releases' style (``am_thinking_v1``, ``qwen3_235b_a22b``), unless the
    teacher names its own (``release_model_name``)."""
    if teacher.get("release_model_name"):
        return teacher["release_model_name"]
    return re.sub(r"[^a-z0-9]+", "_", teacher["model"].rsplit("/", 1)[-1].lower()).strip("_")


def system_prompt(teacher: dict) -> str:
    """What the teacher was told, as the release's ``system`` field ("" for none)."""
    prompt = teacher.get("system_prompt", "paper")
    return SYSTEM_PROMPT if prompt == "paper" else (prompt or "")


def query_info(row: dict) -> dict:
    """The release's per-query fields, from our reference struct."""
    ref = row.get("reference") or {}
    tests = ref.get("tests")
    test_case = json.dumps({"tests": tests, "fn_name": ref.get("fn_name")}, ensure_ascii=False) if tests else None
    constrain = None
    if ref.get("instruction_id_list"):
        constrain = json.dumps(
            {
                "instruction_id_list": ref["instruction_id_list"],
                "kwargs": json.loads(ref["kwargs"]) if ref.get("kwargs") else None,
            },
            ensure_ascii=False,
        )
    info = dict.fromkeys(INFO_KEYS)
    info.update(
        source=row["source"],
        category=row["category"],
        ground_truth=ref.get("answer"),
        test_case=test_case,
        instruction_constrain=constrain,
    )
    return info


def release_sample(row: dict, model_name: str, system: str, *, with_ppl: bool = True, categories=None) -> dict:
    """One corpus row as a release sample: the query's turns, then the response with its verdict
    (``categories``: our category -> the name the sample carries)."""
    base = query_info(row)
    if categories:
        base["category"] = categories[row["category"]]
    turns = [m for m in row["messages"] if m["role"] != "system"]
    own_system = "\n\n".join(m["content"] for m in row["messages"] if m["role"] == "system")
    conversations = [{"from": SPEAKERS[m["role"]], "value": m["content"], "info": dict(base)} for m in turns]
    info = {
        **base,
        "think_content": row["think"],
        "answer_content": row["answer"],
        "verify_score": row["score"],
        "model_name": model_name,
    }
    if with_ppl:
        info["ppl"] = row["ppl"]
    else:
        for turn in conversations:
            turn["info"].pop("ppl")
        info.pop("ppl")
    conversations.append({"from": "assistant", "value": row["response"], "info": info})
    return {"system": own_system or system, "conversations": conversations}


def _scored(ppl) -> bool:
    return ppl is not None and not math.isnan(ppl)


def export_file_names(rows: int, rows_per_file: int) -> list[str]:
    n = max(1, math.ceil(rows / rows_per_file))
    return [f"train-{i:05d}-of-{n:05d}.jsonl" for i in range(n)]


def export_corpus(corpus_path: str | Path, out_dir: str | Path, teacher: dict, rows_per_file: int) -> dict:
    """Write ``out_dir/data/train-*.jsonl``; return what the card reports (counts by category, source,
    verifier; mean verify score and perplexity)."""
    data = Path(out_dir) / "data"
    data.mkdir(parents=True, exist_ok=True)
    parquet = pq.ParquetFile(corpus_path)
    names = export_file_names(parquet.metadata.num_rows, rows_per_file)
    model, system = teacher["model"], system_prompt(teacher)
    with_ppl = all(map(_scored, pq.read_table(corpus_path, columns=["ppl"]).column("ppl").to_pylist()))
    counts = {"category": Counter(), "source": Counter(), "verifier": Counter()}
    scores, ppls = [], []
    rows = parquet.iter_batches(BATCH)
    pending: list[dict] = []
    for name in names:
        with atomic_path(data / name) as tmp, open(tmp, "w", encoding="utf-8") as f:
            written = 0
            while written < rows_per_file:
                if not pending:
                    batch = next(rows, None)
                    if batch is None:
                        break
                    pending = batch.to_pylist()
                take, pending = pending[: rows_per_file - written], pending[rows_per_file - written :]
                for row in take:
                    f.write(
                        json.dumps(release_sample(row, model, system, with_ppl=with_ppl), ensure_ascii=False) + "\n"
                    )
                    for key in counts:
                        counts[key][row[key]] += 1
                    scores.append(row["score"])
                    if _scored(row["ppl"]):
                        ppls.append(row["ppl"])
                written += len(take)
    release_files = export_release_layout(parquet, Path(out_dir) / "release", teacher, with_ppl)
    return {
        "samples": sum(counts["category"].values()),
        "files": names,
        **{f"by_{k}": dict(sorted(v.items())) for k, v in counts.items()},
        "mean_verify_score": sum(scores) / len(scores) if scores else None,
        "mean_ppl": sum(ppls) / len(ppls) if ppls else None,
        "scored_ppl": len(ppls),
        "with_ppl": with_ppl,
        "release_files": release_files,
        "release_model_name": release_model_name(teacher),
    }


def export_release_layout(parquet: pq.ParquetFile, folder: Path, teacher: dict, with_ppl: bool) -> list[str]:
    """``folder/<category>.jsonl``: the corpus split as the releases ship, one file per category present."""
    folder.mkdir(parents=True, exist_ok=True)
    model, system = release_model_name(teacher), system_prompt(teacher)
    files: dict[str, object] = {}
    with contextlib.ExitStack() as stack:  # each file closed, then renamed into place; none if any fails
        for batch in parquet.iter_batches(BATCH):
            for row in batch.to_pylist():
                name = RELEASE_CATEGORIES[row["category"]]
                if name not in files:
                    tmp = stack.enter_context(atomic_path(folder / f"{name}.jsonl"))
                    files[name] = stack.enter_context(open(tmp, "w", encoding="utf-8"))
                sample = release_sample(row, model, system, with_ppl=with_ppl, categories=RELEASE_CATEGORIES)
                files[name].write(json.dumps(sample, ensure_ascii=False) + "\n")
    return sorted(f"{name}.jsonl" for name in files)


def size_category(n: int) -> str:
    for bound, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < bound:
            return name
    return "10M<n<100M"


def dataset_card(teacher: dict, summary: dict, corpus_report: dict, settings: dict, mode: str) -> str:
    """The hub's README.md: YAML metadata, then what is in the data and how it was made."""
    name = settings.get("pretty_name") or f"{teacher['name']} distilled ({teacher['model']})"
    n = summary["samples"]
    lines = ["---", f"license: {settings['license']}"]
    if settings.get("license_name"):
        lines.append(f"license_name: {settings['license_name']}")
    lines += [
        "language:",
        "- en",
        "task_categories:",
        "- text-generation",
        "tags:",
        "- reasoning",
        "- distillation",
        "- synthetic",
        "size_categories:",
        f"- {size_category(n)}",
        f"pretty_name: {json.dumps(name)}",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: data/train-*.jsonl",
        "---",
        "",
        f"# {name}",
        "",
        f"{n:,} responses of `{teacher['model']}` (teacher `{teacher['name']}`), each verified correct "
        f"(verify score >= {PASS_THRESHOLD}) and kept by quality assurance; the {mode} corpus of "
        "[Distillery](https://arxiv.org/abs/2505.14464)'s reproduction of *Not All Correct Answers Are "
        "Equal: Why Your Distillation Source Matters* (a-m-team, 2025), in the format of the a-m-team releases.",
        "",
        "## Categories",
        "",
        "| category | samples | share |",
        "| --- | ---: | ---: |",
    ]
    for category, count in summary["by_category"].items():
        lines.append(f"| {category} | {count:,} | {count / n:.1%} |")
    lines += ["", "## Sources", "", "| source | samples |", "| --- | ---: |"]
    lines += [f"| {source} | {count:,} |" for source, count in summary["by_source"].items()]
    lines += [
        "",
        "## Verification",
        "",
        f"Every query was sent to the teacher again, with a new seed, until a response scored >= {PASS_THRESHOLD} "
        "(math: math-verify on the last `\\boxed{}`; code: tests in a sandbox, pass rate; science: the chosen "
        "option; instruction following: IFEval checkers, strict; chat and general: a reward model or an LLM "
        "judge). Verifiers of the kept responses:",
        "",
        "| verifier | samples |",
        "| --- | ---: |",
    ]
    lines += [f"| {verifier} | {count:,} |" for verifier, count in summary["by_verifier"].items()]
    mean_score = summary["mean_verify_score"]
    lines += [
        "",
        f"Mean verify score: {mean_score:.3f}." if mean_score is not None else "",
        "",
        "## Quality assurance",
        "",
        f"{corpus_report.get('accepted', 0):,} responses passed verification; quality assurance removed "
        f"{corpus_report.get('rejected', 0):,} ({_reasons(corpus_report)}).",
        "",
        "- structure: an even number of turns with the response, and both a think and an answer segment;",
        "- repetition: a 20-token n-gram occurring more than 20 times;",
        f"- perplexity: above {_threshold(corpus_report)} under the analysis LM.",
    ]
    if summary["mean_ppl"] is not None:
        lines.append(
            f"\nMean perplexity of the kept responses: {summary['mean_ppl']:.3f} ({summary['scored_ppl']:,} scored)."
        )
    lines += [
        "",
        "## Format",
        "",
        "One JSON object per line: `system` (the system prompt the teacher was given) and `conversations`, a "
        "list of `{from: human|assistant, value, info}`; the last turn is the teacher's response, "
        "`<think>…</think> <answer>…</answer>`. `info` holds `" + "`, `".join(INFO_KEYS) + "` (null where "
        "they do not apply; `test_case` and `instruction_constrain` are JSON strings).",
        "",
        _ppl_note(summary, corpus_report),
        "",
        "The same samples in the a-m-team releases' own layout: `release/<category>.jsonl` ("
        + ", ".join(f"`{name}`" for name in summary["release_files"])
        + "), `info.category` in their vocabulary ("
        + ", ".join(f"{ours} → `{theirs}`" for ours, theirs in RELEASE_CATEGORIES.items() if ours != theirs)
        + f") and `info.model_name` in their style (`{summary['release_model_name']}`).",
        "",
        "## Licence",
        "",
        f"Licence field: `{settings['license']}`. The responses were generated by `{teacher['model']}`: its "
        "terms of use apply to them, and the licences of the query sources listed above apply to the queries. "
        "Check both before publishing.",
        "",
    ]
    return "\n".join(lines)


def _ppl_note(summary: dict, corpus_report: dict) -> str:
    if summary["with_ppl"]:
        return (
            "`ppl` is the response's perplexity under the analysis LM (a number in every record); the "
            f"threshold applied: {_threshold(corpus_report)}."
        )
    return (
        "`ppl` is left out of every record: not every response was scored (perplexity check: "
        f"{_threshold(corpus_report)}), and a filter such as `info['ppl'] < 3.25` must not meet a null."
    )


def _reasons(report: dict) -> str:
    reasons = report.get("reasons") or {}
    return ", ".join(f"{k} {v:,}" for k, v in reasons.items()) or "none"


def _threshold(report: dict) -> str:
    ppl = (report.get("quality") or {}).get("perplexity") or {}
    return f"{ppl['max']}" if ppl.get("enabled") else "no threshold (check off)"


def write_card(out_dir: str | Path, text: str) -> None:
    write_text(text, Path(out_dir) / "README.md")
