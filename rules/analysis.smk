# Analysis: per-sample statistics of every teacher (token counts under the student's tokenizer,
# attempts, cost, perplexity), the paper's Figures 2-5, Figures 7-8 which it lacks, and the dataset
# statistics beside the paper's. Each figure is its own rule and target; its params hold only its own
# settings, so that changing one figure's style redraws that figure alone.
ANALYSIS = config["analysis"]
# The paper's figures describe the analysed corpus (analysis.corpus); Figs. 7 and 8 every query.
FIGURES_ON_CORPUS = ["fig2_category_distribution", "fig3_math_token_spans", "fig4_token_counts", "fig5_perplexity"]
FIGURES = FIGURES_ON_CORPUS + ["fig7_attempts", "fig8_cost"]


# The student's tokenizer counts tokens: analysis.tokenizer, else the training base model.
STUDENT_TOKENIZER = ANALYSIS["tokenizer"] or config.get("train", {}).get("base_model", "results/models/gemma3-270m")
# One figure's params: the shared style, its own section, the teacher labels (and for the paper's
# figures the corpus they describe): nothing another figure reads.
FIGURE_SETTINGS = {
    name: {
        **ANALYSIS["figures"]["style"],
        **ANALYSIS["figures"][name],
        "teacher_labels": ANALYSIS["teacher_labels"],
        **({"corpus": ANALYSIS["corpus"]} if name in FIGURES_ON_CORPUS else {}),
    }
    for name in FIGURES
}


STATS = expand("results/stats/{teacher}.parquet", teacher=TEACHERS)
ANALYSIS_TARGETS = (  # nothing to analyse without teachers
    STATS
    + expand("results/figures/{name}.{kind}", name=FIGURES, kind=("pdf", "png", "csv"))
    + ["results/tables/dataset_stats.md", "results/tables/dataset_stats.csv"]
    if TEACHERS
    else []
)


rule sample_stats:
    input:
        queries=expand(f"{QUERIES}/shards/{{shard}}.parquet", shard=SHARDS),
        attempts=lambda w: ATTEMPT_INPUTS[w.teacher],
        corpus="results/corpora/{teacher}.parquet",
        rejects="results/corpora/{teacher}.rejects.parquet",
        parallel="results/corpora/parallel/{teacher}.parquet",
        models=built_models(STUDENT_TOKENIZER),
    output:
        "results/stats/{teacher}.parquet",
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


rule fig2_category_distribution:
    input:
        STATS,
    output:
        pdf="results/figures/fig2_category_distribution.pdf",
        png=report(
            "results/figures/fig2_category_distribution.png",
            caption="../report/fig2_category_distribution.rst",
            category="Figures",
        ),
        csv="results/figures/fig2_category_distribution.csv",
    log:
        "logs/figures/fig2_category_distribution.log",
    conda:
        "../envs/cpu.yaml"
    params:
        teachers=list(TEACHERS),
        style=FIGURE_SETTINGS["fig2_category_distribution"],
        code=code_fingerprint("fig2_category_distribution"),
    script:
        "../scripts/fig2_category_distribution.py"


rule fig3_math_token_spans:
    input:
        STATS,
    output:
        pdf="results/figures/fig3_math_token_spans.pdf",
        png=report(
            "results/figures/fig3_math_token_spans.png",
            caption="../report/fig3_math_token_spans.rst",
            category="Figures",
        ),
        csv="results/figures/fig3_math_token_spans.csv",
    log:
        "logs/figures/fig3_math_token_spans.log",
    conda:
        "../envs/cpu.yaml"
    params:
        teachers=list(TEACHERS),
        style=FIGURE_SETTINGS["fig3_math_token_spans"],
        code=code_fingerprint("fig3_math_token_spans"),
    script:
        "../scripts/fig3_math_token_spans.py"


rule fig4_token_counts:
    input:
        STATS,
    output:
        pdf="results/figures/fig4_token_counts.pdf",
        png=report(
            "results/figures/fig4_token_counts.png",
            caption="../report/fig4_token_counts.rst",
            category="Figures",
        ),
        csv="results/figures/fig4_token_counts.csv",
    log:
        "logs/figures/fig4_token_counts.log",
    conda:
        "../envs/cpu.yaml"
    params:
        teachers=list(TEACHERS),
        style=FIGURE_SETTINGS["fig4_token_counts"],
        code=code_fingerprint("fig4_token_counts"),
    script:
        "../scripts/fig4_token_counts.py"


rule fig5_perplexity:
    input:
        STATS,
    output:
        pdf="results/figures/fig5_perplexity.pdf",
        png=report(
            "results/figures/fig5_perplexity.png",
            caption="../report/fig5_perplexity.rst",
            category="Figures",
        ),
        csv="results/figures/fig5_perplexity.csv",
    log:
        "logs/figures/fig5_perplexity.log",
    conda:
        "../envs/cpu.yaml"
    params:
        teachers=list(TEACHERS),
        style=FIGURE_SETTINGS["fig5_perplexity"],
        code=code_fingerprint("fig5_perplexity"),
    script:
        "../scripts/fig5_perplexity.py"


rule fig7_attempts:
    input:
        STATS,
    output:
        pdf="results/figures/fig7_attempts.pdf",
        png=report(
            "results/figures/fig7_attempts.png",
            caption="../report/fig7_attempts.rst",
            category="Figures",
        ),
        csv="results/figures/fig7_attempts.csv",
    log:
        "logs/figures/fig7_attempts.log",
    conda:
        "../envs/cpu.yaml"
    params:
        teachers=list(TEACHERS),
        style=FIGURE_SETTINGS["fig7_attempts"],
        code=code_fingerprint("fig7_attempts"),
    script:
        "../scripts/fig7_attempts.py"


rule fig8_cost:
    input:
        STATS,
    output:
        pdf="results/figures/fig8_cost.pdf",
        png=report(
            "results/figures/fig8_cost.png",
            caption="../report/fig8_cost.rst",
            category="Figures",
        ),
        csv="results/figures/fig8_cost.csv",
    log:
        "logs/figures/fig8_cost.log",
    conda:
        "../envs/cpu.yaml"
    params:
        teachers=list(TEACHERS),
        style=FIGURE_SETTINGS["fig8_cost"],
        code=code_fingerprint("fig8_cost"),
    script:
        "../scripts/fig8_cost.py"


rule dataset_stats:
    input:
        STATS,
    output:
        md="results/tables/dataset_stats.md",
        csv=report(
            "results/tables/dataset_stats.csv",
            caption="../report/dataset_stats.rst",
            category="Tables",
        ),
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
