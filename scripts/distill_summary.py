from distillery.core.artifacts import read_json, write_json
from distillery.core.runlog import job_log
from distillery.distill.verify_and_retry import summarize_reports

if __name__ == "__main__":
    with job_log(snakemake.log[0]):
        write_json(summarize_reports([read_json(p) for p in snakemake.input]), snakemake.output[0])
