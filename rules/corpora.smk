# Corpora: each teacher's accepted responses after quality assurance, the parallel corpora the
# students train on (corpus.mode), and the a-m-team-format export of the training corpus.
from distillery.corpus import quality_settings

CORPUS_CONFIG = config["corpus"]
PPL_CONFIG = config["analysis"]["perplexity"]
PPL_PARTS = shard_names(PPL_CONFIG["jobs"])


def distill_shards(teacher):
    """shard -> attempts file of a teacher: every shard, so that distillation runs first; with
    ``corpus.partial`` only those that exist (a corpus of what distillation has produced so far)."""
    paths = {s: f"results/distill/{teacher}/{s}.parquet" for s in SHARDS}
    if CORPUS_CONFIG["partial"]:
        paths = {s: p for s, p in paths.items() if os.path.exists(p)}
    return paths


def all_distill_shards(teacher):
    """Every shard's attempts file, present or not: the script reports the missing ones."""
    return {s: f"results/distill/{teacher}/{s}.parquet" for s in SHARDS}


def part_shards(part):
    """The shards one perplexity job scores (``analysis.perplexity.jobs`` jobs per teacher)."""
    return SHARDS[PPL_PARTS.index(part) :: len(PPL_PARTS)]


def perplexity_parts(teacher):
    if not PPL_CONFIG["model"]:
        return []
    return expand("results/corpora/perplexity/{teacher}/{part}.parquet", teacher=teacher, part=PPL_PARTS)


CORPORA_TARGETS = (
    expand("results/corpora/{teacher}.parquet", teacher=TEACHERS)
    + expand("results/corpora/parallel/{teacher}.parquet", teacher=TEACHERS)
    + expand("results/export/{teacher}", teacher=TEACHERS)
)


rule corpus_perplexity:
    input:
        attempts=lambda w: [p for s, p in distill_shards(w.teacher).items() if s in part_shards(w.part)],
        queries=lambda w: expand(f"{QUERIES}/shards/{{shard}}.parquet", shard=part_shards(w.part)),
        models=built_models(PPL_CONFIG["model"] or ""),
    output:
        "results/corpora/perplexity/{teacher}/{part}.parquet",
    params:
        attempts=lambda w: {s: p for s, p in all_distill_shards(w.teacher).items() if s in part_shards(w.part)},
        settings={k: v for k, v in PPL_CONFIG.items() if k not in ("jobs", "gpus")},
        code=code_fingerprint("corpus_perplexity"),
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
        part=alternatives(PPL_PARTS),
    threads: 2
    resources:
        mem_mb=6000,
        gpu=PPL_CONFIG["gpus"],
    log:
        "logs/corpora/perplexity/{teacher}/{part}.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/corpus_perplexity.py"


rule teacher_corpus:
    input:
        attempts=lambda w: list(distill_shards(w.teacher).values()),
        queries=expand(f"{QUERIES}/shards/{{shard}}.parquet", shard=SHARDS),
        perplexity=lambda w: perplexity_parts(w.teacher),
    output:
        queries="results/corpora/{teacher}.parquet",
        rejects="results/corpora/{teacher}.rejects.parquet",
        report="results/corpora/{teacher}.report.json",
    params:
        attempts=lambda w: all_distill_shards(w.teacher),
        quality=lambda w: quality_settings(CORPUS_CONFIG["quality"], w.teacher),
        code=code_fingerprint("build_corpus"),
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
    log:
        "logs/corpora/{teacher}.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/build_corpus.py"


rule parallel_corpora:
    input:
        expand("results/corpora/{teacher}.parquet", teacher=TEACHERS),
    output:
        corpora=expand("results/corpora/parallel/{teacher}.parquet", teacher=TEACHERS),
        report="results/corpora/parallel/report.json",
    params:
        teachers=list(TEACHERS),
        code=code_fingerprint("parallel_corpora"),
    log:
        "logs/corpora/parallel.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/parallel_corpora.py"


rule export_corpus:
    input:
        corpus=lambda w: training_corpus(w.teacher),
        report="results/corpora/{teacher}.report.json",
    output:
        directory("results/export/{teacher}"),
    params:
        teacher=lambda w: {k: TEACHERS[w.teacher].get(k) for k in ("name", "model", "system_prompt")},
        settings=CORPUS_CONFIG["export"],
        mode=CORPUS_CONFIG["mode"],
        code=code_fingerprint("export_corpus"),
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
    log:
        "logs/corpora/export/{teacher}.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/export_corpus.py"
