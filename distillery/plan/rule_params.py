"""The settings each rule's params hold: exactly what its job reads, so that a change elsewhere in the
config reruns nothing (params are a rerun trigger)."""

from __future__ import annotations

from distillery.plan.paths import LOCAL_MODEL, RELEASE_DOWNLOAD, RELEASE_INDEX, built_by_workflow


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


def distill_teacher(teacher: dict, config: dict) -> dict:
    """A teacher's entry as its distillation job reads it: a dataset teacher's gets the index of its
    release (rule release_index) and the tokenizer its response lengths are counted with (its own
    ``dataset.tokenizer``, else the analysis's)."""
    if teacher["backend"] != "dataset":
        return teacher
    index = RELEASE_INDEX.format(teacher=teacher["name"])
    tokenizer = teacher["dataset"].get("tokenizer") or student_tokenizer(config)
    release = {**teacher["dataset"], "paths": release_paths(teacher), "index": index, "tokenizer": tokenizer}
    return {**teacher, "dataset": release}


def release_paths(teacher: dict) -> list[str]:
    """A dataset teacher's release files or folders: as configured, or where rule release_download puts
    the hub's."""
    release = teacher["dataset"]
    return release["paths"] if "paths" in release else [RELEASE_DOWNLOAD.format(teacher=teacher["name"])]


def distill_models(teacher: dict, judge: str) -> list[str]:
    """The models a distillation job loads that the workflow builds (its inputs): the teacher, the judge,
    a release's tokenizer."""
    return built_by_workflow(teacher["model"], judge, teacher.get("dataset", {}).get("tokenizer"))


def student_tokenizer(config: dict) -> str:
    """The tokenizer that counts tokens in the analysis: ``analysis.tokenizer``, else the students' base
    model, so that lengths are comparable across teachers."""
    return config["analysis"]["tokenizer"] or config.get("train", {}).get("base_model", LOCAL_MODEL)
