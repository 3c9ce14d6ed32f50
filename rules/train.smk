# Training: one student per teacher, fine-tuned on that teacher's training corpus; Fig. 6 loss curves.
from distillery.train.config import recipe

TRAIN = config["train"]


def train_resources(train):
    """SLURM geometry from the train section (it also fixes the world size of the batch arithmetic).
    One node: the job runs its launcher inside Snakemake's job step, with every GPU of the node. Several
    nodes: an MPI-style job (one task per node; no srun around the job) whose launcher starts one
    torchrun/accelerate per node with srun."""
    resources = {"mem_mb": train["mem_mb"], "runtime": train["runtime"], "nodes": train["nodes"]}
    if train["gpus_per_node"]:
        resources["gpu"] = train["gpus_per_node"] * train["nodes"]
    if train["nodes"] > 1:
        resources.update(mpi="srun", tasks=train["nodes"], tasks_per_gpu=0)
    return resources


def figure_style():
    """The analysis figures' shared look and teacher labels, so that Fig. 6 matches Figs. 2-5."""
    analysis = config.get("analysis", {})
    return {**analysis.get("figures", {}).get("style", {}), "teacher_labels": analysis.get("teacher_labels", {})}


rule train_student:
    input:
        corpus=training_corpus,
        models=[TRAIN["base_model"].rstrip("/")] if TRAIN["base_model"].startswith(LOCAL_MODELS) else [],
    output:
        model=directory("results/train/{teacher}/model"),
        log_history="results/train/{teacher}/log_history.jsonl",
        report="results/train/{teacher}/train_report.json",
    params:
        recipe=recipe(TRAIN),
        checkpoints="results/train/{teacher}/checkpoints",
        code=code_fingerprint("train_student"),
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
    threads: TRAIN["threads"]
    retries: TRAIN["retries"]
    resources:
        **train_resources(TRAIN),
    log:
        "logs/train/{teacher}.log",
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_student.py"


rule fig6_loss_curves:
    input:
        expand("results/train/{teacher}/log_history.jsonl", teacher=TEACHERS),
    output:
        pdf="results/figures/fig6_loss_curves.pdf",
        png="results/figures/fig6_loss_curves.png",
        csv="results/figures/fig6_loss_curves.csv",
    params:
        teachers=list(TEACHERS),
        style=figure_style(),
        code=code_fingerprint("fig6_loss_curves"),
    log:
        "logs/figures/fig6_loss_curves.log",
    conda:
        "../envs/cpu.yaml"
    script:
        "../scripts/fig6_loss_curves.py"


TRAIN_TARGETS = [
    expand("results/train/{teacher}/model", teacher=TEACHERS),
    rules.fig6_loss_curves.output,
]
