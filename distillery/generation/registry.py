"""A config entry (a teacher, the judge's model, a model under evaluation) made into its generation
backend: the config's ``backend`` name indexes :data:`BACKENDS`. Each builder imports its backend when
called, so a job loads only what its backend needs (vLLM and torch are heavy)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from distillery.generation.backend import Backend

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

    return DatasetBackend(entry["dataset"]["paths"], model_id=entry["model"])


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


class LazyBackend:
    """Builds the backend on the first request the cache lacks: a rerun whose generations are all cached
    (a re-sharding, a new grader) never loads the model, which takes minutes for a large one on vLLM."""

    def __init__(self, entry: dict):
        self.entry, self.model_id, self._backend = entry, entry["model"], None

    def generate(self, requests):
        if self._backend is None:
            log.info("loading model %s (%s backend)", self.entry["model"], self.entry["backend"])
            self._backend = make_backend(self.entry)
        return self._backend.generate(requests)
