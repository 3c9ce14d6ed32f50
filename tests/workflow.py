"""Running the real Snakemake workflow on a copy of the repository in a temporary directory."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = (
    "Snakefile",
    "rules",
    "scripts",
    "schemas",
    "envs",
    "config.yaml",
    "configs",
    "data",
    "distillery",
    "profiles",
    "slurm",
    "report",
)
SNAKEMAKE_TIMEOUT = 600


def copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_symlink():  # ./slurm -> profiles/slurm stays a link
            (dest / part).symlink_to(src.readlink())
        elif src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy2(src, dest / part)
    return dest


def snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: float = SNAKEMAKE_TIMEOUT
) -> subprocess.CompletedProcess:
    """Snakemake under a hard timeout; its output is kept for the assertion message."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        "--directory",
        str(workdir),
        "--snakefile",
        str(workdir / "Snakefile"),
        *args,
    ]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


def planned(workdir: Path, *targets: str, extra: tuple[str, ...] = ()) -> list[tuple[str, dict[str, str]]]:
    """What a run would do now: (rule, wildcards) of every job, from a dry run's job listing."""
    proc = snakemake(workdir, "--dry-run", *targets, *extra)  # --config takes every argument after it
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return []
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", out)[1:]:
        rule = re.match(r"(?:local)?rule (\w+):", block).group(1)
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        jobs.append((rule, dict(w.split("=", 1) for w in wildcards.group(1).split(", ")) if wildcards else {}))
    return jobs


def planned_jobs(workdir: Path, *targets: str, extra: tuple[str, ...] = ()) -> dict[str, int]:
    """What a run would do now: rule -> job count."""
    return dict(Counter(rule for rule, _ in planned(workdir, *targets, extra=extra)))


@contextlib.contextmanager
def edited(path, change=lambda text: text + "\n_EDITED = True  # a change of behaviour\n"):
    """The file changed, then restored with its old content and time (so that the shared run stays
    up to date for the tests after this one)."""
    original, stat = path.read_text(), path.stat()
    path.write_text(change(original))
    try:
        yield
    finally:
        path.write_text(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def ran(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """rule -> jobs a real run started (Snakemake's job blocks; `all` left out)."""
    rules = re.findall(r"^(?:local)?rule (\w+):$", proc.stdout + proc.stderr, re.M)
    return dict(Counter(rule for rule in rules if rule != "all"))


def settled(proc: subprocess.CompletedProcess, outcome: str) -> dict[str, int]:
    """rule -> jobs a real run did not start because they were "cut off" or "restored" (early cutoff)."""
    found = re.findall(rf"Early cutoff: (\w+) .*: {outcome} \(content key", proc.stdout + proc.stderr)
    return dict(Counter(found))
