from distillery.core.artifacts import read_parquet, write_stage
from distillery.core.runlog import job_log
from distillery.queries.filters import apply_filters

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        kept, rejects, report = apply_filters(
            read_parquet(snakemake.input[0]), snakemake.params.filters, snakemake.threads
        )
        log.info("%d in, %d kept, removed %s", report["rows_in"], report["kept"], report["reasons"])
        write_stage(snakemake.output, kept, rejects, report)
