from distillery.figures import fig4_token_counts
from distillery.figures.style import make
from distillery.runlog import job_log

with job_log(snakemake.log[0]):
    make(fig4_token_counts, snakemake.input, snakemake.params.teachers, snakemake.params.style, snakemake.output)
