"""DeepSpeed for real on this CPU-only machine: the launch command the cluster uses (torchrun, accelerate
launch --use_deepspeed, DeepSpeed's own launcher) with ZeRO-2, ZeRO-3 and ZeRO-3 with CPU offload, 3 steps of
a tiny student each; the losses equal a plain single-process run's and the saved folder loads.

The first DeepSpeed run on a machine compiles two C++ ops (its shared-memory communication, and the CPU
Adam of the offload case) into ~/.cache/torch_extensions: ~1.5-3 minutes once, seconds afterwards.
"""

from __future__ import annotations

import pytest

from conftest import REPO
from distillery.core.artifacts import read_json
from distillery.train.launch import launch, write_spec
from train_helpers import corpus_rows, read_log, run_paths, tiny_student, train_section, write_corpus

pytestmark = pytest.mark.deepspeed


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ds")
    return tiny_student(tmp / "base"), write_corpus(tmp / "corpus.parquet", corpus_rows(16, length=(10, 30))), tmp


def run(tmp, base, corpus, **train):
    spec = write_spec(
        teacher="t1",
        corpus=str(corpus),
        base_model=str(base),
        **run_paths(tmp),
        train=train_section(max_steps=3, system_prompt=None, port=29531, **train),
    )
    assert launch(spec, threads=2) == 0
    return [e["loss"] for e in read_log(tmp / "log_history.jsonl") if "loss" in e], read_json(tmp / "train_report.json")


@pytest.fixture(scope="module")
def plain(data):
    base, corpus, tmp = data
    return run(tmp / "plain", base, corpus)[0]


@pytest.mark.parametrize(
    "launcher,zero", [("torchrun", "zero2"), ("accelerate", "zero3"), ("deepspeed", "zero3_offload")]
)
def test_deepspeed_launch_on_cpu(data, plain, launcher, zero):
    from transformers import AutoModelForCausalLM

    base, corpus, tmp = data
    losses, report = run(
        tmp / zero, base, corpus, launcher=launcher, deepspeed=str(REPO / f"configs/deepspeed/{zero}.json")
    )
    assert report["batch"]["world_size"] == 1 and report["steps"] == 3
    assert losses == pytest.approx(plain, abs=1e-4)  # same data, same seed, same math as one plain process
    model = AutoModelForCausalLM.from_pretrained(tmp / zero / "model")  # ZeRO-3 shards gathered at the end
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in AutoModelForCausalLM.from_pretrained(base).parameters()
    )
