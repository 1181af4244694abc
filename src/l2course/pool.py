"""Worker processes that grade submissions in parallel, each with its private course.

A worker that dies or overruns (``notebook_timeout`` + 120 s) is killed and replaced; only the
submission it held is affected (status ``error`` or ``limit``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .course import Course
from .models import Result, Settings, Status
from .worker import Worker, last_line

Job = tuple[str, str]  # (student, staged submission folder)
#: Seconds a worker may hold one submission beyond the notebook's own time budget.
GRACE = 120


def _worker_main(conn: Connection, course: Course, assignment: str, settings: Settings,
                 parent_dir: str) -> None:
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy autoflush warnings
    try:
        worker = Worker(course, assignment, settings, Path(parent_dir))
    except Exception:
        conn.send(("fatal", traceback.format_exc()))
        return
    conn.send(("ready", None))
    try:
        while (job := conn.recv()) is not None:
            student, staged = job
            try:
                result = worker.grade(student, staged)
            except Exception:
                result = Result(student=student, status=Status.ERROR,
                                reason="grader error: " + last_line(traceback.format_exc()))
            conn.send(("result", asdict(result)))
    finally:
        worker.close()


@dataclass
class _Slot:
    """One worker process and the job it holds."""

    proc: Any
    job: Job | None = None
    since: float = field(default_factory=time.monotonic)


class Pool:
    """``jobs`` worker processes, each with its private course; kills and replaces overruns."""

    def __init__(self, course: Course, assignment: str, settings: Settings,
                 parent_dir: Path) -> None:
        self.args = (course, assignment, settings, str(parent_dir))
        self.ctx = mp.get_context("spawn")
        self.jobs = max(1, settings.jobs)
        self.deadline = settings.limits.notebook_timeout + GRACE
        self.workers: dict[Connection, _Slot] = {}
        self.retired: list[Any] = []  # told to stop: joined by close()
        self.undispatched = 0

    def _spawn(self) -> None:
        here, there = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker_main, args=(there, *self.args), daemon=True)
        proc.start()
        there.close()
        self.workers[here] = _Slot(proc)

    @staticmethod
    def _kill(proc: Any) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.kill()
        proc.join(5)

    def start(self, wanted: int | None = None) -> None:
        """Start workers up to ``jobs`` (at most ``wanted`` more).

        Called before the jobs are known, so the workers set up their private courses while the
        parent prepares; during a run, replaces workers that died or were killed.
        """
        free = self.jobs - len(self.workers)
        for _ in range(free if wanted is None else min(free, wanted)):
            self._spawn()

    def run(self, jobs: list[Job], on_result: Callable[[Result], None]) -> None:
        """Grade ``(student, staged_dir)`` jobs; call ``on_result`` in the parent as each ends."""
        self.start()
        pending: Iterator[Job] = iter(jobs)
        remaining = self.undispatched = len(jobs)
        try:
            while remaining > 0 and self.workers:
                for conn in wait(list(self.workers), timeout=5):
                    remaining -= self._receive(conn, pending, on_result)
                remaining -= self._kill_overruns(on_result)
                self.start(wanted=self.undispatched)  # replace dead or killed workers
        finally:
            self.close()

    def _dispatch(self, conn: Connection, pending: Iterator[Job]) -> None:
        """Send the next job, or tell the worker to stop (and retire it) if there is none."""
        slot = self.workers[conn]
        slot.job, slot.since = next(pending, None), time.monotonic()
        conn.send(slot.job)
        if slot.job is None:
            self.retired.append(self.workers.pop(conn).proc)
        else:
            self.undispatched -= 1

    def _receive(self, conn: Connection, pending: Iterator[Job],
                 on_result: Callable[[Result], None]) -> int:
        """Handle one message from a worker; return how many jobs it finished (0 or 1)."""
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            kind, payload = "died", None
        if kind == "fatal":
            raise RuntimeError(f"a grading worker could not start:\n{payload}")
        if kind in ("ready", "result"):
            if kind == "result":
                on_result(Result.from_dict(payload))
            self._dispatch(conn, pending)
            return int(kind == "result")
        job = self._drop(conn)
        if job is None:
            return 0
        on_result(Result(student=job[0], status=Status.ERROR, reason="the grading worker died"))
        return 1

    def _kill_overruns(self, on_result: Callable[[Result], None]) -> int:
        """Kill the workers holding a job past the deadline; return how many jobs that ends."""
        now, ended = time.monotonic(), 0
        for conn, slot in list(self.workers.items()):
            if slot.job is not None and now - slot.since > self.deadline:
                job = self._drop(conn)
                assert job is not None
                on_result(Result(student=job[0], status=Status.LIMIT,
                                 reason=f"grading took longer than {self.deadline} s"))
                ended += 1
        return ended

    def _drop(self, conn: Connection) -> Job | None:
        """Kill a worker and forget it; return the job it held."""
        slot = self.workers.pop(conn)
        self._kill(slot.proc)
        return slot.job

    def close(self) -> None:
        """Stop every worker (each removes its private course)."""
        for conn in self.workers:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc in [*self.retired, *(slot.proc for slot in self.workers.values())]:
            proc.join(10)
            if proc.is_alive():
                self._kill(proc)
        self.workers, self.retired = {}, []
