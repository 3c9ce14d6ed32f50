# Names every rule file shares. Everything a rule computes while the workflow is parsed comes from
# distillery.plan (light: no torch); the logic of the jobs is in distillery/<stage>/.
import os
import re
import sys

# Scripts (and jobs under any executor) import the package from this checkout.
sys.path.insert(0, workflow.basedir)
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")])))

from distillery.plan import paths
from distillery.plan.code_fingerprints import script_code_hash
from distillery.plan.config_checks import check_config
from distillery.plan.config_validation import validate_config
from distillery.plan.early_cutoff import EarlyCutoff
from distillery.plan.snakemake_patches import early_cutoff, index_concrete_producers

index_concrete_producers()
# The schema fills in the defaults; an error is a few lines naming the key (Snakemake's validate prints the
# schema around it), and so is one of the checks a schema cannot make.
validate_config(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"))
check_config(config)
if config["store"]["enabled"]:
    early_cutoff(workflow, EarlyCutoff(config["store"]["path"], paths.DIGESTS))

SOURCES = {source["name"]: source for source in config["sources"]}
BENCHMARKS = config["decontaminate"].get("benchmarks") or list(config["benchmarks"])
SHARDS = paths.shard_names(config["shards"]["num_shards"])
TEACHERS = {teacher["name"]: teacher for teacher in config["teachers"]}


def alternatives(names):
    return "|".join(map(re.escape, names))


def dataset_files(spec):
    """Local files a source or benchmark reads: a rule input, so that editing them reruns it."""
    return [spec["path"]] if "path" in spec else []


def code_fingerprint(script, *modules):
    """Rerun trigger: fingerprint of the distillery code that scripts/<script>.py runs (and of ``modules``,
    which it imports by a name it is given)."""
    return script_code_hash(os.path.join(workflow.basedir, "scripts", f"{script}.py"), *modules)


def training_corpus(wildcards):
    """The corpus a teacher's student trains on and its export holds (corpus.mode)."""
    return paths.training_corpus(config["corpus"]["mode"], wildcards.teacher)
