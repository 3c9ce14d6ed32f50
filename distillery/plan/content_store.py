"""The content-addressed store: what every job made, by the key of what it was made from.

Two kinds of entry, both written by rename (safe for concurrent jobs on a shared file system):

* ``actions/<key>.json``: a job's key (:func:`distillery.plan.early_cutoff.job_key`: rule, wildcards,
  params, code, its inputs' content) and the content of each output. Every rule has them: they are what
  lets a rebuild stop where content stops changing.
* ``objects/<digest>``: the bytes of the outputs of the expensive rules (``stored`` actions), one copy per
  content whatever the number of results that hold it. An object is a hard link to the result it came
  from when both are on one file system (no copy, no extra space until the result is replaced), made
  read-only as it is shared with it.

``du`` reports it; ``gc`` keeps the actions a set of keys names (what the current configs reach) and the
objects they hold, and frees the rest.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from distillery.plan.scratch_files import scratch_prefix, sweep

ACTIONS, OBJECTS = "actions", "objects"


def _place(src: Path, dest: Path, *, link: bool) -> None:
    """``dest`` becomes a hard link to ``src`` (or a copy), atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep(dest.parent)
    fd, tmp = tempfile.mkstemp(prefix=scratch_prefix(dest), dir=dest.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        if link:
            try:
                os.link(src, tmp)
            except OSError:  # another file system
                shutil.copyfile(src, tmp)
        else:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def leaves(tree: dict) -> list[tuple[str, dict]]:
    """(relative path, {"file", "size"}) of every file of an output's tree ("" for a file output)."""
    return [("", tree)] if "file" in tree else sorted(tree["dir"].items())


@dataclass
class Usage:
    actions: int = 0
    objects: int = 0
    bytes: int = 0


class ContentStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _action_path(self, key: str) -> Path:
        return self.root / ACTIONS / key[:2] / f"{key}.json"

    def _object_path(self, digest: str) -> Path:
        return self.root / OBJECTS / digest[:2] / digest

    def action(self, key: str) -> dict | None:
        try:
            return json.loads(self._action_path(key).read_text())
        except FileNotFoundError:
            return None

    def record(self, key: str, job: dict, outputs: list[dict], paths: list[str], *, stored: bool) -> dict:
        """Record that ``job`` (rule, wildcards) with ``key`` made ``outputs`` (trees, in output order)
        at ``paths``; with ``stored``, keep their bytes too."""
        if stored:
            for path, tree in zip(paths, outputs, strict=True):
                for rel, leaf in leaves(tree):
                    obj = self._object_path(leaf["file"])
                    if not obj.exists():
                        _place(Path(path, rel) if rel else Path(path), obj, link=True)
                        obj.chmod(0o444)
        action = {**job, "key": key, "outputs": outputs, "stored": stored, "recorded": time.time()}
        target = self._action_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_text(json.dumps(action, sort_keys=True))
        os.replace(tmp, target)
        return action

    def restorable(self, action: dict) -> bool:
        return action["stored"] and all(
            self._object_path(leaf["file"]).exists() for tree in action["outputs"] for _, leaf in leaves(tree)
        )

    def restore(self, action: dict, paths: list[str]) -> None:
        """Put the action's outputs at ``paths``, each whole or not at all (built beside, then renamed)."""
        for path, tree in zip(paths, action["outputs"], strict=True):
            path = Path(path)
            if "file" in tree:
                _place(self._object_path(tree["file"]), path, link=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            sweep(path.parent)
            staging = Path(tempfile.mkdtemp(prefix=scratch_prefix(path), dir=path.parent))
            for rel, leaf in leaves(tree):
                _place(self._object_path(leaf["file"]), staging / rel, link=True)
            if path.exists() or path.is_symlink():
                old = path.with_name(f".{path.name}.replaced.{os.getpid()}")
                path.rename(old)
                staging.rename(path)
                shutil.rmtree(old) if old.is_dir() else old.unlink()
            else:
                staging.rename(path)

    def actions(self):
        for path in sorted((self.root / ACTIONS).glob("*/*.json")):
            yield json.loads(path.read_text())

    def _objects(self) -> dict[str, Path]:
        return {p.name: p for p in (self.root / OBJECTS).glob("*/*") if not p.name.startswith(".")}

    def usage(self) -> Usage:
        objects = self._objects()
        return Usage(
            actions=sum(1 for _ in (self.root / ACTIONS).glob("*/*.json")),
            objects=len(objects),
            bytes=sum(p.stat().st_size for p in objects.values()),
        )

    def gc(self, keep: set[str], *, dry_run: bool = False) -> tuple[list[dict], Usage]:
        """Free every action whose key is not in ``keep`` and every object no kept action holds: what
        was freed (the actions, and counts and bytes)."""
        kept_objects: set[str] = set()
        dropped = []
        for action in self.actions():
            if action["key"] in keep:
                kept_objects.update(leaf["file"] for tree in action["outputs"] for _, leaf in leaves(tree))
            else:
                dropped.append(action)
        freed = Usage(actions=len(dropped))
        for digest, path in self._objects().items():
            if digest not in kept_objects:
                freed.objects += 1
                freed.bytes += path.stat().st_size
                if not dry_run:
                    path.unlink()
        if not dry_run:
            for action in dropped:
                self._action_path(action["key"]).unlink(missing_ok=True)
        return dropped, freed
