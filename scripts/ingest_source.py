from distillery.artifacts import write_json, write_parquet
from distillery.runlog import job_log, progress
from distillery.sources import ingest

with job_log(snakemake.log[0]) as log:
    source = snakemake.params.source
    queries, rejects, report = ingest(source, snakemake.params.max_chars, progress=progress(source["name"]))
    log.info("%s: %d rows read, %d kept, %d rejected %s", source["name"], report["rows_read"],
             report["kept"], report["rejected"], report["reasons"])
    write_parquet(queries, snakemake.output.queries)
    write_parquet(rejects, snakemake.output.rejects)
    write_json(report, snakemake.output.report)
