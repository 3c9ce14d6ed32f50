"""Fig. 3: how long each teacher's maths responses are: the share of maths samples per token span
(the paper: bins of 1,024 tokens, the last one open, "10,240+")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from distillery.analysis.figures.style import color, figure, label
from distillery.analysis.stats_view import analysed


def span_label(lo: int, hi: int | None, width: int) -> str:
    def k(n: int) -> str:
        return f"{n // 1024}k" if width % 1024 == 0 and n else f"{n:,}"

    return f"{k(lo)}+" if hi is None else f"{k(lo)}–{k(hi)}"


def table(stats: pd.DataFrame, teachers: list[str], style: dict) -> tuple[pd.DataFrame, list[str]]:
    width, bins = style["bin_width"], style["bins"]
    data = analysed(stats, style["corpus"])
    math = data[data["category"] == "math"]
    rows, notes = [], []
    for teacher in teachers:
        tokens = math.loc[math["teacher"] == teacher, "response_tokens"].fillna(0).to_numpy()
        index = np.minimum(tokens // width, bins).astype(int)
        counts = np.bincount(index, minlength=bins + 1)
        if not len(tokens):
            notes.append(f"{label(style, teacher)}: no maths samples")
        for b, n in enumerate(counts):
            hi = (b + 1) * width if b < bins else None
            rows.append(
                {
                    "teacher": teacher,
                    "span": span_label(b * width, hi, width),
                    "lo": b * width,
                    "hi": hi,
                    "samples": int(n),
                    "share": n / len(tokens) if len(tokens) else None,
                }
            )
    return pd.DataFrame(rows, columns=["teacher", "span", "lo", "hi", "samples", "share"]), notes


def draw(table: pd.DataFrame, teachers: list[str], style: dict):
    fig = figure(style)
    ax = fig.subplots()
    spans = list(dict.fromkeys(table["span"])) or ["(no bins)"]
    x = np.arange(len(spans))
    width = 0.8 / max(len(teachers), 1)
    for i, teacher in enumerate(teachers):
        mine = table[table["teacher"] == teacher]
        n = int(mine["samples"].sum())
        shares = mine["share"].astype(float).fillna(0).to_numpy() * 100
        ax.bar(
            x - 0.4 + width * (i + 0.5),
            shares,
            width * 0.92,
            color=color(style, teachers, teacher),
            label=f"{label(style, teacher)} (n={n:,})" if n else f"{label(style, teacher)} (no maths samples)",
        )
    ax.set_xticks(x, spans, rotation=35 if len(spans) > 8 else 0, ha="right" if len(spans) > 8 else "center")
    unit = "; 1k = 1,024" if style["bin_width"] % 1024 == 0 else ""
    ax.set_xlabel(f"Response length (student tokens{unit})")
    ax.set_ylabel("Share of maths samples (%)")
    ax.yaxis.grid(True, linewidth=0.4, color="#DDDDDD")
    ax.set_axisbelow(True)
    ax.margins(y=0.05)
    if teachers:
        fig.legend(loc="outside right upper")
    return fig
