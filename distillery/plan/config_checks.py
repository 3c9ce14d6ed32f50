"""Checks of the config that a JSON schema cannot express (run when the Snakefile is parsed)."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from distillery.core.model_resolution import PACKAGE_PREFIX
from distillery.plan.backend_settings import BACKEND_BLOCKS, LOCAL_MODEL_BACKENDS, REQUIRED_BLOCKS
from distillery.plan.paths import EVAL_PROBLEMS, STUDENT_MODEL, is_built

# huggingface_hub.utils.validate_repo_id's rules (importing it costs a tenth of a second and an HTTP client
# in every parse), with the namespace required: org/name.
HUB_ID = re.compile(r"\b[\w\-.]{1,96}\b/\b[\w\-.]{1,96}\b")
LOCAL_PREFIXES = ("/", "./", "../", "~")  # a path, never a hub id
MAX_PROBLEMS = 8


class ConfigError(ValueError):
    pass


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` naming the key, for what the schema lets through."""
    names = Counter(source["name"] for source in config["sources"])
    repeated = sorted(name for name, n in names.items() if n > 1)
    if repeated:
        raise ConfigError(f"sources: names must be unique; repeated: {repeated}")
    teachers = Counter(teacher["name"] for teacher in config.get("teachers", []))
    repeated = sorted(name for name, n in teachers.items() if n > 1)
    if repeated:
        raise ConfigError(f"teachers: names must be unique; repeated: {repeated}")
    check_backends(config)
    unknown = [n for n in config["decontaminate"].get("benchmarks", []) if n not in config["benchmarks"]]
    if unknown:
        raise ConfigError(
            f"decontaminate.benchmarks: {unknown} not defined under benchmarks "
            f"(defined: {sorted(config['benchmarks'])})"
        )
    check_evaluate(config)
    check_train(config)
    check_analysis(config)
    check_inputs(config)


def check_backends(config: dict) -> None:
    """Each model entry carries its own backend's settings and no other's (an ``openai:`` block on a
    transformers teacher would be ignored)."""
    teachers = {t["name"]: t for t in config.get("teachers", [])}
    evaluate = config.get("evaluate") or {}
    students = evaluate.get("student_backend") or {}
    entries = [(f"teachers[{name}]", t, t["backend"], {}) for name, t in teachers.items()]
    entries.append(("evaluate.student_backend", students, students.get("backend", "transformers"), {}))
    for extra in evaluate.get("extra_models", []):
        inherited = teachers.get(extra.get("teacher")) or students  # what evaluated_models merges it over
        backend = extra.get("backend") or inherited.get("backend", "transformers")
        entries.append((f"evaluate.extra_models[{extra['name']}]", extra, backend, inherited))
    for key, entry, backend, inherited in entries:
        own = BACKEND_BLOCKS.get(backend)
        for other, block in BACKEND_BLOCKS.items():
            if block and block != own and block in entry:
                raise ConfigError(
                    f"{key}.{block}: settings of backend {other}, but {key} has backend {backend} "
                    f"(they would be ignored)"
                )
        if own in REQUIRED_BLOCKS and own not in entry and own not in inherited:
            raise ConfigError(f"{key}: backend {backend} needs its '{own}' settings")


