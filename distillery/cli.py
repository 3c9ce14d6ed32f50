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
    summary = read_json(final) if final.exists() else prep_report.collect(*prep_report.discover(queries_dir))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="distillery", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prep-report", help="what each query-preparation stage kept and removed")
    p.add_argument("--results", default=paths.RESULTS, help="the workflow's results directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
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
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
