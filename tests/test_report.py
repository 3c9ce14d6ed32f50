"""`snakemake --report` on a finished run: one HTML file with every figure and table, each with its caption."""

import re
import subprocess
import sys

import pytest

import tiny_run
from workflow import REPO

pytestmark = pytest.mark.workflow


def captions():
    """artifact name -> the bold title of its caption, which the report must show. A caption file of a rule over
    a registry (figures.rst, tables.rst) holds one block per name."""
    titles = {}
    for path in (REPO / "report").glob("*.rst"):
        if path.stem != "workflow":
            text = path.read_text()
            blocks = re.findall(r'== "(\w+)" %}\n\*\*(.+?)\*\*', text)
            titles.update(blocks or {path.stem: re.match(r"\*\*(.+?)\*\*", text).group(1)})
    return titles


def test_every_figure_and_table_has_a_caption():
    from distillery.evaluate.tables import TABLES
    from distillery.plan.figure_registry import FIGURES

    assert set(FIGURES) | set(TABLES) | {"dataset_stats", "query_report"} == set(captions())


def test_report_has_every_figure_and_table_with_its_caption(tiny_done, tmp_path):
    html = tmp_path / "report.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--report",
            str(html),
            "--directory",
            str(tiny_done),
            "--snakefile",
            str(tiny_done / "Snakefile"),
            *tiny_run.targets(),
            *tiny_run.config_args(),
        ],
        cwd=tiny_done,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = html.read_text()
    files = {name: f"results/figures/{name}.png" for name in captions() if name.startswith("fig")}
    files.update(
        {name: f"results/tables/{name}.csv" for name in captions() if not name.startswith("fig")},
        query_report="results/queries/report.md",
    )
    built = {name: path for name, path in files.items() if (tiny_done / path).exists()}
    assert set(built) == set(files)  # the cheap run builds every figure and table
    for name, path in built.items():
        assert path.rsplit("/", 1)[1] in text, f"{path} is not in the report"
        assert captions()[name] in text, f"the caption of {name} is not in the report"
    assert "Not All Correct Answers Are Equal" in text  # the workflow description (report/workflow.rst)
