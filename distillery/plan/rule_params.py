"""The settings each rule's params hold: exactly what its job reads, so that a change elsewhere in the
config reruns nothing (params are a rerun trigger)."""

from __future__ import annotations

from distillery.plan.paths import LOCAL_MODEL


def quality_settings(quality: dict, teacher: str) -> dict:
    """``corpus.quality`` for one teacher, in the shape :func:`distillery.corpora.quality.apply_quality`
    takes: the perplexity threshold is the teacher's own (``max_by_teacher``) or the common ``max``; none
    means no check."""
    ppl = quality["perplexity"]
    threshold = ppl.get("max_by_teacher", {}).get(teacher, ppl.get("max"))
    return {
        "structure": dict(quality["structure"]),
        "repetition": dict(quality["repetition"]),
        "perplexity": {"enabled": bool(ppl["enabled"]) and threshold is not None, "max": threshold},
    }


def student_tokenizer(config: dict) -> str:
    """The tokenizer that counts tokens in the analysis: ``analysis.tokenizer``, else the students' base
    model, so that lengths are comparable across teachers."""
    return config["analysis"]["tokenizer"] or config.get("train", {}).get("base_model", LOCAL_MODEL)
