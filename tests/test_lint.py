"""The linters find nothing: Snakemake's linter and snakefmt on the Snakefile and rules, ruff (pyflakes,
pycodestyle, import order, bugbear; pyproject.toml) and ruff's formatter on the Python code. All pinned,
all run here so that CI enforces them."""

import subprocess
import sys

import pytest

from workflow import REPO, copy_workflow

pytestmark = pytest.mark.workflow


def test_snakemake_lint_has_no_findings(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")  # the linter parses the workflow: not in the checkout
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--lint",
            "--directory",
            str(workdir),
            "--snakefile",
            str(workdir / "Snakefile"),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in out, out[-6000:]


def test_snakefmt_check_passes():
    files = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    proc = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "--diff", *map(str, files)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]


PYTHON_TREES = ("distillery", "scripts", "tests", "bench")


@pytest.mark.parametrize("command", [["check"], ["format", "--check", "--diff"]], ids=["check", "format"])
def test_ruff_finds_nothing(command):
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *PYTHON_TREES], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
