"""Real OpenAI-compatible servers on a free loopback port, offline: `transformers serve`, and vLLM's own server
from its CPU build (.venv-vllm), started with the arguments profiles/slurm/serve_vllm.sbatch gives it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from distillery.generation.engine_python import vllm_python

CLI = "import sys; from transformers.cli.transformers import main; sys.argv[0] = 'transformers'; sys.exit(main())"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A server command on ``port``, in a process group of its own: started (and ready: /v1/models answers),
    killed with SIGKILL as a crash would, started again on the same port, stopped."""

    def __init__(self, cmd: list[str], port: int, log: Path, cwd: Path | None = None, ready_s: float = 90):
        self.cmd, self.port, self.log, self.cwd, self.ready_s = cmd, port, log, cwd, ready_s
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **OFFLINE},
                cwd=self.cwd,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.ready_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.cmd[:3]} exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.cmd[:3]} not ready after {self.ready_s} s: {self.log.read_text()[-2000:]}")
            time.sleep(0.25)

    def kill(self) -> None:
        """SIGKILL to the whole group (no worker outlives it), as the OOM killer or a node failure would."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        try:
            self._signal(signal.SIGTERM, timeout=10)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)

    def _signal(self, sig: int, timeout: float | None = None) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=timeout)


@contextlib.contextmanager
def running(server: ServerProcess):
    try:
        yield server.start()
    finally:
        server.stop()


@contextlib.contextmanager
def transformers_serve(model: Path, log: Path, *extra: str, cwd: Path | None = None, ready_s: float = 90):
    """Yields the server's base URL. ``extra``: more options (``--continuous-batching``, ``--dtype float32``)."""
    port = free_port()
    cmd = [sys.executable, "-c", CLI, "serve", str(model), "--host", "127.0.0.1", "--port", str(port), *extra]
    with running(ServerProcess(cmd, port, log, cwd, ready_s)) as server:
        yield server.base_url


def vllm_serve(model: str, log: Path, *extra: str, cwd: Path | None = None, ready_s: float = 240) -> ServerProcess:
    """vLLM's OpenAI server as profiles/slurm/serve_vllm.sbatch starts it (the module, not the `vllm` command,
    which the CPU build's distribution name breaks), not yet started. ``extra``: engine arguments."""
    port = free_port()
    cmd = [str(vllm_python()), "-m", "vllm.entrypoints.openai.api_server", "--model", model]
    return ServerProcess([*cmd, "--host", "127.0.0.1", "--port", str(port), *extra], port, log, cwd, ready_s)
