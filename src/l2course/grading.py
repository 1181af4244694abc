"""The grader's services: grade a class (``l2course grade``) or one notebook (``check``).

Both build the same pipeline from the layers below: read and normalise the submissions
(:mod:`~l2course.submissions`), register the assignment (:mod:`~l2course.gradebook`), grade in
sandboxed workers (:mod:`~l2course.pool`, :mod:`~l2course.worker`), then give every result its
status and reason (:mod:`~l2course.report`). Nothing here prints.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import nbformat

from .classdata import read_class, report_dir
from .classreport import write_report
from .cluster import ClusterPool
from .course import Course
from .database import check_reachable, normalise_db_url, retrying
from .feedback import GradedNotebook, render_feedback, write_feedback
from .gradebook import record, register_assignment, scores, write_csv
from .lateness import Lateness, TimestampError, apply_lateness, read_timestamp
from .maths import Typesetter
from .models import Result, Settings, Status
from .pool import Pool
from .report import event_texts, reason_for, rejected_feedback, status_for
from .submissions import Submission, collect, find_submitted_root, unpack
from .worker import Worker



class Watcher(Protocol):
    """Told how many submissions will be graded, then of each result as it ends."""

    def start(self, total: int) -> None: ...

    def update(self, result: Result) -> None: ...


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary folder the sandbox's uid can read (it holds the staged submissions)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        os.chmod(name, 0o755)
        yield Path(name)


def finish(result: Result, notes: list[str]) -> Result:
    """Give a worker's result its reason (notes first) and status (from its events)."""
    result.reason = reason_for(result, notes)
    result.status = status_for(result)
    return result


@dataclass
class ClassRun:
    """Where one ``grade_class`` run writes, and what it has recorded so far."""

    course: Course
    assignment: str
    db_url: str
    releases: list[str]
    watch: Watcher | None = None
    notes: dict[str, list[str]] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    timestamps: dict[str, datetime | None] = field(default_factory=dict)
    maths: Typesetter | None = None

    def keep(self, result: Result) -> None:
        """Record one result: gradebook, autograded and feedback folders of the course."""
        a = self.assignment
        finish(result, self.notes.get(result.student, []))
        retrying(lambda: record(self.db_url, self.course.course_id, a, result))
        late = apply_lateness(self.db_url, self.course.course_id, a, result.student,
                              self.timestamps.get(result.student), self.course.config,
                              self.releases)
        result.reason = "; ".join(filter(None, [late.note(), result.reason]))
        result.score, result.max_score = scores(self.db_url, self.course.course_id, a,
                                                result.student)
        dest = self.course.folder("autograded") / result.student / a
        shutil.rmtree(dest, ignore_errors=True)
        if result.autograded and Path(result.autograded).is_dir():
            shutil.copytree(result.autograded, dest)
        shutil.rmtree(self.course.folder("feedback") / result.student / a, ignore_errors=True)
        self._feedback(result, dest, late)
        if not result.feedback:  # not graded (invalid, grader error, worker killed): say why
            for name in self.releases:
                page = self.course.folder("feedback") / result.student / a / f"{name}.html"
                rejected_feedback(page, result.student, a, result.reason)
        self.results.append(result)
        if self.watch is not None:
            self.watch.update(result)

    def _feedback(self, result: Result, autograded: Path, late: Lateness) -> None:
        """One private feedback page per graded notebook (no hidden test code)."""
        folder = self.course.folder("feedback") / result.student / self.assignment
        graded = graded_notebooks(result, autograded)
        for gnb in graded:
            page = render_feedback(self.assignment, [gnb], student=result.student,
                                   lateness=late,
                                   notes=page_notes(result, self.notes.get(result.student, [])),
                                   maths=self.maths)
            write_feedback(folder / f"{gnb.name}.html", page)
        result.feedback = str(folder) if graded else None


def page_notes(result: Result, notes: list[str]) -> list[str]:
    """What a feedback page says above the tests: the grader's notes, then what stopped the
    notebook (a limit, a crashed kernel, an error in an answer cell), each once. Without these a
    learner whose loop hit the time limit would read only the NameErrors that followed."""
    out = list(notes)
    for text in [*event_texts(result), *result.answer_errors]:
        if text not in out:
            out.append(text)
    return out


def graded_notebooks(result: Result, autograded: Path) -> list[GradedNotebook]:
    """The autograded notebooks of ``result`` with their grades (none if it was not graded)."""
    out = []
    for name, grades in result.cells.items():
        path = autograded / f"{name}.ipynb"
        if path.is_file():
            out.append(GradedNotebook(name, nbformat.read(path, as_version=4), grades))
    return out


def _stage(subs: list[Submission], run: ClassRun, tmp: Path) -> list[tuple[str, str]]:
    """Write each gradable submission to ``tmp/staged``; record the rejected ones at once."""
    jobs = []
    for sub in subs:
        run.notes[sub.student] = sub.notes
        try:
            run.timestamps[sub.student] = read_timestamp(sub.directory)
        except TimestampError as exc:  # nbgrader's autograde fails such a submission too
            sub.rejected = str(exc)
        if sub.rejected:
            run.keep(Result(student=sub.student, status=Status.INVALID, reason=sub.rejected))
            continue
        staged = tmp / "staged" / sub.student / run.assignment
        sub.write(staged)
        jobs.append((sub.student, str(staged)))
    return jobs


