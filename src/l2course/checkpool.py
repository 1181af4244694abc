"""Long-lived grading processes for the self-check server (``l2course serve``).

``l2course grade`` starts a :class:`~l2course.pool.Pool` per run; a server cannot pay a process
start (10 s of imports on a busy 2-core machine) per upload. So :class:`CheckPool` keeps ``jobs``
worker processes alive, each running :func:`l2course.grading.check_notebook` — the very function
behind ``l2course check``: scratch gradebook, private course, :class:`~l2course.worker.Worker`,
the sandboxed kernel — on one uploaded notebook at a time. As in ``Pool``, a worker that dies or
holds a check past its deadline (``notebook_timeout`` + :data:`~l2course.pool.GRACE`) is killed
with its process group and replaced; only the check it held fails.

Set-up that depends only on the assignment (its release, the private course) is done once per
worker process (:class:`KeptCourses`), not once per upload.

Each worker slot is served by one thread of the server, which sends a job down the worker's pipe
and waits for its answer; callers get a :class:`concurrent.futures.Future`. Measured cost of a
check on the fixture course (one kernel): ~2 s grading + ~1.5 s scratch gradebook and private
course on a loaded 2-core machine.
"""

from __future__ import annotations

import copy
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
import traceback
import warnings
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .course import Course
from .models import Result, Settings, Status
from .pool import GRACE, Pool
from .worker import last_line


@dataclass(frozen=True)
class CheckJob:
    """One uploaded notebook to check (``notebook`` is a file the worker may read)."""

    assignment: str
    notebook: str


def _checked_error(reason: str, status: Status = Status.ERROR) -> Any:
    from .grading import Checked

    return Checked([], result=Result(student="learner", status=status, reason=reason))


class KeptCourses:
    """Per-assignment set-up that ``check_notebook`` would redo for every upload, kept.

    ``check_notebook`` releases the assignment into a scratch gradebook (for the release
    notebooks) and builds a private course (:class:`~l2course.worker.Worker`) per call: ~1.5 s
    of the ~3.5 s a check takes. Inside one worker process both depend only on the assignment,
    so this process's :mod:`l2course.grading` is given a memoised ``register_assignment`` and a
    ``Worker`` that hands out one kept private course per assignment. Before each check the
    previous learner's submission is removed from that private gradebook, so no state passes
    from one check to the next.
    """

    def __init__(self, home: Path) -> None:
        from . import grading

        self.home = home
        self.releases: dict[str, Any] = {}
        self.workers: dict[str, Any] = {}
        # If ``check_notebook`` stops using these names, checks stay correct, only slower.
        if hasattr(grading, "register_assignment") and hasattr(grading, "Worker"):
            self._register = grading.register_assignment
            self._worker = grading.Worker
            grading.register_assignment = self.register  # type: ignore[assignment]
            grading.Worker = self.worker  # type: ignore[assignment,misc]

    def register(self, course: Course, assignment: str, db_url: str) -> Any:
        if assignment not in self.releases:
            self.releases[assignment] = self._register(course, assignment, db_url)
        return copy.deepcopy(self.releases[assignment])

    def worker(self, course: Course, assignment: str, settings: Settings,
               parent_dir: Path) -> _KeptWorker:
        if assignment not in self.workers:
            self.workers[assignment] = self._worker(course, assignment, settings, self.home)
        return _KeptWorker(self.workers[assignment])


