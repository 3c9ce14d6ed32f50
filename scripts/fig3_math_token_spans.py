from distillery.figures import fig3_math_token_spans
from distillery.figures.style import make
from distillery.runlog import job_log

with job_log(snakemake.log[0]):
    make(fig3_math_token_spans, snakemake.input, snakemake.params.teachers, snakemake.params.style, snakemake.output)
