from distillery.artifacts import read_parquet, write_json, write_parquet
from distillery.filters import apply_filters
from distillery.runlog import job_log

with job_log(snakemake.log[0]) as log:
    kept, rejects, report = apply_filters(read_parquet(snakemake.input[0]), snakemake.params.filters)
    log.info("%d in, %d kept, removed %s", report["rows_in"], report["kept"], report["reasons"])
    write_parquet(kept, snakemake.output.queries)
    write_parquet(rejects, snakemake.output.rejects)
    write_json(report, snakemake.output.report)
