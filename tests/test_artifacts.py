import os
import stat

import pyarrow as pa
import pytest

from distillery.core.artifacts import ParquetBatchWriter, read_parquet, write_json


def test_atomic_files_get_normal_permissions_and_no_leftovers(tmp_path):
    write_json({"a": 1}, tmp_path / "r.json")
    mode = stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode)
    assert mode & 0o044 == 0o644 & ~os.umask(os.umask(0)) & 0o044  # group/other read as the umask allows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_batch_writer_publishes_only_on_success(tmp_path):
    schema = pa.schema([("x", pa.int64())])
    with ParquetBatchWriter(tmp_path / "ok.parquet", schema) as w:
        w.write(pa.table({"x": [1, 2]}, schema=schema))
        w.write(pa.table({"x": [3]}, schema=schema))
    assert read_parquet(tmp_path / "ok.parquet").column("x").to_pylist() == [1, 2, 3]
    with pytest.raises(RuntimeError):
        with ParquetBatchWriter(tmp_path / "bad.parquet", schema) as w:
            w.write(pa.table({"x": [1]}, schema=schema))
            raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.parquet"]


def test_a_full_disk_names_the_artifact(tmp_path, monkeypatch):
    """A failed write() names no file ("[Errno 28] No space left on device"); pyarrow's neither."""
    import errno

    import pyarrow.parquet as pq

    from distillery.core import artifacts

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    target = tmp_path / "results" / "t.parquet"
    with pytest.raises(OSError, match=r"No space left on device: '.*results/t\.parquet'") as caught:
        artifacts.write_parquet(pa.table({"x": [1]}), target)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert caught.value.__cause__.filename is None
    with pytest.raises(OSError, match=r"'.*results/model'"):
        with artifacts.atomic_folder(tmp_path / "results" / "model"):
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
    with pytest.raises(ConnectionResetError) as caught:  # not a storage error: as it was
        with artifacts.atomic_path(tmp_path / "x.json"):
            raise ConnectionResetError(errno.ECONNRESET, "reset")
    assert caught.value.filename is None
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["results"]  # nothing half-written is left
