"""The ``distillery`` command: what users do outside the DAG."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from distillery.core.artifacts import read_json
from distillery.plan import paths
from distillery.queries import prep_report


def _prep_report(args: argparse.Namespace) -> int:
    queries_dir = Path(args.results) / Path(paths.QUERIES).name
    final = queries_dir / "report.json"
    # The workflow's own report names exactly the current sources; otherwise show what exists so far.
    if final.exists():
        summary = read_json(final)
    else:
        summary = prep_report.collect(*prep_report.discover(queries_dir), max_reject_share=args.max_reject_share)
    if not summary["stages"]:
        print(
            f"no query-preparation reports under {queries_dir}: run `snakemake {paths.QUERIES}/clean.parquet`",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(summary, indent=2) if args.json else prep_report.to_markdown(summary), end="")
    return 0 if summary["accounted"] else 2


def _verify(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from distillery.verify import Verifier
    from distillery.verify.files import summary_table, verify_file

    config = {}
    if args.reward_model:
        config["reward_model"] = {
            "model": args.reward_model,
            "trust_remote_code": args.trust_remote_code,
            "use": args.reward_attributes,
        }
    if args.judge_model:
        config["judge"] = {"model": args.judge_model}
    options = {"code": {"allow_unsandboxed": True}} if args.allow_unsandboxed else None
    with Verifier.from_config(config, args.processes, lambda **kw: tqdm(desc="verify", **kw), options) as verifier:
        summary = verify_file(args.input, args.output, verifier, args.response_field)
    print(summary_table(summary), end="")
    return 0


def _compact_cache(args: argparse.Namespace) -> int:
    from distillery.generation.cache import compact

    folders = sorted(p for p in Path(args.cache_dir).iterdir() if p.is_dir())
    for folder in folders:
        merged = compact(folder, args.min_segments)
        print(f"{folder}: {f'{merged} segments merged into one' if merged else 'left as it is'}")
    return 0


def _reached(config_sets: list[str], snakefile: str, targets: list[str]) -> tuple[Path, set[str]]:
    """The store and the keys that each set of config files ("a.yaml,b.yaml": layered in order) reaches:
    a dry run of the workflow, whose planning hook lists them (plan/snakemake_patches.py)."""
    import os
    import subprocess
    import tempfile

    from distillery.plan.snakemake_patches import REACH

    stores, keys = set(), set()
    with tempfile.TemporaryDirectory() as tmp:
        for config_set in config_sets:
            out = Path(tmp, "reach.jsonl")
            out.unlink(missing_ok=True)
            cmd = [sys.executable, "-m", "snakemake", "--snakefile", snakefile, "--dry-run", "--quiet", "all", *targets]
            cmd += ["--configfile", *config_set.split(",")]
            proc = subprocess.run(cmd, env={**os.environ, REACH: str(out)}, capture_output=True, text=True)
            if proc.returncode != 0 or not out.exists():
                failure = proc.stderr[-3000:]
                raise SystemExit(f"distillery store: the workflow with {config_set} did not plan:\n{failure}")
            for line in out.read_text().splitlines():
                reach = json.loads(line)
                stores.add(reach["store"])
                keys.update(reach["keys"])
    if len(stores) != 1:
        raise SystemExit(f"distillery store: the configs name different stores ({', '.join(sorted(stores))})")
    return Path(stores.pop()), keys


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024


def _store_du(args: argparse.Namespace) -> int:
    from collections import Counter

    from distillery.plan.content_store import ContentStore, leaves

    store = ContentStore(args.store)
    usage = store.usage()
    by_rule, held = Counter(), Counter()
    for action in store.actions():
        by_rule[action["rule"]] += 1
        held[action["rule"]] += sum(leaf["size"] for tree in action["outputs"] for _, leaf in leaves(tree))
    print(f"{args.store}: {usage.actions} actions, {usage.objects} objects, {_human(usage.bytes)} of objects")
    for rule in sorted(by_rule):
        print(f"  {rule}: {by_rule[rule]} actions, outputs of {_human(held[rule])}")
    return 0


def _store_gc(args: argparse.Namespace) -> int:
    from distillery.plan.content_store import ContentStore

    root, keep = _reached(args.configs or ["config.yaml"], args.snakefile, args.target)
    dropped, freed = ContentStore(root).gc(keep, dry_run=args.dry_run)
    verb = "would free" if args.dry_run else "freed"
    print(f"{root}: {verb} {freed.actions} actions and {freed.objects} objects ({_human(freed.bytes)})")
    for action in dropped:
        wildcards = json.dumps(action["wildcards"], sort_keys=True, separators=(",", ":"))
        print(f"  {action['rule']} {wildcards} {action['key'][:16]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="distillery", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prep-report", help="what each query-preparation stage kept and removed")
    p.add_argument("--results", default=paths.RESULTS, help="the workflow's results directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--max-reject-share",
        type=float,
        help="before the workflow's report exists: flag sources rejecting more than this share of their rows",
    )
    p.set_defaults(func=_prep_report)
    p = sub.add_parser("verify", help="score responses with the verifier of their category")
    p.add_argument("input", help="JSONL or Parquet rows: the query columns (category, reference, ...) and a response")
    p.add_argument("output", help="the same rows with score, passed, verifier, detail, scorable (.jsonl or .parquet)")
    p.add_argument("--response-field", default="response", help="the column holding the response")
    p.add_argument("--processes", type=int, default=None, help="worker processes (default: every core)")
    p.add_argument("--reward-model", help="sequence-classification reward model (folder or hub id) for chat/general")
    p.add_argument(
        "--reward-attributes",
        nargs="+",
        help="attributes to average (default: helpfulness correctness coherence, of the five HelpSteer2 attributes)",
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the reward model's own code (Decision-Tree-Reward-Llama-3.1-8B needs it)",
    )
    p.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="run code answers without bubblewrap when it is missing (rlimits only: never on a shared machine)",
    )
    p.add_argument(
        "--judge-model",
        help="causal LM (folder or hub id) that rates chat/general replies when no "
        "reward model is given, and answers the rules cannot decide",
    )
    p.set_defaults(func=_verify)
    p = sub.add_parser(
        "compact-cache",
        help="merge each model's generation-cache segments into one file (when no job is writing to the cache)",
    )
    p.add_argument("cache_dir", help="the generation cache (distill.cache_dir, evaluate.cache_dir)")
    p.add_argument("--min-segments", type=int, default=64, help="leave a model folder with fewer segments alone")
    p.set_defaults(func=_compact_cache)
    store = sub.add_parser("store", help="the content-addressed store of the workflow's results").add_subparsers(
        dest="store_command", required=True
    )
    p = store.add_parser("du", help="what the store holds, by rule")
    p.add_argument("--store", default=".store", help="the store (config key store.path)")
    p.set_defaults(func=_store_du)
    p = store.add_parser("gc", help="keep what the given configs reach (run no workflow meanwhile); free the rest")
    p.add_argument(
        "configs",
        nargs="*",
        help="config sets the store serves, each a comma-separated list of config files layered in order "
        "(default: config.yaml)",
    )
    p.add_argument("--dry-run", action="store_true", help="report what would be freed, free nothing")
    p.add_argument("--snakefile", default="Snakefile")
    p.add_argument("--target", nargs="*", default=[], help="targets besides `all`")
    p.set_defaults(func=_store_gc)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
