"""A teacher of the config, made real: its sampling settings and the conversation it is sent for a query
(its backend: :mod:`distillery.generation.registry`; its identity in the cache:
:func:`distillery.core.model_resolution.model_identity`)."""

from __future__ import annotations

from collections.abc import Callable

from distillery.core.prompts import FEW_SHOT, SYSTEM_PROMPT, build_messages
from distillery.distill.verify_and_retry import TeacherSettings


def settings(teacher: dict, seed: int) -> TeacherSettings:
    return TeacherSettings(
        name=teacher["name"],
        max_new_tokens=teacher["max_new_tokens"],
        temperature=teacher["temperature"],
        top_p=teacher["top_p"],
        max_attempts=teacher["max_attempts"],
        seed=seed,
        stop=tuple(teacher["stop"]),
    )


def conversation(teacher: dict) -> Callable[[dict], list[dict]]:
    """query -> the messages sent to this teacher."""
    system = SYSTEM_PROMPT if teacher["system_prompt"] == "paper" else teacher["system_prompt"]
    if teacher["backend"] == "dataset":  # released responses are matched on the query's own turns
        return lambda query: [dict(m) for m in query["messages"]]
    return lambda query: build_messages(query, system, FEW_SHOT.get(query["category"]) if teacher["few_shot"] else None)
