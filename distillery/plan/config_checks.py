"""Checks of the config that a JSON schema cannot express (run when the Snakefile is parsed)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from distillery.plan.paths import EVAL_PROBLEMS


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
    for teacher in config.get("teachers", []):
        if teacher["backend"] in ("openai", "dataset") and teacher["backend"] not in teacher:
            raise ConfigError(
                f"teachers[{teacher['name']}]: backend {teacher['backend']} needs its '{teacher['backend']}' settings"
            )
    unknown = [n for n in config["decontaminate"].get("benchmarks", []) if n not in config["benchmarks"]]
    if unknown:
        raise ConfigError(
            f"decontaminate.benchmarks: {unknown} not defined under benchmarks "
            f"(defined: {sorted(config['benchmarks'])})"
        )
    check_evaluate(config)
    check_train(config)
    check_analysis(config)


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
        if entry.get("backend") == "openai" and "openai" not in entry:
            raise ConfigError(f"evaluate.extra_models[{entry['name']}]: backend openai needs its 'openai' settings")
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
