"""Fig. 5: the perplexity of each teacher's responses under the analysis LM, box plots with the mean
labelled (the paper's, under a 32B model: :data:`distillery.core.paper_numbers.DATASET`)."""

from __future__ import annotations

import pandas as pd

from distillery.analysis.figures.boxes import COLUMNS, box_row, draw_boxes
from distillery.analysis.figures.style import label
from distillery.analysis.stats_view import analysed


def table(stats: pd.DataFrame, teachers: list[str], style: dict) -> tuple[pd.DataFrame, list[str]]:
    data = analysed(stats, style["corpus"])
    rows, notes = [], []
    for teacher in teachers:
        mine = data.loc[data["teacher"] == teacher, "ppl"]
        row = box_row(teacher, mine.dropna().to_numpy(dtype=float))
        row["without_ppl"] = int(mine.isna().sum())
        rows.append(row)
        if mine.empty:
            notes.append(f"{label(style, teacher)}: no samples")
        elif row["without_ppl"]:
            why = "perplexity not computed" if mine.isna().all() else "empty responses"
            notes.append(f"{label(style, teacher)}: {row['without_ppl']} samples without perplexity ({why})")
    return pd.DataFrame(rows, columns=COLUMNS + ["without_ppl"]), notes


def draw(table: pd.DataFrame, teachers: list[str], style: dict):
    return draw_boxes(table, teachers, style, "Perplexity of the response", "{:.2f}")
