"""The config against its JSON schema, with the schema's defaults filled in as Snakemake's ``validate`` fills
them, and an error of a few lines naming the key: Snakemake's error prints the schema and the whole config
around its one useful line (2,679 lines for a one-word typo at the top level)."""

from __future__ import annotations

import difflib
import os

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from distillery.plan.config_checks import ConfigError, key_path, shown

MAX_MESSAGE = 200  # characters of jsonschema's message (a oneOf error spells out every branch)
MAX_EXPECTED = 160  # of the schema's description, of the list of known keys
MAX_UNKNOWN = 3  # unknown keys of one section named


def validate_config(config: dict, schema_path: str | os.PathLike) -> None:
    """Raise :class:`ConfigError` for the most relevant schema violation (jsonschema's ``best_match``);
    defaults are filled in either way."""
    with open(schema_path, encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    if any(True for _ in _filling_defaults(Draft202012Validator)(schema).iter_errors(config)):
        # again without filling in: an error's message shows its value as it was then, and filling goes on
        error = best_match(Draft202012Validator(schema).iter_errors(config))
        raise ConfigError(describe(error, config))


def _filling_defaults(validator_class):
    """Snakemake's ``validate(set_default=True)``, from the jsonschema FAQ: a property with a default that
    the instance lacks gets it, at every level the validator visits."""
    properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, sub["default"])
        yield from properties(validator, props, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def describe(error: ValidationError, config: dict) -> str:
    """``config: <key path>: <what is wrong, with the value>`` and what was expected (a suggestion, the
    known keys, the schema's description): a few lines."""
    where = key_path(config, error.absolute_path)
    head = f"config: {where}: " if where else "config: "
    known = list(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
    unknown = [k for k in error.instance if k not in known] if error.validator == "additionalProperties" else []
    if unknown:
        unknown = unknown[:MAX_UNKNOWN]
        hints = [_did_you_mean(key, known) for key in unknown]
        lines = [f"{head}unknown key {key!r}{hint}" for key, hint in zip(unknown, hints, strict=True)]
        if not all(hints):
            lines.append(f"  known keys: {shown(', '.join(known), MAX_EXPECTED, quote=False)}")
        return "\n".join(lines)
    message = error.message
    if message.startswith(repr(error.instance)):  # jsonschema leads with the whole value (a teacher, a section)
        message = shown(error.instance) + message[len(repr(error.instance)) :]
    lines = [head + shown(message, MAX_MESSAGE, quote=False)]
    if error.validator == "enum" and isinstance(error.instance, str):
        lines[0] += _did_you_mean(error.instance, [str(v) for v in error.validator_value])
    missing = [k for e in error.context if e.validator == "required" for k in e.validator_value if k not in e.instance]
    if missing:  # a oneOf/anyOf of required keys: which would do
        lines.append(f"  expected one of the keys: {', '.join(dict.fromkeys(missing))}")
    if isinstance(error.schema, dict) and error.schema.get("description"):
        lines.append(f"  expected: {shown(' '.join(error.schema['description'].split()), MAX_EXPECTED, quote=False)}")
    return "\n".join(lines)


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
