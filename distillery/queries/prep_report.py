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


def collect(
    stage_reports: dict[str, list[Path]], shards_report: Path | None = None, max_reject_share: float | None = None
) -> dict:
    """One summary of the stages' reports, in pipeline order; sources that reject more than
    ``max_reject_share`` of their rows are flagged (``ingest.max_reject_share``; None: none are)."""
    stages = []
    by_stage = {stage: [read_json(p) for p in stage_reports.get(stage, [])] for stage, _ in STAGES}
    for stage, reports in by_stage.items():
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
    summary: dict = {"stages": stages, "max_reject_share": max_reject_share, "flagged_sources": []}
    if max_reject_share is not None:
        summary["flagged_sources"] = [
            {k: r[k] for k in ("source", "rows_read", "rejected", "reasons")}
            | {"reject_share": round(r["rejected"] / r["rows_read"], 4)}
            for r in by_stage["ingest"]
            if r["rows_read"] and r["rejected"] / r["rows_read"] > max_reject_share
        ]
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
    for f in summary.get("flagged_sources", []):  # an older run's report.json has none
        lines.append("")
        lines.append(
            f"WARNING: source {f['source']} rejected {f['rejected']} of its {f['rows_read']} rows "
            f"({f['reject_share']:.0%}, more than ingest.max_reject_share {summary['max_reject_share']:.0%}): "
            + ", ".join(f"{k} {v}" for k, v in f["reasons"].items())
            + "."
        )
    if not summary["accounted"]:
        lines.append("")
        lines.append("WARNING: the row counts of consecutive stages do not add up.")
    return "\n".join(lines) + "\n"
