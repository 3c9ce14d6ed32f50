"""Drawing one figure of the registry (:mod:`distillery.plan.figure_registry`): read what it is drawn from,
tabulate, draw, and write its PDF, PNG and CSV; its gaps are noted above it and in the log.

A figure module has ``table(data, teachers, style) -> (table, notes)`` and ``draw(table, teachers,
style) -> figure``; one drawn from something other than the per-sample statistics also has
``read(paths, teachers, style) -> (data, notes)``. The module is imported by name, so the code
fingerprint of a figure's rule covers that module alone and editing one figure redraws only it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from distillery.analysis.figures.style import add_notes, label, paper_style, save
from distillery.analysis.stats_view import read_stats

log = logging.getLogger(__name__)


def coverage_notes(stats: pd.DataFrame, teachers: Sequence[str], style: dict) -> list[str]:
    """Gaps in what was distilled, per teacher: they are labelled on every figure."""
    notes = []
    for teacher in teachers:
        rows = stats[stats["teacher"] == teacher]
        missing = int((rows["status"] == "not_distilled").sum())
        if rows.empty:
            notes.append(f"{label(style, teacher)}: no statistics")
        elif missing:
            notes.append(
                f"{label(style, teacher)}: {missing:,} of {len(rows):,} queries not distilled (shard missing or empty)"
            )
    return notes


def read_statistics(
    paths: Sequence[str | Path], teachers: Sequence[str], style: dict
) -> tuple[pd.DataFrame, list[str]]:
    """Every teacher's per-sample statistics, and what was not distilled."""
    stats = read_stats(paths)
    return stats, coverage_notes(stats, teachers, style)


def render(
    module_name: str, paths: Sequence[str | Path], teachers: Sequence[str], style: dict, outputs
) -> pd.DataFrame:
    """Draw the figure of ``module_name`` from ``paths`` into ``outputs`` (``pdf``, ``png``, ``csv``)."""
    module = importlib.import_module(module_name)
    teachers = list(teachers)
    data, notes = getattr(module, "read", read_statistics)(paths, teachers, style)
    table, own_notes = module.table(data, teachers, style)
    notes += own_notes
    for note in notes:
        log.warning("%s: %s", module_name.rsplit(".", 1)[-1], note)
    with paper_style(style):
        fig = module.draw(table, teachers, style)
        add_notes(fig, notes, style)
        save(fig, table, outputs)
    return table
