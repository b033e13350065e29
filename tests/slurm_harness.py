"""A one-node SLURM cluster on this machine, for tests that submit real jobs.

munged, slurmctld and slurmd (Debian packages ``munge`` and ``slurm-wlm``) run as root
from a private directory: their own munge key and socket, their own ``slurm.conf``
(no accounting database, no cgroups), ports chosen free. Clients (sbatch, squeue,
Snakemake's SLURM executor) find the cluster through ``SLURM_CONF``.

Used by ``tests/test_slurm.py``; by hand::

    python tests/slurm_harness.py /tmp/slurm-test     # starts, prints SLURM_CONF, waits
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

#: Programs the harness needs (Debian: slurm-wlm, munge).
REQUIRED_PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")

PARTITION = "debug"

#: where srun looks when SLURM_CONF is unset: the jobstep executor plugin (0.6.1) removes
#: every SLURM_* variable but the job's identity before its nested srun, SLURM_CONF too,
#: so the harness links its configuration here for the time it runs
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")


class SlurmHarnessError(RuntimeError):
    """The local cluster could not be started (the message names the log to read)."""


def missing_programs() -> list[str]:
    """Programs of :data:`REQUIRED_PROGRAMS` not found on PATH (or in /usr/sbin)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    return [p for p in REQUIRED_PROGRAMS if shutil.which(p, path=path) is None]


def _program(name: str) -> str:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    found = shutil.which(name, path=path)
    if found is None:
        raise SlurmHarnessError(f"{name} not found (install the Debian packages slurm-wlm, munge)")
    return found


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise SlurmHarnessError("cannot read MemTotal from /proc/meminfo")


class LocalSlurm:
    """munged + slurmctld + slurmd on localhost, configured under ``root``.

    Parameters
    ----------
    root : pathlib.Path
        Empty directory for the configuration, state, spool, logs and the munge socket.
    cpus : int or None
        CPUs of the node (default: all of this machine's).
    memory_mb : int or None
        RealMemory of the node (default: 80 % of this machine's memory).
    """

    def __init__(self, root: Path, cpus: int | None = None, memory_mb: int | None = None):
        self.root = Path(root).resolve()
        self.cpus = cpus or os.cpu_count() or 1
        self.memory_mb = memory_mb or int(0.8 * _memory_mb())
        self.conf = self.root / "slurm.conf"
        self.processes: dict[str, subprocess.Popen] = {}
        self._linked_default_conf = False

    @property
    def env(self) -> dict[str, str]:
        """The environment for clients of this cluster (sbatch, squeue, Snakemake)."""
        return dict(os.environ, SLURM_CONF=str(self.conf))

    def _write_config(self) -> None:
        ctld_port, slurmd_port = _free_ports(2)
        for sub in ("state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        key = self.root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        r = self.root
        self.conf.write_text(
            f"""# one-node test cluster written by tests/slurm_harness.py
ClusterName=electrolyte-test
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r}/munge.socket
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# finished jobs stay visible to squeue for 10 min (the executor's status command)
MinJobAge=600
KillWait=10
OverTimeLimit=0
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""
        )

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.out", "ab")  # noqa: SIM115 (kept open for the child)
        self.processes[name] = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )

    def _wait(self, what: str, check, timeout: float, log: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise SlurmHarnessError(
                        f"{name} exited with status {proc.returncode} while waiting for "
                        f"{what}; see {self.root / 'log'}"
                    )
            if check():
                return
            time.sleep(0.5)
        raise SlurmHarnessError(f"{what} not ready after {timeout:g} s; see {log}")

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [_program(args[0]), *args[1:]],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
            timeout=30,
        )

    def start(self, timeout: float = 60.0) -> LocalSlurm:
        """Write the configuration, start the three daemons and wait for an idle node."""
        if os.geteuid() != 0:
            raise SlurmHarnessError("the local SLURM cluster runs its daemons as root")
        self._write_config()
        if DEFAULT_CONF.is_symlink() and not DEFAULT_CONF.exists():
            DEFAULT_CONF.unlink()  # left by a harness that was killed
        if DEFAULT_CONF.exists() or DEFAULT_CONF.is_symlink():
            raise SlurmHarnessError(
                f"{DEFAULT_CONF} exists (a real or another test cluster); the harness needs "
                "that path for srun inside jobs and does not replace it"
            )
        DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
        DEFAULT_CONF.symlink_to(self.conf)
        self._linked_default_conf = True
        r = self.root
        self._spawn(
            "munged",
            [
                _program("munged"),
                "--foreground",
                "--force",
                f"--key-file={r}/munge.key",
                f"--socket={r}/munge.socket",
                f"--pid-file={r}/munged.pid",
                f"--log-file={r}/log/munged.log",
                f"--seed-file={r}/munged.seed",
            ],
        )
        self._wait("munged", lambda: (r / "munge.socket").exists(), timeout, f"{r}/log/munged.log")
        self._spawn("slurmctld", [_program("slurmctld"), "-D", "-c", "-i", "-f", str(self.conf)])
        self._wait(
            "slurmctld",
            lambda: self._run("scontrol", "ping").stdout.count("UP") > 0,
            timeout,
            f"{r}/log/slurmctld.log",
        )
        self._spawn("slurmd", [_program("slurmd"), "-D", "-N", "localhost", "-f", str(self.conf)])
        self._wait(
            "an idle node",
            lambda: self._run("sinfo", "-h", "-o", "%t").stdout.strip() == "idle",
            timeout,
            f"{r}/log/slurmd.log",
        )
        return self

    def stop(self) -> None:
        """Cancel remaining jobs, then stop slurmd, slurmctld and munged (those started here)."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            self._run("scancel", "--full", f"--partition={PARTITION}")
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.processes.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._linked_default_conf and DEFAULT_CONF.is_symlink():
            if DEFAULT_CONF.readlink() == self.conf:
                DEFAULT_CONF.unlink()
            self._linked_default_conf = False

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/slurm_harness.py DIRECTORY")
    cluster = LocalSlurm(Path(sys.argv[1])).start()
    print(f"export SLURM_CONF={cluster.conf}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        cluster.stop()
