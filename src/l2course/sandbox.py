"""Run a submission's kernel inside a bubblewrap sandbox with resource limits.

nbgrader's trusted steps (sanitising, restoring test cells, scoring, feedback) stay in the grader's
process; only the Jupyter kernel, which runs the student's code, is sandboxed. The kernel sees:

* a read-only view of the system (``/usr``, ``/etc``) and of the Python installation and virtual
  environment, nothing else of the host's file system (no course root, no solutions, no other
  submissions, no gradebook, no home directory);
* its working directory as a size-limited ``tmpfs`` filled with a copy of the submission's files,
  so nothing it writes outlives the run;
* no network (``--unshare-net``), its own PID namespace, and a dedicated unprivileged uid, so
  ``RLIMIT_NPROC`` really caps its processes (root is exempt from that limit);
* ``RLIMIT_AS`` (memory), ``RLIMIT_NPROC`` (processes), ``RLIMIT_FSIZE`` (file size) and
  ``RLIMIT_CORE = 0``, applied with ``prlimit``.

The grader talks to the kernel over ZeroMQ's ``ipc`` transport: sockets and the connection file
live in a private directory bound into the sandbox (loopback TCP does not cross
``--unshare-net``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any, Iterator

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, DottedObjectName, Integer, Type, Unicode

INSTALL_HINT = (
    "bubblewrap (bwrap) is required to sandbox student code. Install it with\n"
    "    sudo apt-get install bubblewrap      (Debian/Ubuntu)\n"
    "    sudo dnf install bubblewrap          (Fedora)\n"
    "or pass --no-sandbox to run student code with your own permissions (not recommended)."
)

#: Where the submission's files are bound (read-only) before being copied into the tmpfs.
STAGE = "/run/l2course-stage"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or does not work on this machine."""


@dataclass(frozen=True)
class Limits:
    """Per-submission limits (seconds, bytes, counts)."""

    cell_timeout: int = 60
    notebook_timeout: int = 300
    memory: int = 4 * 1024**3
    processes: int = 64
    output: int = 1024**2
    disk: int = 256 * 1024**2

    @staticmethod
    def parse_size(text: str) -> int:
        """``"2G"``, ``"512M"``, ``"100k"`` or a number of bytes."""
        text = text.strip().upper().removesuffix("B").removesuffix("I")
        scale = {"K": 1024, "M": 1024**2, "G": 1024**3}
        if text and text[-1] in scale:
            return int(float(text[:-1]) * scale[text[-1]])
        return int(text)


def find_bwrap() -> str | None:
    """Path of the ``bwrap`` executable, or None."""
    return shutil.which("bwrap")


def check_sandbox() -> None:
    """Raise :class:`SandboxUnavailable` unless bwrap, prlimit and setpriv work here."""
    missing = [tool for tool in ("bwrap", "prlimit", "setpriv") if shutil.which(tool) is None]
    if "bwrap" in missing:
        raise SandboxUnavailable(INSTALL_HINT)
    if missing:
        raise SandboxUnavailable(
            f"{', '.join(missing)} not found (package util-linux); needed for sandbox limits."
        )
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--dev", "/dev",
             "--proc", "/proc", "true"]
    if os.geteuid() != 0:
        # unprivileged bwrap needs a user namespace (and then cannot switch to a dedicated
        # uid: the process limit counts all of this user's processes)
        probe.insert(1, "--unshare-user")
    proc = subprocess.run(probe, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot create a sandbox here: {proc.stderr.strip()}\n"
            "(containers may need user namespaces enabled), or pass --no-sandbox (unsafe)."
        )


def python_roots() -> list[str]:
    """Directories the kernel needs read-only: the interpreter's prefixes and the venv."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots.add(str(Path(os.path.realpath(sys.executable)).parents[1]))
    system = ("/usr", "/etc", "/bin", "/lib", "/lib64", "/sbin")
    keep = sorted(r for r in {os.path.realpath(r) for r in roots} | roots
                  if not any(r == s or r.startswith(s + "/") for s in system))
    # drop nested paths
    result: list[str] = []
    for root in keep:
        if not any(root.startswith(other + "/") for other in result):
            result.append(root)
    return result


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def bwrap_command(
    inner: list[str],
    *,
    workdir: str,
    stage: str,
    conn_dir: str,
    uid: int,
    limits: Limits,
) -> list[str]:
    """Wrap ``inner`` (the kernel command) in prlimit + bwrap + setpriv."""
    cmd = [
        "prlimit",
        f"--as={limits.memory}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.disk}",
        "--core=0",
        "--nofile=1024",
        "--",
        "bwrap",
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session",
        "--ro-bind", "/usr", "/usr",
        "--ro-bind", "/etc", "/etc",
    ]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = os.readlink(f"/{link}") if os.path.islink(f"/{link}") else None
        if target:
            cmd += ["--symlink", target, f"/{link}"]
        elif os.path.isdir(f"/{link}"):
            cmd += ["--ro-bind", f"/{link}", f"/{link}"]
    cmd += ["--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp"]
    made: set[str] = {"/", "/usr", "/etc", "/tmp", "/dev", "/proc", "/run"}
    cmd += ["--perms", "0755", "--dir", "/run"]
    for root in [*python_roots(), workdir]:
        for parent in _ancestors(root):
            if parent not in made:
                cmd += ["--perms", "0755", "--dir", parent]
                made.add(parent)
    for root in python_roots():
        cmd += ["--ro-bind", root, root]
    cmd += [
        "--ro-bind", stage, STAGE,
        "--bind", conn_dir, conn_dir,
        "--perms", "1777", "--size", str(limits.disk), "--tmpfs", workdir,
        "--chdir", "/",
        "--setenv", "HOME", "/tmp",
    ]
    if uid:
        # root: switch to the dedicated uid (RLIMIT_NPROC does not apply to root)
        cmd += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    else:
        # unprivileged: bwrap uses a user namespace; the process limit then counts all of
        # this user's processes
        cmd.insert(cmd.index("bwrap") + 1, "--unshare-user")
    cmd += [
        "--",
        "/bin/sh", "-c", 'unset JPY_PARENT_PID; cp -R "$0"/. "$1"/ && cd "$1" && shift && exec "$@"',
        STAGE, workdir,
        *inner,
    ]
    return cmd


def _statuses(uid: int) -> Iterator[tuple[int, dict[str, str]]]:
    """``(pid, fields of /proc/<pid>/status)`` of the host's processes running as ``uid``."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            yield int(entry.name), fields


