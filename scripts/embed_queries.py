import torch

from distillery.core.artifacts import read_parquet, write_parquet
from distillery.core.runlog import job_log, progress
from distillery.queries.embeddings import embed_table, load_embedder

if __name__ == "__main__":
    with job_log(snakemake.log[0]):
        torch.set_num_threads(snakemake.threads)
        table = read_parquet(snakemake.input[0])
        model = load_embedder(snakemake.params.embedding)
        embeddings = embed_table(table, model, snakemake.params.embedding["batch_size"], progress("embed"))
        write_parquet(embeddings, snakemake.output[0])
