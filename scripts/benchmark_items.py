from collections import Counter

from distillery.core.artifacts import write_parquet
from distillery.core.runlog import job_log
from distillery.queries.benchmark_items import load_benchmarks

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        items = load_benchmarks(snakemake.params.benchmarks)
        log.info("items per benchmark: %s", dict(Counter(items.column("benchmark").to_pylist())))
        write_parquet(items, snakemake.output[0])
