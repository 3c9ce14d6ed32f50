from distillery.core.artifacts import read_parquet, write_stage
from distillery.core.runlog import job_log
from distillery.queries.dedup import dedup

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        kept, rejects, report = dedup([read_parquet(p) for p in snakemake.input])
        log.info("%d in, %d kept, %d duplicates", report["rows_in"], report["kept"], report["rejected"])
        write_stage(snakemake.output, kept, rejects, report)
