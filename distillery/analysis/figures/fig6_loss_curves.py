"""Fig. 6: the training loss of every student on one plot, from each run's ``log_history.jsonl``.

The paper's Fig. 6 shows that the student of the teacher with the lowest-perplexity data (AM-Thinking-v1)
reaches the lowest loss. The CSV holds every logged point, the smoothed curve beside it.
"""

from __future__ import annotations

import json

import pandas as pd
from matplotlib.ticker import MaxNLocator

from distillery.analysis.figures.style import color, figure, label

COLUMNS = [
    "teacher",
    "step",
    "epoch",
    "loss",
    "loss_smoothed",
    "learning_rate",
    "grad_norm",
    "num_tokens",
    "tokens_per_s",
]


def smooth(values: pd.Series, points: int) -> pd.Series:
    """Exponential moving average over about a twentieth of the curve (none for short toy curves), bias
    corrected so that it starts at the first value."""
    span = max(1, points // 20)
    return values.ewm(span=span, adjust=True).mean() if span > 1 else values


def read(paths: list[str], teachers: list[str], style: dict) -> tuple[pd.DataFrame, list[str]]:
    """Every student's ``log_history.jsonl`` (one per teacher, in teacher order) as one long table of the
    training-loss entries."""
    frames = []
    for teacher, path in zip(teachers, paths, strict=True):
        with open(path, encoding="utf-8") as f:
            entries = [e for e in map(json.loads, filter(str.strip, f)) if "loss" in e and "step" in e]
        frame = pd.DataFrame(entries).reindex(columns=[c for c in COLUMNS if c not in ("teacher", "loss_smoothed")])
        frame = frame.drop_duplicates("step", keep="last").sort_values("step")  # a resumed run may log a step twice
        frame.insert(0, "teacher", teacher)
        frame["loss_smoothed"] = smooth(frame["loss"], len(frame))
        frames.append(frame[COLUMNS])
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)), []


def table(curves: pd.DataFrame, teachers: list[str], style: dict) -> tuple[pd.DataFrame, list[str]]:
    return curves, []


def draw(curves: pd.DataFrame, teachers: list[str], style: dict):
    """Loss against optimizer step, one colour per student (raw points faint, smoothed line solid)."""
    fig = figure(style)
    ax = fig.subplots()
    for teacher in teachers:
        rows = curves[curves["teacher"] == teacher]
        if rows.empty:
            continue
        c = color(style, teachers, teacher)
        smoothed = not rows["loss_smoothed"].equals(rows["loss"])
        if smoothed:
            ax.plot(rows["step"], rows["loss"], color=c, alpha=0.25, linewidth=0.6)
        ax.plot(
            rows["step"],
            rows["loss_smoothed"],
            color=c,
            label=label(style, teacher),
            marker="o" if len(rows) <= 12 else None,
            markersize=3,
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss")
    ax.grid(True, linewidth=0.4, alpha=0.4)
    if len(teachers) > 0:
        ax.legend(title="student of", loc="upper right")
    return fig
