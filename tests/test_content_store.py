"""The content digests and the content-addressed store on their own (the workflow's use of them is tested
on a finished run in tests/test_rebuild.py): digests read a file once per version, the store keeps one copy
per content, restores whole outputs, survives concurrent writers and frees exactly what it is told."""

from __future__ import annotations

import multiprocessing
import os

from distillery.plan.content_digests import DigestCache, tree_digest
from distillery.plan.content_store import ContentStore


def test_a_file_is_read_once_per_version(tmp_path):
    cache = DigestCache(tmp_path / "digests")
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 100_000)
    first = cache.file(data)
    assert cache.hashed_bytes == 100_000
    assert DigestCache(tmp_path / "digests").file(data) == first  # another process: remembered
    assert cache.file(data) == first and cache.hashed_bytes == 100_000
    os.utime(data, ns=(1, 1))  # touched: a new version, read again, same content
    assert cache.file(data) == first and cache.hashed_bytes == 200_000
    data.write_bytes(b"y" * 100_000)  # rewritten: same size, other bytes, a new time
    assert cache.file(data) != first and cache.hashed_bytes == 300_000


def test_a_folder_digest_is_its_files_not_snakemakes_marker(tmp_path):
    cache = DigestCache(tmp_path / "digests")
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.json").write_text("{}")
    (folder / "sub" / "b.bin").write_bytes(b"\0" * 10)
    tree = cache.tree(folder)
    assert sorted(tree["dir"]) == ["a.json", "sub/b.bin"]
    (folder / ".snakemake_timestamp").touch()
    assert cache.tree(folder) == tree
    (folder / "sub" / "b.bin").write_bytes(b"\1" * 10)
    assert tree_digest(cache.tree(folder)) != tree_digest(tree)


def _made(tmp_path, name, content: bytes):
    path = tmp_path / "results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_one_object_per_content_linked_not_copied(tmp_path):
    store, cache = ContentStore(tmp_path / "store"), DigestCache(tmp_path / "digests")
    a = _made(tmp_path, "a.parquet", b"same bytes")
    b = _made(tmp_path, "b.parquet", b"same bytes")
    for key, path in (("k1" * 32, a), ("k2" * 32, b)):
        store.record(key, {"rule": "r", "wildcards": {}}, [cache.tree(path)], [str(path)], stored=True)
    usage = store.usage()
    assert (usage.actions, usage.objects, usage.bytes) == (2, 1, len(b"same bytes"))
    (obj,) = (tmp_path / "store/objects").glob("*/*")
    assert obj.stat().st_ino == a.stat().st_ino  # a hard link: no second copy on disk
    assert obj.stat().st_mode & 0o222 == 0  # read-only: the result shares its bytes with the store
    # an action of a rule that is not stored keeps no bytes
    c = _made(tmp_path, "c.json", b"cheap")
    store.record("k3" * 32, {"rule": "cheap", "wildcards": {}}, [cache.tree(c)], [str(c)], stored=False)
    assert store.usage().objects == 1 and not store.restorable(store.action("k3" * 32))


def test_restore_puts_back_files_and_folders_whole(tmp_path):
    store, cache = ContentStore(tmp_path / "store"), DigestCache(tmp_path / "digests")
    report = _made(tmp_path, "train/report.json", b'{"loss": 1.5}')
    model = tmp_path / "results/train/model"
    (model / "sub").mkdir(parents=True)
    (model / "weights.bin").write_bytes(os.urandom(4096))
    (model / "sub/config.json").write_text('{"layers": 2}')
    outputs = [cache.tree(model), cache.tree(report)]
    store.record(
        "a" * 64,
        {"rule": "train_student", "wildcards": {"teacher": "x"}},
        outputs,
        [str(model), str(report)],
        stored=True,
    )
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()}
    # another config's results replace them (a folder with other files), then A's are restored
    import shutil

    shutil.rmtree(model)
    model.mkdir()
    (model / "other.bin").write_bytes(b"B")
    report.unlink()
    report.write_text('{"loss": 9}')
    action = store.action("a" * 64)
    assert store.restorable(action)
    store.restore(action, [str(model), str(report)])
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in model.parent.iterdir() if p.name.startswith(".")]  # nothing left beside
    # an object gone (a store pruned by hand): not restorable, so the job runs instead
    next((tmp_path / "store/objects").glob("*/*")).unlink()
    assert not store.restorable(action)


def _record_concurrently(args):
    root, digests, path, key = args
    store, cache = ContentStore(root), DigestCache(digests)
    return store.record(key, {"rule": "r", "wildcards": {}}, [cache.tree(path)], [path], stored=True)["key"]


def test_concurrent_writers_of_one_key_leave_one_whole_entry(tmp_path):
    path = _made(tmp_path, "big.bin", os.urandom(1 << 20))
    args = [(str(tmp_path / "store"), str(tmp_path / f"digests{i}"), str(path), "c" * 64) for i in range(8)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert set(pool.map(_record_concurrently, args)) == {"c" * 64}
    store = ContentStore(tmp_path / "store")
    assert store.usage().objects == 1 and store.restorable(store.action("c" * 64))
    assert not [p for p in (tmp_path / "store").rglob(".*")]  # no temporary file left


def test_gc_frees_exactly_what_no_kept_action_holds(tmp_path):
    store, cache = ContentStore(tmp_path / "store"), DigestCache(tmp_path / "digests")
    shared = _made(tmp_path, "shared.bin", b"s" * 10)
    only_b = _made(tmp_path, "b.bin", b"b" * 20)
    store.record("a" * 64, {"rule": "r", "wildcards": {"t": "a"}}, [cache.tree(shared)], [str(shared)], stored=True)
    outputs = [cache.tree(shared), cache.tree(only_b)]
    store.record("b" * 64, {"rule": "r", "wildcards": {"t": "b"}}, outputs, [str(shared), str(only_b)], stored=True)
    dropped, freed = store.gc({"a" * 64}, dry_run=True)
    assert [d["key"] for d in dropped] == ["b" * 64] and (freed.actions, freed.objects, freed.bytes) == (1, 1, 20)
    assert store.usage().actions == 2  # a dry run frees nothing
    store.gc({"a" * 64})
    assert store.action("b" * 64) is None and store.restorable(store.action("a" * 64))
    assert store.usage().objects == 1
