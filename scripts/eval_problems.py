from distillery.core.artifacts import write_parquet
from distillery.core.runlog import job_log
from distillery.evaluate.problems import load_problems

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        problems = load_problems(snakemake.wildcards.benchmark, snakemake.params.data, snakemake.params.spec)
        log.info("%s: %d problems", snakemake.wildcards.benchmark, len(problems))
        write_parquet(problems, snakemake.output[0])
