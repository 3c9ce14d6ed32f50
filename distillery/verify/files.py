"""Verifying a file of (query, response) rows: the ``distillery verify`` command's logic."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from distillery.core.artifacts import write_parquet, write_text
from distillery.verify import Verifier

RESULT_COLUMNS = ("score", "passed", "verifier", "detail", "scorable")


def read_response_rows(path: str | Path) -> list[dict]:
    path = Path(path)
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{lineno}: not JSON: {e}") from None
    return rows


def write_rows(rows: list[dict], path: str | Path) -> None:
    path = Path(path)
    if path.suffix == ".parquet":
        write_parquet(pa.Table.from_pylist(rows), path)
    else:
        write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), path)


def verify_file(src: str | Path, dst: str | Path, verifier: Verifier, response_field: str = "response") -> dict:
    """Score every row of ``src`` (our query columns + a response) into ``dst``; returns the summary."""
    rows = read_response_rows(src)
    for i, row in enumerate(rows):
        missing = [k for k in ("category", "reference", response_field) if k not in row]
        if missing:
            raise ValueError(f"{src}: row {i}: missing {missing} (needs the query columns and {response_field!r})")
    results = verifier.score(rows, [r[response_field] or "" for r in rows])
    for row, result in zip(rows, results, strict=True):
        row.update({k: getattr(result, k) for k in RESULT_COLUMNS})
    write_rows(rows, dst)
    return summarize(rows)


def summarize(rows: list[dict]) -> dict:
    by_category: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_category[row["category"]].append(row)
    summary = {}
    for category, group in sorted(by_category.items()):
        scored = [r for r in group if r["scorable"]]
        summary[category] = {
            "rows": len(group),
            "unscorable": len(group) - len(scored),
            "mean_score": round(sum(r["score"] for r in scored) / len(scored), 4) if scored else None,
            "pass_rate": round(sum(r["passed"] for r in scored) / len(scored), 4) if scored else None,
        }
    return summary


def summary_table(summary: dict) -> str:
    lines = ["| category | rows | unscorable | mean score | pass rate |", "| --- | ---: | ---: | ---: | ---: |"]

    def fmt(v):
        return "-" if v is None else f"{v:.3f}"

    for category, s in summary.items():
        lines.append(
            f"| {category} | {s['rows']} | {s['unscorable']} | {fmt(s['mean_score'])} | {fmt(s['pass_rate'])} |"
        )
    return "\n".join(lines) + "\n"
