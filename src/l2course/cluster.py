"""Grade on a Dask cluster: ``l2course grade A SUBMISSIONS --scheduler tcp://HOST:PORT``.

:class:`ClusterPool` has the local :class:`~l2course.pool.Pool`'s interface (``start``, ``run``,
``close``), so :func:`~l2course.grading.grade_class` stays the same pipeline: the parent reads
and stages the submissions, and records every result in the gradebook (the only writer). What
changes is where a submission is graded:

* **No shared file system.** A task carries what it needs: a :class:`CourseBundle` (the
  course's ``nbgrader_config.py`` and ``<source>/<assignment>``, about 20–40 kB for this book's
  assignments) and the staged submission as a zip. It returns the :class:`Result` with the
  autograded and feedback folders zipped (:class:`Shipped`); the parent unpacks them.
* **Same sandbox, same limits.** On the worker, :func:`grade_task` runs the same
  :class:`~l2course.worker.Worker` (bubblewrap, ``Limits``) in a private course kept per process
  for the next submission of the same assignment. A worker process grades one submission at a
  time (the sandbox's uid is per process): run ``dask worker --nthreads 1``.
* **Faults.** A worker that dies mid-task (machine lost, process killed) is Dask's to handle:
  the scheduler re-runs the tasks it held on another worker, up to its
  ``distributed.scheduler.allowed-failures`` (default 3); past that the task fails with
  ``KilledWorker`` and the submission is recorded once, ``error`` ("the grading worker died").
  The parent records each student once, whatever Dask reports. A submission that crashes its
  *kernel* does not harm the worker: the task returns normally, ``crashed``, and is never re-run
  (tasks are submitted with ``retries=0``). A task held past ``notebook_timeout`` + 120 s
  (:data:`~l2course.pool.GRACE`) is recorded ``limit`` and its worker restarted (when it has a
  nanny, as ``dask worker`` starts it by default).
* **Unreachable scheduler** (or no worker, or a worker that cannot grade): a
  :class:`ClusterUnavailable` error from :meth:`ClusterPool.start`, which ``grade_class`` calls
  before it writes anything.

:meth:`ClusterPool.grade_one` grades a single staged submission and keeps the connection open
(for a self-check server sending learners' notebooks to the same cluster).

Measured cost (busy 2-core machine): zipping a submission takes ~0.5 ms; the parent's share per
submission is dominated by recording it in the gradebook (~150 ms of CPU: nbgrader opens the
gradebook twice per result), which is what bounds one run's throughput, not Dask
(``bench/grade_cluster.py``; README, "Running a large class").
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback
import uuid
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .course import CONFIG_FILE, COPY_IGNORE, Course
from .models import Result, Settings, Status
from .pool import GRACE, Job
from .worker import Worker, last_line

#: Seconds to wait for the scheduler to answer, and for a first worker to join it.
CONNECT_TIMEOUT = 10
WORKER_TIMEOUT = 60
#: Private courses a worker process keeps (several assignments may share a cluster).
KEEP_COURSES = 4


class ClusterUnavailable(RuntimeError):
    """The Dask scheduler cannot be reached, has no worker, or a worker cannot grade."""


# -- what travels ---------------------------------------------------------------------------
def zip_folder(folder: Path) -> bytes:
    """Every regular file under ``folder`` (symlinks skipped), as zip bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def unzip_folder(data: bytes, dest: Path) -> Path:
    """Extract zip bytes made by :func:`zip_folder` into ``dest`` (no absolute or ``..``)."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            parts = Path(name).parts
            if Path(name).is_absolute() or ".." in parts:
                raise ValueError(f"unsafe path in a shipped folder: {name}")
        archive.extractall(dest)
    return dest


@dataclass(frozen=True)
class CourseBundle:
    """What a worker needs of the course to grade one assignment, as bytes."""

    assignment: str
    config: str  # nbgrader_config.py ("" if the course has none)
    source_folder: str  # CourseDirectory.source_directory
    source: bytes  # <source>/<assignment>, zipped
    digest: str

    @classmethod
    def of(cls, course: Course, assignment: str) -> CourseBundle:
        config_path = course.root / CONFIG_FILE
        config = config_path.read_text() if config_path.exists() else ""
        with tempfile.TemporaryDirectory(prefix="l2course-bundle-") as tmp:
            copy = Path(tmp) / assignment
            shutil.copytree(course.source(assignment), copy,
                            ignore=shutil.ignore_patterns(*COPY_IGNORE))
            source = zip_folder(copy)
        digest = hashlib.sha256(config.encode() + b"\0" + assignment.encode() + b"\0" + source)
        return cls(assignment, config, course.folder_name("source"), source,
                   digest.hexdigest()[:16])

    def unpack(self, root: Path) -> Course:
        """Lay the course out at ``root`` (a worker's disk) and load it."""
        if self.config:
            (root / CONFIG_FILE).parent.mkdir(parents=True, exist_ok=True)
            (root / CONFIG_FILE).write_text(self.config)
        unzip_folder(self.source, root / self.source_folder / self.assignment)
        return Course.load(root)


@dataclass
class Shipped:
    """A worker's answer: the result (as a dict) and its autograded and feedback folders."""

    result: dict[str, Any]
    autograded: bytes | None = None
    feedback: bytes | None = None
    host: str = field(default_factory=socket.gethostname)


# -- on the worker --------------------------------------------------------------------------
_LOCK = threading.Lock()  # one submission at a time per worker process
_COURSES: OrderedDict[tuple[str, Settings], Worker] = OrderedDict()
_SCRATCH: list[Path] = []
_SANDBOX_OK: list[bool] = []


def _scratch() -> Path:
    """This process's scratch folder (readable by the sandbox's uid), removed at exit."""
    if not _SCRATCH:
        path = Path(tempfile.mkdtemp(prefix="l2course-dask-"))
        os.chmod(path, 0o755)
        _SCRATCH.append(path)
        atexit.register(_cleanup)
    return _SCRATCH[0]


def _cleanup() -> None:
    for worker in _COURSES.values():
        worker.close()
    _COURSES.clear()
    for path in _SCRATCH:
        shutil.rmtree(path, ignore_errors=True)


def _private_course(bundle: CourseBundle, settings: Settings) -> Worker:
    """The process's private course for this bundle and settings (made on first use)."""
    key = (bundle.digest, settings)
    if key in _COURSES:
        _COURSES.move_to_end(key)
        return _COURSES[key]
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy autoflush warnings
    if settings.sandbox and not _SANDBOX_OK:
        from .sandbox import check_sandbox

        check_sandbox()  # the worker's host must have bubblewrap too
        _SANDBOX_OK.append(True)
    root = Path(tempfile.mkdtemp(prefix=f"course-{bundle.digest}-", dir=_scratch()))
    course = bundle.unpack(root)
    _COURSES[key] = Worker(course, bundle.assignment, settings, _scratch())
    while len(_COURSES) > KEEP_COURSES:
        _COURSES.popitem(last=False)[1].close()
    return _COURSES[key]


def probe(settings: Settings) -> str:
    """Run on every worker before grading: can this host grade (bubblewrap, nbgrader)?"""
    if settings.sandbox:
        from .sandbox import check_sandbox

        check_sandbox()
    import nbgrader  # noqa: F401  (the grader's own dependencies are installed)

    return socket.gethostname()


def grade_task(bundle: CourseBundle, settings: Settings, student: str,
               submission: bytes) -> Shipped:
    """Grade one shipped submission on this worker; ship the result back."""
    with _LOCK:
        staged = _scratch() / f"staged-{uuid.uuid4().hex}"
        worker: Worker | None = None
        try:
            worker = _private_course(bundle, settings)
            unzip_folder(submission, staged)
            result = worker.grade(student, str(staged))
        except Exception:
            result = Result(student=student, status=Status.ERROR,
                            reason=f"grader error on {socket.gethostname()}: "
                                   + last_line(traceback.format_exc()))
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        shipped = Shipped(asdict(result))
        for kind in ("autograded", "feedback"):
            folder = getattr(result, kind)
            if folder and Path(folder).is_dir():
                setattr(shipped, kind, zip_folder(Path(folder)))
        if worker is not None:
            _forget(worker, student)
        return shipped


def _forget(worker: Worker, student: str) -> None:
    """Remove a graded student's folders from the private course (the worker keeps nothing)."""
    for kind in ("submitted", "autograded", "feedback"):
        folder = worker._path(kind, student)
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.parent.rmdir()  # <kind>/<student>, if now empty
        except OSError:
            pass


# -- in the parent --------------------------------------------------------------------------
def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A Dask client of the scheduler at ``address``; ClusterUnavailable if it does not answer."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterUnavailable(
            f"cannot reach the Dask scheduler at {address} ({exc.__class__.__name__}: {exc}).\n"
            "Start one with 'dask scheduler' and workers with 'dask worker ADDRESS --nthreads 1' "
            "(see the README, 'Running a large class'), or grade locally without --scheduler."
        ) from exc


