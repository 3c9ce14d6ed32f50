from distillery.core.artifacts import write_json, write_text
from distillery.core.runlog import job_log
from distillery.queries import prep_report

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        stages = {
            stage: list(snakemake.input[stage]) if stage == "ingest" else [snakemake.input[stage]]
            for stage, _ in prep_report.STAGES
        }
        summary = prep_report.collect(stages, snakemake.input.shards, snakemake.params.max_reject_share)
        write_json(summary, snakemake.output.json)
        write_text(prep_report.to_markdown(summary), snakemake.output.markdown)
        if not summary["accounted"]:  # Snakemake deletes a failed job's outputs: the table goes to the log
            log.error("row counts do not add up:\n%s", prep_report.to_markdown(summary))
            raise RuntimeError(f"query preparation lost rows: see {snakemake.log[0]}")
