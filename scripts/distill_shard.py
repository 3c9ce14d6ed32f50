from distillery import teachers
from distillery.artifacts import read_parquet, write_json, write_parquet
from distillery.distill import distill
from distillery.generate.cache import GenerationCache
from distillery.runlog import job_log, progress
from distillery.verify import Verifier

with job_log(snakemake.log[0]) as log:
    teacher, config = snakemake.params.teacher, snakemake.params.distill
    queries = read_parquet(snakemake.input.shard).to_pylist()
    cache = GenerationCache(config["cache_dir"], teachers.model_identity(teacher))
    log.info("teacher %s (%s), %d queries, cache %s", teacher["name"], cache.model_identity, len(queries), cache.folder)
    backend = teachers.make_backend(teacher)
    shared = {teacher["model"]: backend} if teacher["backend"] == "transformers" else None  # its own judge: load once
    with Verifier.from_config(config, config["verify_processes"] or snakemake.threads, loaded=shared) as verifier:
        attempts, report = distill(queries, teachers.settings(teacher, config["seed"]), backend, cache, verifier,
                                   teachers.conversation(teacher), config["flush_every"], progress("generate"))
    report.update(teacher=teacher["name"], model=cache.model_identity, sampling_source=teacher["sampling_source"])
    log.info("generated %d, cache hits %d, accepted %d of %d", report["generated"], report["cache_hits"],
             report["accepted"], report["queries"])
    write_parquet(attempts, snakemake.output.attempts)
    write_json(report, snakemake.output.report)
