"""A release from the Hugging Face hub: its files fetched into the hub's own cache, where an interrupted
download resumes (a Snakemake output folder is deleted when its job fails; the cache is not), then
linked into the output folder (no second copy on one file system)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from distillery.core.artifacts import atomic_folder


def download(spec: dict, out: str | Path) -> list[str]:
    """Fetch ``spec`` (``dataset.hf``: id, revision, file patterns) into ``out``; the files, relative."""
    from huggingface_hub import snapshot_download

    snapshot = Path(
        snapshot_download(
            repo_id=spec["id"], repo_type="dataset", revision=spec.get("revision", "main"), allow_patterns=spec["files"]
        )
    )
    files = sorted(p.relative_to(snapshot) for p in snapshot.rglob("*") if p.is_file())
    if not files:
        raise FileNotFoundError(f"dataset {spec['id']}@{spec.get('revision', 'main')}: no file matches {spec['files']}")
    with atomic_folder(out) as staging:
        for rel in files:
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            source = (snapshot / rel).resolve()  # the cache's blob behind the snapshot's link
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
    return [str(rel) for rel in files]
