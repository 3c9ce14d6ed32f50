import pyarrow as pa
import torch

from distillery.core.artifacts import read_parquet, write_parquet
from distillery.core.runlog import job_log, progress
from distillery.corpora.perplexity import load_model, perplexity_table
from distillery.corpora.teacher_corpus import first_accepted, read_attempts

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        torch.set_num_threads(snakemake.threads)
        settings = snakemake.params.settings
        attempts, coverage = read_attempts(snakemake.params.attempts)
        accepted = first_accepted(attempts)
        queries = pa.concat_tables([read_parquet(p) for p in snakemake.input.queries])
        log.info(
            "%d accepted responses of %d shards (missing %s, empty %s); model %s",
            accepted.num_rows,
            coverage["shards"],
            coverage["missing_shards"],
            coverage["empty_shards"],
            settings["model"],
        )
        model, tokenizer = load_model(settings["model"], settings["dtype"], settings["device"])
        table = perplexity_table(accepted, queries, model, tokenizer, settings, progress("perplexity"))
        scored = [p for p in table["ppl"].to_pylist() if p is not None]
        log.info(
            "scored %d responses, %d response tokens; mean perplexity %s",
            len(scored),
            sum(table["scored_tokens"].to_pylist()),
            sum(scored) / len(scored) if scored else None,
        )
        write_parquet(table, snakemake.output[0])
