# Query preparation: sources -> dedup -> filter -> decontaminate -> shards.


rule ingest_source:
    input:
        lambda w: dataset_files(SOURCES[w.source]),
    output:
        queries=f"{paths.QUERIES}/raw/{{source}}.parquet",
        rejects=f"{paths.QUERIES}/raw/{{source}}.rejects.parquet",
        report=f"{paths.QUERIES}/raw/{{source}}.report.json",
    log:
        "logs/queries/ingest_source/{source}.log",
    wildcard_constraints:
        source=alternatives(SOURCES),
    conda:
        "../envs/cpu.yaml"
    params:
        source=lambda w: SOURCES[w.source],
        max_chars=config["ingest"]["max_chars"],
        code=code_fingerprint("ingest_source"),
    script:
        "../scripts/ingest_source.py"


rule dedup_queries:
    input:
        expand(f"{paths.QUERIES}/raw/{{source}}.parquet", source=SOURCES),  # in priority order
    output:
        queries=f"{paths.QUERIES}/deduped.parquet",
        rejects=f"{paths.QUERIES}/deduped.rejects.parquet",
        report=f"{paths.QUERIES}/deduped.report.json",
    log:
        "logs/queries/dedup_queries.log",
    conda:
        "../envs/cpu.yaml"
    params:
        code=code_fingerprint("dedup_queries"),
    script:
        "../scripts/dedup_queries.py"


rule filter_queries:
    input:
        f"{paths.QUERIES}/deduped.parquet",
    output:
        queries=f"{paths.QUERIES}/filtered.parquet",
        rejects=f"{paths.QUERIES}/filtered.rejects.parquet",
        report=f"{paths.QUERIES}/filtered.report.json",
    log:
        "logs/queries/filter_queries.log",
    conda:
        "../envs/cpu.yaml"
    threads: 2
    params:
        filters=config["filters"],
        code=code_fingerprint("filter_queries"),
    script:
        "../scripts/filter_queries.py"


rule benchmark_items:
    input:
        [f for name in BENCHMARKS for f in dataset_files(config["benchmarks"][name])],
    output:
        f"{paths.QUERIES}/benchmark_items.parquet",
    log:
        "logs/queries/benchmark_items.log",
    conda:
        "../envs/cpu.yaml"
    params:
        benchmarks={name: config["benchmarks"][name] for name in BENCHMARKS},
        code=code_fingerprint("benchmark_items"),
    script:
        "../scripts/benchmark_items.py"


# Embeddings are artifacts of their own: changing the threshold re-runs only decontaminate. Queries
# are embedded after dedup, not after filtering, so that re-tuning a filter does not re-embed either.
rule embed_queries:
    input:
        f"{paths.QUERIES}/deduped.parquet",
    output:
        f"{paths.QUERIES}/embeddings/queries.parquet",
    log:
        "logs/queries/embed_queries.log",
    conda:
        "../envs/gpu.yaml"
    threads: 2
    params:
        embedding=config["embedding"],
        code=code_fingerprint("embed_queries"),
    script:
        "../scripts/embed_queries.py"


use rule embed_queries as embed_benchmarks with:
    input:
        f"{paths.QUERIES}/benchmark_items.parquet",
    output:
        f"{paths.QUERIES}/embeddings/benchmarks.parquet",
    log:
        "logs/queries/embed_benchmarks.log",


rule decontaminate_queries:
    input:
        queries=f"{paths.QUERIES}/filtered.parquet",
        query_embeddings=f"{paths.QUERIES}/embeddings/queries.parquet",
        benchmark_items=f"{paths.QUERIES}/benchmark_items.parquet",
        benchmark_embeddings=f"{paths.QUERIES}/embeddings/benchmarks.parquet",
    output:
        queries=f"{paths.QUERIES}/clean.parquet",
        rejects=f"{paths.QUERIES}/clean.rejects.parquet",
        report=f"{paths.QUERIES}/clean.report.json",
    log:
        "logs/queries/decontaminate_queries.log",
    conda:
        "../envs/cpu.yaml"
    params:
        threshold=config["decontaminate"]["threshold"],
        exact=config["decontaminate"]["exact"],
        code=code_fingerprint("decontaminate_queries"),
    script:
        "../scripts/decontaminate_queries.py"


rule query_shards:
    input:
        f"{paths.QUERIES}/clean.parquet",
    output:
        shards=paths.query_shards(SHARDS),
        report=f"{paths.QUERIES}/shards.report.json",
    log:
        "logs/queries/query_shards.log",
    conda:
        "../envs/cpu.yaml"
    params:
        num_shards=len(SHARDS),
        code=code_fingerprint("query_shards"),
    script:
        "../scripts/query_shards.py"


rule query_report:
    input:
        ingest=expand(f"{paths.QUERIES}/raw/{{source}}.report.json", source=SOURCES),
        dedup=rules.dedup_queries.output.report,
        filter=rules.filter_queries.output.report,
        decontaminate=rules.decontaminate_queries.output.report,
        shards=rules.query_shards.output.report,
    output:
        json=f"{paths.QUERIES}/report.json",
        markdown=report(
            f"{paths.QUERIES}/report.md",
            caption="../report/query_report.rst",
            category="Tables",
        ),
    log:
        "logs/queries/query_report.log",
    conda:
        "../envs/cpu.yaml"
    params:
        max_reject_share=config["ingest"]["max_reject_share"],
        code=code_fingerprint("query_report"),
    script:
        "../scripts/query_report.py"