def check_evaluate(config: dict) -> None:
    """The ``evaluate`` section: benchmarks that decontamination knows, models that exist, unique names."""
    evaluate = config.get("evaluate") or {}
    decontaminated = config["decontaminate"].get("benchmarks") or list(config["benchmarks"])
    for name in evaluate.get("benchmarks", {}):
        if name not in config["benchmarks"]:
            raise ConfigError(
                f"evaluate.benchmarks.{name}: not defined under benchmarks (its data, and what the "
                f"queries are decontaminated against; defined: {sorted(config['benchmarks'])})"
            )
        if name not in decontaminated:
            raise ConfigError(
                f"evaluate.benchmarks.{name}: not in decontaminate.benchmarks, so the training "
                f"queries are not decontaminated against it"
            )
    teachers = [t["name"] for t in config.get("teachers", [])]
    students = evaluate.get("students")
    students = teachers if students is None else students
    unknown = [s for s in students if s not in teachers]
    if unknown:
        raise ConfigError(f"evaluate.students: {unknown} are not teachers (teachers: {teachers})")
    extra = evaluate.get("extra_models", [])
    for entry in extra:
        if entry.get("teacher") and entry["teacher"] not in teachers:
            raise ConfigError(f"evaluate.extra_models[{entry['name']}]: teacher {entry['teacher']!r} is not a teacher")
        teacher = next((t for t in config.get("teachers", []) if t["name"] == entry.get("teacher")), {})
        if teacher.get("backend") == "dataset":
            raise ConfigError(
                f"evaluate.extra_models[{entry['name']}]: teacher {entry['teacher']!r} has released "
                f"responses only (backend dataset); it cannot answer the benchmarks"
            )
    names = Counter(list(students) + [e["name"] for e in extra])
    repeated = sorted(n for n, k in names.items() if k > 1)
    if repeated:
        raise ConfigError(
            f"evaluate: model names must be unique (a student is named after its teacher); repeated: {repeated}"
        )
    problems = Path(EVAL_PROBLEMS).name
    if problems in names:
        raise ConfigError(f"evaluate: {problems!r} cannot name a model ({EVAL_PROBLEMS}/ holds the benchmarks)")
    unknown = sorted(set(evaluate.get("paper_models", {})) - set(names))
    if unknown:
        raise ConfigError(f"evaluate.paper_models: {unknown} are not evaluated models ({sorted(names)})")


def check_train(config: dict) -> None:
    """The ``train`` section: a global batch the declared GPUs can keep exact, a launcher that fits them,
    a DeepSpeed config that exists (``distillery.plan.training_recipe.check_train_section``)."""
    from distillery.plan.training_recipe import TrainConfigError, check_train_section

    try:
        check_train_section(config.get("train") or {})
    except TrainConfigError as e:
        raise ConfigError(str(e)) from None


def check_analysis(config: dict) -> None:
    """``corpus`` and ``analysis``: per-teacher settings name teachers that exist."""
    teachers = [t["name"] for t in config.get("teachers", [])]
    per_teacher = {
        "corpus.quality.perplexity.max_by_teacher": ((config.get("corpus") or {}).get("quality") or {})
        .get("perplexity", {})
        .get("max_by_teacher", {}),
        "analysis.teacher_labels": (config.get("analysis") or {}).get("teacher_labels", {}),
        "analysis.paper_teachers": (config.get("analysis") or {}).get("paper_teachers", {}),
    }
    for key, values in per_teacher.items():
        unknown = sorted(set(values) - set(teachers))
        if unknown:
            raise ConfigError(f"{key}: {unknown} are not teachers (teachers: {teachers})")


def check_inputs(config: dict) -> None:
    """Every file, folder and model the config names exists, is a hub id, or is built by the workflow (under
    results/): found missing when the workflow is parsed, not by the job that first reads it. Every problem
    at once (a few lines), so that one run lists what to fix."""
    found = ((key, why_missing(value, is_file)) for key, value, is_file in named_inputs(config))
    problems = [f"{key}: {problem}" for key, problem in found if problem]
    if problems:
        more = [f"... and {len(problems) - MAX_PROBLEMS} more"] if len(problems) > MAX_PROBLEMS else []
        where = f"(relative paths are read from the working directory, {os.getcwd()})"
        raise ConfigError("\n".join(problems[:MAX_PROBLEMS] + more + [where]))


