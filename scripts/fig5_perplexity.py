from distillery.figures import fig5_perplexity
from distillery.figures.style import make
from distillery.runlog import job_log

with job_log(snakemake.log[0]):
    make(fig5_perplexity, snakemake.input, snakemake.params.teachers, snakemake.params.style, snakemake.output)
