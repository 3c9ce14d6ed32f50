"""Early cutoff and restores: a job whose inputs' content, params and code are unchanged never runs again.

Snakemake decides what to run from times and from what runs upstream: a touched file, or an upstream job
that reran and wrote the same bytes, reruns everything below it. Here each job has a *key*, the digest of
its rule, wildcards, params (the code fingerprint among them), script and its inputs' content, and the
store (:mod:`distillery.plan.content_store`) remembers what each key made. Snakemake's plan is then
narrowed three times, by the hooks of :mod:`distillery.plan.snakemake_patches`, in the main process only:

* when the DAG is planned (:meth:`EarlyCutoff.prune`): a planned job whose key made exactly the outputs on
  disk is dropped from the plan, in topological order, so that what was planned only below it goes too
  (a touched file, a copied ``results/``, a config switched back plan nothing). The content of an
  upstream output that will be restored is known already, so the jobs below it are judged too;
* when a job is ready to run (:meth:`EarlyCutoff.settle`), with its inputs final: its outputs already are
  what its key makes (an upstream job reran and wrote the same bytes): it is *cut off*; the store holds its
  key's outputs (a config switched back): they are *restored*, in seconds, by this process, so under
  SLURM no job is queued and no GPU is allocated for it. Otherwise it runs;
* when a job has run (:meth:`EarlyCutoff.finished`): its outputs are hashed and recorded under its key,
  and those of the expensive rules (:data:`STORED_RULES`) kept in the store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from distillery.plan.code_fingerprints import meaning
from distillery.plan.content_digests import DigestCache, tree_digest
from distillery.plan.content_store import ContentStore

log = logging.getLogger("snakemake.logging")

# What a restore saves hours or GPUs of: embeddings, decontamination, a release's index, distillation,
# perplexity, training, the evaluation's generation and grading. Every other rule's outputs are recorded
# (for the cutoff) but not kept: rerunning them costs less than keeping each version.
STORED_RULES = frozenset(
    {
        "embed_queries",
        "embed_benchmarks",
        "decontaminate_queries",
        "release_index",
        "distill_shard",
        "corpus_perplexity",
        "train_student",
        "eval_generate",
        "eval_grade",
    }
)
# Reasons to run that content can answer; any other (forced, missing output, ...) stands.
CONTENT_REASONS = (
    "updated_input",
    "updated_input_run",
    "code_changed",
    "params_changed",
    "input_changed",
    "software_stack_changed",
)
OTHER_REASONS = ("forced", "missing_output", "noio", "nooutput", "pipe", "service", "unfinished_queue_input")


@lru_cache(maxsize=None)
def _source_digest(path: str) -> str:
    text = Path(path).read_text(encoding="utf-8")
    body = meaning(text) if path.endswith(".py") else text
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


def _rule_file(job, name: str | None) -> str | None:
    if not name or not isinstance(name, str):
        return None
    path = job.rule.basedir.join(name).get_path_or_uri(secret_free=True)
    return _source_digest(path) if os.path.exists(path) else None


def _json_default(value):
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    text = repr(value)
    if " at 0x" in text:  # an object without a stable form: no key, so never cut off
        raise TypeError(text)
    return text


def job_key(job, input_digest: Callable[[str], str | None]) -> str | None:
    """The digest of everything a job's outputs follow from; None when an input's content is not known."""
    inputs = []
    for path in job.input:
        digest = input_digest(str(path))
        if digest is None:
            return None
        inputs.append(digest)
    parts = {
        "rule": job.rule.name,
        "wildcards": dict(job.wildcards_dict),
        "params": [list(job.params), sorted(job.params.keys())],
        "inputs": inputs,
        "outputs": [len(job.output), sorted(job.output.keys())],
        "script": _rule_file(job, job.rule.script),
        "shell": job.rule.shellcmd,
        "conda": _rule_file(job, job.rule.conda_env),
    }
    try:
        text = json.dumps(parts, sort_keys=True, default=_json_default)
    except TypeError:
        return None
    return hashlib.blake2b(text.encode(), digest_size=32).hexdigest()


class EarlyCutoff:
    """The decisions, over Snakemake's jobs and DAG; :mod:`~distillery.plan.snakemake_patches` calls them."""

    def __init__(self, store: str | os.PathLike, digests: str | os.PathLike):
        self.store = ContentStore(os.path.abspath(store))
        self.digests = DigestCache(os.path.abspath(digests))
        self.keys: dict = {}  # job -> key, for the jobs dispatched to run
        self.settled: dict = {}  # job -> action, for the jobs cut off or restored

    def disk_digest(self, path: str) -> str | None:
        return tree_digest(self.digests.tree(path)) if os.path.exists(path) else None

    def outputs_match(self, job, action: dict) -> bool:
        outputs = [str(f) for f in job.output]
        return all(
            os.path.exists(path) and self.digests.tree(path) == tree
            for path, tree in zip(outputs, action["outputs"], strict=True)
        )

    # -- planning ------------------------------------------------------------------------------------

    def walk(self, dag, jobs_to_judge: set, *, every_key: bool = False) -> tuple[set, set]:
        """Judge ``jobs_to_judge`` (planned jobs) in topological order: those whose key made exactly what
        is on disk; and the keys the store has of these jobs (with ``every_key``, of all the DAG's jobs:
        what the config reaches) whose inputs' content is known (on disk, or to be restored)."""
        virtual: dict[str, str | None] = {}  # outputs of planned jobs: their content once restored, or None
        up_to_date, keys = set(), set()

        on_disk: dict[str, str | None] = {}  # many jobs read one file (every shard's job reads the shards)

        def digest(path: str) -> str | None:
            if path in virtual:
                return virtual[path]
            if path not in on_disk:
                on_disk[path] = self.disk_digest(path)
            return on_disk[path]

        for level in dag.toposorted():
            for job in level:
                planned = job in jobs_to_judge
                if not planned and not every_key:
                    continue
                if job.rule.norun:
                    waits = any(dep in jobs_to_judge and dep not in up_to_date for dep in dag.dependencies[job])
                    if planned and not waits and not _other_reasons(dag.reason(job)):
                        if all(os.path.exists(f) for f in job.input):
                            up_to_date.add(job)
                    continue
                key = job_key(job, digest)
                action = self.store.action(key) if key else None
                if action is not None:
                    keys.add(key)
                if not planned:
                    continue
                if action is not None and not _other_reasons(dag.reason(job)) and self.outputs_match(job, action):
                    up_to_date.add(job)
                    continue
                # a forced job runs whatever the store holds: what it will write is not known yet
                restorable = action is not None and not dag.reason(job).forced and self.store.restorable(action)
                for i, path in enumerate(job.output):
                    virtual[str(path)] = tree_digest(action["outputs"][i]) if restorable else None
        return up_to_date, keys

    def prune(self, dag) -> set:
        """Drop from Snakemake's plan the jobs whose outputs are what their key makes."""
        files, read = self.digests.hashed_files, self.digests.hashed_bytes
        up_to_date, _ = self.walk(dag, set(dag._needrun))
        if dag._needrun:
            files, read = self.digests.hashed_files - files, (self.digests.hashed_bytes - read) / 1e6
            log.info(
                f"Up to date by content (early cutoff): {len(up_to_date)} of {len(dag._needrun)} planned jobs "
                f"(hashed {files} files, {read:.3f} MB)"
            )
        return up_to_date

    # -- running -------------------------------------------------------------------------------------

    def settle(self, job) -> str | None:
        """Just before ``job`` would run, its inputs final: "cut off" (its outputs are its key's already),
        "restored" (from the store), or None: it runs."""
        key = job_key(job, self.disk_digest)
        if key is None:
            return None
        action = self.store.action(key)
        outcome = None
        if action is not None and self.outputs_match(job, action):
            outcome = "cut off"
        elif action is not None and self.store.restorable(action):
            self.store.restore(action, [str(f) for f in job.output])
            outcome = "restored"
        if outcome is None:
            self.keys[job] = key
            return None
        self.settled[job] = action
        note = f"{job.rule.name} {dict(job.wildcards_dict)}: {outcome} (content key {key[:16]})"
        log.info(f"Early cutoff: {note}")
        for path in job.log:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(f"{note}: not run\n")
        return outcome

    def finished(self, job) -> None:
        """After Snakemake's own bookkeeping (which touches outputs): remember the outputs' content."""
        paths = [str(f) for f in job.output]
        action = self.settled.pop(job, None)
        if action is not None:  # bytes this process just checked or put there: only their times changed
            for path, tree in zip(paths, action["outputs"], strict=True):
                self.digests.remember_tree(path, tree)
            return
        key = self.keys.pop(job, None) or job_key(job, self.disk_digest)
        if key is None or not paths or not all(os.path.exists(p) for p in paths):
            return
        outputs = [self.digests.tree(p) for p in paths]
        record = {"rule": job.rule.name, "wildcards": dict(job.wildcards_dict)}
        self.store.record(key, record, outputs, paths, stored=job.rule.name in STORED_RULES)


def _other_reasons(reason) -> bool:
    return any(getattr(reason, name, False) for name in OTHER_REASONS)
