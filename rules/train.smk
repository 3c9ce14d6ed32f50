# Training: one student per teacher, fine-tuned on that teacher's training corpus (Fig. 6, its loss
# curves, is drawn by rules/analysis.smk).
from distillery.plan.training_recipe import recipe, slurm_resources

TRAIN = config["train"]
TRAIN_TARGETS = expand(paths.STUDENT_MODEL, teacher=TEACHERS)


rule train_student:
    input:
        corpus=training_corpus,
        models=paths.built_by_workflow(TRAIN["base_model"]),
    output:
        model=directory(paths.STUDENT_MODEL),
        log_history=paths.LOSS_HISTORY,
        report=f"{paths.TRAIN}/{{teacher}}/train_report.json",
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
        checkpoints=f"{paths.TRAIN}/{{teacher}}/checkpoints",
        code=code_fingerprint("train_student"),
    script:
        "../scripts/train_student.py"
