from distillery.artifacts import read_parquet, write_stage
from distillery.filters import apply_filters
from distillery.runlog import job_log

with job_log(snakemake.log[0]) as log:
    kept, rejects, report = apply_filters(read_parquet(snakemake.input[0]), snakemake.params.filters,
                                           snakemake.threads)
    log.info("%d in, %d kept, removed %s", report["rows_in"], report["kept"], report["reasons"])
    write_stage(snakemake.output, kept, rejects, report)
