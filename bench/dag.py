"""Benchmark of Snakemake's own overhead on a paper-scale DAG: building the DAG, and a no-op rerun.

What is measured
----------------
The workflow is copied to a temporary folder and configured like configs/paper.yaml with three vLLM
teachers (AM-Thinking-v1, Qwen3-235B-A22B, DeepSeek-R1 on two nodes) and ``--shards`` shards (default
2,000), every stage on: query preparation, distillation (teachers x shards jobs), corpora and perplexity,
analysis, training, evaluation of the four benchmarks, tables.

1. DAG: ``snakemake -n all`` with no output present (every job planned), wall time of the command.
2. The real output files are faked: every output of the planned jobs is created empty (directories as
   directories) with one timestamp, and ``snakemake --touch all`` records Snakemake's metadata for each
   (params, code fingerprints, software env), as a finished run leaves it.
3. No-op rerun: ``snakemake --cores 2 all``, wall time; it must say "Nothing to be done" (every rerun
   trigger, params and code included, checked for every output). A second ``-n`` is timed too.
4. The dry run and the no-op rerun again without the workflow's Snakemake patches
   (``DISTILLERY_SNAKEMAKE_PATCHES=off``): what they save.

Targets (PASS/FAIL): DAG in under 20 s, no-op rerun under 30 s, on this 2-core machine.

    .venv/bin/python bench/dag.py [--shards 2000] [--keep DIR] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from workflow import copy_workflow  # noqa: E402

TARGET_DAG_S, TARGET_NOOP_S = 20.0, 30.0
# Each measurement is repeated without the workflow's reach into Snakemake's internals
# (distillery/plan/snakemake_patches.py): the ratio says whether it is still worth having.
UNPATCHED = {**os.environ, "DISTILLERY_SNAKEMAKE_PATCHES": "off"}
OVERRIDE = """
shards: {{num_shards: {shards}}}
teachers:
  - name: am-thinking-v1
    backend: vllm
    model: a-m-team/AM-Thinking-v1
    vllm: {{tensor_parallel_size: 4, max_model_len: 40960}}
  - name: qwen3-235b-a22b
    backend: vllm
    model: Qwen/Qwen3-235B-A22B
    vllm: {{tensor_parallel_size: 8, max_model_len: 40960}}
  - name: deepseek-r1
    backend: vllm
    model: deepseek-ai/DeepSeek-R1
    nodes: 2
    vllm: {{tensor_parallel_size: 8, pipeline_parallel_size: 2, max_model_len: 40960}}
distill:
  reward_model: {{model: Skywork/Skywork-Reward-Llama-3.1-8B-v0.2}}
train:
  lora: null              # config.yaml's toy LoRA would otherwise reach the paper's ZeRO-3 run
evaluate:
  extra_models: []        # config.yaml's toy base model (the converted 270M) is no paper model
"""


def smk(workdir: Path, *args: str, timeout: float = 1800, env: dict | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system, this machine is shared: wall time varies 2-3x) of one command."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--directory",
        str(workdir),
        "--snakefile",
        str(workdir / "Snakefile"),
        *args,
        "--configfile",
        "configs/paper.yaml",
        "bench.yaml",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    took = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return took, cpu, proc.stdout + proc.stderr


def directory_outputs(workdir: Path) -> dict[str, list[bool]]:
    """rule -> for each output, whether it is a directory(): what the dry run's listing does not say."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
            wf = api.workflow(
                resource_settings=ResourceSettings(),
                storage_settings=StorageSettings(),
                config_settings=ConfigSettings(configfiles=[Path("configs/paper.yaml"), Path("bench.yaml")]),
                snakefile=Path("Snakefile"),
                workdir=Path("."),
            )
            return {r.name: [o.is_directory for o in r.output] for r in wf._workflow.rules}
    finally:
        os.chdir(cwd)


def planned_outputs(dry_run: str) -> list[tuple[str, list[str]]]:
    """(rule, outputs) of every job a dry run lists."""
    jobs, rule = [], None
    for line in dry_run.splitlines():
        m = re.match(r"^(?:local)?rule (\S+):$", line.strip())
        if m:
            rule = m.group(1)
        elif rule and line.startswith("    output: "):
            jobs.append((rule, line[len("    output: ") :].split(", ")))
            rule = None
    return jobs


def fake_outputs(workdir: Path, jobs, dirs: dict[str, list[bool]]) -> list[Path]:
    """Every output of ``jobs``, faked: a small file holding its own path (so that contents differ),
    directories as directories, all with one timestamp."""
    stamp = time.time() - 3600
    made = []
    for rule, outputs in jobs:
        for i, out in enumerate(outputs):
            path = workdir / out
            path.parent.mkdir(parents=True, exist_ok=True)
            if dirs.get(rule, [])[i : i + 1] == [True]:
                path.mkdir(exist_ok=True)
                (path / "fake").write_text(out)
            else:
                path.write_text(out)
            os.utime(path, (stamp, stamp))
            made.append(path)
    return made


