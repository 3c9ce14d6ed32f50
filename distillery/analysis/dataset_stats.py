"""The dataset statistics the paper reports, beside ours (``results/tables/dataset_stats.{md,csv}``).

The paper gives, per teacher over its parallel corpus (about 1.89M samples each), the mean response
length in tokens (Fig. 4) and the mean perplexity under a 32B model (Fig. 5), and the category shares
by instances and by tokens as donut charts (Fig. 2) without a table of numbers: those are left blank
rather than read off a picture. Our teachers are matched to the paper's by ``analysis.paper_teachers``
or, failing that, by their model name.
"""

from __future__ import annotations

import pandas as pd

from distillery.analysis.stats_view import CATEGORIES, analysed
from distillery.core import paper_numbers

COLUMNS = ["teacher", "paper_teacher", "metric", "category", "ours", "paper"]


def table(stats: pd.DataFrame, teachers: dict[str, str], mapping: dict, corpus: str) -> pd.DataFrame:
    """Long format: one row per (teacher, metric, category) with our value and the paper's.
    ``teachers``: our teacher names -> their model names, in config order."""
    data = analysed(stats, corpus)
    rows = []
    matched = set()
    for name, model in teachers.items():
        paper = paper_numbers.paper_teacher(name, model, mapping)
        matched.add(paper)
        ref = paper_numbers.DATASET.get(paper, {})
        mine = data[data["teacher"] == name]
        tokens = mine["response_tokens"].fillna(0)
        ppl = mine["ppl"].dropna()
        rows += [
            [name, paper, "samples", "all", len(mine), ref.get("samples")],
            [name, paper, "mean_tokens", "all", tokens.mean() if len(mine) else None, ref.get("mean_tokens")],
            [name, paper, "mean_ppl", "all", ppl.mean() if len(ppl) else None, ref.get("mean_ppl")],
        ]
        total = tokens.sum()
        for category in CATEGORIES:
            group = mine[mine["category"] == category]
            rows.append([name, paper, "instance_share", category, len(group) / len(mine) if len(mine) else None, None])
            rows.append(
                [
                    name,
                    paper,
                    "token_share",
                    category,
                    group["response_tokens"].fillna(0).sum() / total if total else None,
                    None,
                ]
            )
    for paper in paper_numbers.TEACHERS:
        if paper not in matched:
            rows += [
                [None, paper, metric, "all", None, value] for metric, value in paper_numbers.DATASET[paper].items()
            ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _fmt(value, spec: str) -> str:
    return "–" if value is None or pd.isna(value) else format(value, spec)


def markdown(table: pd.DataFrame, stats: pd.DataFrame, teachers: dict[str, str], context: dict) -> str:
    """The table for people: per teacher, ours / paper; category shares; the gaps behind our numbers."""

    def value(teacher, paper, metric, category="all", column="ours"):
        hit = table[
            (table["teacher"].fillna("") == (teacher or ""))
            & (table["paper_teacher"].fillna("") == (paper or ""))
            & (table["metric"] == metric)
            & (table["category"] == category)
        ]
        return None if hit.empty else hit.iloc[0][column]

    lines = [
        "# Dataset statistics: ours beside the paper's",
        "",
        f"Our samples: the {context['corpus']} corpora after quality assurance. Tokens: response length under "
        f"the student's tokenizer (`{context['tokenizer']}`); perplexity: "
        + (
            f"under `{context['perplexity_model']}` (the paper: a 32B model, so the scales differ)"
            if context["perplexity_model"]
            else "not computed (analysis.perplexity.model is null)"
        )
        + ". Paper: arXiv 2505.14464, Figs. 4-5; its samples are about 1.89M parallel queries per teacher.",
        "",
        "| teacher | paper's teacher | samples (ours / paper) | mean tokens (ours / paper) | mean PPL (ours / paper) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    pairs = [(t, value_of_paper(table, t)) for t in teachers]
    pairs += [(None, p) for p in paper_numbers.TEACHERS if p not in {p for _, p in pairs}]
    for teacher, paper in pairs:

        def both(metric: str, spec: str, paper_spec: str, teacher=teacher, paper=paper) -> str:
            ours = _fmt(value(teacher, paper, metric), spec)
            return f"{ours} / {_fmt(value(teacher, paper, metric, column='paper'), paper_spec)}"

        lines.append(
            f"| {teacher or '–'} | {paper or '–'} | {both('samples', ',.0f', ',.0f')} | "
            f"{both('mean_tokens', ',.1f', ',.1f')} | {both('mean_ppl', '.2f', '.1f')} |"
        )
    lines += [
        "",
        "## Category shares (ours: instances / tokens)",
        "",
        "The paper shows these as donut charts (Fig. 2) without numbers; they are not transcribed here.",
        "",
        "| category | " + " | ".join(teachers) + " |",
        "| --- |" + " ---: |" * len(teachers),
    ]
    for category in CATEGORIES:
        cells = []
        for teacher in teachers:
            paper = value_of_paper(table, teacher)
            cells.append(
                f"{_fmt(value(teacher, paper, 'instance_share', category), '.1%')} / "
                f"{_fmt(value(teacher, paper, 'token_share', category), '.1%')}"
            )
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    lines += ["", "## Gaps", ""] + [f"- {g}" for g in gaps(stats, teachers, context["corpus"])] + [""]
    return "\n".join(lines)


def value_of_paper(table: pd.DataFrame, teacher: str) -> str | None:
    hit = table.loc[table["teacher"] == teacher, "paper_teacher"]
    return None if hit.empty or pd.isna(hit.iloc[0]) else hit.iloc[0]


def gaps(stats: pd.DataFrame, teachers: dict[str, str], corpus: str) -> list[str]:
    """What our numbers are missing, so that nobody reads a gap as a result."""
    found = []
    data = analysed(stats, corpus)
    for teacher in teachers:
        rows = stats[stats["teacher"] == teacher]
        mine = data[data["teacher"] == teacher]
        if n := int((rows["status"] == "not_distilled").sum()):
            found.append(f"{teacher}: {n} of {len(rows)} queries not distilled (shard missing or empty)")
        if mine.empty:
            found.append(f"{teacher}: no samples in the {corpus} corpus")
            continue
        absent = [c for c in CATEGORIES if c in set(stats["category"]) and not (mine["category"] == c).any()]
        if absent:
            found.append(f"{teacher}: no samples in {', '.join(absent)}")
        if n := int((mine["response_tokens"].fillna(0) == 0).sum()):
            found.append(f"{teacher}: {n} responses with no tokens")
        if n := int(mine["ppl"].isna().sum()):
            found.append(f"{teacher}: {n} samples without perplexity")
    return found or ["none"]
