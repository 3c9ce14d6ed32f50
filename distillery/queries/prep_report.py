"""What each query-preparation stage kept and removed, assembled from the stages' own reports."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from distillery.core.artifacts import read_json

STAGES = (
    ("ingest", "raw/*.report.json"),
    ("dedup", "deduped.report.json"),
    ("filter", "filtered.report.json"),
    ("decontaminate", "clean.report.json"),
)
SHARDS_REPORT = "shards.report.json"


def discover(queries_dir: str | Path) -> tuple[dict[str, list[Path]], Path | None]:
    """The stage reports present under ``queries_dir`` (results/queries), for partial runs."""
    queries_dir = Path(queries_dir)
    found = {stage: sorted(queries_dir.glob(pattern)) for stage, pattern in STAGES}
    shards = queries_dir / SHARDS_REPORT
    return {k: v for k, v in found.items() if v}, shards if shards.exists() else None


def collect(stage_reports: dict[str, list[Path]], shards_report: Path | None = None) -> dict:
    """One summary of the stages' reports, in pipeline order."""
    stages = []
    for stage, _ in STAGES:
        reports = [read_json(p) for p in stage_reports.get(stage, [])]
        if not reports:
            continue
        reasons: dict[str, int] = {}
        for r in reports:
            for k, v in r["reasons"].items():
                reasons[k] = reasons.get(k, 0) + v
        rows_in = sum(r.get("rows_in", r.get("rows_read", 0)) for r in reports)
        kept = sum(r["kept"] for r in reports)
        stages.append(
            {
                "stage": stage,
                "in": rows_in,
                "kept": kept,
                "removed": rows_in - kept,
                "reasons": dict(sorted(reasons.items())),
            }
        )
    summary: dict = {"stages": stages}
    # Rows in = rows kept + rows rejected, along the whole chain.
    summary["accounted"] = all(a["kept"] == b["in"] for a, b in pairwise(stages)) and all(
        s["removed"] == sum(s["reasons"].values()) for s in stages
    )
    if shards_report is not None:
        summary["shards"] = read_json(shards_report)
        summary["accounted"] &= bool(stages) and summary["shards"]["total"] == stages[-1]["kept"]
    return summary


def to_markdown(summary: dict) -> str:
    lines = ["| stage | in | kept | removed | why |", "| --- | ---: | ---: | ---: | --- |"]
    for s in summary["stages"]:
        why = ", ".join(f"{k} {v}" for k, v in s["reasons"].items()) or "-"
        lines.append(f"| {s['stage']} | {s['in']} | {s['kept']} | {s['removed']} | {why} |")
    if "shards" in summary:
        sh = summary["shards"]
        lines.append("")
        lines.append(
            f"{sh['total']} clean queries in {len(sh['shards'])} shards "
            f"({', '.join(str(n) for n in sh['shards'].values())}); by category: "
            + ", ".join(f"{k} {v}" for k, v in sh["by_category"].items())
            + "."
        )
    if not summary["accounted"]:
        lines.append("")
        lines.append("WARNING: the row counts of consecutive stages do not add up.")
    return "\n".join(lines) + "\n"
