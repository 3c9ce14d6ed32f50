import pyarrow as pa

from distillery.core.artifacts import read_parquet, write_stage
from distillery.core.runlog import job_log
from distillery.corpora.teacher_corpus import build_corpus, read_attempts, read_perplexities

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        teacher = snakemake.wildcards.teacher
        attempts, coverage = read_attempts(snakemake.params.attempts)
        for kind in ("missing", "empty"):
            if coverage[f"{kind}_shards"]:
                log.warning(
                    "%s: %s shards %s: their queries count as not distilled", teacher, kind, coverage[f"{kind}_shards"]
                )
        queries = pa.concat_tables([read_parquet(p) for p in snakemake.input.queries])
        perplexities = read_perplexities(snakemake.input.perplexity) if snakemake.input.perplexity else None
        kept, rejects, report = build_corpus(
            teacher, attempts, coverage, queries, perplexities, snakemake.params.quality
        )
        log.info(
            "%s: %d queries, %d accepted, %d kept, QA removed %s",
            teacher,
            report["queries"],
            report["accepted"],
            report["kept"],
            report["reasons"],
        )
        write_stage(snakemake.output, kept, rejects, report)
