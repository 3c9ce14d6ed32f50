"""The registry of figures: every figure the workflow draws, what it is drawn from, and which settings
are its own. One rule draws any of them (``rules/analysis.smk``, ``{figure}``); the module that draws a
figure is ``distillery.analysis.figures.<name>``, and only that module's code and settings redraw it."""

from __future__ import annotations

from dataclasses import dataclass

from distillery.plan.paths import LOSS_HISTORY, STATS

FIGURE_MODULES = "distillery.analysis.figures"


@dataclass(frozen=True)
class Figure:
    source: str  # "stats": the per-sample statistics of every teacher; "loss_curves": the students' training logs
    on_corpus: bool = False  # drawn from the analysed corpus only (analysis.corpus), as the paper's Figs. 2-5


FIGURES = {
    "fig2_category_distribution": Figure("stats", on_corpus=True),
    "fig3_math_token_spans": Figure("stats", on_corpus=True),
    "fig4_token_counts": Figure("stats", on_corpus=True),
    "fig5_perplexity": Figure("stats", on_corpus=True),
    "fig6_loss_curves": Figure("loss_curves"),
    "fig7_attempts": Figure("stats"),
    "fig8_cost": Figure("stats"),
}
SOURCES = {"stats": f"{STATS}/{{teacher}}.parquet", "loss_curves": LOSS_HISTORY}


def module(name: str) -> str:
    return f"{FIGURE_MODULES}.{name}"


def inputs(name: str, teachers: list[str]) -> list[str]:
    """What figure ``name`` is drawn from, one file per teacher, in teacher order."""
    return [SOURCES[FIGURES[name].source].format(teacher=t) for t in teachers]


def settings(analysis: dict, name: str) -> dict:
    """Figure ``name``'s params: the shared style, its own section, the teacher labels, and for the
    paper's figures the corpus they describe; nothing another figure reads."""
    figure = FIGURES[name]
    return {
        **analysis["figures"]["style"],
        **analysis["figures"][name],
        "teacher_labels": analysis["teacher_labels"],
        **({"corpus": analysis["corpus"]} if figure.on_corpus else {}),
    }
