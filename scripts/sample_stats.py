from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from distillery.analysis.sample_stats import sample_stats
from distillery.analysis.token_counts import load_tokenizer
from distillery.core.artifacts import read_parquet, write_parquet
from distillery.core.runlog import job_log
from distillery.corpora.teacher_corpus import read_attempts

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        teacher = snakemake.wildcards.teacher
        tokenizer = load_tokenizer(snakemake.params.tokenizer, threads=snakemake.threads)
        queries = pa.concat_tables([read_parquet(p) for p in snakemake.input.queries])
        attempts, _ = read_attempts(snakemake.params.attempts)
        parallel = pq.read_table(snakemake.input.parallel, columns=["qid"])["qid"].combine_chunks()
        stats = sample_stats(
            teacher,
            queries,
            attempts,
            read_parquet(snakemake.input.corpus),
            read_parquet(snakemake.input.rejects),
            parallel,
            tokenizer,
        )
        log.info("%s: %d queries: %s", teacher, stats.num_rows, dict(Counter(stats["status"].to_pylist())))
        write_parquet(stats, snakemake.output[0])
