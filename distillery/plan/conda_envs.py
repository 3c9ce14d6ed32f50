"""Which conda environment (``--sdm conda``, envs/*.yaml) a generation rule runs in.

One environment per rule, fixed when the Snakefile is parsed: Snakemake resolves a per-job environment
for every job of the DAG, even without ``--sdm conda``."""

from __future__ import annotations

from collections.abc import Iterable


def generation_env(backends: Iterable[str]) -> str:
    """vLLM's own when a model runs in vLLM (it also has what the endpoint and release backends need),
    torch on GPUs for the transformers backend, else the CPU one. Relative to rules/."""
    backends = set(backends)
    if "vllm" in backends:
        return "../envs/vllm.yaml"
    return "../envs/gpu.yaml" if "transformers" in backends else "../envs/cpu.yaml"
