# Distillation: every teacher on every shard of clean queries, verify and retry.


rule local_model:
    output:
        directory("results/models/gemma3-270m"),
    log:
        "logs/models/gemma3-270m.log",
    conda:
        "../envs/cpu.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        code=code_fingerprint("convert_local_model"),
    script:
        "../scripts/convert_local_model.py"


rule distill_shard:
    input:
        shard=f"{QUERIES}/shards/{{shard}}.parquet",
        models=lambda w: local_models(TEACHERS[w.teacher], config["distill"]),
    output:
        attempts="results/distill/{teacher}/{shard}.parquet",
        report="results/distill/{teacher}/{shard}.report.json",
    log:
        "logs/distill/{teacher}/{shard}.log",
    wildcard_constraints:
        teacher=alternatives(TEACHERS),
        shard=SHARD,
    conda:
        generation_env(t["backend"] for t in TEACHERS.values())
    threads: 2
    resources:
        gpu=teacher_resource("gpu"),
        nodes=teacher_resource("nodes"),
        tasks=teacher_resource("tasks"),
        tasks_per_gpu=0,
        mpi=teacher_resource("mpi"),
    params:
        teacher=lambda w: TEACHERS[w.teacher],
        distill=config["distill"],
        code=code_fingerprint("distill_shard"),
    script:
        "../scripts/distill_shard.py"


rule distill_summary:
    input:
        expand("results/distill/{{teacher}}/{shard}.report.json", shard=SHARDS),
    output:
        "results/distill/{teacher}/summary.json",
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
