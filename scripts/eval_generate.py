import torch

from distillery.core.artifacts import read_parquet, write_json, write_parquet
from distillery.core.model_resolution import model_identity
from distillery.core.runlog import job_log, progress
from distillery.evaluate.samples import generate_shard, shard_pairs
from distillery.generation.cache import GenerationCache
from distillery.generation.engine_python import run_in_engine_python
from distillery.generation.registry import open_engine
from distillery.generation.scheduler import Feeding
from distillery.plan.eval_sampling import Sampling

if __name__ == "__main__":  # vLLM starts its engine with spawn, which imports this file again
    run_in_engine_python(snakemake.params.model["backend"])  # vLLM's own environment, where it has one
    with job_log(snakemake.log[0]) as log:
        torch.set_num_threads(snakemake.threads)
        entry, cache_settings, benchmark = snakemake.params.model, snakemake.params.cache, snakemake.wildcards.benchmark
        index, _, total = snakemake.wildcards.shard.partition("-of-")
        problems = read_parquet(snakemake.input.problems).to_pylist()
        sampling = Sampling(**snakemake.params.sampling)
        pairs = shard_pairs(len(problems), sampling.samples, int(index), int(total))
        cache = GenerationCache(cache_settings["cache_dir"], model_identity(entry))
        log.info(
            "%s on %s shard %s: %d samples, cache %s (%s)",
            entry["name"],
            benchmark,
            snakemake.wildcards.shard,
            len(pairs),
            cache.folder,
            cache.model_identity,
        )
        samples, counts = generate_shard(
            problems,
            pairs,
            sampling,
            lambda: open_engine(entry),
            cache,
            entry["name"],
            Feeding(cache_settings["flush_every"], cache_settings["flush_seconds"]),
            progress("generate"),
        )
        log.info("generated %d, cache hits %d", counts["generated"], counts["cache_hits"])
        write_parquet(samples, snakemake.output.samples)
        write_json(
            {
                "model": entry["name"],
                "benchmark": benchmark,
                "shard": snakemake.wildcards.shard,
                "model_identity": cache.model_identity,
                "samples": len(pairs),
                "generated": counts["generated"],
                "cache_hits": counts["cache_hits"],
                "rejected_by_engine": counts["rejected"],
            },
            snakemake.output.report,
        )