def named_inputs(config: dict) -> Iterator[tuple[str, str | None, bool]]:
    """(key, value, whether it must be a local file) of every input the config names: data files, and the
    models, tokenizers and datasets that may be a folder or a hub id."""
    for source in config.get("sources", []):
        yield from _dataset_inputs(f"sources[{source['name']}]", source)
    for name, benchmark in (config.get("benchmarks") or {}).items():
        yield from _dataset_inputs(f"benchmarks.{name}", benchmark)
    for teacher in config.get("teachers", []):
        key = f"teachers[{teacher['name']}]"
        if teacher["backend"] in LOCAL_MODEL_BACKENDS:
            yield f"{key}.model", teacher["model"], False
        release = teacher.get("dataset") or {}
        for i, path in enumerate(release.get("paths", [])):
            yield f"{key}.dataset.paths[{i}]", path, True
        yield f"{key}.dataset.hf.id", (release.get("hf") or {}).get("id"), False
        yield f"{key}.dataset.tokenizer", release.get("tokenizer"), False
    distill = config.get("distill") or {}
    yield "distill.judge.model", (distill.get("judge") or {}).get("model"), False
    yield "distill.reward_model.model", (distill.get("reward_model") or {}).get("model"), False
    yield "embedding.model", (config.get("embedding") or {}).get("model"), False
    analysis = config.get("analysis") or {}
    yield "analysis.tokenizer", analysis.get("tokenizer"), False
    yield "analysis.perplexity.model", (analysis.get("perplexity") or {}).get("model"), False
    yield "train.base_model", (config.get("train") or {}).get("base_model"), False
    yield from _evaluated_inputs(config)


def _dataset_inputs(key: str, spec: dict) -> Iterator[tuple[str, str | None, bool]]:
    yield f"{key}.path", spec.get("path"), True
    yield f"{key}.hf.id", (spec.get("hf") or {}).get("id"), False


def _evaluated_inputs(config: dict) -> Iterator[tuple[str, str | None, bool]]:
    """The students (``evaluate.student_model``, when it is not the training stage's) and the extra models
    that run locally."""
    evaluate = config.get("evaluate") or {}
    backend = (evaluate.get("student_backend") or {}).get("backend", "transformers")
    teachers = [t["name"] for t in config.get("teachers", [])]
    template = evaluate.get("student_model") or STUDENT_MODEL
    students = evaluate.get("students")
    for name in teachers if students is None else students:
        yield "evaluate.student_model", template.format(teacher=name), False
    for extra in evaluate.get("extra_models", []):
        if "model" in extra and extra.get("backend", backend) in LOCAL_MODEL_BACKENDS:
            yield f"evaluate.extra_models[{extra['name']}].model", extra["model"], False


def why_missing(value: str | None, is_file: bool) -> str | None:
    """Why ``value`` cannot be found, or None: a local path must exist (unless the workflow builds it);
    anything else must be a hub id (org/name) or ``package:<module>``, which the job resolves."""
    if not value or is_built(value) or os.path.exists(value):
        return None
    if is_file:
        return f"{shown(value)} does not exist"
    if value.startswith(PACKAGE_PREFIX) or (not value.startswith(LOCAL_PREFIXES) and is_hub_id(value)):
        return None
    tilde = " (~ is not expanded)" if value.startswith("~") else ""
    return f"{shown(value)} is neither a local path that exists nor a hub id (org/name){tilde}"


def is_hub_id(value: str) -> bool:
    return bool(HUB_ID.fullmatch(value)) and ".." not in value and "--" not in value and not value.endswith(".git")


def key_path(config: dict, parts) -> str:
    """A key path as the checks write it: ``teachers[alpha].backend`` (a list item by its name, else by
    its index)."""
    text, node = "", config
    for part in parts:
        if isinstance(part, int):
            item = node[part]
            name = item.get("name") if isinstance(item, dict) else None
            text += f"[{name if isinstance(name, str) else part}]"
        else:
            text += f".{part}" if text else str(part)
        node = node[part]
    return text


def shown(value, limit: int = 80, *, quote: bool = True) -> str:
    """``value`` in a message: its repr (its text with ``quote=False``), cut to ``limit`` characters."""
    text = repr(value) if quote else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
