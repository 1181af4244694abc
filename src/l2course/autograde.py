"""Autograde submissions with nbgrader in parallel worker processes.

Each worker owns a private nbgrader course (a temporary copy: ``source/<assignment>`` plus its own
SQLite gradebook), so workers never share a database or a directory. For each submission it runs
nbgrader's ``autograde`` (with :class:`~l2course.execute.SandboxedExecute` in place of
``Execute``) and ``generate_feedback``, then returns the per-cell grades; the parent merges them
into the course gradebook (:mod:`l2course.gradebook`). A worker that dies or overruns is killed
and replaced; only the submission it held is affected.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from .sandbox import Limits

@dataclass
class CellGrade:
    """One graded cell of one submission."""

    grade_id: str
    score: float | None
    max_score: float
    needs_manual_grade: bool
    message: str = ""


@dataclass
class Result:
    """The outcome of grading one submission."""

    student: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "graded"
    reason: str = ""
    cells: dict[str, list[CellGrade]] = field(default_factory=dict)
    comments: dict[str, dict[str, str | None]] = field(default_factory=dict)
    autograded: str | None = None
    feedback: str | None = None
    seconds: float = 0.0
    events: list[dict[str, str]] = field(default_factory=list)
    answer_errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Settings:
    """What every worker needs to know."""

    course_root: str
    assignment: str
    limits: Limits
    sandbox: bool = True
    guard: bool = True


def fast_alembic_version() -> None:
    """Make nbgrader read the gradebook schema version in-process.

    nbgrader runs the ``alembic heads`` executable (about a second) every time it creates a
    gradebook; the grader creates one per worker.
    """
    import nbgrader.api
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    if getattr(nbgrader.api.get_alembic_version, "l2course", False):
        return
    head = ScriptDirectory(ALEMBIC_DIR).get_current_head()

    def version() -> str:
        return head

    version.l2course = True  # type: ignore[attr-defined]
    nbgrader.api.get_alembic_version = version


class _MemoryBytecodeCache:
    """Jinja bytecode kept in memory (keyed by template name and source checksum)."""

    def __new__(cls) -> Any:
        import jinja2

        class Cache(jinja2.BytecodeCache):
            def __init__(self) -> None:
                self.store: dict[str, bytes] = {}

            def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
                code = self.store.get(bucket.key)
                if code is not None:
                    bucket.bytecode_from_string(code)

            def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
                self.store[bucket.key] = bucket.bytecode_to_string()

        return Cache()


def cache_feedback_templates() -> None:
    """Compile nbconvert's feedback templates once per worker, not once per submission.

    nbgrader's ``generate_feedback`` builds a new HTML exporter (and Jinja environment) for every
    submission, recompiling the same templates (about 0.1 s each time). Jinja's bytecode cache
    checks the template's source checksum, so an edited template is still recompiled.
    """
    from nbconvert.exporters.templateexporter import TemplateExporter

    create = TemplateExporter._create_environment
    if getattr(create, "l2course", False):
        return
    cache = _MemoryBytecodeCache()

    def cached(self: Any) -> Any:
        environment = create(self)
        environment.bytecode_cache = cache
        return environment

    cached.l2course = True  # type: ignore[attr-defined]
    TemplateExporter._create_environment = cached  # type: ignore[method-assign]


def load_course_config(course_root: Path) -> Config:
    """The course's ``nbgrader_config.py`` (or an empty config)."""
    path = course_root / "nbgrader_config.py"
    if not path.exists():
        return Config()
    return PyFileConfigLoader(path.name, path=str(course_root)).load_config()


