"""Fig. 8 (not in the paper): what one corpus sample cost each teacher, in generated tokens, per
category: the kept response itself, the attempts that failed verification (including queries never
accepted), and accepted responses that quality assurance removed.

Tokens are the teacher's own counts as its backend reported them (what an API bills, what GPU time
follows), over every query it was given; the denominator is the teacher's corpus (before the parallel
intersection), so the bar is the price of one sample it contributes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from distillery.analysis.figures.style import CATEGORY_LABELS, color, figure, label, short_category
from distillery.analysis.stats_view import categories

PARTS = (
    ("kept_tokens", "kept response", None, 1.0),
    ("failed_tokens", "failed verification", "////", 0.45),
    ("qa_removed_tokens", "removed by QA", "....", 0.25),
)


def table(stats: pd.DataFrame, teachers: list[str], style: dict) -> tuple[pd.DataFrame, list[str]]:
    rows, notes = [], []
    for teacher in teachers:
        mine = stats[(stats["teacher"] == teacher) & (stats["status"] != "not_distilled")]
        for category in categories(stats) + ["all"]:
            group = mine if category == "all" else mine[mine["category"] == category]
            accepted = group["accepted_generated_tokens"].fillna(0)
            kept = int(accepted[group["status"] == "kept"].sum())
            removed = int(accepted[group["status"] == "qa_rejected"].sum())
            total = int(group["generated_tokens"].sum())
            samples = int((group["status"] == "kept").sum())
            rows.append(
                {
                    "teacher": teacher,
                    "category": category,
                    "queries": len(group),
                    "corpus_samples": samples,
                    "kept_tokens": kept,
                    "failed_tokens": total - kept - removed,
                    "qa_removed_tokens": removed,
                    "total_tokens": total,
                    "tokens_per_sample": total / samples if samples else None,
                    "overhead": total / kept if kept else None,
                }
            )
            if len(group) and not samples and category != "all":
                notes.append(
                    f"{label(style, teacher)}: no {CATEGORY_LABELS.get(category, category)} sample kept, "
                    f"{total:,} tokens spent"
                )
    columns = [
        "teacher",
        "category",
        "queries",
        "corpus_samples",
        "kept_tokens",
        "failed_tokens",
        "qa_removed_tokens",
        "total_tokens",
        "tokens_per_sample",
        "overhead",
    ]
    return pd.DataFrame(rows, columns=columns), notes


def draw(table: pd.DataFrame, teachers: list[str], style: dict):
    from matplotlib.patches import Patch

    fig = figure(style)
    ax = fig.subplots()
    size = style.get("font_size", 8)
    cats = [
        c
        for c in dict.fromkeys(table["category"])
        if c == "all" or table.loc[table["category"] == c, "queries"].sum() > 0
    ]
    x = np.arange(len(cats))
    width = 0.8 / max(len(teachers), 1)
    for i, teacher in enumerate(teachers):
        mine = table[table["teacher"] == teacher].set_index("category").reindex(cats)
        samples = mine["corpus_samples"].fillna(0).to_numpy()
        pos = x - 0.4 + width * (i + 0.5)
        bottom = np.zeros(len(cats))
        for column, _, hatch, alpha in PARTS:
            per = np.where(samples > 0, mine[column].fillna(0).to_numpy() / np.maximum(samples, 1), 0.0)
            ax.bar(
                pos,
                per,
                width * 0.92,
                bottom=bottom,
                color=color(style, teachers, teacher),
                alpha=alpha,
                hatch=hatch,
                edgecolor="white",
                linewidth=0.3,
            )
            bottom += per
        for p, n, q in zip(pos, samples, mine["queries"].fillna(0), strict=True):
            if not n:
                ax.text(
                    p,
                    0,
                    "none kept" if q else "no queries",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=size - 2,
                    color="#666666",
                )
    ax.set_xticks(x, [short_category(c) for c in cats])
    ax.margins(y=0.06)
    if len(cats) > 1:
        ax.axvline(len(cats) - 1.5, color="#999999", linewidth=0.5, linestyle=":")
    ax.set_ylabel("Teacher tokens generated per corpus sample")
    ax.yaxis.grid(True, linewidth=0.4, color="#DDDDDD")
    ax.set_axisbelow(True)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    teacher_handles = [Patch(facecolor=color(style, teachers, t), label=label(style, t)) for t in teachers]
    part_handles = [
        Patch(facecolor="#777777", alpha=a, hatch=h, edgecolor="white", label=name) for _, name, h, a in PARTS
    ]
    fig.legend(handles=teacher_handles + part_handles, loc="outside right upper", handlelength=1.4)
    return fig
