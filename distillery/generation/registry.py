"""A config entry (a teacher, the judge's model, a model under evaluation) made into its generation
backend: the config's ``backend`` name indexes :data:`BACKENDS`. Each builder imports its backend when
called, so a job loads only what its backend needs (vLLM and torch are heavy). :func:`open_engine` gives the
streaming form the scheduler feeds."""

from __future__ import annotations

import logging
from collections.abc import Callable

from distillery.generation.backend import Backend
from distillery.generation.streaming import EngineStream, open_stream

log = logging.getLogger(__name__)


def _transformers(entry: dict) -> Backend:
    from distillery.generation.transformers_backend import TransformersBackend

    return TransformersBackend.load(
        entry["model"], dtype=entry["dtype"], device=entry["device"], batch_size=entry["batch_size"]
    )


def _openai(entry: dict) -> Backend:
    from distillery.generation.openai_backend import OpenAIBackend

    return OpenAIBackend(model=entry["model"], **entry["openai"])


def _vllm(entry: dict) -> Backend:
    from distillery.generation.vllm_backend import VLLMBackend

    engine = dict(entry.get("vllm") or {})
    if entry.get("nodes", 1) > 1:  # pipeline parallel across the job's nodes: vLLM joins a Ray cluster
        from distillery.generation.ray_cluster import start_ray_cluster
        from distillery.plan.cluster_geometry import teacher_gpus_per_node

        start_ray_cluster(teacher_gpus_per_node(entry))
        engine.setdefault("distributed_executor_backend", "ray")
    return VLLMBackend(entry["model"], **engine)


def _dataset(entry: dict) -> Backend:
    from distillery.generation.dataset_backend import DatasetBackend

    release = entry["dataset"]
    return DatasetBackend(release["paths"], entry["model"], release["index"], release["tokenizer"])


BACKENDS: dict[str, Callable[[dict], Backend]] = {
    "transformers": _transformers,
    "openai": _openai,
    "vllm": _vllm,
    "dataset": _dataset,
}


def make_backend(entry: dict) -> Backend:
    try:
        build = BACKENDS[entry["backend"]]
    except KeyError:
        raise ValueError(
            f"{entry['name']!r}: unknown backend {entry['backend']!r} (known: {sorted(BACKENDS)})"
        ) from None
    return build(entry)


def open_engine(entry: dict, backend: Backend | None = None) -> EngineStream:
    """The entry's model as a stream the scheduler keeps ``max_in_flight`` full (built now unless given:
    call it when the cache lacks a generation, so a job whose generations are all cached never loads it)."""
    if backend is None:
        log.info("loading model %s (%s backend)", entry["model"], entry["backend"])
        backend = make_backend(entry)
    return open_stream(backend, entry.get("max_in_flight"), entry.get("batch_size") or 8)
