import torch

from distillery.generate.local_model import convert_gguf_model
from distillery.runlog import job_log

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    convert_gguf_model(snakemake.output[0])
