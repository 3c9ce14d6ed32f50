# Analysis: per-sample statistics of every teacher (token counts under the student's tokenizer,
# attempts, cost, perplexity), the paper's Figures 2-5, Figures 7-8 which it lacks, and the dataset
# statistics beside the paper's. Each figure is its own rule and target; its params hold only its own
# settings, so that changing one figure's style redraws that figure alone.
ANALYSIS = config["analysis"]
# The paper's figures describe the analysed corpus (analysis.corpus); Figs. 7 and 8 every query.
FIGURES_ON_CORPUS = ["fig2_category_distribution", "fig3_math_token_spans", "fig4_token_counts", "fig5_perplexity"]
FIGURES = FIGURES_ON_CORPUS + ["fig7_attempts", "fig8_cost"]


def student_tokenizer():
    """The student's tokenizer counts tokens: analysis.tokenizer, else the training base model."""
    return ANALYSIS["tokenizer"] or config.get("train", {}).get("base_model", "results/models/gemma3-270m")


def figure_settings(name):
    """One figure's params: the shared style, its own section, the teacher labels (and the corpus the
    paper's figures describe)."""
    figures = ANALYSIS["figures"]
    settings = {**figures["style"], **figures[name], "teacher_labels": ANALYSIS["teacher_labels"]}
    if name in FIGURES_ON_CORPUS:
        settings["corpus"] = ANALYSIS["corpus"]
    return settings


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
        attempts=lambda w: list(distill_shards(w.teacher).values()),
        corpus="results/corpora/{teacher}.parquet",
        rejects="results/corpora/{teacher}.rejects.parquet",
        parallel="results/corpora/parallel/{teacher}.parquet",
        models=built_models(student_tokenizer()),
    output:
        "results/stats/{teacher}.parquet",
    params:
        attempts=lambda w: all_distill_shards(w.teacher),
        tokenizer=student_tokenizer(),
        code=code_fingerprint("sample_stats"),
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
    threads: 2
    log:
        "logs/stats/{teacher}.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/sample_stats.py"


rule fig2_category_distribution:
    input:
        STATS,
    output:
        pdf="results/figures/fig2_category_distribution.pdf",
        png="results/figures/fig2_category_distribution.png",
        csv="results/figures/fig2_category_distribution.csv",
    params:
        teachers=list(TEACHERS),
        style=figure_settings("fig2_category_distribution"),
        code=code_fingerprint("fig2_category_distribution"),
    log:
        "logs/figures/fig2_category_distribution.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/fig2_category_distribution.py"


rule fig3_math_token_spans:
    input:
        STATS,
    output:
        pdf="results/figures/fig3_math_token_spans.pdf",
        png="results/figures/fig3_math_token_spans.png",
        csv="results/figures/fig3_math_token_spans.csv",
    params:
        teachers=list(TEACHERS),
        style=figure_settings("fig3_math_token_spans"),
        code=code_fingerprint("fig3_math_token_spans"),
    log:
        "logs/figures/fig3_math_token_spans.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/fig3_math_token_spans.py"


rule fig4_token_counts:
    input:
        STATS,
    output:
        pdf="results/figures/fig4_token_counts.pdf",
        png="results/figures/fig4_token_counts.png",
        csv="results/figures/fig4_token_counts.csv",
    params:
        teachers=list(TEACHERS),
        style=figure_settings("fig4_token_counts"),
        code=code_fingerprint("fig4_token_counts"),
    log:
        "logs/figures/fig4_token_counts.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/fig4_token_counts.py"


rule fig5_perplexity:
    input:
        STATS,
    output:
        pdf="results/figures/fig5_perplexity.pdf",
        png="results/figures/fig5_perplexity.png",
        csv="results/figures/fig5_perplexity.csv",
    params:
        teachers=list(TEACHERS),
        style=figure_settings("fig5_perplexity"),
        code=code_fingerprint("fig5_perplexity"),
    log:
        "logs/figures/fig5_perplexity.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/fig5_perplexity.py"


rule fig7_attempts:
    input:
        STATS,
    output:
        pdf="results/figures/fig7_attempts.pdf",
        png="results/figures/fig7_attempts.png",
        csv="results/figures/fig7_attempts.csv",
    params:
        teachers=list(TEACHERS),
        style=figure_settings("fig7_attempts"),
        code=code_fingerprint("fig7_attempts"),
    log:
        "logs/figures/fig7_attempts.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/fig7_attempts.py"


rule fig8_cost:
    input:
        STATS,
    output:
        pdf="results/figures/fig8_cost.pdf",
        png="results/figures/fig8_cost.png",
        csv="results/figures/fig8_cost.csv",
    params:
        teachers=list(TEACHERS),
        style=figure_settings("fig8_cost"),
        code=code_fingerprint("fig8_cost"),
    log:
        "logs/figures/fig8_cost.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/fig8_cost.py"


rule dataset_stats:
    input:
        STATS,
    output:
        md="results/tables/dataset_stats.md",
        csv="results/tables/dataset_stats.csv",
    params:
        teachers={name: teacher["model"] for name, teacher in TEACHERS.items()},
        paper_teachers=ANALYSIS["paper_teachers"],
        context={
            "corpus": ANALYSIS["corpus"],
            "tokenizer": student_tokenizer(),
            "perplexity_model": PPL_CONFIG["model"],
        },
        code=code_fingerprint("dataset_stats"),
    log:
        "logs/tables/dataset_stats.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/dataset_stats.py"
