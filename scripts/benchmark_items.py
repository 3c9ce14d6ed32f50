from collections import Counter

from distillery.artifacts import write_parquet
from distillery.benchmarks import load_benchmarks
from distillery.runlog import job_log

with job_log(snakemake.log[0]) as log:
    items = load_benchmarks(snakemake.params.benchmarks)
    log.info("items per benchmark: %s", dict(Counter(items.column("benchmark").to_pylist())))
    write_parquet(items, snakemake.output[0])
