# Distillation: every teacher on every shard of clean queries, verify and retry.
from distillery.plan.cluster_geometry import teacher_resource
from distillery.plan.conda_envs import generation_env

from distillery.plan.rule_params import distill_models, distill_teacher

JUDGE_MODEL = (config["distill"].get("judge") or {}).get("model", "")
DISTILL_TARGETS = expand(f"{paths.DISTILL}/{{teacher}}/summary.json", teacher=TEACHERS)
DISTILLED = {name: distill_teacher(teacher, config) for name, teacher in TEACHERS.items()}
RELEASED = [name for name, teacher in TEACHERS.items() if teacher["backend"] == "dataset"] or ["-"]


rule local_model:
    output:
        directory(paths.LOCAL_MODEL),
    log:
        "logs/models/gemma3-270m.log",
    conda:
        "../envs/cpu.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        code=code_fingerprint("local_model"),
    script:
        "../scripts/local_model.py"


rule release_download:
    output:
        directory(paths.RELEASE_DOWNLOAD),
    log:
        "logs/distill/{teacher}/release_download.log",
    wildcard_constraints:
        teacher=alternatives(RELEASED),
    conda:
        "../envs/cpu.yaml"
    params:
        hf=lambda w: TEACHERS[w.teacher]["dataset"]["hf"],
        code=code_fingerprint("release_download"),
    script:
        "../scripts/release_download.py"


rule release_index:
    input:
        lambda w: DISTILLED[w.teacher]["dataset"]["paths"],
    output:
        index=paths.RELEASE_INDEX,
        rejects=f"{paths.DISTILL}/{{teacher}}/release/index.rejects.parquet",
        report=f"{paths.DISTILL}/{{teacher}}/release/index.report.json",
    log:
        "logs/distill/{teacher}/release_index.log",
    wildcard_constraints:
        teacher=alternatives(RELEASED),
    conda:
        "../envs/cpu.yaml"
    params:
        paths=lambda w: DISTILLED[w.teacher]["dataset"]["paths"],
        code=code_fingerprint("release_index"),
    script:
        "../scripts/release_index.py"


rule distill_shard:
    input:
        shard=paths.QUERY_SHARD,
        models=lambda w: distill_models(DISTILLED[w.teacher], JUDGE_MODEL),
        release=lambda w: DISTILLED[w.teacher].get("dataset", {}).get("index", []),
    output:
        attempts=paths.ATTEMPTS,
        report=f"{paths.DISTILL}/{{teacher}}/{{shard}}.report.json",
    log:
        "logs/distill/{teacher}/{shard}.log",
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
        shard=paths.SHARD_PATTERN,
    conda:
        generation_env(t["backend"] for t in TEACHERS.values())
    threads: 2
    resources:
        gpu=teacher_resource(TEACHERS, "gpu"),
        nodes=teacher_resource(TEACHERS, "nodes"),
        tasks=teacher_resource(TEACHERS, "tasks"),
        tasks_per_gpu=0,
        mpi=teacher_resource(TEACHERS, "mpi"),
    params:
        teacher=lambda w: DISTILLED[w.teacher],
        distill=config["distill"],
        code=code_fingerprint("distill_shard"),
    script:
        "../scripts/distill_shard.py"


rule distill_summary:
    input:
        expand(f"{paths.DISTILL}/{{{{teacher}}}}/{{shard}}.report.json", shard=SHARDS),
    output:
        f"{paths.DISTILL}/{{teacher}}/summary.json",
    log:
        "logs/distill/{teacher}/summary.log",
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
    conda:
        "../envs/cpu.yaml"
    params:
        code=code_fingerprint("distill_summary"),
    script:
        "../scripts/distill_summary.py"
