# Evaluation: every student (and extra model) on every evaluation benchmark, n samples per problem,
# generated in shards (GPU work), graded per shard (CPU work), scored; then Table 1 and Table 2.
from distillery.evaluate.generate import Sampling
from distillery.evaluate.models import evaluated_models, paper_models, workflow_inputs

EVAL = config["evaluate"]
EVAL_MODELS = evaluated_models(config)
EVAL_PAPER_MODELS = paper_models(config, EVAL_MODELS)
EVAL_BENCHMARKS = EVAL["benchmarks"]
EVAL_SHARDS = {b: shard_names(spec["shards"]) for b, spec in EVAL_BENCHMARKS.items()}
PROBLEM_FIELDS = ("kind", "answer", "date_from", "date_to", "ids", "limit")  # what changes the problems
EVAL_SCORES = expand("results/eval/{model}/{benchmark}.json", model=EVAL_MODELS, benchmark=EVAL_BENCHMARKS)


rule eval_problems:
    input:
        lambda w: dataset_files(config["benchmarks"][w.benchmark]),
    output:
        "results/eval/problems/{benchmark}.parquet",
    log:
        "logs/eval/problems/{benchmark}.log",
    wildcard_constraints:
        benchmark=alternatives(EVAL_BENCHMARKS),
    conda:
        "../envs/cpu.yaml"
    params:
        data=lambda w: config["benchmarks"][w.benchmark],
        spec=lambda w: {k: v for k, v in EVAL_BENCHMARKS[w.benchmark].items() if k in PROBLEM_FIELDS},
        code=code_fingerprint("eval_problems"),
    script:
        "../scripts/eval_problems.py"


rule eval_generate:
    input:
        problems="results/eval/problems/{benchmark}.parquet",
        model=lambda w: workflow_inputs(EVAL_MODELS[w.model]),
    output:
        samples="results/eval/{model}/{benchmark}/samples/{shard}.parquet",
        report="results/eval/{model}/{benchmark}/samples/{shard}.json",
    log:
        "logs/eval/{model}/{benchmark}/generate-{shard}.log",
    wildcard_constraints:
        model=alternatives(EVAL_MODELS),
        benchmark=alternatives(EVAL_BENCHMARKS),
        shard=SHARD,
    conda:
        generation_env(m.get("backend", "transformers") for m in EVAL_MODELS.values())
    threads: 2
    resources:
        gpu=EVAL["gpus"],
    params:
        model=lambda w: EVAL_MODELS[w.model],
        sampling=lambda w: Sampling.from_config(EVAL, w.benchmark).as_dict(),
        cache={k: EVAL[k] for k in ("cache_dir", "flush_every")},
        code=code_fingerprint("eval_generate"),
    script:
        "../scripts/eval_generate.py"


rule eval_grade:
    input:
        problems="results/eval/problems/{benchmark}.parquet",
        samples="results/eval/{model}/{benchmark}/samples/{shard}.parquet",
    output:
        "results/eval/{model}/{benchmark}/graded/{shard}.parquet",
    log:
        "logs/eval/{model}/{benchmark}/grade-{shard}.log",
    wildcard_constraints:
        model=alternatives(EVAL_MODELS),
        benchmark=alternatives(EVAL_BENCHMARKS),
        shard=SHARD,
    conda:
        "../envs/cpu.yaml"
    threads: 2
    params:
        grading=EVAL["grading"],
        code=code_fingerprint("eval_grade"),
    script:
        "../scripts/eval_grade.py"


rule eval_score:
    input:
        problems="results/eval/problems/{benchmark}.parquet",
        graded=lambda w: expand(
            "results/eval/{model}/{benchmark}/graded/{shard}.parquet",
            model=w.model,
            benchmark=w.benchmark,
            shard=EVAL_SHARDS[w.benchmark],
        ),
    output:
        samples="results/eval/{model}/{benchmark}.parquet",
        scores="results/eval/{model}/{benchmark}.json",
    log:
        "logs/eval/{model}/{benchmark}/score.log",
    wildcard_constraints:
        model=alternatives(EVAL_MODELS),
        benchmark=alternatives(EVAL_BENCHMARKS),
    conda:
        "../envs/cpu.yaml"
    params:
        settings=lambda w: {
            "paper_benchmark": EVAL_BENCHMARKS[w.benchmark].get("paper"),
            "max_new_tokens": EVAL_BENCHMARKS[w.benchmark].get("max_new_tokens", EVAL["max_new_tokens"]),
            "temperature": EVAL["temperature"],
            "top_p": EVAL["top_p"],
        },
        code=code_fingerprint("eval_score"),
    script:
        "../scripts/eval_score.py"


rule table1_accuracy:
    input:
        EVAL_SCORES,
    output:
        md="results/tables/table1_accuracy.md",
        csv=report(
            "results/tables/table1_accuracy.csv",
            caption="../report/table1_accuracy.rst",
            category="Tables",
        ),
        tex="results/tables/table1_accuracy.tex",
    log:
        "logs/tables/table1_accuracy.log",
    conda:
        "../envs/cpu.yaml"
    params:
        table="table1_accuracy",
        models=list(EVAL_MODELS),
        benchmarks={b: spec.get("paper") for b, spec in EVAL_BENCHMARKS.items()},
        paper_models=EVAL_PAPER_MODELS,
        code=code_fingerprint("eval_table"),
    script:
        "../scripts/eval_table.py"


rule table2_generation_length:
    input:
        EVAL_SCORES,
    output:
        md="results/tables/table2_generation_length.md",
        csv=report(
            "results/tables/table2_generation_length.csv",
            caption="../report/table2_generation_length.rst",
            category="Tables",
        ),
        tex="results/tables/table2_generation_length.tex",
    log:
        "logs/tables/table2_generation_length.log",
    conda:
        "../envs/cpu.yaml"
    params:
        table="table2_generation_length",
        models=list(EVAL_MODELS),
        benchmarks={b: spec.get("paper") for b, spec in EVAL_BENCHMARKS.items()},
        paper_models=EVAL_PAPER_MODELS,
        code=code_fingerprint("eval_table"),
    script:
        "../scripts/eval_table.py"
