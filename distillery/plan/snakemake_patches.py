"""Where the workflow reaches into Snakemake's internals, for the speed of a paper-scale DAG (3 teachers x
2,000 shards: ``bench/dag.py``), and nowhere else.

Both are written against the pinned Snakemake (:data:`WRITTEN_FOR`, pyproject.toml). On any other
version, or with ``DISTILLERY_SNAKEMAKE_PATCHES=off`` in the environment, they are left out and the
workflow runs correctly, only slower (``bench/dag.py`` measures both); ``tests/test_snakemake_patches.py``
fails on an upgrade until they have been checked against it.

1. :func:`index_concrete_producers`: Snakemake finds the rule that makes a file by matching the file
   against every output of every candidate rule in turn. ``query_shards`` has one output per shard, and
   every distillation job and corpus reads shards, so at paper scale a third of the DAG's time went to
   that scan. A rule without wildcards makes exactly the files it lists, so a set answers at once.
2. :func:`known_params`: Snakemake inspects a resource callable's signature (to know which arguments to
   pass) whenever it evaluates it, and its scheduler evaluates the resources of every waiting job in every
   round: quadratic in the jobs of a large run. Declaring the parameters once skips that.
"""

from __future__ import annotations

import inspect
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
