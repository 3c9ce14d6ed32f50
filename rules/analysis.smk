# Analysis: per-sample statistics of every teacher (token counts under the student's tokenizer, attempts,
# cost, perplexity), the figures of the registry (distillery.plan.figure_registry: the paper's Figs. 2-6, and
# Figs. 7-8 which it lacks), and the dataset statistics beside the paper's. One rule draws any figure; its
# params hold only that figure's settings and its code fingerprint only that figure's module, so changing
# one figure's style or code redraws that figure alone.
from distillery.plan import figure_registry as figures
from distillery.plan.rule_params import student_tokenizer

ANALYSIS = config["analysis"]
STUDENT_TOKENIZER = student_tokenizer(config)
STATS = expand(f"{paths.STATS}/{{teacher}}.parquet", teacher=TEACHERS)
ANALYSIS_TARGETS = (  # nothing to analyse without teachers
    STATS
    + expand(f"{paths.FIGURES}/{{figure}}.{{kind}}", figure=figures.FIGURES, kind=("pdf", "png", "csv"))
    + [f"{paths.TABLES}/dataset_stats.md", f"{paths.TABLES}/dataset_stats.csv"]
    if TEACHERS
    else []
)


rule sample_stats:
    input:
        queries=paths.query_shards(SHARDS),
        attempts=lambda w: ATTEMPT_INPUTS[w.teacher],
        corpus=paths.TEACHER_CORPUS,
        rejects=f"{paths.CORPORA}/{{teacher}}.rejects.parquet",
        parallel=paths.PARALLEL_CORPUS,
        models=paths.built_by_workflow(STUDENT_TOKENIZER),
    output:
        f"{paths.STATS}/{{teacher}}.parquet",
    log:
        "logs/stats/{teacher}.log",
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
    conda:
        "../envs/cpu.yaml"
    threads: 2
    params:
        attempts=lambda w: ATTEMPT_FILES[w.teacher],
        tokenizer=lambda w, input: input.models[0] if input.models else STUDENT_TOKENIZER,
        code=code_fingerprint("sample_stats"),
    script:
        "../scripts/sample_stats.py"


rule figure:
    input:
        lambda w: figures.inputs(w.figure, list(TEACHERS)),
    output:
        pdf=f"{paths.FIGURES}/{{figure}}.pdf",
        png=report(f"{paths.FIGURES}/{{figure}}.png", caption="../report/figures.rst", category="Figures"),
        csv=f"{paths.FIGURES}/{{figure}}.csv",
    log:
        "logs/figures/{figure}.log",
    wildcard_constraints:
        figure=alternatives(figures.FIGURES),
    conda:
        "../envs/cpu.yaml"
    params:
        module=lambda w: figures.module(w.figure),
        teachers=list(TEACHERS),
        style=lambda w: figures.settings(ANALYSIS, w.figure),
        code=lambda w: code_fingerprint("figure", figures.module(w.figure)),
    script:
        "../scripts/figure.py"


rule dataset_stats:
    input:
        STATS,
    output:
        md=f"{paths.TABLES}/dataset_stats.md",
        csv=report(f"{paths.TABLES}/dataset_stats.csv", caption="../report/dataset_stats.rst", category="Tables"),
    log:
        "logs/tables/dataset_stats.log",
    conda:
        "../envs/cpu.yaml"
    params:
        teachers={name: teacher["model"] for name, teacher in TEACHERS.items()},
        paper_teachers=ANALYSIS["paper_teachers"],
        context={
            "corpus": ANALYSIS["corpus"],
            "tokenizer": STUDENT_TOKENIZER,
            "perplexity_model": PPL_CONFIG["model"],
        },
        code=code_fingerprint("dataset_stats"),
    script:
        "../scripts/dataset_stats.py"