def worker_config(settings: Settings, root: Path, uid: int, db_url: str) -> Config:
    """nbgrader config for a private worker course at ``root``."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute

    from .execute import SandboxedExecute

    config = load_course_config(Path(settings.course_root))
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.source_directory = "source"
    config.CourseDirectory.release_directory = "release"
    config.CourseDirectory.submitted_directory = "submitted"
    config.CourseDirectory.autograded_directory = "autograded"
    config.CourseDirectory.feedback_directory = "feedback"
    config.CourseDirectory.db_url = db_url
    config.OverwriteCells.add_missing_cells = True
    limits = settings.limits
    config.SandboxedExecute.timeout = limits.cell_timeout
    config.SandboxedExecute.interrupt_on_timeout = True
    config.SandboxedExecute.notebook_timeout = limits.notebook_timeout
    config.SandboxedExecute.output_limit = limits.output
    config.SandboxedExecute.memory = limits.memory
    config.SandboxedExecute.processes = limits.processes
    config.SandboxedExecute.sandbox = settings.sandbox
    config.SandboxedExecute.sandbox_uid = uid
    config.SandboxedExecute.guard = settings.guard
    # the kernel's sandbox is thrown away: no need to wait for a graceful shutdown
    config.SandboxedExecute.shutdown_kernel = "immediate"
    # A warning on stderr from a correct answer is not a failure (nbgrader scores it 0).
    config.IgnorePattern.enabled = True
    config.IgnorePattern.pattern = r"\w*Warning\b"
    pre = [SandboxedExecute if p is Execute else p
           for p in Autograde.class_traits()["autograde_preprocessors"].make_dynamic_default()]
    config.Autograde.autograde_preprocessors = pre
    return config


class Worker:
    """A private nbgrader course in a temporary directory (runs in a worker process)."""

    def __init__(self, settings: Settings, parent_dir: Path) -> None:
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        fast_alembic_version()
        cache_feedback_templates()
        self.settings = settings
        self.root = Path(tempfile.mkdtemp(prefix="worker-", dir=parent_dir))
        self.uid = 200000 + os.getpid() if os.geteuid() == 0 else 0
        a = settings.assignment
        course_cfg = load_course_config(Path(settings.course_root))
        src_dir = course_cfg.CourseDirectory.get("source_directory", "source")
        shutil.copytree(Path(settings.course_root) / src_dir / a, self.root / "source" / a,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        self.config = worker_config(settings, self.root, self.uid,
                                    f"sqlite:///{self.root / 'gradebook.db'}")
        self.coursedir = CourseDirectory(config=self.config)
        self.api = NbGraderAPI(coursedir=self.coursedir, config=self.config)
        out = self.api.generate_assignment(a, force=True, create=True)
        if not out["success"]:
            raise RuntimeError(f"generate_assignment failed in the worker:\n{out['log']}")

    def grade(self, student: str, staged: str) -> Result:
        """Autograde one staged submission folder; return its result."""
        from nbgrader.api import Gradebook

        from .execute import EVENTS

        start = time.perf_counter()
        a = self.settings.assignment
        dest = self.root / "submitted" / student / a
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(staged, dest)
        EVENTS.clear()
        out = self.api.autograde(a, student, force=True, create=True)
        result = Result(student=student)
        result.events = list(EVENTS)
        if not out["success"]:
            result.status = "error"
            result.reason = "nbgrader autograde failed: " + _last_line(out.get("error") or
                                                                     out.get("log", ""))
            result.seconds = time.perf_counter() - start
            return result
        fb = self.api.generate_feedback(a, student, force=True)
        autograded = self.root / "autograded" / student / a
        feedback = self.root / "feedback" / student / a
        result.autograded = str(autograded)
        result.feedback = str(feedback) if fb["success"] else None
        messages = _cell_messages(autograded)
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            submission = gb.find_submission(a, student)
            for nb in submission.notebooks:
                result.cells[nb.name] = [
                    CellGrade(g.name, g.auto_score, g.max_score, bool(g.needs_manual_grade),
                              messages.get((nb.name, g.name), ""))
                    for g in nb.grades
                ]
                result.comments[nb.name] = {c.name: c.auto_comment for c in nb.comments}
                graded = {g.name for g in nb.grades}
                result.answer_errors += [f"{gid}: {msg}" for (name, gid), msg in messages.items()
                                         if name == nb.name and gid not in graded]
            result.score = float(submission.score)
            result.max_score = float(submission.max_score)
        result.seconds = time.perf_counter() - start
        return result

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _last_line(text: str) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[-1][:200] if lines else "unknown error"


def _cell_messages(autograded: Path) -> dict[tuple[str, str], str]:
    """First error (or stderr) of every nbgrader code cell, keyed by (notebook, grade_id)."""
    import json

    found: dict[tuple[str, str], str] = {}
    for path in autograded.glob("*.ipynb"):
        nb = json.loads(path.read_text())  # written by nbgrader a moment ago: no validation
        for cell in nb["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("grade_id") or cell["cell_type"] != "code":
                continue
            for out in cell.get("outputs", []):
                if out["output_type"] == "error":
                    # The whole message: a test's diagnostic (which mistake, which section) may
                    # span lines. Summaries shorten it; ``l2course check`` prints all of it.
                    value = str(out.get("evalue", "")).strip()
                    text = out.get("ename", "Error") + (f": {value}" if value else "")
                    found[(path.stem, meta["grade_id"])] = text[:4000]
                    break
                if (out["output_type"] == "stream" and out.get("name") == "stderr"
                        and meta.get("grade")):
                    found[(path.stem, meta["grade_id"])] = "output on stderr"
                    break
    return found


# -- worker processes -----------------------------------------------------------------------

def _worker_main(conn: Connection, settings: Settings, parent_dir: str) -> None:
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy autoflush warnings
    try:
        worker = Worker(settings, Path(parent_dir))
    except Exception:
        conn.send(("fatal", traceback.format_exc()))
        return
    conn.send(("ready", None))
    try:
        while True:
            job = conn.recv()
            if job is None:
                break
            student, staged = job
            try:
                result = worker.grade(student, staged)
            except Exception:
                result = Result(student=student, status="error",
                                reason="grader error: " + _last_line(traceback.format_exc()))
            conn.send(("result", asdict(result)))
    finally:
        worker.close()


def _result_from_dict(data: dict[str, Any]) -> Result:
    cells = {nb: [CellGrade(**c) for c in grades] for nb, grades in data.pop("cells").items()}
    return Result(cells=cells, **data)


class Pool:
    """``jobs`` worker processes, each with its private course; kills and replaces overruns."""

    def __init__(self, settings: Settings, jobs: int, parent_dir: Path) -> None:
        self.settings = settings
        self.parent_dir = parent_dir
        self.ctx = mp.get_context("spawn")
        self.jobs = max(1, jobs)
        self.deadline = settings.limits.notebook_timeout + 120

    def _spawn(self) -> tuple[Any, Connection]:
        here, there = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker_main,
                                args=(there, self.settings, str(self.parent_dir)), daemon=True)
        proc.start()
        there.close()
        return proc, here

    @staticmethod
    def _kill(proc: Any) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.kill()
        proc.join(5)

    def start(self) -> None:
        """Start the workers (they set up their private courses while the parent prepares)."""
        self.workers: dict[Connection, dict[str, Any]] = {}
        for _ in range(self.jobs):
            proc, conn = self._spawn()
            self.workers[conn] = {"proc": proc, "job": None, "since": time.monotonic(),
                                  "ready": False}

    def run(
        self, jobs: list[tuple[str, str]], on_result: Callable[[Result], None]
    ) -> None:
        """Grade ``(student, staged_dir)`` jobs; call ``on_result`` in the parent as each ends."""
        if not hasattr(self, "workers"):
            self.start()
        pending: Iterator[tuple[str, str]] = iter(jobs)
        workers = self.workers
        remaining = len(jobs)

        def dispatch(conn: Connection) -> None:
            job = next(pending, None)
            state = workers[conn]
            state["job"] = job
            state["since"] = time.monotonic()
            if job is None:
                conn.send(None)
            else:
                conn.send(job)

        try:
            while remaining > 0 and workers:
                ready = wait(list(workers), timeout=5)
                for conn in ready:
                    state = workers[conn]
                    try:
                        kind, payload = conn.recv()
                    except (EOFError, OSError):
                        kind, payload = "died", None
                    if kind == "ready":
                        state["ready"] = True
                        dispatch(conn)
                    elif kind == "result":
                        remaining -= 1
                        on_result(_result_from_dict(payload))
                        dispatch(conn)
                    elif kind == "fatal":
                        raise RuntimeError(f"a grading worker could not start:\n{payload}")
                    else:  # died
                        job = state["job"]
                        self._kill(state["proc"])
                        del workers[conn]
                        if job is not None:
                            remaining -= 1
                            on_result(Result(student=job[0], status="error",
                                             reason="the grading worker died"))
                        if remaining > 0:
                            proc, new = self._spawn()
                            workers[new] = {"proc": proc, "job": None,
                                            "since": time.monotonic(), "ready": False}
                now = time.monotonic()
                for conn, state in list(workers.items()):
                    if state["job"] is not None and now - state["since"] > self.deadline:
                        job = state["job"]
                        self._kill(state["proc"])
                        del workers[conn]
                        remaining -= 1
                        on_result(Result(student=job[0], status="limit",
                                         reason=f"grading took longer than {self.deadline} s"))
                        if remaining > 0:
                            proc, new = self._spawn()
                            workers[new] = {"proc": proc, "job": None,
                                            "since": time.monotonic(), "ready": False}
        finally:
            self.close()

    def close(self) -> None:
        """Stop every worker (each removes its private course)."""
        workers = getattr(self, "workers", {})
        for conn in workers:
            try:
                conn.send(None)
            except OSError:
                pass
        for state in workers.values():
            state["proc"].join(10)
            if state["proc"].is_alive():
                self._kill(state["proc"])
        self.workers = {}
