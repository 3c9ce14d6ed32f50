from distillery.core.artifacts import read_parquet, write_json, write_parquet
from distillery.core.model_resolution import model_identity
from distillery.core.runlog import job_log, progress
from distillery.distill import teachers
from distillery.distill.release_verdicts import TrustedVerdicts, agreement, release_scores
from distillery.distill.verify_and_retry import distill
from distillery.generation.cache import GenerationCache
from distillery.generation.engine_python import run_in_engine_python
from distillery.generation.registry import make_backend, open_engine
from distillery.generation.scheduler import Feeding
from distillery.verify import Verifier
from distillery.verify.result import PASS_THRESHOLD

if __name__ == "__main__":  # vLLM starts its engine with spawn, which imports this file again
    run_in_engine_python(snakemake.params.teacher["backend"])  # vLLM's own environment, where it has one
    with job_log(snakemake.log[0]) as log:
        teacher, config = snakemake.params.teacher, snakemake.params.distill
        queries = read_parquet(snakemake.input.shard).to_pylist()
        cache = GenerationCache(config["cache_dir"], model_identity(teacher))
        log.info(
            "teacher %s (%s), %d queries, cache %s", teacher["name"], cache.model_identity, len(queries), cache.folder
        )
        # A transformers teacher that is its own judge is loaded once, now; any other loads on the first cache miss.
        own_judge = (
            teacher["backend"] == "transformers" and (config.get("judge") or {}).get("model") == teacher["model"]
        )
        backend = make_backend(teacher) if own_judge else None
        shared = {teacher["model"]: backend} if own_judge else None
        released = release_scores(teacher["dataset"]["index"]) if teacher["backend"] == "dataset" else None
        trusted = released is not None and teacher["dataset"]["trust_verify_score"]
        threshold = PASS_THRESHOLD if config.get("threshold") is None else config["threshold"]
        with Verifier.from_config(config, config["verify_processes"] or snakemake.threads, loaded=shared) as verifier:
            if trusted:
                verifier = TrustedVerdicts(verifier, released, threshold)
            attempts, report = distill(
                queries,
                teachers.settings(teacher, config["seed"]),
                lambda: open_engine(teacher, backend),
                cache,
                verifier,
                teachers.conversation(teacher),
                Feeding(config["flush_every"], config["flush_seconds"]),
                progress("distill"),
            )
        report.update(teacher=teacher["name"], model=cache.model_identity, sampling_source=teacher["sampling_source"])
        if released is not None and not trusted:  # how often the release's own verdicts agree with ours
            report["release_agreement"] = agreement(released, attempts.to_pylist(), threshold)
        log.info(
            "generated %d, cache hits %d, accepted %d of %d",
            report["generated"],
            report["cache_hits"],
            report["accepted"],
            report["queries"],
        )
        write_parquet(attempts, snakemake.output.attempts)
        write_json(report, snakemake.output.report)