class ClusterPool:
    """Submissions graded as tasks on the Dask cluster at ``address``."""

    def __init__(self, course: Course, assignment: str, settings: Settings, parent_dir: Path,
                 address: str) -> None:
        self.course, self.assignment, self.settings = course, assignment, settings
        self.parent_dir = parent_dir
        self.address = address
        self.deadline = settings.limits.notebook_timeout + GRACE
        self.client: Any = None
        self.bundle: CourseBundle | None = None
        self.run_id = uuid.uuid4().hex[:8]

    def start(self) -> None:
        """Connect, wait for a worker, check every worker can grade; ship nothing yet."""
        if self.client is not None:
            return
        self.client = connect(self.address)
        try:
            try:
                self.client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
            except TimeoutError as exc:
                raise ClusterUnavailable(
                    f"the Dask scheduler at {self.address} has no worker "
                    f"(waited {WORKER_TIMEOUT} s): start 'dask worker {self.address} "
                    "--nthreads 1' on each grading machine") from exc
            self._probe_workers()
            self.bundle = CourseBundle.of(self.course, self.assignment)
        except BaseException:
            self.close()
            raise

    def _probe_workers(self) -> None:
        """:func:`probe` as a task on each worker (not ``Client.run``: that would block the
        worker's event loop while nbgrader imports, ~2-15 s on a busy machine)."""
        workers = list(self.client.scheduler_info(n_workers=-1)["workers"])
        futures = [self.client.submit(probe, self.settings, workers=[w], pure=False,
                                      allow_other_workers=False, key=f"l2course-probe-{w}-"
                                      f"{self.run_id}") for w in workers]
        try:
            self.client.gather(futures, errors="raise")
        except Exception as exc:
            raise ClusterUnavailable(
                f"a worker of {self.address} cannot grade ({exc.__class__.__name__}):\n{exc}"
            ) from exc
        finally:
            self.client.cancel(futures)

    def key(self, student: str) -> str:
        """A new task name: ``l2course-<assignment>-<student>-<8 hex>`` (unique per task)."""
        return f"l2course-{self.assignment}-{student}-{uuid.uuid4().hex[:8]}"

    def _window(self) -> int:
        """Tasks in flight: twice the cluster's threads (read again as workers come and go)."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        return max(2, 2 * sum(w.get("nthreads", 1) for w in workers))

    def _submit(self, job: Job) -> Any:
        student, staged = job
        return self.client.submit(grade_task, self.bundle, self.settings, student,
                                  zip_folder(Path(staged)), key=self.key(student), pure=False,
                                  retries=0)

    def run(self, jobs: list[Job], on_result: Callable[[Result], None]) -> None:
        """Grade ``(student, staged_dir)`` jobs on the cluster; ``on_result`` once per student."""
        from distributed import as_completed

        self.start()
        pending: Iterator[Job] = iter(jobs)
        students: dict[str, str] = {}  # task key -> student
        done: set[str] = set()
        queue, futures = as_completed(loop=self.client.loop), {}
        started: dict[str, float] = {}  # key -> when first seen processing
        window, checked = self._window(), time.monotonic()
        try:
            while len(done) < len(jobs):
                while queue.count() < window and (job := next(pending, None)):
                    future = self._submit(job)
                    futures[future.key], students[future.key] = future, job[0]
                    queue.add(future)
                for future in queue.next_batch(block=False):
                    student = students[future.key]
                    if student not in done:
                        done.add(student)
                        on_result(self._receive(future, student))
                    futures.pop(future.key, None)
                    future.release()
                if time.monotonic() - checked > 5:
                    window, checked = self._window(), time.monotonic()
                    for student in self._overruns(started, futures, students, done):
                        done.add(student)
                        on_result(Result(student=student, status=Status.LIMIT,
                                         reason=f"grading took longer than {self.deadline} s"))
                time.sleep(0.05)
        finally:
            self.close()

    def grade_one(self, student: str, staged: str) -> Result:
        """Grade one staged submission on the cluster and wait (e.g. a learner's self-check);
        the connection stays open for the next one until :meth:`close`."""
        self.start()
        future = self._submit((student, staged))
        try:
            return self._receive(future, student)
        finally:
            future.release()

    def _receive(self, future: Any, student: str) -> Result:
        """The result of a finished task, its folders unpacked under the parent's scratch."""
        from distributed import KilledWorker

        try:
            shipped: Shipped = future.result()
        except KilledWorker:
            return Result(student=student, status=Status.ERROR,
                          reason="the grading worker died (each worker that took it)")
        except Exception as exc:
            return Result(student=student, status=Status.ERROR,
                          reason="grader error on the cluster: "
                                 + last_line(f"{exc.__class__.__name__}: {exc}"))
        result = Result.from_dict(shipped.result)
        back = self.parent_dir / "returned" / student
        for kind in ("autograded", "feedback"):
            data = getattr(shipped, kind)
            setattr(result, kind, str(unzip_folder(data, back / kind)) if data else None)
        return result

    def _overruns(self, started: dict[str, float], futures: dict[str, Any],
                  students: dict[str, str], done: set[str]) -> list[str]:
        """Students whose task has been processing past the deadline (their worker restarted)."""
        now, late, workers = time.monotonic(), [], []
        for worker, keys in self.client.processing().items():
            for key in keys:
                if key not in futures or students[key] in done:
                    continue
                if now - started.setdefault(key, now) > self.deadline:
                    late.append(students[key])
                    workers.append(worker)
                    self.client.cancel([futures[key]], force=True)
        if workers:
            self.client.restart_workers(workers, raise_for_error=False)
        return late

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
