from distillery.analysis.figures.render import render
from distillery.core.runlog import job_log

if __name__ == "__main__":
    with job_log(snakemake.log[0]):
        p = snakemake.params
        render(p.module, snakemake.input, p.teachers, p.style, snakemake.output)
