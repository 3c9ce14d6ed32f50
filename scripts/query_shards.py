from pathlib import Path

from distillery.core.artifacts import read_parquet, write_json, write_parquet
from distillery.core.runlog import job_log
from distillery.queries.shards import shard_report, split

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        queries = read_parquet(snakemake.input[0])
        shards = split(queries, snakemake.params.num_shards)
        for path in snakemake.output.shards:
            table = shards[Path(path).stem]
            write_parquet(table, path)
            log.info("shard %s: %d queries", Path(path).stem, len(table))
        write_json(shard_report(queries, shards), snakemake.output.report)
