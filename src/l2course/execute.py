"""nbgrader's ``Execute`` preprocessor, with the sandbox and per-submission limits.

It replaces ``Execute`` in ``Autograde.autograde_preprocessors`` and adds, around each cell:

* a per-notebook wall-time budget (each cell's timeout is the smaller of ``timeout`` and what is
  left; cells after the budget is spent are not run and score 0);
* an output cap per cell (further output is dropped, the cell is interrupted and marked);
* survival of a dead kernel (``sys.exit`` is harmless; ``os._exit`` or a self-kill marks that
  cell and every later code cell as failed, instead of crashing the whole autograde);
* clean-up of processes left behind by a timed-out cell or a fork bomb;
* an integrity guard: before each graded test cell, the kernel's ``builtins``, ``math``,
  ``numpy``, ``numpy.linalg`` and ``numpy.testing`` are compared with a snapshot taken before
  any student code ran; if the student replaced any of them, the test cell is not run and
  scores 0.

Every such event is written as an ``error`` output of the cell (so nbgrader scores it 0 and the
feedback shows why) and recorded in ``resources["l2course"]["events"]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import time
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade
from traitlets import Bool, Integer

from .sandbox import SandboxKernelManager, reap_strays, sandbox_processes, sandbox_tasks

#: Events of the last notebooks executed in this process (read by the grading worker).
EVENTS: list[dict[str, str]] = []

GUARD_INSTALL = r'''
def _l2course_install_guard():
    import builtins, math, sys
    modules = {"builtins": builtins, "math": math}
    try:
        import numpy, numpy.linalg, numpy.testing
        modules.update({"numpy": numpy, "numpy.linalg": numpy.linalg,
                        "numpy.testing": numpy.testing})
    except ImportError:
        pass
    snapshot = {name: (mod, dict(vars(mod))) for name, mod in modules.items()}
    _stdout = sys.stdout
    _vars, _sorted, _join = vars, sorted, str.join
    # IPython/ipykernel rebind these on every execution
    _volatile = {"input", "raw_input", "get_ipython", "exit", "quit", "display", "help",
                 "getpass"}

    def check(nonce):
        changed = []
        for name, (mod, before) in snapshot.items():
            if sys.modules.get(name) is not mod:
                changed.append(name + " (module replaced)")
                continue
            now = _vars(mod)
            for key, value in before.items():
                if key.startswith("_") or key in _volatile:
                    continue
                if now.get(key, check) is not value:
                    changed.append(name + "." + key)
            for key in now.keys() - before.keys():
                if not key.startswith("_") and name == "builtins":
                    changed.append(name + "." + key)
        _stdout.write("L2GUARD " + nonce + " " + _join(",", _sorted(changed)[:20]) + "\n")
        _stdout.flush()

    return check

_l2course_guard_check = _l2course_install_guard()
del _l2course_install_guard
'''


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An ``error`` output, as nbgrader's feedback shows it."""
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class SandboxedExecute(Execute):
    """nbgrader ``Execute`` with the sandbox, limits and guard (see the module docstring)."""

    notebook_timeout = Integer(300, help="Wall-time budget for the whole notebook (s)").tag(
        config=True
    )
    output_limit = Integer(1024**2, help="Maximum bytes of output per cell").tag(config=True)
    guard = Bool(True, help="Check numpy/builtins for monkey-patching before test cells").tag(
        config=True
    )
    sandbox = Bool(True, help="Run the kernel in the bubblewrap sandbox").tag(config=True)
    sandbox_uid = Integer(0).tag(config=True)
    memory = Integer(4 * 1024**3).tag(config=True)
    processes = Integer(64).tag(config=True)

    def create_kernel_manager(self) -> SandboxKernelManager:
        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or "python3"
        self.km = SandboxKernelManager(
            kernel_name=self.kernel_name,
            config=self.config,
            enabled=self.sandbox,
            sandbox_uid=self.sandbox_uid,
            memory=self.memory,
            processes=self.processes,
        )
        return self.km

    # -- bookkeeping -----------------------------------------------------------------------
    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        self._deadline = time.monotonic() + self.notebook_timeout
        self._dead = False
        self._guard_ready = False
        self._proc_limit = False
        self._dirty = False
        self._tampered: str | None = None
        self._events: list[dict[str, str]] = []
        try:
            nb, resources = super().preprocess(nb, resources, km)
        finally:
            if self.sandbox and self.sandbox_uid:
                reap_strays(self.sandbox_uid)
            EVENTS.extend(self._events)
        return nb, resources

    def _event(self, cell: NotebookNode, kind: str, message: str) -> None:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        self._events.append({"cell": grade_id, "kind": kind, "message": message})

    def _get_timeout(self, cell: NotebookNode | None) -> int | None:
        base = super()._get_timeout(cell)
        left = max(1, int(self._deadline - time.monotonic()))
        return min(base, left) if base else left

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> Any:
        self._timed_out = True
        return await super()._async_handle_timeout(timeout, cell)

    async def _async_poll_kernel_alive(self) -> None:
        """nbclient's liveness poll, plus the process cap: a fork bomb kills the sandbox."""
        while True:
            await asyncio.sleep(0.5)
            if self.sandbox and self.sandbox_uid:
                if sandbox_tasks(self.sandbox_uid) >= self.processes - 1:
                    self._proc_limit = True
                    procs = sandbox_processes(self.sandbox_uid)
                    for pid in procs:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            try:
                await self._async_check_alive()
            except DeadKernelError:
                assert self.task_poll_for_reply is not None
                self.task_poll_for_reply.cancel()
                return

    # -- output cap ----------------------------------------------------------------------------
    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        if self._hidden:
            return super().output(outs, msg, display_id, cell_index)
        if self._output_exceeded:
            return None
        size = len(json.dumps(msg.get("content", {})))
        self._output_bytes += size
        if self._output_bytes > self.output_limit:
            self._output_exceeded = True
            if self.km is not None:
                asyncio.ensure_future(self.km.interrupt_kernel())
            return None
        return super().output(outs, msg, display_id, cell_index)

    # -- hidden helper cells -----------------------------------------------------------------
    def _run_hidden(self, code: str, index: int, timeout: int = 30) -> list[NotebookNode]:
        saved = self.nb.cells[index]
        saved_timeout = self.timeout
        cell = new_code_cell(code)
        self._hidden = True
        self.timeout = timeout
        try:
            self.execute_cell(cell, index, store_history=False)
        finally:
            self._hidden = False
            self.timeout = saved_timeout
            self.nb.cells[index] = saved
        return cell.outputs

    def _guard_check(self, cell: NotebookNode, index: int) -> str | None:
        """None if intact, else a description of what was replaced."""
        nonce = secrets.token_hex(8)
        outputs = self._run_hidden(f"_l2course_guard_check({nonce!r})", index)
        prefix = f"L2GUARD {nonce} "
        for out in outputs:
            if out.get("output_type") == "stream":
                for line in out.get("text", "").splitlines():
                    if line.startswith(prefix):
                        changed = line[len(prefix):].strip()
                        return changed or None
        return "the integrity check could not run (stdout or the guard was replaced)"

    # -- per cell ------------------------------------------------------------------------------
    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._dead:
            cell.outputs = [error_output("KernelDied", "the kernel died in an earlier cell")]
            return cell, resources
        if time.monotonic() >= self._deadline:
            cell.outputs = [error_output(
                "NotebookTimeLimit",
                f"the notebook's time limit ({self.notebook_timeout} s) was used up")]
            self._event(cell, "limit", f"notebook time limit {self.notebook_timeout} s")
            return cell, resources
        try:
            if self.guard and not self._guard_ready:
                self._run_hidden(GUARD_INSTALL, index)
                self._guard_ready = True
            if self.guard and is_grade(cell):
                # only student code (any cell that is not locked) can tamper: check again only
                # if some ran since the last check; once tampered, every later test scores 0
                if self._dirty and not self._tampered:
                    self._tampered = self._guard_check(cell, index)
                    self._dirty = False
                if self._tampered:
                    message = f"student code replaced {self._tampered}"
                    cell.outputs = [error_output("IntegrityError", message)]
                    self._event(cell, "tampered", message)
                    return cell, resources
            if not cell.metadata.get("nbgrader", {}).get("locked"):
                self._dirty = True
            self._output_bytes = 0
            self._output_exceeded = False
            self._timed_out = False
            cell, resources = super().preprocess_cell(cell, resources, index)
        except CellTimeoutError as exc:
            # nbclient gave up waiting for the kernel's output (e.g. forked copies of the
            # kernel flood or block its channels): score the cell 0 and go on
            self._timed_out = True
            cell.outputs = list(cell.get("outputs", [])) + [
                error_output("CellTimeoutError", str(exc).splitlines()[0])]
        except DeadKernelError:
            self._dead = True
            if self._proc_limit:
                cell.outputs = list(cell.get("outputs", [])) + [error_output(
                    "ProcessLimitExceeded",
                    f"more than {self.processes} processes; the kernel was stopped")]
                self._event(cell, "limit", f"process limit {self.processes}")
            else:
                cell.outputs = list(cell.get("outputs", [])) + [
                    error_output("KernelDied", "the kernel died while running this cell "
                                 "(os._exit, a fatal signal, or out of memory)")]
                self._event(cell, "crashed", "the kernel died")
            return cell, resources
        if self._output_exceeded:
            cell.outputs.append(error_output(
                "OutputLimitExceeded",
                f"the cell printed more than {self.output_limit} bytes; output truncated"))
            self._event(cell, "limit", f"output limit {self.output_limit} bytes")
        if self._timed_out:
            self._event(cell, "limit", f"cell time limit {self._get_timeout(cell)} s")
        if any(out.get("ename") == "MemoryError" for out in cell.outputs
               if out.get("output_type") == "error"):
            self._event(cell, "limit", f"memory limit {self.memory // 1024**2} MB")
        if self.sandbox and self.sandbox_uid:
            if self._timed_out:
                reap_strays(self.sandbox_uid)
        return cell, resources

    _hidden = False
    _proc_limit = False
    _output_bytes = 0
    _output_exceeded = False
    _timed_out = False
