"""A launcher process that lives in a slot's memory cgroup, so that runs are born inside it.

Moving a process into a cgroup (v1) switches the kernel's threadgroup lock to writer mode, which
waits for an RCU grace period: measured +8 ms on every run here, more than half a trivial run. A
process forked inside the cgroup is in it from its first instruction, at no cost. So a process that
runs sandboxes keeps one uid slot for its life and one launcher in that slot's cgroup, which forks
each launch on request (the command, its limits and its descriptors travel over a Unix socket) and
reports its exit status. One request at a time: a second thread in the same process takes a slot of
its own and the ordinary path.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading

# Runs in the launcher (a fresh interpreter: nothing of the caller's state is forked). It is
# created already inside the cgroup and as root when the caller is root (it drops uids per launch).
LAUNCHER = r"""
import json, os, resource, socket, sys
sock = socket.socket(fileno=int(sys.argv[1]))
while True:
    try:
        message, fds, _, _ = socket.recv_fds(sock, 1 << 20, 256)
    except OSError:
        break
    if not message:
        break
    request = json.loads(message)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            for target, fd in enumerate(fds[:3]):
                os.dup2(fd, target)
            for fd in fds[3:]:
                os.set_inheritable(fd, True)
            if request["uid"] is not None:
                os.setgroups([])
                os.setgid(request["uid"])
                os.setuid(request["uid"])
            for which, value in request["rlimits"]:
                resource.setrlimit(which, (value, value))
            command = [str(fds[int(a[3:])]) if a.startswith("@fd") else a for a in request["command"]]
            os.execv(command[0], command)
        finally:
            os._exit(127)
    for fd in fds:
        os.close(fd)
    sock.send(json.dumps({"pid": pid}).encode())
    _, status = os.waitpid(pid, 0)
    sock.send(json.dumps({"status": status}).encode())
"""


class Launched:
    """The part of :class:`subprocess.Popen` the sandbox uses, for a process the launcher started."""

    def __init__(self, launcher: SlotLauncher, pid: int, stdout, stderr):
        self.launcher, self.pid, self.stdout, self.stderr = launcher, pid, stdout, stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode if self.returncode is not None else self._status(0)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self._status(timeout) is None:
            raise subprocess.TimeoutExpired(f"launch {self.pid}", timeout)
        return self.returncode

    def _status(self, timeout: float | None) -> int | None:
        sock = self.launcher.sock
        if not select.select([sock], [], [], timeout)[0]:
            return None
        reply = sock.recv(1 << 16)
        if not reply:  # the launcher died: its children died with it (bwrap --die-with-parent)
            self.launcher.broken = True
            self.returncode = -9
        else:
            self.returncode = os.waitstatus_to_exitcode(json.loads(reply)["status"])
        self.launcher.lock.release()
        return self.returncode


class SlotLauncher:
    """One per process and slot; ``join`` puts the new launcher into the slot's memory bound."""

    def __init__(self, uid: int, join, python: str = sys.executable):
        self.uid, self.owner, self.broken = uid, os.getpid(), False
        self.lock = threading.Lock()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [python, "-I", "-S", "-B", "-c", LAUNCHER, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=join,
        )
        theirs.close()
        self.sock = ours
        try:  # never the OOM killer's choice (where we may say so): the runs beside it are
            with open(f"/proc/{self.process.pid}/oom_score_adj", "w") as f:
                f.write("-1000")
        except OSError:
            pass  # it is small; if it is killed anyway, its runs die with it and this process goes on without it

    def usable(self) -> bool:
        return not self.broken and self.owner == os.getpid() and self.process.poll() is None

    def reserve(self) -> bool:
        """The launcher for one run of this thread (released when the run's exit status is read)."""
        return self.usable() and self.lock.acquire(blocking=False)

    def settle(self) -> None:
        """After a reserved run: a status never read would be taken for the next run's reply."""
        if self.lock.locked():
            self.broken = True
            self.lock.release()

    def close(self) -> None:
        self.sock.close()
        self.process.wait()

    def launch(self, command: list[str], fds: dict[str, int], stdin: int, uid: int | None, rlimits) -> Launched | None:
        """Starts ``command`` (bwrap's), whose ``--ro-bind-data`` descriptors are ``fds``, once
        :meth:`reserve` d. None when the launcher failed: the caller takes the ordinary path."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        extra = list(fds.values())
        names = {str(fd): f"@fd{3 + k}" for k, fd in enumerate(extra)}
        command = list(command)
        for k in range(1, len(command)):
            if command[k - 1] == "--ro-bind-data":  # the launcher receives the descriptors renumbered
                command[k] = names[command[k]]
        request = {"command": command, "uid": uid, "rlimits": rlimits}
        try:
            socket.send_fds(self.sock, [json.dumps(request).encode()], [stdin, out_w, err_w, *extra])
            reply = self.sock.recv(1 << 16)
            if not reply:
                raise OSError("the launcher closed its socket")
            pid = json.loads(reply)["pid"]
        except OSError:
            self.broken = True
            self.lock.release()
            for fd in (out_r, err_r):
                os.close(fd)
            return None
        finally:
            os.close(out_w)
            os.close(err_w)
        return Launched(self, pid, os.fdopen(out_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0))
