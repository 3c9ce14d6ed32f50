from distillery.core.artifacts import write_json
from distillery.core.runlog import job_log
from distillery.corpora.parallel_corpora import write_parallel

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        teachers = snakemake.params.teachers
        report = write_parallel(
            dict(zip(teachers, snakemake.input, strict=True)),
            dict(zip(teachers, snakemake.output.corpora, strict=True)),
        )
        log.info("%d queries accepted for every teacher (corpus sizes %s)", report["queries"], report["corpus_sizes"])
        write_json(report, snakemake.output.report)
