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


KILLED_WRITER = """
import os, sys
from pathlib import Path
from distillery.core.artifacts import atomic_folder, atomic_path
folder = Path(sys.argv[1])
with atomic_path(folder / "cache.parquet") as tmp:
    Path(tmp).write_bytes(b"x" * (1 << 20))
    with atomic_folder(folder / "model") as staging:
        (staging / "weights.bin").write_bytes(b"y" * 1024)
        os.kill(os.getpid(), 9)
"""


def test_the_next_write_removes_what_a_killed_writer_left(tmp_path):
    """A writer killed mid-write (SIGKILL: no cleanup runs) leaves its temporary file and folder; the
    next process that writes into that folder removes them, and only them."""
    import socket
    import subprocess
    import sys
    import time

    from distillery.plan import scratch_files

    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], check=False)
    assert done.returncode == -9
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and all(".tmp-" in name for name in left), left
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    host = scratch_files._host()
    keep = [
        tmp_path / f".live.parquet.{host}.{sleeper.pid}.tmp-abc123",  # its writer still runs
        tmp_path / f".remote.parquet.{socket.gethostname()}x.123.tmp-abc123",  # another host, recent
        tmp_path / "unrelated.tmp-file",
    ]
    stale_remote = tmp_path / ".old.parquet.otherhost.123.tmp-abc123"
    for path in [*keep, stale_remote]:
        path.write_text("partial")
    week_ago = time.time() - scratch_files.OTHER_HOST_AGE_S - 60
    os.utime(stale_remote, (week_ago, week_ago))
    try:
        write_json({"ok": True}, tmp_path / "next.json")
        names = {p.name for p in tmp_path.iterdir()}
        assert names == {"next.json", *(p.name for p in keep)}, names
    finally:
        sleeper.kill()
        sleeper.wait()


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
