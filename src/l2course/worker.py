"""One grading worker: a private nbgrader course that autogrades one submission at a time.

Each worker owns a private copy of the course (``<source>/<assignment>`` plus its own SQLite
gradebook, laid out by the course's own ``nbgrader_config.py``), so workers never share a database
or a directory. For each submission it runs nbgrader's ``autograde`` (with
:class:`~l2course.execute.SandboxedExecute` in place of ``Execute``), then returns the per-cell
grades (the feedback page is the parent's, :mod:`l2course.feedback`); the parent merges them into the course gradebook
(:mod:`l2course.gradebook`). Worker processes are managed by :mod:`l2course.pool`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from nbgrader.converters.autograde import Autograde
from nbgrader.utils import capture_log, temp_attrs
from traitlets import List
from traitlets.config import Config

from .course import COPY_IGNORE, Course
from .models import CellGrade, Result, Settings, Status
from .speedups import cache_feedback_templates, fast_alembic_version


class CollectingAutograde(Autograde):
    """nbgrader's ``Autograde``, keeping each notebook's ``resources["l2course"]`` events."""

    events = List()

    def write_single_notebook(self, output: str, resources: Any) -> None:
        self.events.extend(resources.get("l2course", {}).get("events", []))
        super().write_single_notebook(output, resources)


def grading_policy(config: Config, settings: Settings, uid: int) -> Config:
    """What the grader adds to the course's config: the sandboxed executor and its limits.

    Deleted test cells are put back (``add_missing_cells``) and a warning on stderr from a
    correct answer is not a failure (nbgrader would score it 0), whatever the course says.
    """
    from nbgrader.preprocessors import Execute

    from .execute import SandboxedExecute

    config.OverwriteCells.add_missing_cells = True
    config.IgnorePattern.enabled = True
    config.IgnorePattern.pattern = r"\w*Warning\b"
    executor = config.SandboxedExecute
    executor.limits = settings.limits
    executor.interrupt_on_timeout = True
    executor.sandbox = settings.sandbox
    executor.sandbox_uid = uid
    executor.guard = settings.guard
    executor.shutdown_kernel = "immediate"  # the sandbox is thrown away: no graceful shutdown
    default = Autograde.class_traits()["autograde_preprocessors"].make_dynamic_default()
    config.Autograde.autograde_preprocessors = [SandboxedExecute if p is Execute else p
                                                for p in default]
    return config


class Worker:
    """A private nbgrader course in a temporary directory (runs in a worker process)."""

    def __init__(self, course: Course, assignment: str, settings: Settings,
                 parent_dir: Path) -> None:
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        fast_alembic_version()
        cache_feedback_templates()
        self.assignment = a = assignment
        self.root = Path(tempfile.mkdtemp(prefix="worker-", dir=parent_dir))
        self.uid = 200000 + os.getpid() if os.geteuid() == 0 else 0
        shutil.copytree(course.source(a), self.root / course.folder_name("source") / a,
                        ignore=shutil.ignore_patterns(*COPY_IGNORE))
        config = course.private_config(self.root, f"sqlite:///{self.root / 'gradebook.db'}")
        self.config = grading_policy(config, settings, self.uid)
        self.coursedir = CourseDirectory(config=self.config)
        self.api = NbGraderAPI(coursedir=self.coursedir, config=self.config)
        out = self.api.generate_assignment(a, force=True, create=True)
        if not out["success"]:
            raise RuntimeError(f"generate_assignment failed in the worker:\n{out['log']}")

    def _path(self, kind: str, student: str) -> Path:
        folder = getattr(self.coursedir, f"{kind}_directory")
        return Path(self.coursedir.format_path(folder, student, self.assignment))

    def _autograde(self, student: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """nbgrader's ``autograde`` (as its API runs it); its log and the executor's events."""
        with temp_attrs(self.coursedir, assignment_id=self.assignment,
                        student_id=student):
            app = CollectingAutograde(coursedir=self.coursedir, parent=self.api)
            app.force = True
            app.create_student = True
            return capture_log(app), list(app.events)

    def grade(self, student: str, staged: str) -> Result:
        """Autograde one staged submission folder; return its result."""
        start = time.perf_counter()
        dest = self._path("submitted", student)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(staged, dest)
        out, events = self._autograde(student)
        result = Result(student=student, events=events)
        if not out["success"]:
            result.status = Status.ERROR
            result.reason = "nbgrader autograde failed: " + last_line(out.get("error") or
                                                                    out.get("log", ""))
        else:
            # the feedback page is written by the parent (l2course.feedback): nbgrader's shows
            # the hidden tests' code
            result.autograded = str(self._path("autograded", student))
            self._read_grades(result)
        result.seconds = time.perf_counter() - start
        return result

    def _read_grades(self, result: Result) -> None:
        """Per-cell scores and messages of an autograded submission (from the gradebook)."""
        from nbgrader.api import Gradebook

        messages = cell_messages(Path(result.autograded or ""))
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            submission = gb.find_submission(self.assignment, result.student)
            for nb in submission.notebooks:
                result.cells[nb.name] = [
                    CellGrade(g.name, g.auto_score, g.max_score, bool(g.needs_manual_grade),
                              messages.get((nb.name, g.name), ""))
                    for g in nb.grades]
                result.comments[nb.name] = {c.name: c.auto_comment for c in nb.comments}
                graded = {g.name for g in nb.grades}
                result.answer_errors += [f"{gid}: {msg}" for (name, gid), msg in messages.items()
                                         if name == nb.name and gid not in graded]
            result.score = float(submission.score)
            result.max_score = float(submission.max_score)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def last_line(text: str) -> str:
    """The last non-blank line of a log or traceback (at most 200 characters)."""
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[-1][:200] if lines else "unknown error"


def _first_message(cell: dict[str, Any]) -> str | None:
    """The cell's first error (its whole message), or "output on stderr" for a test cell."""
    graded = cell.get("metadata", {}).get("nbgrader", {}).get("grade")
    for out in cell.get("outputs", []):
        if out["output_type"] == "error":
            # The whole message: a test's diagnostic (which mistake, which section) may span
            # lines. Summaries shorten it; ``l2course check`` prints all of it.
            value = str(out.get("evalue", "")).strip()
            text = out.get("ename", "Error") + (f": {value}" if value else "")
            return text[:4000]
        if out["output_type"] == "stream" and out.get("name") == "stderr" and graded:
            return "output on stderr"
    return None


def cell_messages(autograded: Path) -> dict[tuple[str, str], str]:
    """First error (or stderr) of every nbgrader code cell, keyed by (notebook, grade_id)."""
    found: dict[tuple[str, str], str] = {}
    for path in autograded.glob("*.ipynb"):
        nb = json.loads(path.read_text())  # written by nbgrader a moment ago: no validation
        for cell in nb["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if not grade_id or cell["cell_type"] != "code":
                continue
            message = _first_message(cell)
            if message is not None:
                found[(path.stem, grade_id)] = message
    return found
