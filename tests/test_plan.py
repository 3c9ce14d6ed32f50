"""The parse-time package (distillery.plan): light, the only code that knows results/ paths, and the one
place rules/*.smk import from; the registries it holds agree with the code that draws and writes."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from workflow import REPO, copy_workflow

HEAVY = ("torch", "transformers", "vllm", "sentence_transformers", "datasets", "trl", "deepspeed", "matplotlib")
PARSE = """
import json, sys
from snakemake.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("HEAVY=" + json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(%r))))
"""


@pytest.mark.workflow
def test_parsing_the_workflow_imports_no_heavy_library(tmp_path):
    """A dry run of `all` parses the Snakefile and evaluates every input, params and resource function of the
    DAG in one process, as every cluster job does again: none of it may import torch & co."""
    workdir = copy_workflow(tmp_path / "wf")
    proc = subprocess.run(
        [sys.executable, "-c", PARSE % (HEAVY,), "-n", "all", "--quiet", "--directory", str(workdir)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert "Job stats" in out or "jobs" in out.lower(), out[-3000:]  # the DAG was built
    heavy = json.loads(re.search(r"HEAVY=(.*)", out).group(1))
    assert heavy == [], f"parsing the workflow imported {heavy}"


def python_files(*folders: str) -> list:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def string_constants(path) -> list[str]:
    """String constants of a module, docstrings left out (prose may name a path)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


def test_only_the_plan_knows_the_results_layout():
    offenders = [
        str(p.relative_to(REPO))
        for p in python_files("distillery", "scripts")
        if "plan" not in p.relative_to(REPO).parts and any("results/" in s for s in string_constants(p))
    ]
    assert offenders == [], f"paths under results/ outside distillery.plan: {offenders}"


def test_rules_import_only_the_plan():
    imports = []
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        imports += re.findall(r"^\s*(?:from|import) (distillery[\w.]*)", path.read_text(), re.M)
    assert imports and all(m == "distillery.plan" or m.startswith("distillery.plan.") for m in imports), imports


def test_no_two_modules_share_a_name():
    names = Counter(p.stem for p in python_files("distillery") if p.stem not in ("__init__", "__main__"))
    names.update(p.stem for p in (REPO / "distillery").rglob("*") if p.is_dir() and p.name != "__pycache__")
    assert [n for n, k in names.items() if k > 1] == []


def test_every_stage_has_its_rule_file_and_package():
    stages = {p.stem for p in (REPO / "rules").glob("*.smk")} - {"common"}
    assert stages == {"queries", "distill", "corpora", "analysis", "train", "evaluate"}
    for stage in stages:
        assert (REPO / "distillery" / stage / "__init__.py").exists(), stage


def test_the_figure_registry_and_the_figure_modules_agree():
    from distillery.plan import figure_registry as figures

    modules = {p.stem for p in (REPO / "distillery/analysis/figures").glob("fig*.py")}
    assert set(figures.FIGURES) == modules
    for name in figures.FIGURES:
        module = importlib.import_module(figures.module(name))
        assert callable(module.table) and callable(module.draw), name


def test_the_table_rule_covers_the_table_registry():
    from distillery.evaluate.tables import TABLES

    rule_tables = re.search(r"^TABLES = \(([^)]*)\)", (REPO / "rules/evaluate.smk").read_text(), re.M).group(1)
    assert set(re.findall(r'"(\w+)"', rule_tables)) == set(TABLES)
