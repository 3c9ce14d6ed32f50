# Distillery: the distillation-source study (a-m-team, 2025, arXiv 2505.14464) as one workflow.
# Rules are declarations; rules/<stage>.smk runs distillery/<stage>/. See docs/architecture.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/queries.smk"
include: "rules/distill.smk"
include: "rules/corpora.smk"
include: "rules/analysis.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"


rule all:
    default_target: True
    input:
        rules.query_shards.output.shards,
        rules.query_report.output,
        DISTILL_TARGETS,
        CORPORA_TARGETS,
        ANALYSIS_TARGETS,
        TRAIN_TARGETS,
        EVAL_TARGETS,