class _KeptWorker:
    """A kept private course, seen by ``check_notebook`` as a fresh ``Worker``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def grade(self, student: str, staged: str) -> Result:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.inner.coursedir.db_url, self.inner.coursedir.course_id) as gb:
            try:
                gb.remove_submission(self.inner.assignment, student)
            except MissingEntry:
                pass
        return self.inner.grade(student, staged)

    def close(self) -> None:
        """Kept for the next check (removed when the worker process ends)."""


def _check_worker_main(conn: Connection, root: str, settings: Settings) -> None:
    """Worker process: import the grader once, then check notebooks until told to stop."""
    os.setpgid(0, 0)  # the parent kills the whole group (kernels included) on overrun
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.filterwarnings("ignore", module="nbgrader")
    from .grading import check_notebook, scratch

    course = Course.load(Path(root))
    with scratch("l2course-serve-worker-") as home:
        KeptCourses(home)
        conn.send(("ready", None))
        while (job := conn.recv()) is not None:
            try:
                checked = check_notebook(course, Path(job.notebook), job.assignment, settings)
            except Exception:
                checked = _checked_error("grader error: " + last_line(traceback.format_exc()))
            conn.send(("checked", checked))
    os._exit(0)  # skip interpreter teardown: ZeroMQ's context can block it for seconds


class _Slot:
    """One worker process, (re)started on demand, and the thread that feeds it."""

    def __init__(self, pool: CheckPool) -> None:
        self.pool = pool
        self.proc: Any = None
        self.conn: Connection | None = None

    def _start(self) -> None:
        here, there = self.pool.ctx.Pipe()
        self.proc = self.pool.ctx.Process(target=_check_worker_main, daemon=True,
                                          args=(there, str(self.pool.course.root),
                                                self.pool.settings))
        self.proc.start()
        there.close()
        self.conn = here
        if not here.poll(self.pool.start_timeout):
            raise RuntimeError("a check worker did not start in time")
        kind, _ = here.recv()
        assert kind == "ready"

    def _stop(self) -> None:
        if self.proc is not None:
            Pool._kill(self.proc)
        self.proc = self.conn = None

    def ready(self) -> bool:
        try:
            if self.proc is None or not self.proc.is_alive():
                self._stop()
                self._start()
            return True
        except (RuntimeError, OSError, EOFError, AssertionError):
            self._stop()
            return False

    def run(self, job: CheckJob) -> Any:
        """Check one notebook in this slot's worker; replace the worker if it fails."""
        if not self.ready():
            return _checked_error("the grading worker could not start")
        assert self.conn is not None
        try:
            self.conn.send(job)
            if not self.conn.poll(self.pool.deadline):
                self._stop()
                return _checked_error(f"checking took longer than {self.pool.deadline} s",
                                      Status.LIMIT)
            kind, checked = self.conn.recv()
            return checked
        except (EOFError, OSError):
            self._stop()
            return _checked_error("the grading worker died")

    def loop(self) -> None:
        while (item := self.pool.jobs.get()) is not None:
            job, future = item
            if future.set_running_or_notify_cancel():
                started = time.monotonic()
                checked = self.run(job)
                self.pool.record_seconds(time.monotonic() - started)
                future.set_result(checked)
        self._stop_gently()

    def _stop_gently(self) -> None:
        if self.conn is not None and self.proc is not None:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(5)
        self._stop()


class CheckPool:
    """``settings.jobs`` long-lived check workers fed by one FIFO of jobs."""

    def __init__(self, course: Course, settings: Settings, start_timeout: float = 180) -> None:
        self.course = course
        self.settings = settings
        self.size = max(1, settings.jobs)
        self.deadline = settings.limits.notebook_timeout + GRACE
        self.start_timeout = start_timeout
        self.ctx = mp.get_context("spawn")
        self.jobs: queue.Queue[tuple[CheckJob, Future] | None] = queue.Queue()
        self.slots = [_Slot(self) for _ in range(self.size)]
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._recent: list[float] = []

    def start(self) -> None:
        """Start every worker (in parallel) and the threads that feed them."""
        starters = [threading.Thread(target=slot.ready) for slot in self.slots]
        for t in starters:
            t.start()
        for t in starters:
            t.join()
        for slot in self.slots:
            thread = threading.Thread(target=slot.loop, name="check-slot", daemon=True)
            thread.start()
            self.threads.append(thread)

    def submit(self, job: CheckJob) -> Future:
        future: Future = Future()
        self.jobs.put((job, future))
        return future

    def record_seconds(self, seconds: float) -> None:
        with self._lock:
            self._recent = [*self._recent[-19:], seconds]

    def typical_seconds(self) -> float:
        """Mean duration of the last 20 checks (5 s before the first one)."""
        with self._lock:
            return sum(self._recent) / len(self._recent) if self._recent else 5.0

    def pids(self) -> list[int]:
        return [slot.proc.pid for slot in self.slots if slot.proc is not None]

    def close(self) -> None:
        """Stop the workers (each finishes the check it holds first, then is killed)."""
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join(30)
        for slot in self.slots:
            slot._stop()
