"""nbgrader's ``Execute`` preprocessor, with the sandbox and per-submission limits.

It replaces ``Execute`` in ``Autograde.autograde_preprocessors`` and adds, around each cell:

* a per-notebook wall-time budget (each cell's timeout is the smaller of the cell limit and what
  is left; cells after the budget is spent are not run and score 0);
* an output cap per cell (further output is dropped, the cell is interrupted and marked);
* survival of a dead kernel (``sys.exit`` is harmless; ``os._exit`` or a self-kill marks that
  cell and every later code cell as failed, instead of crashing the whole autograde);
* clean-up of processes left behind by a timed-out cell or a fork bomb
  (:func:`~l2course.sandbox.reap_strays`, :func:`~l2course.sandbox.enforce_process_cap`);
* the integrity guard (:mod:`l2course.guard`), run as hidden cells (:class:`HiddenCells`).

Every such event is written as an ``error`` output of the cell (so nbgrader scores it 0 and the
feedback shows why) and recorded in ``resources["l2course"]["events"]``, next to nbgrader's own
``resources["nbgrader"]``; the grading worker reads them there (:mod:`l2course.worker`).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Instance, Integer

from .guard import IntegrityGuard
from .kernel import SandboxKernelManager
from .models import Limits, Status
from .sandbox import enforce_process_cap, reap_strays

Resources = dict[str, Any]


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An ``error`` output, as nbgrader's feedback shows it."""
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def events_of(resources: Resources) -> list[dict[str, str]]:
    """``resources["l2course"]["events"]`` (created empty on first use)."""
    return resources.setdefault("l2course", {}).setdefault("events", [])


def add_event(resources: Resources, cell: NotebookNode, kind: Status, message: str) -> None:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
    events_of(resources).append({"cell": grade_id, "kind": str(kind), "message": message})


def mark(cell: NotebookNode, ename: str, evalue: str) -> None:
    """Append an error output to ``cell`` (it then scores 0)."""
    cell.outputs = list(cell.get("outputs", [])) + [error_output(ename, evalue)]


class HiddenCells:
    """Run helper code in the kernel, out of the notebook (mixin for an nbclient executor)."""

    _hidden = False
    _hidden_timeout = 30

    def run_hidden(self, code: str, index: int, timeout: int = 30) -> list[NotebookNode]:
        """Execute ``code`` as if at cell ``index``; the notebook is left as it was.

        While it runs, ``_hidden`` is True and ``_hidden_timeout`` is its time limit (the
        executor's ``_get_timeout`` and output handling read them).
        """
        saved = self.nb.cells[index]  # type: ignore[attr-defined]
        cell = new_code_cell(code)
        self._hidden, self._hidden_timeout = True, timeout
        try:
            self.execute_cell(cell, index, store_history=False)  # type: ignore[attr-defined]
        finally:
            self._hidden = False
            self.nb.cells[index] = saved  # type: ignore[attr-defined]
        return cell.outputs


