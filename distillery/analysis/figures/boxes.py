"""Box plots with the mean marked and labelled (Figs. 4 and 5), drawn from the box statistics the
figure's CSV holds: quartiles, whiskers at 1.5 IQR, extremes (outliers are counted, not drawn)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import cbook

from distillery.analysis.figures.style import GAP_COLOR, color, figure, label

COLUMNS = ["teacher", "n", "mean", "median", "q1", "q3", "whislo", "whishi", "min", "max", "outliers"]


def box_row(teacher: str, values: np.ndarray) -> dict:
    if not len(values):
        return {"teacher": teacher, "n": 0}
    box = cbook.boxplot_stats(values, whis=1.5)[0]
    return {
        "teacher": teacher,
        "n": len(values),
        "mean": float(values.mean()),
        "median": float(box["med"]),
        "q1": float(box["q1"]),
        "q3": float(box["q3"]),
        "whislo": float(box["whislo"]),
        "whishi": float(box["whishi"]),
        "min": float(values.min()),
        "max": float(values.max()),
        "outliers": len(box["fliers"]),
    }


def wrap(text: str, width: int) -> str:
    """Break a long label after a hyphen or space so that it fits under its box."""
    if len(text) <= width:
        return text
    cut = max(text.rfind("-", 0, width), text.rfind(" ", 0, width))
    return text if cut <= 0 else text[: cut + 1].rstrip() + "\n" + wrap(text[cut + 1 :], width)


def draw_boxes(table: pd.DataFrame, teachers: list[str], style: dict, ylabel: str, mean_format: str):
    fig = figure(style)
    ax = fig.subplots()
    size = style.get("font_size", 8)
    boxes, positions, names = [], [], []
    slot = int(0.8 * style["width"] * 72 / max(len(teachers), 1) / (0.65 * size))  # characters under a box
    for i, teacher in enumerate(teachers):
        row = table[table["teacher"] == teacher].iloc[0]
        names.append(f"{wrap(label(style, teacher), slot)}\n(n={int(row['n']):,})")
        if row["n"] > 0:
            boxes.append(
                {
                    "med": row["median"],
                    "q1": row["q1"],
                    "q3": row["q3"],
                    "whislo": row["whislo"],
                    "whishi": row["whishi"],
                    "mean": row["mean"],
                    "fliers": [],
                }
            )
            positions.append(i)
    if boxes:
        drawn = ax.bxp(
            boxes,
            positions=positions,
            widths=0.55,
            showfliers=False,
            showmeans=False,
            patch_artist=True,
            medianprops={"color": "black", "linewidth": 1.0},
            whiskerprops={"linewidth": 0.8},
            capprops={"linewidth": 0.8},
        )
        for patch, i in zip(drawn["boxes"], positions, strict=True):
            patch.set_facecolor(color(style, teachers, teachers[i]))
            patch.set_alpha(0.75)
            patch.set_edgecolor("black")
            patch.set_linewidth(0.8)
    if style.get("log_scale"):
        ax.set_yscale("log")
    for i, teacher in enumerate(teachers):
        row = table[table["teacher"] == teacher].iloc[0]
        if row["n"] > 0:
            ax.plot(
                [i],
                [row["mean"]],
                marker="D",
                markersize=4,
                color="white",
                markeredgecolor="black",
                markeredgewidth=0.8,
                zorder=5,
            )
            ax.annotate(
                f"mean {mean_format.format(row['mean'])}",
                (i, row["whishi"]),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=size - 1,
            )
        else:
            ax.axvspan(i - 0.3, i + 0.3, color=GAP_COLOR, alpha=0.6, linewidth=0)
            ax.text(
                i,
                0.5,
                "no samples",
                transform=ax.get_xaxis_transform(),
                rotation=90,
                ha="center",
                va="center",
                color="#666666",
            )
    ax.margins(y=0.08)
    if not boxes:
        ax.set_yticks([])  # nothing measured: no scale to read
    ax.set_xticks(range(len(teachers)), names)
    ax.set_xlim(-0.6, len(teachers) - 0.4)
    if not style.get("log_scale"):
        ax.yaxis.set_major_formatter("{x:,g}")
    ax.set_ylabel(ylabel)
    ax.yaxis.grid(True, linewidth=0.4, color="#DDDDDD")
    ax.set_axisbelow(True)
    return fig
