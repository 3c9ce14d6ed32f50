"""The Python that runs a generation job: vLLM's own environment when the job's model runs in vLLM.

vLLM pins its own torch, transformers and numpy, which cannot share an environment with the rest of the
project (pyproject.toml, ``vllm-cpu-env``). On a cluster, ``--sdm conda`` puts the vllm-backend rules in
envs/vllm.yaml and vLLM imports where the job starts. Without conda (a workstation, the tests), the job
starts in the project's environment and :func:`run_in_engine_python` replaces its process with the same
script under vLLM's environment (``.venv-vllm`` beside the project's ``.venv``, which `make env` builds, or
``$DISTILLERY_VLLM_PYTHON``). Snakemake's script preamble puts its own search paths (the workflow and the
project's site-packages) after that environment's, so the job finds vLLM's versions first and the workflow's
package as before."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

VLLM_PYTHON_ENV = "DISTILLERY_VLLM_PYTHON"


def vllm_python() -> Path:
    """The interpreter of vLLM's environment: ``$DISTILLERY_VLLM_PYTHON``, else ``.venv-vllm`` beside the
    environment running now."""
    configured = os.environ.get(VLLM_PYTHON_ENV)
    return Path(configured) if configured else Path(sys.prefix).with_name(".venv-vllm") / "bin" / "python"


def run_in_engine_python(backend: str) -> None:
    """Returns when this process can run ``backend``; else re-executes the running script under vLLM's
    environment (never returns) or says what to build."""
    if backend != "vllm" or importlib.util.find_spec("vllm") is not None:
        return
    python = vllm_python()
    if not python.exists():
        raise RuntimeError(
            f"backend vllm: vLLM is not installed here and its environment {python} does not exist; "
            f"run `make env` (it builds .venv-vllm), set {VLLM_PYTHON_ENV} to a Python that has vLLM, "
            "or run with --software-deployment-method conda (envs/vllm.yaml)"
        )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [str(python), *sys.argv])
