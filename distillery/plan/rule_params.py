"""The settings each rule's params hold: exactly what its job reads, so that a change elsewhere in the
config reruns nothing (params are a rerun trigger)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from distillery.core.prompts import SYSTEM_PROMPT
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


@dataclass(frozen=True)
class Sampling:
    """How a benchmark is sampled in evaluation: the eval_generate rule's params, and what its job reads."""

    samples: int  # n per problem
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int = 0
    stop: tuple[str, ...] = field(default_factory=tuple)
    system_prompt: str | None = SYSTEM_PROMPT

    def __post_init__(self):
        object.__setattr__(self, "stop", tuple(self.stop))

    @classmethod
    def from_config(cls, evaluate: dict, benchmark: str) -> "Sampling":
        """``evaluate`` is the config's section; a benchmark may set its own ``max_new_tokens``."""
        spec = evaluate["benchmarks"][benchmark]
        system = SYSTEM_PROMPT if evaluate["system_prompt"] == "paper" else evaluate["system_prompt"]
        return cls(
            samples=spec["samples"],
            max_new_tokens=spec.get("max_new_tokens", evaluate["max_new_tokens"]),
            temperature=evaluate["temperature"],
            top_p=evaluate["top_p"],
            seed=evaluate["seed"],
            stop=tuple(evaluate["stop"]),
            system_prompt=system,
        )

    def as_dict(self) -> dict:
        """Plain values (a rule's params: Snakemake reruns the job when they change)."""
        return {**asdict(self), "stop": list(self.stop)}
