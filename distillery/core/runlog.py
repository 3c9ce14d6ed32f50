"""Per-job logging for the workflow's scripts: everything a job says goes to its ``logs/`` file."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm


@contextlib.contextmanager
def _descriptors_to(f):
    """Point file descriptors 1 and 2 at ``f``: what C and C++ libraries (faiss, torch) print too."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(f.fileno(), 1)
    os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


@contextlib.contextmanager
def job_log(path: str | Path):
    """Send logging, warnings, tqdm progress and all output of a job to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", buffering=1) as f, _descriptors_to(f):
        handler = logging.StreamHandler(f)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        started = time.monotonic()
        try:
            with contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
                yield logging.getLogger("distillery.job")
            root.info("done in %.1f s", time.monotonic() - started)
        except BaseException:
            root.exception("failed after %.1f s", time.monotonic() - started)
            raise
        finally:
            root.removeHandler(handler)


def progress(desc: str):
    """A tqdm factory for the job's log: updates every few seconds, not every item."""
    return functools.partial(tqdm, desc=desc, file=sys.stderr, mininterval=5.0, dynamic_ncols=False)
