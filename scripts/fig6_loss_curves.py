from distillery.runlog import job_log
from distillery.train.loss_curves import plot_loss_curves, read_loss_curves

with job_log(snakemake.log[0]):
    teachers = snakemake.params.teachers
    curves = read_loss_curves(dict(zip(teachers, snakemake.input)))
    plot_loss_curves(curves, teachers, snakemake.params.style, snakemake.output)