class SandboxedExecute(HiddenCells, Execute):
    """nbgrader ``Execute`` with the sandbox, limits and guard (see the module docstring)."""

    limits = Instance(Limits, args=(), help="The submission's limits (whole)").tag(config=True)
    guard = Bool(True, help="Check numpy/builtins for monkey-patching before test cells").tag(
        config=True)
    sandbox = Bool(True, help="Run the kernel in the bubblewrap sandbox").tag(config=True)
    sandbox_uid = Integer(0, help="Unprivileged uid the kernel runs as").tag(config=True)

    def create_kernel_manager(self) -> SandboxKernelManager:
        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or "python3"
        self.km = SandboxKernelManager(kernel_name=self.kernel_name, config=self.config,
                                       enabled=self.sandbox, sandbox_uid=self.sandbox_uid,
                                       limits=self.limits)
        return self.km

    @property
    def _sandboxed_uid(self) -> int:
        """The kernel's dedicated uid, or 0 when its processes cannot be told apart."""
        return self.sandbox_uid if self.sandbox else 0

    # -- the notebook ----------------------------------------------------------------------
    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        resources = {} if resources is None else resources
        events_of(resources)
        self._deadline = time.monotonic() + self.limits.notebook_timeout
        self._dead = False
        self._proc_limit = False
        self._guard = IntegrityGuard(self.run_hidden) if self.guard else None
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self._sandboxed_uid:
                reap_strays(self._sandboxed_uid)

    def _get_timeout(self, cell: NotebookNode | None) -> int | None:
        """The cell limit (``limits.cell_timeout``, not ``Execute.timeout``), within the budget."""
        base = self._hidden_timeout if self._hidden else self.limits.cell_timeout
        left = max(1, int(self._deadline - time.monotonic()))
        return min(base, left) if base else left

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> Any:
        self._timed_out = True
        return await super()._async_handle_timeout(timeout, cell)

    async def _async_poll_kernel_alive(self) -> None:
        """nbclient's liveness poll, plus the process cap: a fork bomb kills the sandbox."""
        while True:
            await asyncio.sleep(0.5)
            uid = self._sandboxed_uid
            if uid and enforce_process_cap(uid, self.limits.processes):
                self._proc_limit = True
            try:
                await self._async_check_alive()
            except DeadKernelError:
                assert self.task_poll_for_reply is not None
                self.task_poll_for_reply.cancel()
                return

    # -- output cap ------------------------------------------------------------------------
    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        if self._hidden:
            return super().output(outs, msg, display_id, cell_index)
        if self._output_exceeded:
            return None
        self._output_bytes += len(json.dumps(msg.get("content", {})))
        if self._output_bytes > self.limits.output:
            self._output_exceeded = True
            if self.km is not None:
                asyncio.ensure_future(self.km.interrupt_kernel())
            return None
        return super().output(outs, msg, display_id, cell_index)

    # -- one cell --------------------------------------------------------------------------
    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._refused(cell, resources):
            return cell, resources
        try:
            tampered = self._guard.before_cell(cell, index) if self._guard else None
            if tampered:
                message = f"student code replaced {tampered}"
                cell.outputs = [error_output("IntegrityError", message)]
                add_event(resources, cell, Status.TAMPERED, message)
                return cell, resources
            self._output_bytes = 0
            self._output_exceeded = False
            self._timed_out = False
            cell, resources = super().preprocess_cell(cell, resources, index)
        except CellTimeoutError as exc:
            # nbclient gave up waiting for the kernel's output (e.g. forked copies of the
            # kernel flood or block its channels): score the cell 0 and go on
            self._timed_out = True
            mark(cell, "CellTimeoutError", str(exc).splitlines()[0])
        except DeadKernelError:
            self._kernel_died(cell, resources)
            return cell, resources
        self._record_limits(cell, resources)
        return cell, resources

    def _refused(self, cell: NotebookNode, resources: Resources) -> bool:
        """Mark ``cell`` as not run if the kernel is dead or the notebook's time is up."""
        if self._dead:
            cell.outputs = [error_output("KernelDied", "the kernel died in an earlier cell")]
            return True
        if time.monotonic() >= self._deadline:
            budget = self.limits.notebook_timeout
            cell.outputs = [error_output(
                "NotebookTimeLimit", f"the notebook's time limit ({budget} s) was used up")]
            add_event(resources, cell, Status.LIMIT, f"notebook time limit {budget} s")
            return True
        return False

    def _kernel_died(self, cell: NotebookNode, resources: Resources) -> None:
        self._dead = True
        if self._proc_limit:
            n = self.limits.processes
            mark(cell, "ProcessLimitExceeded", f"more than {n} processes; the kernel was stopped")
            add_event(resources, cell, Status.LIMIT, f"process limit {n}")
        else:
            mark(cell, "KernelDied", "the kernel died while running this cell "
                                     "(os._exit, a fatal signal, or out of memory)")
            add_event(resources, cell, Status.CRASHED, "the kernel died")

    def _record_limits(self, cell: NotebookNode, resources: Resources) -> None:
        """Events for the limits the cell ran into; strays of a timed-out cell are killed."""
        if self._output_exceeded:
            n = self.limits.output
            cell.outputs.append(error_output(
                "OutputLimitExceeded", f"the cell printed more than {n} bytes; output truncated"))
            add_event(resources, cell, Status.LIMIT, f"output limit {n} bytes")
        if self._timed_out:
            add_event(resources, cell, Status.LIMIT,
                      f"cell time limit {self._get_timeout(cell)} s")
        if any(out.get("ename") == "MemoryError" for out in cell.outputs
               if out.get("output_type") == "error"):
            add_event(resources, cell, Status.LIMIT,
                      f"memory limit {self.limits.memory // 1024**2} MB")
        if self._timed_out and self._sandboxed_uid:
            reap_strays(self._sandboxed_uid)

    _proc_limit = False
    _output_bytes = 0
    _output_exceeded = False
    _timed_out = False
