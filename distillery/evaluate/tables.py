"""The paper's Table 1 (pass@1) and Table 2 (mean generation length), with its numbers beside ours.

One row per benchmark, one group of columns per evaluated model: our value, the paper's value for the
student of the same teacher on the same benchmark, and the difference (ours - paper). Which of our models
and benchmarks correspond to the paper's is configuration (``evaluate.paper_models`` and each benchmark's
``paper``); where nothing corresponds, the paper's cell is empty. Written as Markdown (to read), CSV (to
compute with; wide, one row per benchmark, with the standard errors) and LaTeX (booktabs, to paste).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from distillery.core import paper_numbers


@dataclass(frozen=True)
class TableSpec:
    title: str
    metric: str  # key of the scores JSON
    scale: float  # ours * scale is in the paper's unit
    unit: str
    paper: dict[str, dict[str, float]]
    stderr: str | None = None  # key of the metric's standard error, if any


TABLE1 = TableSpec("Table 1: pass@1 (%)", "pass@1", 100.0, "%", paper_numbers.TABLE1_PASS_AT_1, "pass@1_stderr")
TABLE2 = TableSpec(
    "Table 2: mean generation length (tokens)", "mean_tokens", 1.0, "tokens", paper_numbers.TABLE2_MEAN_TOKENS
)
TABLES = {"table1_accuracy": TABLE1, "table2_generation_length": TABLE2}


def table_rows(
    spec: TableSpec,
    scores: dict[tuple[str, str], dict],
    models: list[str],
    benchmarks: dict[str, str | None],
    paper_models: dict[str, str],
) -> list[dict]:
    """One dict per benchmark: ``benchmark``, ``paper_benchmark``, ``problems``, ``samples``, then per model
    ``{m}``, ``{m}_stderr``, ``{m}_paper``, ``{m}_diff``, ``{m}_truncation_rate`` (None where absent).

    ``scores[(model, benchmark)]`` is a scores JSON (:func:`distillery.evaluate.passk.summarize`);
    ``benchmarks`` maps our benchmark to the paper's column (or None), ``paper_models`` our model to the
    paper's teacher."""
    rows = []
    for bench, paper_bench in benchmarks.items():
        first = scores[(models[0], bench)] if models else {}
        row = {
            "benchmark": bench,
            "paper_benchmark": paper_bench,
            "problems": first.get("problems"),
            "samples": first.get("samples_per_problem"),
        }
        for m in models:
            s = scores[(m, bench)]
            ours = None if s.get(spec.metric) is None else s[spec.metric] * spec.scale
            err = s.get(spec.stderr) if spec.stderr else None
            paper = spec.paper.get(paper_models.get(m, ""), {}).get(paper_bench or "")
            row.update(
                {
                    m: ours,
                    f"{m}_stderr": None if err is None else err * spec.scale,
                    f"{m}_paper": paper,
                    f"{m}_diff": None if ours is None or paper is None else ours - paper,
                    f"{m}_truncation_rate": s.get("truncation_rate"),
                }
            )
        rows.append(row)
    return rows


def _num(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:+.1f}" if signed else f"{x:.1f}"


def _ours(row: dict, m: str) -> str:
    err = row.get(f"{m}_stderr")
    return _num(row[m]) + ("" if err is None or row[m] is None else f" ± {err:.1f}")


def _paper_label(m: str, paper_models: dict[str, str]) -> str:
    return f"paper ({paper_models[m]})" if m in paper_models else "paper"


def to_markdown(spec: TableSpec, rows: list[dict], models: list[str], paper_models: dict[str, str]) -> str:
    header = ["benchmark", "problems", "n"]
    for m in models:
        header += [m, _paper_label(m, paper_models), "Δ"]
    lines = [
        f"**{spec.title}** — ours (± standard error across problems where given), the paper's value for the "
        f"student of the same teacher, and the difference.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for row in rows:
        cells = [
            row["benchmark"] + (f" ({row['paper_benchmark']})" if row["paper_benchmark"] else ""),
            str(row["problems"] or "–"),
            str(row["samples"] or "–"),
        ]
        for m in models:
            cells += [_ours(row, m), _num(row[f"{m}_paper"]), _num(row[f"{m}_diff"], signed=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict], models: list[str]) -> str:
    fields = ["benchmark", "paper_benchmark", "problems", "samples"]
    for m in models:
        fields += [m, f"{m}_stderr", f"{m}_paper", f"{m}_diff", f"{m}_truncation_rate"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in fields})
    return out.getvalue()


def _tex(text: str) -> str:
    for a, b in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("_", "\\_"), ("#", "\\#"), ("$", "\\$")):
        text = text.replace(a, b)
    return text


def to_latex(spec: TableSpec, rows: list[dict], models: list[str], paper_models: dict[str, str]) -> str:
    cols = "l" + "r" * (3 * len(models))
    groups = " & ".join(f"\\multicolumn{{3}}{{c}}{{{_tex(m)}}}" for m in models)
    rules = " ".join(f"\\cmidrule(lr){{{2 + 3 * i}-{4 + 3 * i}}}" for i in range(len(models)))
    sub = " & ".join("ours & paper & $\\Delta$" for _ in models)
    lines = [
        "% requires \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{_tex(spec.title)}: ours, the paper's (a-m-team, 2025), and the difference.}}",
        f"\\begin{{tabular}}{{{cols}}}",
        "\\toprule",
    ]
    if models:
        lines += [f" & {groups} \\\\", rules, f"Benchmark & {sub} \\\\"]
    else:
        lines.append("Benchmark \\\\")
    lines.append("\\midrule")
    for row in rows:
        cells = [_tex(row["benchmark"])]
        for m in models:
            ours = _ours(row, m).replace("±", "$\\pm$").replace("–", "--")
            cells += [
                ours,
                _num(row[f"{m}_paper"]).replace("–", "--"),
                _num(row[f"{m}_diff"], signed=True).replace("–", "--"),
            ]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def render(
    name: str,
    scores: dict[tuple[str, str], dict],
    models: list[str],
    benchmarks: dict[str, str | None],
    paper_models: dict[str, str],
) -> dict[str, str]:
    """Table ``name`` (a key of :data:`TABLES`) as {"md": ..., "csv": ..., "tex": ...}."""
    spec = TABLES[name]
    rows = table_rows(spec, scores, models, benchmarks, paper_models)
    return {
        "md": to_markdown(spec, rows, models, paper_models),
        "csv": to_csv(rows, models),
        "tex": to_latex(spec, rows, models, paper_models),
    }
