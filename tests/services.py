"""Real servers for the tests: a throw-away PostgreSQL and a local Dask cluster, on loopback.

Both are started as the instructor would start them (Debian's ``initdb``/``pg_ctl``, the
``dask scheduler``/``dask worker`` commands), listen on 127.0.0.1 only, and are stopped (every
process, by its own pid or process group) when the ``with`` block ends. Used by
``tests/test_cluster.py`` and ``bench/grade_cluster.py``. Start-up, measured on the shared
2-core machine under load: PostgreSQL ~4 s (``initdb`` included), a scheduler and two workers ~8 s.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin(tool: str) -> str | None:
    """Debian keeps initdb and pg_ctl in /usr/lib/postgresql/<version>/bin (not on PATH)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"),
                   key=lambda p: int(Path(p).parts[-3]))
    return found[-1] if found else shutil.which(tool)


def _as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Postgres:
    """A running PostgreSQL server (one database, ``gradebook``), trust auth on loopback."""

    port: int
    data: Path
    databases: list[str] = field(default_factory=list)

    def url(self, database: str = "gradebook") -> str:
        """The URL as an instructor gives it to ``l2course grade --db-url``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create(self, database: str) -> str:
        """A new empty database; its ``postgresql://`` URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        return self.url(database)


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """``initdb`` in a temporary folder, ``pg_ctl start`` on 127.0.0.1:<free port>; then stop."""
    initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL is not installed: sudo apt-get install postgresql")
    tmp = Path(tempfile.mkdtemp(prefix="l2course-pg-"))
    data, sock = tmp / "data", tmp / "socket"
    sock.mkdir()
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chmod(tmp, 0o755)
        for path in (tmp, sock):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    port = free_port()
    run = _as_postgres()
    subprocess.run([*run, initdb, "-D", str(data), "-A", "trust", "-U", "postgres",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True, text=True)
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off "
               "-c max_connections=50")
    started = False
    try:
        subprocess.run([*run, pg_ctl, "-D", str(data), "-o", options, "-l",
                        str(tmp / "server.log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, text=True)
        started = True
        server = Postgres(port, data)
        server.create("gradebook")
        yield server
    finally:
        if started:
            subprocess.run([*run, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class DaskCluster:
    """A ``dask scheduler`` and single-threaded ``dask worker`` processes on 127.0.0.1."""

    address: str
    env: dict[str, str]
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: Path = Path(".")

    def add_worker(self, name: str, wait: bool = True) -> None:
        """Start ``dask worker ADDRESS --nthreads 1`` (with its nanny), in its own session."""
        log = open(self.logs / f"{name}.log", "ab")
        self.workers[name] = subprocess.Popen(
            [str(BIN / "dask"), "worker", self.address, "--name", name, "--nthreads", "1",
             "--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "0",
             "--death-timeout", "60", "--local-directory", str(self.logs / "tmp")],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_for(len(self.workers))

    def wait_for(self, count: int, timeout: float = 120) -> None:
        """Until the scheduler sees exactly ``count`` workers."""
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            deadline = time.monotonic() + timeout
            while len(client.scheduler_info(n_workers=-1)["workers"]) != count:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the scheduler never had {count} workers")
                time.sleep(0.2)

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker's whole process group (nanny, worker, its kernels): a lost machine."""
        proc = self.workers.pop(name)
        _kill_group(proc)

    def stop(self) -> None:
        for name in list(self.workers):
            self.kill_worker(name)
        _kill_group(self.scheduler)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(10)


@contextmanager
def dask_cluster(workers: int, env: dict[str, str] | None = None) -> Iterator[DaskCluster]:
    """A scheduler on 127.0.0.1:<free port> and ``workers`` single-threaded workers."""
    env = dict(env or os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    logs = Path(tempfile.mkdtemp(prefix="l2course-dask-"))
    os.chmod(logs, 0o755)  # the sandbox's uid reaches the workers' scratch folders below
    (logs / "tmp").mkdir(mode=0o755)
    env["TMPDIR"] = str(logs / "tmp")  # what a killed worker leaves goes with the cluster
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(logs / "scheduler.log", "ab")
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    cluster = DaskCluster(address, env, scheduler, logs=logs)
    try:
        for i in range(workers):
            cluster.add_worker(f"w{i + 1}", wait=False)
        cluster.wait_for(workers)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(logs, ignore_errors=True)
