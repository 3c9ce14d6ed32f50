"""A teacher of the config, made real: its backend, its settings, its identity in the cache, and
the conversation it is sent for a query."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from distillery.distill import TeacherSettings
from distillery.generate.prompting import FEW_SHOT, SYSTEM_PROMPT, build_messages
from distillery.models import resolve_model


def model_identity(teacher: dict) -> str:
    """What the cache key says about the model: backend, name, revision; for a local folder also a
    fingerprint of its weights, so that a re-converted or retrained folder is a new model."""
    identity = f"{teacher['backend']}:{teacher['model']}@{teacher.get('revision', 'main')}"
    folder = Path(resolve_model(teacher["model"]))
    if folder.is_dir():
        digest = hashlib.blake2b(digest_size=8)
        for f in sorted(folder.iterdir()):
            if f.suffix in (".safetensors", ".bin", ".json", ".gguf"):
                digest.update(f"{f.name}:{f.stat().st_size}".encode())
                if f.suffix == ".json":
                    digest.update(f.read_bytes())
        identity += f"#{digest.hexdigest()}"
    return identity


def settings(teacher: dict, seed: int) -> TeacherSettings:
    return TeacherSettings(name=teacher["name"], max_new_tokens=teacher["max_new_tokens"],
                           temperature=teacher["temperature"], top_p=teacher["top_p"],
                           max_attempts=teacher["max_attempts"], seed=seed, stop=tuple(teacher["stop"]))


def conversation(teacher: dict) -> Callable[[dict], list[dict]]:
    """query -> the messages sent to this teacher."""
    system = SYSTEM_PROMPT if teacher["system_prompt"] == "paper" else teacher["system_prompt"]
    if teacher["backend"] == "dataset":  # released responses are matched on the query's own turns
        return lambda query: [dict(m) for m in query["messages"]]
    return lambda query: build_messages(query, system, FEW_SHOT.get(query["category"]) if teacher["few_shot"] else None)


def make_backend(teacher: dict):
    kind = teacher["backend"]
    if kind == "transformers":
        from distillery.generate.transformers_backend import TransformersBackend

        return TransformersBackend.load(teacher["model"], dtype=teacher["dtype"], device=teacher["device"],
                                        batch_size=teacher["batch_size"])
    if kind == "openai":
        from distillery.generate.openai_backend import OpenAIBackend

        return OpenAIBackend(model=teacher["model"], **teacher["openai"])
    if kind == "vllm":
        from distillery.generate.vllm_backend import VLLMBackend

        engine = dict(teacher.get("vllm") or {})
        if teacher.get("nodes", 1) > 1:  # pipeline parallel across the job's nodes: vLLM joins a Ray cluster
            from distillery.cluster import start_ray_cluster, teacher_gpus_per_node

            start_ray_cluster(teacher_gpus_per_node(teacher))
            engine.setdefault("distributed_executor_backend", "ray")
        return VLLMBackend(teacher["model"], **engine)
    if kind == "dataset":
        from distillery.generate.dataset_backend import DatasetBackend

        return DatasetBackend(teacher["dataset"]["paths"], model_id=teacher["model"])
    raise ValueError(f"teacher {teacher['name']!r}: unknown backend {kind!r}")
