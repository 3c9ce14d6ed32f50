"""Benchmark of content-addressed rebuilds at paper scale: touched artifacts plan nothing, and what hashing costs.

What is measured
----------------
1. On bench/dag.py's paper-scale DAG (3 teachers x ``--shards`` shards, every stage on): every output of
   the planned jobs is faked (``dag.fake_outputs``: a small file holding its own path) and
   ``snakemake --touch --forceall all`` records them as a finished run would (Snakemake's metadata, and the store's
   action for every job: the key of its inputs' content, params and code, and its outputs' digests).
2. Every intermediate is touched (in a random order, so that many an output is older than its inputs) and
   ``snakemake -n --max-checksum-file-size 1 all`` is timed: artifacts above Snakemake's checksum limit,
   as every artifact of a real run is. Baseline, same run: Snakemake's own rules
   (``DISTILLERY_SNAKEMAKE_PATCHES=off``), which plan every job below the first touched file.
   The dry run is repeated: the second must read nothing (digests are kept per file version).
3. Hashing: a ``--gib`` GiB file read plainly (the disk's speed, the baseline), then hashed by the digest
   cache (BLAKE3), then asked again (remembered: a stat and a small read).

   Both from the disk when the page cache can be dropped (root), else from memory.

Targets (PASS/FAIL): nothing planned after the touch, in under 30 s; hashing at the plain read's speed
(at least 0.9x); a second dry run reads no artifact.

    .venv/bin/python bench/rebuild.py [--shards 2000] [--gib 1] [--keep DIR] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from dag import UNPATCHED, directory_outputs, fake_outputs, paper_scale_workflow, planned_outputs, smk

from distillery.plan.content_digests import DigestCache

TARGET_PLAN_S, TARGET_HASH_RATIO = 30.0, 0.9
ABOVE_CHECKSUM_LIMIT = ("--max-checksum-file-size", "1")


def record_faked(workdir: Path) -> float:
    """``snakemake --touch --forceall all``: every job recorded as finished. Snakemake's touch executor
    sleeps 0.1 s per job (so that touched times differ), minutes at this scale that say nothing about
    the store, so it runs here without the sleep."""
    args = ["--cores", "2", "--touch", "--forceall", "--quiet", "all", "all", "--configfile", "configs/paper.yaml"]
    code = (
        "import sys, snakemake.executors.touch as touch; touch.Executor.SLEEPING_TIME = 0; "
        f"from snakemake.cli import main; main({[*args, 'bench.yaml']!r})"
    )
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"recording the faked run failed:\n{proc.stderr[-5000:]}")
    return time.monotonic() - start


def hashed_by_plan(out: str) -> tuple[int, float]:
    """Files and MB the planning hook hashed, from its log line (none when Snakemake planned nothing)."""
    found = re.findall(r"hashed (\d+) files, ([\d.]+) MB", out)
    return sum(int(f) for f, _ in found), sum(float(mb) for _, mb in found)


CHUNK = 8 << 20


def cold() -> bool:
    """Drop the page cache (root only), so that reads come from the disk; False when not allowed."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def hashing(gib: float, folder: Path) -> dict:
    data = folder / "artifact.bin"
    block = os.urandom(CHUNK)
    with open(data, "wb") as handle:
        for _ in range(int(gib * (1 << 30) // CHUNK)):
            handle.write(block)
    size = data.stat().st_size
    from_disk = cold()
    start = time.monotonic()
    with open(data, "rb") as handle:
        while handle.read(CHUNK):
            pass
    read_s = time.monotonic() - start
    cache = DigestCache(folder / "digests")
    cold()
    start = time.monotonic()
    cache.file(data)
    hash_s = time.monotonic() - start
    start = time.monotonic()
    cache.file(data)
    again_s = time.monotonic() - start
    data.unlink()
    gb = size / 1e9
    return {
        "gb": round(gb, 3),
        "from_disk": from_disk,
        "read_gb_s": round(gb / read_s, 2),
        "hash_gb_s": round(gb / hash_s, 2),
        "again_ms": round(again_s * 1000, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shards", type=int, default=2000)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    workdir = paper_scale_workflow(args.shards, args.keep, "rebuild-bench-")

    jobs = planned_outputs(smk(workdir, "--dry-run", "all")[2])
    made = fake_outputs(workdir, jobs, directory_outputs(workdir))
    record_s = record_faked(workdir)
    print(f"{len(jobs)} jobs, {len(made)} outputs faked; --touch recorded them in {record_s:.1f} s", flush=True)

    # new times in a random order (as `cp -r` or a checkout leaves them): many an output older than its input
    now = time.time()
    for i, path in enumerate(random.Random(0).sample(made, len(made))):
        os.utime(path, (now + i * 1e-3, now + i * 1e-3))
    plan_s, plan_cpu, out = smk(workdir, "--dry-run", *ABOVE_CHECKSUM_LIMIT, "all")
    nothing = "Nothing to be done" in out
    first_files, first_mb = hashed_by_plan(out)
    again_s, _, out = smk(workdir, "--dry-run", *ABOVE_CHECKSUM_LIMIT, "all")
    (again_files, _), nothing_again = hashed_by_plan(out), "Nothing to be done" in out
    bare_s, _, out = smk(workdir, "--dry-run", *ABOVE_CHECKSUM_LIMIT, "all", env=UNPATCHED)
    bare_total = re.search(r"^total\s+(\d+)$", out, re.M)
    bare_planned = int(bare_total.group(1)) if bare_total else 0
    hashed = hashing(args.gib, workdir)

    figures = {
        "shards": args.shards,
        "jobs": len(jobs),
        "outputs": len(made),
        "record_s": round(record_s, 2),
        "touched_dry_run_s": round(plan_s, 2),
        "touched_dry_run_cpu_s": round(plan_cpu, 2),
        "touched_planned_nothing": nothing,
        "touched_hashed_files": first_files,
        "touched_hashed_mb": first_mb,
        "second_dry_run_s": round(again_s, 2),
        "second_dry_run_hashed_files": again_files,
        "snakemake_alone_planned": bare_planned,
        "snakemake_alone_dry_run_s": round(bare_s, 2),
        **{f"hash_{k}": v for k, v in hashed.items()},
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    ratio = hashed["hash_gb_s"] / hashed["read_gb_s"]
    print()
    print(f"| {args.shards} shards x 3 teachers, {len(jobs)} jobs, every output touched | value | target |")
    print("| --- | ---: | --- |")
    ok = nothing and plan_s < TARGET_PLAN_S
    print(f"| `snakemake -n all`: planned | {'nothing' if nothing else 'jobs'} | nothing {'PASS' if ok else 'FAIL'} |")
    print(f"| ... wall s (CPU s) | {plan_s:.1f} ({plan_cpu:.1f}) | < {TARGET_PLAN_S:.0f} s |")
    print(f"| ... hashed (touched files are new versions) | {first_files} files, {first_mb:.3f} MB | |")
    print(
        f"| second dry run: wall s, hashed | {again_s:.1f} s, {again_files} files | none "
        f"{'PASS' if nothing_again and again_files == 0 else 'FAIL'} |"
    )
    print(f"| Snakemake alone (baseline, same run): planned jobs, wall s | {bare_planned}, {bare_s:.1f} | |")
    source = "disk, page cache dropped" if hashed["from_disk"] else "page cache: not root"
    print(f"| plain read of {hashed['gb']:.2f} GB ({source}; baseline) | {hashed['read_gb_s']:.2f} GB/s | |")
    print(
        f"| hashing it (BLAKE3, same source) | {hashed['hash_gb_s']:.2f} GB/s = {ratio:.2f}x read "
        f"| >= {TARGET_HASH_RATIO}x "
        f"{'PASS' if ratio >= TARGET_HASH_RATIO else 'FAIL'} |"
    )
    print(f"| asking again (remembered) | {hashed['again_ms']:.2f} ms | |")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
