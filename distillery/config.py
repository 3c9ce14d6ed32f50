"""Checks of the config that a JSON schema cannot express (run when the Snakefile is parsed)."""

from __future__ import annotations

from collections import Counter


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
            raise ConfigError(f"teachers[{teacher['name']}]: backend {teacher['backend']} needs its "
                              f"'{teacher['backend']}' settings")
    unknown = [n for n in config["decontaminate"].get("benchmarks", []) if n not in config["benchmarks"]]
    if unknown:
        raise ConfigError(f"decontaminate.benchmarks: {unknown} not defined under benchmarks "
                          f"(defined: {sorted(config['benchmarks'])})")
