import torch

from distillery.core.runlog import job_log
from distillery.distill.local_model import convert_gguf_model

if __name__ == "__main__":
    with job_log(snakemake.log[0]):
        torch.set_num_threads(snakemake.threads)
        convert_gguf_model(snakemake.output[0])
