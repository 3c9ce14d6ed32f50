# Training: one student per teacher, fine-tuned on that teacher's training corpus; Fig. 6 loss curves.
from distillery.train.config import recipe
from distillery.train.launch import slurm_resources

TRAIN = config["train"]


rule train_student:
    input:
        corpus=training_corpus,
        models=built_models(TRAIN["base_model"]),
    output:
        model=directory("results/train/{teacher}/model"),
        log_history="results/train/{teacher}/log_history.jsonl",
        report="results/train/{teacher}/train_report.json",
    log:
        "logs/train/{teacher}.log",
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
    retries: TRAIN["retries"]
    conda:
        "../envs/train.yaml"
    threads: TRAIN["threads"]
    resources:
        **slurm_resources(TRAIN),
    params:
        recipe=recipe(TRAIN),
        checkpoints="results/train/{teacher}/checkpoints",
        code=code_fingerprint("train_student"),
    script:
        "../scripts/train_student.py"


rule fig6_loss_curves:
    input:
        expand("results/train/{teacher}/log_history.jsonl", teacher=TEACHERS),
    output:
        pdf="results/figures/fig6_loss_curves.pdf",
        png=report(
            "results/figures/fig6_loss_curves.png",
            caption="../report/fig6_loss_curves.rst",
            category="Figures",
        ),
        csv="results/figures/fig6_loss_curves.csv",
    log:
        "logs/figures/fig6_loss_curves.log",
    conda:
        "../envs/cpu.yaml"
    params:
        teachers=list(TEACHERS),
        # the analysis figures' look and teacher labels: Fig. 6 matches Figs. 2-5
        style={**config["analysis"]["figures"]["style"], "teacher_labels": config["analysis"]["teacher_labels"]},
        code=code_fingerprint("fig6_loss_curves"),
    script:
        "../scripts/fig6_loss_curves.py"


TRAIN_TARGETS = [
    expand("results/train/{teacher}/model", teacher=TEACHERS),
    rules.fig6_loss_curves.output,
]
