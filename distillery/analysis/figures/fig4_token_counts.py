"""Fig. 4: the length of each teacher's responses in student tokens, box plots with the mean labelled
(the paper's means: :data:`distillery.core.paper_numbers.DATASET`)."""

from __future__ import annotations

import pandas as pd

from distillery.analysis.figures.boxes import COLUMNS, box_row, draw_boxes
from distillery.analysis.figures.style import label
from distillery.analysis.stats_view import analysed


def table(stats: pd.DataFrame, teachers: list[str], style: dict) -> tuple[pd.DataFrame, list[str]]:
    data = analysed(stats, style["corpus"])
    rows, notes = [], []
    for teacher in teachers:
        tokens = data.loc[data["teacher"] == teacher, "response_tokens"].fillna(0).to_numpy(dtype=float)
        row = box_row(teacher, tokens)
        row["zero_token_samples"] = int((tokens == 0).sum())
        rows.append(row)
        if not len(tokens):
            notes.append(f"{label(style, teacher)}: no samples")
        elif row["zero_token_samples"]:
            notes.append(f"{label(style, teacher)}: {row['zero_token_samples']} responses with no tokens")
    return pd.DataFrame(rows, columns=COLUMNS + ["zero_token_samples"]), notes


def draw(table: pd.DataFrame, teachers: list[str], style: dict):
    return draw_boxes(table, teachers, style, "Response length (student tokens)", "{:,.1f}")
