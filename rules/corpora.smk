# Corpora: each teacher's accepted responses after quality assurance, the parallel corpora the
# students train on (corpus.mode), and the a-m-team-format export of the training corpus.
from distillery.plan.rule_params import quality_settings

CORPUS_CONFIG = config["corpus"]
PPL_CONFIG = config["analysis"]["perplexity"]
PPL_PARTS = paths.shard_names(PPL_CONFIG["jobs"])
# Each teacher's attempts file per shard. The scripts get them all and report the missing ones; a rule's
# inputs are every one (so that distillation runs first) or, with corpus.partial, those that exist so far.
ATTEMPT_FILES = {t: paths.attempt_files(t, SHARDS) for t in TEACHERS}
ATTEMPT_INPUTS = {
    t: [p for p in files.values() if not CORPUS_CONFIG["partial"] or os.path.exists(p)]
    for t, files in ATTEMPT_FILES.items()
}
# The shards each perplexity job scores (analysis.perplexity.jobs jobs per teacher).
PART_SHARDS = {part: SHARDS[i :: len(PPL_PARTS)] for i, part in enumerate(PPL_PARTS)}
PERPLEXITY = f"{paths.CORPORA}/perplexity/{{teacher}}/{{part}}.parquet"
PERPLEXITY_FILES = {t: expand(PERPLEXITY, teacher=t, part=PPL_PARTS) if PPL_CONFIG["model"] else [] for t in TEACHERS}


CORPORA_TARGETS = (
    expand(paths.TEACHER_CORPUS, teacher=TEACHERS)
    + expand(paths.PARALLEL_CORPUS, teacher=TEACHERS)
    + expand(f"{paths.EXPORT}/{{teacher}}", teacher=TEACHERS)
)


rule corpus_perplexity:
    input:
        attempts=lambda w: [
            ATTEMPT_FILES[w.teacher][s]
            for s in PART_SHARDS[w.part]
            if ATTEMPT_FILES[w.teacher][s] in ATTEMPT_INPUTS[w.teacher]
        ],
        queries=lambda w: paths.query_shards(PART_SHARDS[w.part]),
        models=paths.built_by_workflow(PPL_CONFIG["model"] or ""),
    output:
        PERPLEXITY,
    log:
        "logs/corpora/perplexity/{teacher}/{part}.log",
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
        part=alternatives(PPL_PARTS),
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        gpu=PPL_CONFIG["gpus"],
    params:
        attempts=lambda w: {s: ATTEMPT_FILES[w.teacher][s] for s in PART_SHARDS[w.part]},
        settings={k: v for k, v in PPL_CONFIG.items() if k not in ("jobs", "gpus")},
        code=code_fingerprint("corpus_perplexity"),
    script:
        "../scripts/corpus_perplexity.py"


rule teacher_corpus:
    input:
        attempts=lambda w: ATTEMPT_INPUTS[w.teacher],
        queries=paths.query_shards(SHARDS),
        perplexity=lambda w: PERPLEXITY_FILES[w.teacher],
    output:
        queries=paths.TEACHER_CORPUS,
        rejects=f"{paths.CORPORA}/{{teacher}}.rejects.parquet",
        report=f"{paths.CORPORA}/{{teacher}}.report.json",
    log:
        "logs/corpora/{teacher}.log",
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
    conda:
        "../envs/cpu.yaml"
    params:
        attempts=lambda w: ATTEMPT_FILES[w.teacher],
        quality=lambda w: quality_settings(CORPUS_CONFIG["quality"], w.teacher),
        code=code_fingerprint("teacher_corpus"),
    script:
        "../scripts/teacher_corpus.py"


rule parallel_corpora:
    input:
        expand(paths.TEACHER_CORPUS, teacher=TEACHERS),
    output:
        corpora=expand(paths.PARALLEL_CORPUS, teacher=TEACHERS),
        report=f"{paths.CORPORA}/parallel/report.json",
    log:
        "logs/corpora/parallel.log",
    conda:
        "../envs/cpu.yaml"
    params:
        teachers=list(TEACHERS),
        code=code_fingerprint("parallel_corpora"),
    script:
        "../scripts/parallel_corpora.py"


rule export_corpus:
    input:
        corpus=training_corpus,
        report=f"{paths.CORPORA}/{{teacher}}.report.json",
    output:
        directory(f"{paths.EXPORT}/{{teacher}}"),
    log:
        "logs/corpora/export/{teacher}.log",
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
    conda:
        "../envs/cpu.yaml"
    params:
        teacher=lambda w: {
            k: TEACHERS[w.teacher].get(k) for k in ("name", "model", "system_prompt", "release_model_name")
        },
        settings=CORPUS_CONFIG["export"],
        mode=CORPUS_CONFIG["mode"],
        code=code_fingerprint("export_corpus"),
    script:
        "../scripts/export_corpus.py"
