from distillery.core.artifacts import read_parquet, write_parquet
from distillery.core.runlog import job_log, progress
from distillery.evaluate.grading import Grader

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        problems = {p["problem_id"]: p for p in read_parquet(snakemake.input.problems).to_pylist()}
        samples = read_parquet(snakemake.input.samples)
        grading = snakemake.params.grading
        with Grader(grading["processes"] or snakemake.threads, grading["code"]) as grader:
            graded = grader.grade(problems, samples, progress("grade"))
        log.info("%d of %d samples correct", sum(graded.column("correct").to_pylist()), len(graded))
        write_parquet(graded, snakemake.output[0])
