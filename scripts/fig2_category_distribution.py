from distillery.figures import fig2_category_distribution
from distillery.figures.style import make
from distillery.runlog import job_log

with job_log(snakemake.log[0]):
    make(fig2_category_distribution, snakemake.input, snakemake.params.teachers, snakemake.params.style, snakemake.output)
