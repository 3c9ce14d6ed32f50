from distillery.core.artifacts import atomic_path, write_json
from distillery.core.runlog import job_log, progress
from distillery.generation.release_index import build

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        out = snakemake.output
        with atomic_path(out.index) as index, atomic_path(out.rejects) as rejects:
            report = build(snakemake.params.paths, index, rejects, progress("index"))
        log.info(
            "%d records in %d files: %d indexed, %d duplicates, %d conflicts, %d malformed (first occurrence wins)",
            report["records"],
            len(report["files"]),
            report["indexed"],
            report["duplicates"],
            report["conflicts"],
            report["malformed"],
        )
        write_json(report, out.report)
