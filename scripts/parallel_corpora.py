from distillery.artifacts import write_json
from distillery.corpus import write_parallel
from distillery.runlog import job_log

with job_log(snakemake.log[0]) as log:
    teachers = snakemake.params.teachers
    report = write_parallel(dict(zip(teachers, snakemake.input)), dict(zip(teachers, snakemake.output.corpora)))
    log.info("%d queries accepted for every teacher (corpus sizes %s)", report["queries"], report["corpus_sizes"])
    write_json(report, snakemake.output.report)