def sandbox_processes(uid: int) -> dict[int, int]:
    """``{pid: ppid}`` of the host's processes running as ``uid``."""
    return {pid: int(fields["PPid"].strip()) for pid, fields in _statuses(uid)}


def sandbox_tasks(uid: int) -> int:
    """Number of threads running as ``uid`` (what ``RLIMIT_NPROC`` counts)."""
    return sum(int(fields.get("Threads", "1")) for _, fields in _statuses(uid))


def reap_strays(uid: int) -> int:
    """Kill every process of the sandbox uid whose parent also runs as that uid.

    That is everything the student's code started (forks, subprocesses), but not the kernel
    itself, whose parent is bubblewrap's init (root). Returns the number killed.
    """
    procs = sandbox_processes(uid)
    strays = [pid for pid, ppid in procs.items() if ppid in procs]
    for pid in strays:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(strays)


class PromptKernelClient(AsyncKernelClient):
    """``AsyncKernelClient`` whose start-up handshake does not idle.

    jupyter_client's ``wait_for_ready`` ends by draining IOPub until nothing arrives for 0.2 s,
    a fixed wait on every kernel start (one per submission). nbclient matches every IOPub
    message to its request's ``msg_id``, so stale start-up messages are harmless: drain only
    what has already arrived.
    """

    def _context_default(self) -> zmq.asyncio.Context:
        context = super()._context_default()
        # the client connects before the sandboxed kernel has bound its ipc sockets and ZeroMQ
        # retries every 100 ms by default: retry sooner, backing off to 100 ms if it is gone
        context.setsockopt(zmq.RECONNECT_IVL, 5)
        context.setsockopt(zmq.RECONNECT_IVL_MAX, 100)
        return context

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        abs_timeout = time.time() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                pass
            else:
                if msg["msg_type"] == "kernel_info_reply":
                    # IOPub is connected once the reply's status messages come through
                    try:
                        await self.iopub_channel.get_msg(timeout=0.2)
                    except Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(msg)
                        break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.time() > abs_timeout:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0.01)
            except Empty:
                break


class SandboxKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel runs inside :func:`bwrap_command`."""

    client_class = DottedObjectName("l2course.sandbox.PromptKernelClient")
    client_factory = Type(PromptKernelClient, klass=AsyncKernelClient)

    sandbox_uid = Integer(0, help="Unprivileged uid the kernel runs as").tag(config=True)
    memory = Integer(Limits.memory).tag(config=True)
    processes = Integer(Limits.processes).tag(config=True)
    disk = Integer(Limits.disk).tag(config=True)
    enabled = Bool(True, help="Run the kernel in the sandbox").tag(config=True)
    conn_root = Unicode("", help="Directory for ipc sockets (default: a new temp dir)")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._conn_dir = tempfile.mkdtemp(prefix="l2course-conn-")
        if self.enabled and self.sandbox_uid:
            os.chown(self._conn_dir, self.sandbox_uid, self.sandbox_uid)
            self.transport = "ipc"
            self.ip = os.path.join(self._conn_dir, "kernel")
            self.connection_file = os.path.join(self._conn_dir, "kernel.json")
            self.cache_ports = False

    @property
    def kernel_spec(self) -> KernelSpec | None:  # type: ignore[override]
        spec = super().kernel_spec
        if spec is not None and self.enabled:
            # A SIGINT to the process group would reach bwrap, not the kernel: use a message.
            spec.interrupt_mode = "message"
        return spec

    def _limits(self) -> Limits:
        return Limits(memory=self.memory, processes=self.processes, disk=self.disk)

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        env = dict(kw.get("env") or os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"
        env["MPLBACKEND"] = "Agg"
        env["MPLCONFIGDIR"] = "/tmp/matplotlib"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        kw["env"] = env
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL  # the kernel's own console chatter
        if not self.enabled:
            return kernel_cmd, kw
        workdir = os.path.abspath(kw.get("cwd") or os.getcwd())
        if self.sandbox_uid:
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_uid)
        cmd = bwrap_command(
            kernel_cmd,
            workdir=workdir,
            stage=workdir,
            conn_dir=self._conn_dir,
            uid=self.sandbox_uid,
            limits=self._limits(),
        )
        return cmd, kw

    async def _async_wait(self, pollinterval: float = 0.01) -> None:
        # jupyter_client polls a killed kernel every 0.1 s (an idle wait per submission)
        await super()._async_wait(pollinterval)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._conn_dir, ignore_errors=True)

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "_conn_dir", ""), ignore_errors=True)
