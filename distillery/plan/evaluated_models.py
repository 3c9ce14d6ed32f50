"""Which models are evaluated, under which names, compared with which of the paper's students.

Every teacher's student (``evaluate.student_model``, by default the training stage's
:data:`distillery.plan.paths.STUDENT_MODEL`) is evaluated under the teacher's name, with the settings of
``evaluate.student_backend``; ``evaluate.extra_models`` adds others (the base model, a teacher itself via
``teacher: <name>``). An entry has the shape of a teacher entry, so that
:func:`distillery.generation.registry.make_backend` builds it.
"""

from __future__ import annotations

from distillery.core.paper_numbers import paper_teacher
from distillery.plan.backend_settings import LOCAL_MODEL_BACKENDS
from distillery.plan.paths import STUDENT_MODEL, built_by_workflow


def evaluated_models(config: dict) -> dict[str, dict]:
    """name -> teacher-shaped entry (name, backend, model, revision, batch_size, dtype, device, openai,
    vllm), students first, in config order."""
    ev = config["evaluate"]
    known = {t["name"]: t for t in config.get("teachers", [])}
    base = {
        "backend": "transformers",
        "revision": "main",
        "batch_size": 8,
        "dtype": "auto",
        "device": "auto",
        **ev.get("student_backend", {}),
    }
    students = ev.get("students")
    models = {}
    for name in known if students is None else students:
        models[name] = {
            **base,
            "name": name,
            "model": (ev.get("student_model") or STUDENT_MODEL).format(teacher=name),
            "role": "student",
            "teacher": name,
        }
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
    """The model folder when the workflow builds it (a trained student, the converted local model) and the
    model runs locally: a rule input, so that it is built first and a rebuilt one is evaluated again."""
    return built_by_workflow(entry["model"]) if entry["backend"] in LOCAL_MODEL_BACKENDS else []
