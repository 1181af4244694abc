"""The Jupyter side of the sandbox: a kernel manager that starts the kernel in bubblewrap.

:class:`SandboxKernelManager` wraps the kernel command with :func:`~l2course.sandbox.bwrap_command`
and talks to the kernel over ZeroMQ ``ipc`` sockets in a private directory (loopback TCP does not
cross ``--unshare-net``); :class:`PromptKernelClient` removes the idle waits of the start-up
handshake (one kernel starts per submission).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from queue import Empty
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Instance, Integer, Type

from .models import Limits
from .sandbox import bwrap_command

#: Single-threaded maths and a file-only matplotlib: the same numbers and no display anywhere.
KERNEL_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib",
              "PYTHONDONTWRITEBYTECODE": "1"}


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

    client_factory = Type(PromptKernelClient, klass=AsyncKernelClient)

    sandbox_uid = Integer(0, help="Unprivileged uid the kernel runs as").tag(config=True)
    limits = Instance(Limits, args=(), help="memory, processes and disk are applied here")
    enabled = Bool(True, help="Run the kernel in the sandbox").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._conn_dir = tempfile.mkdtemp(prefix="l2course-conn-")
        # ipc sockets in a private folder for every kernel, sandboxed or not: loopback TCP does
        # not cross --unshare-net, and over TCP ipykernel warns on every start that the
        # channels are unencrypted (ipc sockets are files only this user can open)
        self.transport = "ipc"
        self.ip = os.path.join(self._conn_dir, "kernel")
        self.connection_file = os.path.join(self._conn_dir, "kernel.json")
        self.cache_ports = False
        if self.enabled and self.sandbox_uid:
            os.chown(self._conn_dir, self.sandbox_uid, self.sandbox_uid)

    @property
    def kernel_spec(self) -> KernelSpec | None:  # type: ignore[override]
        spec = super().kernel_spec
        if spec is not None and self.enabled:
            # A SIGINT to the process group would reach bwrap, not the kernel: use a message.
            spec.interrupt_mode = "message"
        return spec

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        kw["env"] = {**(kw.get("env") or os.environ), **KERNEL_ENV}
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
            limits=self.limits,
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
