"""How a benchmark is sampled in evaluation, resolved from the config when the workflow is parsed: the
eval_generate rule's params, and what its job reads back (a module of its own, so that the job's code
fingerprint holds nothing else)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from distillery.core.prompts import SYSTEM_PROMPT


@dataclass(frozen=True)
class Sampling:
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
