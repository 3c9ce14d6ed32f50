# Evaluation: every student (and extra model) on every evaluation benchmark, n samples per problem,
# generated in shards (GPU work), graded per shard (CPU work), scored; then Table 1 and Table 2.
from distillery.plan.eval_sampling import Sampling
from distillery.plan.evaluated_models import evaluated_models, paper_models, workflow_inputs

EVAL = config["evaluate"]
EVAL_MODELS = evaluated_models(config)
EVAL_BENCHMARKS = EVAL["benchmarks"]
EVAL_SHARDS = {b: paths.shard_names(spec["shards"]) for b, spec in EVAL_BENCHMARKS.items()}
PROBLEM_FIELDS = ("kind", "answer", "date_from", "date_to", "ids", "limit")  # what changes the problems
PROBLEMS = f"{paths.EVAL_PROBLEMS}/{{benchmark}}.parquet"
SAMPLES = f"{paths.EVAL}/{{model}}/{{benchmark}}/samples/{{shard}}.parquet"
GRADED = f"{paths.EVAL}/{{model}}/{{benchmark}}/graded/{{shard}}.parquet"
SCORES = f"{paths.EVAL}/{{model}}/{{benchmark}}.json"
TABLES = ("table1_accuracy", "table2_generation_length")  # distillery.evaluate.tables.TABLES


rule eval_problems:
    input:
        lambda w: dataset_files(config["benchmarks"][w.benchmark]),
    output:
        PROBLEMS,
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
        problems=PROBLEMS,
        model=lambda w: workflow_inputs(EVAL_MODELS[w.model]),
    output:
        samples=SAMPLES,
        report=f"{paths.EVAL}/{{model}}/{{benchmark}}/samples/{{shard}}.json",
    log:
        "logs/eval/{model}/{benchmark}/generate-{shard}.log",
    wildcard_constraints:
        model=alternatives(EVAL_MODELS),
        benchmark=alternatives(EVAL_BENCHMARKS),
        shard=paths.SHARD_PATTERN,
    conda:
        generation_env(m.get("backend", "transformers") for m in EVAL_MODELS.values())
    threads: 2
    resources:
        gpu=EVAL["gpus"],
    params:
        model=lambda w: EVAL_MODELS[w.model],
        sampling=lambda w: Sampling.from_config(EVAL, w.benchmark).as_dict(),
        cache={k: EVAL[k] for k in ("cache_dir", "flush_every", "flush_seconds")},
        code=code_fingerprint("eval_generate"),
    script:
        "../scripts/eval_generate.py"


rule eval_grade:
    input:
        problems=PROBLEMS,
        samples=SAMPLES,
    output:
        GRADED,
    log:
        "logs/eval/{model}/{benchmark}/grade-{shard}.log",
    wildcard_constraints:
        model=alternatives(EVAL_MODELS),
        benchmark=alternatives(EVAL_BENCHMARKS),
        shard=paths.SHARD_PATTERN,
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
        problems=PROBLEMS,
        graded=lambda w: expand(GRADED, model=w.model, benchmark=w.benchmark, shard=EVAL_SHARDS[w.benchmark]),
    output:
        samples=f"{paths.EVAL}/{{model}}/{{benchmark}}.parquet",
        scores=SCORES,
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


rule eval_table:
    input:
        expand(SCORES, model=EVAL_MODELS, benchmark=EVAL_BENCHMARKS),
    output:
        md=f"{paths.TABLES}/{{table}}.md",
        csv=report(f"{paths.TABLES}/{{table}}.csv", caption="../report/tables.rst", category="Tables"),
        tex=f"{paths.TABLES}/{{table}}.tex",
    log:
        "logs/tables/{table}.log",
    wildcard_constraints:
        table=alternatives(TABLES),
    conda:
        "../envs/cpu.yaml"
    params:
        models=list(EVAL_MODELS),
        benchmarks={b: spec.get("paper") for b, spec in EVAL_BENCHMARKS.items()},
        paper_models=paper_models(config, EVAL_MODELS),
        code=code_fingerprint("eval_table"),
    script:
        "../scripts/eval_table.py"


EVAL_TARGETS = expand(f"{paths.TABLES}/{{table}}.{{kind}}", table=TABLES, kind=("md", "csv", "tex"))
