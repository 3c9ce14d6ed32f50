from distillery.figures import fig8_cost
from distillery.figures.style import make
from distillery.runlog import job_log

with job_log(snakemake.log[0]):
    make(fig8_cost, snakemake.input, snakemake.params.teachers, snakemake.params.style, snakemake.output)
