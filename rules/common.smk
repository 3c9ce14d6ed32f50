# Shared names and helpers of the rules. Logic lives in distillery/.
import os
import re
import sys

# Scripts (and jobs under any executor) import the package from this checkout.
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")]))

from distillery.canonical import shard_names
from distillery.config import check_config
from distillery.provenance import script_code_hash

check_config(config)

SOURCES = {source["name"]: source for source in config["sources"]}
BENCHMARKS = config["decontaminate"].get("benchmarks") or list(config["benchmarks"])
SHARDS = shard_names(config["shards"]["num_shards"])
QUERIES = "results/queries"


def alternatives(names):
    return "|".join(re.escape(n) for n in names)


def dataset_files(spec):
    """Local files a source or benchmark reads: a rule input, so that editing them reruns it."""
    return [spec["path"]] if "path" in spec else []


def code_fingerprint(script):
    """Rerun trigger: fingerprint of the distillery code that scripts/<script>.py runs."""
    return script_code_hash(os.path.join(workflow.basedir, "scripts", f"{script}.py"))
