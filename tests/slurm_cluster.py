"""A real single-node SLURM cluster for the tests: Debian's slurm-wlm (slurmctld + slurmd) and munge,
started in a temporary folder on free ports and stopped by PID. Nothing outside that folder is touched:
every daemon and client reads the folder's slurm.conf through SLURM_CONF.

Two fake GPUs are gres with File= on character devices made with mknod (a copy of /dev/null's numbers),
so that ``--gpus`` requests are accounted and CUDA_VISIBLE_DEVICES is set inside a job. The partitions
are named like the ones in profiles/slurm/partitions.yaml (cpu, gpu), so the profile runs unchanged."""

from __future__ import annotations

import atexit
import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
MIN_JOB_AGE = 300  # squeue sees a finished job this long: well above 3x the first-check delay


def missing() -> str | None:
    """Why a cluster cannot start here, or None."""
    if os.geteuid() != 0:
        return "slurmd and munged need root to run jobs and to make the fake GPU devices"
    absent = [
        b
        for b in ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol")
        if not shutil.which(b, path=os.environ.get("PATH", "") + ":/usr/sbin")
    ]
    if absent:
        return f"{', '.join(absent)} not installed (make env installs Debian's slurm-wlm and munge)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    node: str = field(default_factory=lambda: socket.gethostname().split(".")[0])
    cpus: int = field(default_factory=lambda: os.cpu_count() or 2)  # more than the machine's: config_overrides
    gpus: int = 2
    memory_mb: int = 16000
    procs: dict = field(default_factory=dict)

    @property
    def env(self) -> dict:
        """The environment a client (sbatch, squeue, Snakemake) needs to reach this cluster: SLURM_CONF, and
        first on PATH an srun that sets it again (Snakemake's jobstep plugin drops every SLURM_* variable
        but the job's identity before it runs the job under srun, and this cluster's slurm.conf is not
        at the default path)."""
        return {
            **os.environ,
            "SLURM_CONF": str(self.root / "slurm.conf"),
            "PATH": os.pathsep.join([str(self.root / "bin"), os.environ.get("PATH", ""), "/usr/sbin"]),
        }

    def start(self, timeout: float = 60) -> "Cluster":
        (self.root / "state").mkdir(parents=True, exist_ok=True)
        (self.root / "spool").mkdir(exist_ok=True)
        munge = self.root / "munge"
        munge.mkdir(mode=0o755, exist_ok=True)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        devices = []
        for i in range(self.gpus):  # fake GPUs: character devices with /dev/null's major/minor
            dev = self.root / f"nvidia{i}"
            if not dev.exists():
                os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))
            devices.append(str(dev))
        ctl_port, d_port = free_port(), free_port()
        (self.root / "slurm.conf").write_text(f"""\
ClusterName=distillery-test
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={ctl_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge}/munge.socket
StateSaveLocation={self.root}/state
SlurmdSpoolDir={self.root}/spool
SlurmctldPidFile={self.root}/slurmctld.pid
SlurmdPidFile={self.root}/slurmd.pid
SlurmctldLogFile={self.root}/slurmctld.log
SlurmdLogFile={self.root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SlurmdParameters=config_overrides
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
GresTypes=gpu
MpiDefault=none
ReturnToService=2
MinJobAge={MIN_JOB_AGE}
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} Gres=gpu:{self.gpus} State=UNKNOWN
PartitionName=cpu Nodes={self.node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
PartitionName=gpu Nodes={self.node} MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
""")
        (self.root / "bin").mkdir(exist_ok=True)
        srun = self.root / "bin/srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={self.root}/slurm.conf exec {shutil.which("srun")} "$@"\n')
        srun.chmod(0o755)
        (self.root / "gres.conf").write_text(
            "AutoDetect=off\n" + "".join(f"NodeName={self.node} Name=gpu File={d}\n" for d in devices)
        )
        env = self.env
        atexit.register(self.stop)  # also when the test process ends without its teardown
        self._spawn(
            "munged",
            [
                "munged",
                "-F",
                "--force",
                f"--socket={munge}/munge.socket",
                f"--key-file={key}",
                f"--pid-file={munge}/munged.pid",
                f"--log-file={munge}/munged.log",
                f"--seed-file={munge}/munged.seed",
            ],
            env,
        )
        self._wait(lambda: (munge / "munge.socket").exists(), timeout, "munged")
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.root / "slurm.conf")], env)
        self._wait(lambda: self._ok(["scontrol", "ping"], "UP"), timeout, "slurmctld")
        self._spawn("slurmd", ["slurmd", "-D", "-N", self.node, "-f", str(self.root / "slurm.conf")], env)
        self._wait(lambda: self._ok(["sinfo", "-h", "-N", "-o", "%t"], "idle"), timeout, "slurmd")
        return self

    def _spawn(self, name: str, cmd: list[str], env: dict) -> None:
        log = open(self.root / f"{name}.out", "w")
        self.procs[name] = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _ok(self, cmd: list[str], needle: str) -> bool:
        try:
            out = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=10).stdout
        except subprocess.TimeoutExpired:
            return False
        return needle in out

    def _wait(self, ready, timeout: float, name: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            proc = self.procs[name]
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start:\n{self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        parts = []
        for f in sorted(self.root.glob("*.out")) + sorted(self.root.glob("*.log")):
            parts.append(f"== {f.name}\n{f.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def scontrol(self, *args: str) -> str:
        return subprocess.run(
            ["scontrol", *args], env=self.env, capture_output=True, text=True, timeout=30, check=True
        ).stdout

    def _jobs_alive(self) -> bool:
        try:
            out = subprocess.run(
                ["squeue", "-h", "-t", "R,CG", "-o", "%i"], env=self.env, capture_output=True, text=True, timeout=10
            ).stdout
        except subprocess.TimeoutExpired:
            return False
        return bool(out.strip())

    def stop(self) -> None:
        """Cancel what is still queued or running, then stop the daemons this object started, by PID, newest
        first; kill what does not stop."""
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            subprocess.run(["scancel", "-u", getpass.getuser()], env=self.env, capture_output=True, timeout=30)
            deadline = time.monotonic() + 20
            while self._jobs_alive() and time.monotonic() < deadline:
                time.sleep(0.5)
        for name in reversed(DAEMONS):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
