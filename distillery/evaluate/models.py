"""Which models are evaluated, and each one made real: its backend and its identity in the cache.

Every teacher's student (``evaluate.student_model``, by default the training stage's
``results/train/{teacher}/model``) is evaluated under the teacher's name, with the settings of
``evaluate.student_backend``; ``evaluate.extra_models`` adds others (the base model, a teacher itself via
``teacher: <name>``). An entry has the shape of a teacher entry, so that :func:`distillery.teachers.make_backend`
builds it.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from distillery import teachers
from distillery.models import resolve_model

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")
SAMPLED_BLOCKS, BLOCK_BYTES = 32, 1 << 16


def evaluated_models(config: dict) -> dict[str, dict]:
    """name -> teacher-shaped entry (name, backend, model, revision, batch_size, dtype, device, openai,
    vllm), students first, in config order."""
    ev = config["evaluate"]
    known = {t["name"]: t for t in config.get("teachers", [])}
    base = {"backend": "transformers", "revision": "main", "batch_size": 8, "dtype": "auto", "device": "auto",
            **ev.get("student_backend", {})}
    students = ev.get("students")
    models = {}
    for name in known if students is None else students:
        models[name] = {**base, "name": name, "model": ev.get("student_model", "results/train/{teacher}/model").format(
            teacher=name), "role": "student", "teacher": name}
    for extra in ev.get("extra_models", []):
        if extra.get("teacher"):
            entry = {**base, **known[extra["teacher"]], **extra, "role": "teacher"}
        else:
            entry = {**base, **extra, "role": "extra"}
        models[extra["name"]] = entry
    return models


def paper_models(config: dict, models: dict[str, dict]) -> dict[str, str]:
    """Which of the paper's students each evaluated model is compared with in the tables:
    ``evaluate.paper_models`` first; else a student (or a teacher evaluated itself) goes with its teacher,
    matched to the paper's as the analysis matches it (``analysis.paper_teachers``, else the teacher's
    model name, e.g. deepseek-ai/DeepSeek-R1). Models matched to none have no paper column."""
    from distillery.dataset_stats import paper_teacher

    explicit = config["evaluate"].get("paper_models", {})
    teachers = {t["name"]: t for t in config.get("teachers", [])}
    mapping = (config.get("analysis") or {}).get("paper_teachers", {})
    matched = {}
    for name, entry in models.items():
        teacher = teachers.get(entry.get("teacher"))
        paper = explicit.get(name) or (paper_teacher(teacher["name"], teacher["model"], mapping) if teacher else None)
        if paper:
            matched[name] = paper
    return matched


def workflow_inputs(entry: dict) -> list[str]:
    """Model folders the workflow builds itself (a trained student, the converted local model): rule
    inputs, so that they are built first and a rebuilt one is evaluated again."""
    model = entry["model"].rstrip("/")
    return [model] if entry["backend"] in ("transformers", "vllm") and model.startswith("results/") else []


def weights_fingerprint(folder: str | Path) -> str:
    """A cheap content fingerprint of a folder's weight files: their sizes and 32 blocks of 64 KiB spread
    over each. A retrained student has the same file sizes and config as the previous one, so names and
    sizes alone (what :func:`distillery.teachers.model_identity` hashes) would serve its predecessor's
    cached generations; any training step changes every sampled block. Reading 2 MiB per file instead
    of the whole file keeps this at milliseconds for a 64 GB checkpoint."""
    digest = hashlib.blake2b(digest_size=8)
    for f in sorted(Path(folder).iterdir()):
        if f.suffix not in WEIGHT_SUFFIXES or not f.is_file():
            continue
        size = f.stat().st_size
        digest.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            for i in range(SAMPLED_BLOCKS):
                fh.seek(max(0, (size - BLOCK_BYTES) * i // max(SAMPLED_BLOCKS - 1, 1)))
                digest.update(fh.read(BLOCK_BYTES))
    return digest.hexdigest()


def model_identity(entry: dict) -> str:
    identity = teachers.model_identity(entry)
    folder = Path(resolve_model(entry["model"]))
    return f"{identity}+{weights_fingerprint(folder)}" if folder.is_dir() else identity


def make_backend(entry: dict):
    if entry["backend"] == "dataset":
        raise ValueError(f"model {entry['name']!r}: released responses cannot be evaluated (backend dataset)")
    return teachers.make_backend(entry)


class LazyBackend:
    """Builds the backend on the first request the cache lacks: a rerun whose samples are all cached (a
    re-sharding, a new grader) never loads the model, which takes minutes for a large one on vLLM."""

    def __init__(self, entry: dict):
        self.entry, self.model_id, self._backend = entry, entry["model"], None

    def generate(self, requests):
        if self._backend is None:
            log.info("loading model %s (%s backend)", self.entry["model"], self.entry["backend"])
            self._backend = make_backend(self.entry)
        return self._backend.generate(requests)
