from distillery.figures import fig7_attempts
from distillery.figures.style import make
from distillery.runlog import job_log

with job_log(snakemake.log[0]):
    make(fig7_attempts, snakemake.input, snakemake.params.teachers, snakemake.params.style, snakemake.output)