def grade_class(course: Course, assignment: str, submissions: Path, settings: Settings, *,
                db_url: str | None = None, csv: Path | None = None,
                watch: Watcher | None = None, scheduler: str | None = None) -> list[Result]:
    """Grade every submission of ``assignment`` in ``submissions`` (a folder or a zip).

    Results go to the gradebook (``db_url``, default the course's), the course's autograded and
    feedback folders, ``csv`` (default :func:`grades_path`) and the class report
    (``reports/<assignment>/``); ``watch`` sees each as it ends. With ``scheduler``
    (``tcp://HOST:PORT``) the submissions are graded on that Dask cluster
    (:mod:`~l2course.cluster`). Returns the results, or [] if there was no submission (nothing
    is then written); an unreachable scheduler or database server raises first.
    """
    course.source(assignment)  # fail before any worker starts
    db_url = normalise_db_url(db_url or course.db_url)
    check_reachable(db_url)  # a server gradebook answers before any worker starts
    with scratch("l2course-grade-") as tmp:
        pool: Pool | ClusterPool = (ClusterPool(course, assignment, settings, tmp, scheduler)
                                    if scheduler else Pool(course, assignment, settings, tmp))
        pool.start()  # workers set up their private courses meanwhile
        try:
            releases = _register(course, assignment, db_url)
            root = find_submitted_root(unpack(submissions.resolve(), tmp), assignment)
            subs = collect(root, assignment, releases)
            if not subs:
                return []
            run = ClassRun(course, assignment, db_url, list(releases), watch,
                           maths=Typesetter.find(course.root))
            # typeset the release's maths once (one Node run) while the workers start
            render_feedback(assignment, [GradedNotebook(n, nb) for n, nb in releases.items()],
                            maths=run.maths)
            if watch is not None:
                watch.start(len(subs))
            pool.run(_stage(subs, run, tmp), run.keep)
        finally:
            pool.close()
    write_csv(csv or grades_path(course, assignment), db_url, course.course_id, assignment,
              run.results, course.source(assignment))
    write_report(read_class(course, assignment, db_url), report_dir(course, assignment))
    return run.results


def _register(course: Course, assignment: str, db_url: str) -> dict[str, nbformat.NotebookNode]:
    """The release notebooks, with the assignment registered in the gradebook; a server gradebook
    is shared by concurrent runs, so a write that met another run's is retried."""
    server = not db_url.startswith("sqlite")
    return retrying(lambda: register_assignment(course, assignment, db_url),
                    also=(RuntimeError,) if server else ())


def grades_path(course: Course, assignment: str) -> Path:
    """``reports/<assignment>/grades.csv``: not ``<root>/grades.csv``, which ``nbgrader export``
    overwrites, and one per assignment, so grading the next one loses nothing."""
    return report_dir(course, assignment) / "grades.csv"


@dataclass
class Checked:
    """The self-check of one notebook: notes, or why it cannot be graded, and the result.

    ``feedback_html`` is the learner's private feedback page (:func:`l2course.feedback.
    render_feedback`): one complete HTML document as a string, UTF-8, with every asset inlined
    (CSS, maths typeset with its fonts as data: URIs, figures as data: PNGs) and a
    Content-Security-Policy forbidding any request and any script; it never contains hidden test
    code. None when the notebook could not be graded (``rejected``, or nbgrader failed).
    """

    notes: list[str]
    rejected: str | None = None
    result: Result | None = None
    feedback_html: str | None = None


def check_notebook(course: Course, notebook: Path, assignment: str,
                   settings: Settings) -> Checked:
    """Grade one learner's notebook in a scratch gradebook (the course's is never touched)."""
    with scratch("l2course-check-") as tmp:
        releases = register_assignment(course, assignment, f"sqlite:///{tmp / 'check.db'}")
        folder = tmp / "submitted" / "learner" / assignment
        folder.mkdir(parents=True)
        name = f"{assignment}.ipynb" if len(releases) == 1 else notebook.name
        shutil.copyfile(notebook, folder / name)
        (sub,) = collect(tmp / "submitted", assignment, releases)
        if sub.rejected:
            return Checked(sub.notes, rejected=sub.rejected)
        sub.write(tmp / "staged")
        worker = Worker(course, assignment, settings, tmp)
        try:
            result = finish(worker.grade("learner", str(tmp / "staged")), [])
            graded = graded_notebooks(result, Path(result.autograded or tmp / "none"))
        finally:
            worker.close()
    page = None
    if graded:
        page = render_feedback(assignment, graded, notes=page_notes(result, sub.notes),
                               maths=Typesetter.find(course.root))
    return Checked(sub.notes, result=result, feedback_html=page)
