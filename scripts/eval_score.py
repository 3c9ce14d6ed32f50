from distillery.core.artifacts import read_parquet, write_json, write_parquet
from distillery.core.runlog import job_log
from distillery.evaluate.grading import merge_shards
from distillery.evaluate.passk import summarize

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        problems = read_parquet(snakemake.input.problems).column("problem_id").to_pylist()
        samples = merge_shards([read_parquet(p) for p in snakemake.input.graded], problems)
        scores = {
            "model": snakemake.wildcards.model,
            "benchmark": snakemake.wildcards.benchmark,
            **snakemake.params.settings,
            **summarize(samples.to_pylist()),
        }
        log.info(
            "pass@1 %s over %d problems, mean %s tokens", scores["pass@1"], scores["problems"], scores["mean_tokens"]
        )
        write_parquet(samples, snakemake.output.samples)
        write_json(scores, snakemake.output.scores)
