from collections import Counter

from distillery.artifacts import read_parquet, write_json, write_parquet
from distillery.runlog import job_log
from distillery.shard import split

with job_log(snakemake.log[0]) as log:
    queries = read_parquet(snakemake.input[0])
    shards = split(queries, snakemake.params.num_shards)
    for (name, table), path in zip(shards.items(), snakemake.output.shards):
        write_parquet(table, path)
        log.info("shard %s: %d queries", name, len(table))
    write_json({"total": len(queries), "shards": {name: len(t) for name, t in shards.items()},
                "by_category": dict(sorted(Counter(queries.column("category").to_pylist()).items()))},
               snakemake.output.report)
