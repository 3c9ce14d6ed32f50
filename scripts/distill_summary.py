from distillery.artifacts import read_json, write_json
from distillery.distill import summarize_reports
from distillery.runlog import job_log

with job_log(snakemake.log[0]):
    write_json(summarize_reports([read_json(p) for p in snakemake.input]), snakemake.output[0])
