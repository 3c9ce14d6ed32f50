"""Fig. 7 (not in the paper): how many attempts each teacher needed before a response passed
verification, per category, and the share of queries it never got right.

Over every query the teacher was given, not only the corpus: a query is accepted at attempt k (the
last bucket is "k or later"), never accepted (every attempt failed), or unscorable (the verifier
could not score it, so it was not retried). Queries of missing or empty shards are left out and noted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from distillery.analysis.figures.style import CATEGORY_LABELS, GAP_COLOR, figure, label, short_category
from distillery.analysis.stats_view import categories

NEVER_COLOR, UNSCORABLE_COLOR = "#CC3311", "#999999"


def outcome_columns(last: int) -> list[str]:
    return [f"accepted_at_{k}" for k in range(1, last)] + [f"accepted_at_{last}+", "never_accepted", "unscorable"]


def table(stats: pd.DataFrame, teachers: list[str], style: dict) -> tuple[pd.DataFrame, list[str]]:
    last = style["max_attempts_shown"]
    outcomes = outcome_columns(last)
    rows, notes = [], []
    groups = categories(stats) + ["all"]
    for teacher in teachers:
        mine = stats[(stats["teacher"] == teacher) & (stats["status"] != "not_distilled")]
        for category in groups:
            group = mine if category == "all" else mine[mine["category"] == category]
            accepted = group["accepted_attempt"].dropna().to_numpy(dtype=int)
            counts = dict.fromkeys(outcomes, 0)
            for k in range(1, last):
                counts[f"accepted_at_{k}"] = int((accepted == k).sum())
            counts[f"accepted_at_{last}+"] = int((accepted >= last).sum())
            counts["never_accepted"] = int((group["status"] == "not_accepted").sum())
            counts["unscorable"] = int((group["status"] == "unscorable").sum())
            n = len(group)
            never = counts["never_accepted"] + counts["unscorable"]
            rows.append(
                {
                    "teacher": teacher,
                    "category": category,
                    "queries": n,
                    **counts,
                    "qa_rejected": int((group["status"] == "qa_rejected").sum()),
                    "share_never_accepted": never / n if n else None,
                    "mean_attempts_to_accept": float(accepted.mean()) if len(accepted) else None,
                }
            )
            if not n and category in set(stats["category"]):
                notes.append(f"{label(style, teacher)}: no {CATEGORY_LABELS.get(category, category)} queries distilled")
    columns = (
        ["teacher", "category", "queries"]
        + outcomes
        + ["qa_rejected", "share_never_accepted", "mean_attempts_to_accept"]
    )
    return pd.DataFrame(rows, columns=columns), notes


def draw(table: pd.DataFrame, teachers: list[str], style: dict):
    import matplotlib as mpl

    last = style["max_attempts_shown"]
    outcomes = outcome_columns(last)
    blues = mpl.colormaps["Blues"](np.linspace(0.85, 0.35, last))
    colors = list(blues) + [NEVER_COLOR, UNSCORABLE_COLOR]
    names = [f"accepted at attempt {k}" for k in range(1, last)] + [
        f"accepted at attempt {last}+",
        "never accepted",
        "unscorable",
    ]
    fig = figure(style)
    axes = fig.subplots(1, max(len(teachers), 1), sharey=True, squeeze=False)[0]
    size = style.get("font_size", 8)
    present = [
        c
        for c in dict.fromkeys(table["category"])
        if c != "all" and table.loc[table["category"] == c, "queries"].sum() > 0
    ]
    cats = present + ["all"]
    for ax, teacher in zip(axes, teachers or [None], strict=True):
        mine = table[table["teacher"] == teacher]
        ax.set_title(label(style, teacher) if teacher else "no teachers", fontweight="bold")
        if mine.empty:
            ax.text(0.5, 0.5, "no queries", transform=ax.transAxes, ha="center", va="center", color="#666666")
            continue
        x = np.arange(len(cats))
        bottom = np.zeros(len(cats))
        for outcome, c in zip(outcomes, colors, strict=True):
            share = np.array([_share(mine, cat, outcome) for cat in cats])
            ax.bar(x, share, 0.72, bottom=bottom, color=c, edgecolor="white", linewidth=0.4)
            bottom += share
        for i, cat in enumerate(cats):
            n = int(mine.loc[mine["category"] == cat, "queries"].iloc[0])
            if n:
                ax.text(i, 101, f"{n}", ha="center", va="bottom", fontsize=size - 2, color="#444444")
            else:
                ax.bar([i], [100], 0.72, color=GAP_COLOR)
                ax.text(
                    i, 50, "no queries", rotation=90, ha="center", va="center", fontsize=size - 1.5, color="#666666"
                )
        ax.set_xticks(x, [short_category(c) for c in cats], rotation=45, ha="right")
        ax.set_ylim(0, 108)
        if len(cats) > 1 and cats[-1] == "all":
            ax.axvline(len(cats) - 1.5, color="#999999", linewidth=0.5, linestyle=":")
    axes[0].set_ylabel("Share of queries (%)")
    from matplotlib.patches import Patch

    fig.legend(
        [Patch(facecolor=c) for c in colors],
        names,
        loc="outside lower center",
        ncols=min(len(names), 3),
        handlelength=1.0,
        columnspacing=1.2,
    )
    return fig


def _share(mine: pd.DataFrame, category: str, outcome: str) -> float:
    row = mine[mine["category"] == category].iloc[0]
    return 100 * row[outcome] / row["queries"] if row["queries"] else 0.0
