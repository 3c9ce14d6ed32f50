from distillery.core.artifacts import read_parquet, write_json, write_parquet
from distillery.core.model_resolution import model_identity
from distillery.core.runlog import job_log, progress
from distillery.distill import teachers
from distillery.distill.verify_and_retry import distill
from distillery.generation.cache import GenerationCache
from distillery.generation.registry import make_backend
from distillery.verify import Verifier

with job_log(snakemake.log[0]) as log:
    teacher, config = snakemake.params.teacher, snakemake.params.distill
    queries = read_parquet(snakemake.input.shard).to_pylist()
    cache = GenerationCache(config["cache_dir"], model_identity(teacher))
    log.info("teacher %s (%s), %d queries, cache %s", teacher["name"], cache.model_identity, len(queries), cache.folder)
    backend = make_backend(teacher)
    shared = {teacher["model"]: backend} if teacher["backend"] == "transformers" else None  # its own judge: load once
    with Verifier.from_config(config, config["verify_processes"] or snakemake.threads, loaded=shared) as verifier:
        attempts, report = distill(
            queries,
            teachers.settings(teacher, config["seed"]),
            backend,
            cache,
            verifier,
            teachers.conversation(teacher),
            config["flush_every"],
            progress("generate"),
        )
    report.update(teacher=teacher["name"], model=cache.model_identity, sampling_source=teacher["sampling_source"])
    log.info(
        "generated %d, cache hits %d, accepted %d of %d",
        report["generated"],
        report["cache_hits"],
        report["accepted"],
        report["queries"],
    )
    write_parquet(attempts, snakemake.output.attempts)
    write_json(report, snakemake.output.report)
