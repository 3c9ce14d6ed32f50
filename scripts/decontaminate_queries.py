from distillery.core.artifacts import read_parquet, write_stage
from distillery.core.runlog import job_log
from distillery.queries.decontaminate import decontaminate
from distillery.queries.embeddings import ITEM_KEYS, QUERY_KEYS, aligned_vectors

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        queries = read_parquet(snakemake.input.queries)
        items = read_parquet(snakemake.input.benchmark_items)
        kept, rejects, report = decontaminate(
            queries,
            aligned_vectors(read_parquet(snakemake.input.query_embeddings), queries, QUERY_KEYS),
            items,
            aligned_vectors(read_parquet(snakemake.input.benchmark_embeddings), items, ITEM_KEYS),
            threshold=snakemake.params.threshold,
            exact=snakemake.params.exact,
        )
        log.info("%d in, %d kept, removed %s", report["rows_in"], report["kept"], report["reasons"])
        write_stage(snakemake.output, kept, rejects, report)
