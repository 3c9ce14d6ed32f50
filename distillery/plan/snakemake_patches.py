"""Where the workflow reaches into Snakemake's internals, and nowhere else: for the speed of a paper-scale
DAG (3 teachers x 2,000 shards: ``bench/dag.py``), and for rebuilds that stop where content stops
changing (``bench/rebuild.py``).

All are written against the pinned Snakemake (:data:`WRITTEN_FOR`, pyproject.toml). On any other
version, or with ``DISTILLERY_SNAKEMAKE_PATCHES=off`` in the environment, they are left out and the
workflow runs correctly, only slower and with Snakemake's own rerun rules (``bench/dag.py`` measures
both); ``tests/test_snakemake_patches.py`` fails on an upgrade until they have been checked against it.

1. :func:`index_concrete_producers`: Snakemake finds the rule that makes a file by matching the file
   against every output of every candidate rule in turn. ``query_shards`` has one output per shard, and
   every distillation job and corpus reads shards, so at paper scale a third of the DAG's time went to
   that scan. A rule without wildcards makes exactly the files it lists, so a set answers at once.
2. :func:`known_params`: Snakemake inspects a resource callable's signature (to know which arguments to
   pass) whenever it evaluates it, and its scheduler evaluates the resources of every waiting job in every
   round: quadratic in the jobs of a large run. Declaring the parameters once skips that.
3. :func:`early_cutoff`: three hooks of the main Snakemake process that hand the decisions of
   :class:`distillery.plan.early_cutoff.EarlyCutoff` to Snakemake: after ``DAG.update_needrun`` (drop
   planned jobs that are up to date by content), in ``JobScheduler.run`` (finish a ready job without an
   executor when it is cut off or restored) and before ``DAG.finish`` (record what a job made).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Callable
from importlib.metadata import version

WRITTEN_FOR = "9.27.1"
SWITCH = "DISTILLERY_SNAKEMAKE_PATCHES"

log = logging.getLogger(__name__)


def supported() -> bool:
    return version("snakemake") == WRITTEN_FOR and os.environ.get(SWITCH, "on") != "off"


def index_concrete_producers() -> bool:
    """Patch ``Rule.is_producer`` (once per process); False when this Snakemake is not the one it is for."""
    from snakemake.rules import Rule

    if getattr(Rule.is_producer, "indexed", False):
        return True
    if not supported():
        if version("snakemake") != WRITTEN_FOR:
            log.warning(
                "Snakemake %s is not %s: the producer index is off (correct, slower on large DAGs)",
                version("snakemake"),
                WRITTEN_FOR,
            )
        return False
    scan = Rule.is_producer

    def is_producer(self, requested_output):
        if self.has_wildcards():
            return scan(self, requested_output)
        if "_concrete_products" not in self.__dict__:  # the rules are complete when the DAG is built
            self._concrete_products = frozenset(map(str, self.products()))
        return str(requested_output) in self._concrete_products

    is_producer.indexed = True
    Rule.is_producer = is_producer
    return True


def known_params(function: Callable) -> Callable:
    """``function`` (a rule's input, params or resource callable), with its parameters declared to
    Snakemake up front instead of inspected for every job."""
    if supported():
        from snakemake.common import overwrite_function_params

        overwrite_function_params(function, inspect.signature(function).parameters)
    return function


REACH = "DISTILLERY_STORE_REACH"  # a file: a dry run appends the store and the keys its config reaches (gc)


def early_cutoff(workflow, cutoff) -> bool:
    """Hook ``cutoff`` (an :class:`~distillery.plan.early_cutoff.EarlyCutoff`) into this process's
    Snakemake, main process only (a cluster job runs what it was sent). False when not installed."""
    if not supported():
        log.warning("Snakemake %s: no early cutoff or store restores (Snakemake's rerun rules)", version("snakemake"))
        return False
    if not workflow.is_main_process:
        return False
    from snakemake.dag import DAG
    from snakemake.scheduling.job_scheduler import JobScheduler

    _CUTOFF[0] = cutoff
    if getattr(DAG.update_needrun, "early_cutoff", False):
        return True
    update_needrun, run, finish = DAG.update_needrun, JobScheduler.run, DAG.finish

    def guarded(decide, *args):
        """A decision, or None when the store fails (unreachable, full): the store only ever saves work,
        so the run goes on with Snakemake's own rules."""
        try:
            return decide(*args)
        except Exception as error:  # noqa: BLE001 - any failure of the store
            log.warning("content store: %s failed: %r (going on as Snakemake would)", decide.__name__, error)
            return None

    async def pruned_update_needrun(self, create_inventory=False):
        await update_needrun(self, create_inventory=create_inventory)
        cutoff = _CUTOFF[0]
        if cutoff is None:
            return
        if os.environ.get(REACH):
            _, keys = cutoff.walk(self, set(self._needrun), every_key=True)
            with open(os.environ[REACH], "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"store": str(cutoff.store.root), "keys": sorted(keys)}) + "\n")
        dropped = guarded(cutoff.prune, self)
        if not dropped:
            return
        for job in dropped:
            self._needrun.discard(job)
            self.reason(job).clear()
        self._n_until_ready.clear()
        self._checkpoint_jobs.clear()
        for job in self._needrun:  # as update_needrun ends
            self._n_until_ready[job] = sum(1 for dep in self._dependencies[job] if dep in self._needrun)
            if job.is_checkpoint:
                self._checkpoint_jobs.add(job)
        self._len = len(self._finished | self._needrun)

    def settling_run(self, jobs, executor=None):
        cutoff = _CUTOFF[0]
        if cutoff is not None and not (self.dryrun or self.touch):
            dag = self.workflow.dag
            settled = [j for j in jobs if not j.is_group() and not dag.reason(j).forced and guarded(cutoff.settle, j)]
            for job in settled:
                self._proceed(job)
            jobs = [j for j in jobs if j not in settled]
        if jobs:
            run(self, jobs, executor)

    async def recording_finish(self, job, update_checkpoint_dependencies=True):
        cutoff = _CUTOFF[0]
        if cutoff is not None and not self.workflow.dryrun and not job.is_group():
            guarded(cutoff.finished, job)
        return await finish(self, job, update_checkpoint_dependencies=update_checkpoint_dependencies)

    pruned_update_needrun.early_cutoff = True
    DAG.update_needrun, JobScheduler.run, DAG.finish = pruned_update_needrun, settling_run, recording_finish
    return True


_CUTOFF: list = [None]
