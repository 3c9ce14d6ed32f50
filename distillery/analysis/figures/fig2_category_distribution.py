"""Fig. 2: the category shares of each teacher's data, by instances and by tokens (the paper's donuts).

Instance shares of the parallel corpora are the same for every teacher by construction; token shares
are where teachers differ (a teacher that writes long maths proofs has a larger maths share of tokens).
"""

from __future__ import annotations

import pandas as pd

from distillery.analysis.figures.style import (
    CATEGORY_COLORS,
    CATEGORY_LABELS,
    GAP_COLOR,
    OTHER_COLOR,
    figure,
    label,
    text_color,
)
from distillery.analysis.stats_view import analysed, categories

LEVELS = (("samples", "instance_share", "Instances"), ("tokens", "token_share", "Tokens"))
MIN_LABELLED = 0.04  # wedges smaller than this are not labelled inside the ring


def table(stats: pd.DataFrame, teachers: list[str], style: dict) -> tuple[pd.DataFrame, list[str]]:
    data = analysed(stats, style["corpus"])
    rows, notes = [], []
    for teacher in teachers:
        mine = data[data["teacher"] == teacher]
        samples, tokens = len(mine), int(mine["response_tokens"].fillna(0).sum())
        if not samples:
            notes.append(f"{label(style, teacher)}: no samples")
        for category in categories(stats):
            group = mine[mine["category"] == category]
            n, t = len(group), int(group["response_tokens"].fillna(0).sum())
            if not n and samples and category in set(stats["category"]):
                notes.append(f"{label(style, teacher)}: no {CATEGORY_LABELS.get(category, category)} samples")
            rows.append(
                {
                    "teacher": teacher,
                    "category": category,
                    "samples": n,
                    "tokens": t,
                    "instance_share": n / samples if samples else None,
                    "token_share": t / tokens if tokens else None,
                }
            )
    return pd.DataFrame(
        rows, columns=["teacher", "category", "samples", "tokens", "instance_share", "token_share"]
    ), notes


def draw(table: pd.DataFrame, teachers: list[str], style: dict):
    columns = max(len(teachers), 1)
    fig = figure({**style, "width": style.get("width") or 0.8 + 2.2 * columns})  # auto: a donut's worth per teacher
    axes = fig.subplots(2, columns, squeeze=False)
    shown = [c for c in table["category"].unique() if table.loc[table["category"] == c, "samples"].sum() > 0]
    for col, teacher in enumerate(teachers or [None]):
        for row, (count, share, level) in enumerate(LEVELS):
            ax = axes[row][col]
            ax.set_aspect("equal")
            mine = table[(table["teacher"] == teacher) & (table[count] > 0)]
            total = int(mine[count].sum())
            if teacher is None or not total:
                ax.pie([1], colors=[GAP_COLOR], radius=1.0, wedgeprops={"width": 0.38, "edgecolor": "white"})
                ax.text(0, 0, "no\nsamples", ha="center", va="center", color="#777777")
            else:
                colors = [CATEGORY_COLORS.get(c, OTHER_COLOR) for c in mine["category"]]
                _, _, labels = ax.pie(
                    mine[share],
                    colors=colors,
                    startangle=90,
                    counterclock=False,
                    radius=1.0,
                    wedgeprops={"width": 0.38, "edgecolor": "white", "linewidth": 0.8},
                    autopct=lambda p: f"{p:.0f}%" if p >= 100 * MIN_LABELLED else "",
                    pctdistance=0.81,
                    textprops={"fontsize": style.get("font_size", 8) - 1.5},
                )
                for text, c in zip(labels, colors, strict=True):
                    text.set_color(text_color(c))
                ax.text(
                    0,
                    0,
                    f"{total:,}\n{level.lower()}",
                    ha="center",
                    va="center",
                    fontsize=style.get("font_size", 8) - 1,
                )
            if row == 0:
                ax.set_title(label(style, teacher) if teacher else "no teachers", fontweight="bold")
            if col == 0:
                ax.text(-1.35, 0, level, rotation=90, ha="center", va="center")
    handles = [plt_patch(CATEGORY_COLORS.get(c, OTHER_COLOR)) for c in shown]
    if handles:
        fig.legend(
            handles,
            [CATEGORY_LABELS.get(c, c) for c in shown],
            loc="outside lower center",
            ncols=min(len(shown), 6),
            handlelength=1.0,
            columnspacing=1.2,
        )
    return fig


def plt_patch(color: str):
    from matplotlib.patches import Patch

    return Patch(facecolor=color, edgecolor="none")
