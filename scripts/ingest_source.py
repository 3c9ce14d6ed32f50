from distillery.core.artifacts import ParquetBatchWriter, write_json
from distillery.core.runlog import job_log, progress
from distillery.core.schema import INGEST_REJECT, QUERY
from distillery.queries.sources import ingest_batches, new_report

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        source = snakemake.params.source
        report = new_report(source)
        with (
            ParquetBatchWriter(snakemake.output.queries, QUERY) as queries,
            ParquetBatchWriter(snakemake.output.rejects, INGEST_REJECT) as rejects,
        ):
            for kept, rejected in ingest_batches(
                source, snakemake.params.max_chars, report, progress=progress(source["name"])
            ):
                queries.write(kept)
                rejects.write(rejected)
        log.info(
            "%s: %d rows read, %d kept, %d rejected %s",
            source["name"],
            report["rows_read"],
            report["kept"],
            report["rejected"],
            report["reasons"],
        )
        if report["kept"] == 0:  # else ingest_batches has raised
            log.warning("%s yields no query; it is optional", source["name"])
        write_json(report, snakemake.output.report)
