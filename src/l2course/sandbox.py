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
from collections.abc import Iterable, Iterator
from pathlib import Path

from .models import Limits

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


def _limits_prefix(limits: Limits) -> list[str]:
    """``prlimit`` with the sandbox's rlimits (it then execs bwrap)."""
    return ["prlimit", f"--as={limits.memory}", f"--nproc={limits.processes}",
            f"--fsize={limits.disk}", "--core=0", "--nofile=1024", "--"]


def _system_binds() -> list[str]:
    """Namespaces and the read-only system: ``/usr``, ``/etc`` and the merged-usr links."""
    cmd = ["bwrap",
           "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
           "--unshare-cgroup-try", "--die-with-parent", "--new-session",
           "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = os.readlink(f"/{link}") if os.path.islink(f"/{link}") else None
        if target:
            cmd += ["--symlink", target, f"/{link}"]
        elif os.path.isdir(f"/{link}"):
            cmd += ["--ro-bind", f"/{link}", f"/{link}"]
    return cmd + ["--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp"]


def _python_binds(workdir: str) -> list[str]:
    """The parents of the Python roots and of ``workdir``, then the roots bound read-only."""
    made: set[str] = {"/", "/usr", "/etc", "/tmp", "/dev", "/proc", "/run"}
    cmd = ["--perms", "0755", "--dir", "/run"]
    roots = python_roots()
    for root in [*roots, workdir]:
        for parent in _ancestors(root):
            if parent not in made:
                cmd += ["--perms", "0755", "--dir", parent]
                made.add(parent)
    for root in roots:
        cmd += ["--ro-bind", root, root]
    return cmd


def _identity(uid: int) -> list[str]:
    """As root: switch to the dedicated uid (``RLIMIT_NPROC`` does not apply to root)."""
    if not uid:
        return []
    return ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]


def bwrap_command(
    inner: list[str], *, workdir: str, stage: str, conn_dir: str, uid: int, limits: Limits,
) -> list[str]:
    """Wrap ``inner`` (the kernel command) in prlimit + bwrap + setpriv.

    The submission's files are bound read-only at :data:`STAGE` and copied into ``workdir``, a
    ``tmpfs`` of ``limits.disk`` bytes, before the kernel starts there.
    """
    cmd = [*_limits_prefix(limits), *_system_binds(), *_python_binds(workdir),
           "--ro-bind", stage, STAGE,
           "--bind", conn_dir, conn_dir,
           "--perms", "1777", "--size", str(limits.disk), "--tmpfs", workdir,
           "--chdir", "/", "--setenv", "HOME", "/tmp", *_identity(uid)]
    if not uid:
        # unprivileged: bwrap uses a user namespace; the process limit then counts all of
        # this user's processes
        cmd.insert(cmd.index("bwrap") + 1, "--unshare-user")
    copy_in = 'unset JPY_PARENT_PID; cp -R "$0"/. "$1"/ && cd "$1" && shift && exec "$@"'
    return [*cmd, "--", "/bin/sh", "-c", copy_in, STAGE, workdir, *inner]


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


def kill_all(pids: Iterable[int]) -> int:
    """SIGKILL every pid (those already gone are skipped); return how many were signalled."""
    killed = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            pass
    return killed


def reap_strays(uid: int) -> int:
    """Kill every process of the sandbox uid whose parent also runs as that uid.

    That is everything the student's code started (forks, subprocesses), but not the kernel
    itself, whose parent is bubblewrap's init (root). Returns the number found.
    """
    procs = sandbox_processes(uid)
    strays = [pid for pid, ppid in procs.items() if ppid in procs]
    kill_all(strays)
    return len(strays)


def enforce_process_cap(uid: int, processes: int) -> bool:
    """Kill the whole sandbox (kernel included) once ``uid`` nears ``processes`` tasks.

    ``RLIMIT_NPROC`` stops new forks but not a fork bomb's survivors, which keep the kernel's
    channels busy: a bomb ends the kernel (its cell is marked). Returns True if it fired.
    """
    if sandbox_tasks(uid) < processes - 1:
        return False
    kill_all(sandbox_processes(uid))
    return True
