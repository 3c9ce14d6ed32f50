import ctypes
import sys

from distillery.core.runlog import job_log


def test_job_log_catches_python_logging_and_c_level_output(tmp_path, capfd):
    path = tmp_path / "logs" / "job.log"
    with job_log(path) as log:
        log.info("from logging")
        print("from print")
        print("from stderr", file=sys.stderr)
        libc = ctypes.CDLL(None)
        libc.puts(b"from C")
        libc.fflush(None)
    text = path.read_text()
    for line in ("from logging", "from print", "from stderr", "from C", "done in"):
        assert line in text, (line, text)
    print("after")
    assert "after" in capfd.readouterr().out
