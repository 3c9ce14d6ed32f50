"""The two reaches into Snakemake's internals (distillery.plan.snakemake_patches) still hold on the installed
Snakemake: this fails on an upgrade until they have been checked against the new version."""

from __future__ import annotations

import inspect
import re
import tomllib

import pytest
from snakemake.common import get_function_params
from snakemake.rules import Rule

from conftest import REPO
from distillery.plan import snakemake_patches


def test_written_for_the_pinned_snakemake():
    pin = re.search(r'"snakemake==([^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    assert snakemake_patches.WRITTEN_FOR == pin, (
        f"pyproject.toml pins snakemake {pin}, the patches were written for {snakemake_patches.WRITTEN_FOR}: check "
        "distillery/plan/snakemake_patches.py against the new version (bench/dag.py says whether they are still "
        "needed), then update WRITTEN_FOR"
    )
    assert snakemake_patches.supported()
    assert tomllib.loads((REPO / "pyproject.toml").read_text())  # still a valid file


def test_the_patched_producer_check_answers_as_snakemake_does():
    """The original is_producer matches the file against each output; the index must give the same answers
    for rules without wildcards, and defer to the original for the others."""
    assert list(inspect.signature(Rule.is_producer).parameters) == ["self", "requested_output"]
    assert snakemake_patches.index_concrete_producers()
    assert snakemake_patches.index_concrete_producers()  # idempotent
    patched = Rule.is_producer
    assert patched.indexed

    class FakeRule:  # the two methods the patch and the original rely on
        def __init__(self, outputs, wildcards=False):
            from snakemake.io import IOFile

            self._outputs = [IOFile(o) for o in outputs]
            self._wildcards = wildcards

        def products(self):
            return self._outputs

        def has_wildcards(self):
            return self._wildcards

    concrete = FakeRule(["results/queries/shards/00000-of-00002.parquet", "results/queries/shards.report.json"])
    for f in ("results/queries/shards/00000-of-00002.parquet", "results/queries/shards/00001-of-00002.parquet"):
        assert patched(concrete, f) == any(o.match(f) for o in concrete.products())  # Snakemake's own test
    pattern = FakeRule(["results/distill/{teacher}/{shard}.parquet"], wildcards=True)
    assert patched(pattern, "results/distill/a/00000-of-00002.parquet") is True


def test_declared_params_skip_signature_inspection():
    def resource(wildcards, threads):
        return threads

    declared = snakemake_patches.known_params(resource)
    assert declared is resource
    assert list(get_function_params(resource)) == ["wildcards", "threads"]
    assert get_function_params(resource) is not inspect.signature(resource).parameters  # given, not inspected


@pytest.mark.parametrize("how", ["switched off", "Snakemake 9.27.2", "Snakemake 10.0.0"])
def test_otherwise_snakemake_is_left_alone(monkeypatch, how):
    if how == "switched off":
        monkeypatch.setenv(snakemake_patches.SWITCH, "off")
    else:
        monkeypatch.setattr(snakemake_patches, "version", lambda _: how.split()[1])
    assert not snakemake_patches.supported()

    def resource(wildcards):
        return 1

    snakemake_patches.known_params(resource)
    assert vars(resource) == {}  # nothing of Snakemake's set on it


def test_the_early_cutoff_hooks_find_what_they_wrap():
    """The three methods the early-cutoff hooks wrap, and the DAG's and scheduler's state they update,
    are still there, with the arguments the wrappers pass on."""
    import snakemake.api  # noqa: F401 - snakemake.dag cannot be imported first
    from snakemake.dag import DAG
    from snakemake.jobs import Reason
    from snakemake.scheduling.job_scheduler import JobScheduler

    def parameters(function):
        return list(inspect.signature(function).parameters)

    assert not getattr(DAG.update_needrun, "early_cutoff", False)  # parsing a Snakefile installs them, not this
    assert parameters(DAG.update_needrun) == ["self", "create_inventory"]
    assert parameters(DAG.finish) == ["self", "job", "update_checkpoint_dependencies"]
    assert parameters(JobScheduler.run) == ["self", "jobs", "executor"]
    assert parameters(JobScheduler._proceed) == ["self", "job"]
    source = inspect.getsource(DAG.update_needrun)
    for state in ("_needrun", "_n_until_ready", "_checkpoint_jobs", "self._len = len(self._finished | self._needrun)"):
        assert state in source, state
    reason = Reason()
    from distillery.plan.early_cutoff import CONTENT_REASONS, OTHER_REASONS

    assert all(hasattr(reason, name) for name in (*CONTENT_REASONS, *OTHER_REASONS)) and callable(reason.clear)
    # every reason Snakemake may run a job for is either one content answers or one that stands
    reasons = set(re.findall(r"self\.(\w+)", inspect.getsource(Reason.__bool__))) - {"finished"}
    assert reasons == set(CONTENT_REASONS) | set(OTHER_REASONS)