def paper_scale_workflow(shards: int, keep: Path | None, prefix: str) -> Path:
    """A copy of the workflow configured like configs/paper.yaml (:data:`OVERRIDE`) with ``shards`` shards:
    in ``keep``, or in a new temporary folder."""
    workdir = keep or Path(tempfile.mkdtemp(prefix=prefix))
    copy_workflow(workdir)
    shutil.copytree(REPO / "configs", workdir / "configs", dirs_exist_ok=True)
    (workdir / "bench.yaml").write_text(OVERRIDE.format(shards=shards))
    return workdir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shards", type=int, default=2000)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    workdir = paper_scale_workflow(args.shards, args.keep, "dag-bench-")

    dag_s, dag_cpu, out = smk(workdir, "--dry-run", "--quiet", "rules", "all")
    bare_dag_s, bare_dag_cpu, _ = smk(workdir, "--dry-run", "--quiet", "rules", "all", env=UNPATCHED)
    jobs = planned_outputs(smk(workdir, "--dry-run", "all")[2])
    counts = re.search(r"^total\s+(\d+)$", out, re.M)
    n_jobs = int(counts.group(1)) if counts else len(jobs)
    print(f"DAG: {n_jobs} jobs, dry run {dag_s:.1f} s ({dag_cpu:.1f} s CPU)", flush=True)
    n_files = len(fake_outputs(workdir, jobs, directory_outputs(workdir)))
    touch_s, _, _ = smk(workdir, "--cores", "2", "--touch", "--quiet", "all", "all")
    print(f"faked {n_files} outputs; --touch recorded their metadata in {touch_s:.1f} s", flush=True)
    noop_s, noop_cpu, out = smk(workdir, "--cores", "2", "all")
    if "Nothing to be done" not in out:
        raise SystemExit(f"the rerun is not a no-op:\n{out[-3000:]}")
    noop_dry_s, noop_dry_cpu, _ = smk(workdir, "--dry-run", "all")
    bare_noop_s, bare_noop_cpu, out = smk(workdir, "--cores", "2", "all", env=UNPATCHED)
    if "Nothing to be done" not in out:
        raise SystemExit(f"the rerun without the patches is not a no-op:\n{out[-3000:]}")
    figures = {
        "shards": args.shards,
        "jobs": n_jobs,
        "outputs": n_files,
        "dag_dry_run_s": round(dag_s, 2),
        "dag_dry_run_cpu_s": round(dag_cpu, 2),
        "touch_s": round(touch_s, 2),
        "noop_rerun_s": round(noop_s, 2),
        "noop_rerun_cpu_s": round(noop_cpu, 2),
        "noop_dry_run_s": round(noop_dry_s, 2),
        "noop_dry_run_cpu_s": round(noop_dry_cpu, 2),
        "unpatched_dag_dry_run_s": round(bare_dag_s, 2),
        "unpatched_dag_dry_run_cpu_s": round(bare_dag_cpu, 2),
        "unpatched_noop_rerun_s": round(bare_noop_s, 2),
        "unpatched_noop_rerun_cpu_s": round(bare_noop_cpu, 2),
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    print()
    print(f"| {args.shards} shards x 3 teachers, {n_jobs} jobs | wall s | CPU s | target (wall) |")
    print("| --- | ---: | ---: | --- |")
    print(
        f"| DAG (dry run, nothing built) | {dag_s:.1f} | {dag_cpu:.1f} | < {TARGET_DAG_S:.0f} s "
        f"{'PASS' if dag_s < TARGET_DAG_S else 'FAIL'} |"
    )
    print(
        f"| no-op rerun (everything up to date) | {noop_s:.1f} | {noop_cpu:.1f} | < {TARGET_NOOP_S:.0f} s "
        f"{'PASS' if noop_s < TARGET_NOOP_S else 'FAIL'} |"
    )
    print(f"| no-op dry run | {noop_dry_s:.1f} | {noop_dry_cpu:.1f} | |")
    print(
        f"| DAG without the Snakemake patches | {bare_dag_s:.1f} | {bare_dag_cpu:.1f} | "
        f"patches save {bare_dag_cpu / dag_cpu:.2f}x CPU |"
    )
    print(
        f"| no-op rerun without the Snakemake patches | {bare_noop_s:.1f} | {bare_noop_cpu:.1f} | "
        f"patches save {bare_noop_cpu / noop_cpu:.2f}x CPU |"
    )
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
