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
from pathlib import Path
from typing import Protocol

from .cluster import ClusterPool
from .course import Course
from .database import check_reachable, normalise_db_url, retrying
from .gradebook import record, register_assignment, scores, write_csv
from .models import Result, Settings, Status
from .pool import Pool
from .report import reason_for, rejected_feedback, status_for
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

    def keep(self, result: Result) -> None:
        """Record one result: gradebook, autograded and feedback folders of the course."""
        a = self.assignment
        finish(result, self.notes.get(result.student, []))
        retrying(lambda: record(self.db_url, self.course.course_id, a, result))
        result.score, result.max_score = scores(self.db_url, self.course.course_id, a,
                                                result.student)
        for kind, origin in (("autograded", result.autograded), ("feedback", result.feedback)):
            dest = self.course.folder(kind) / result.student / a
            shutil.rmtree(dest, ignore_errors=True)
            if origin and Path(origin).is_dir():
                shutil.copytree(origin, dest)
        if result.status in (Status.INVALID, Status.ERROR) and not result.feedback:
            for name in self.releases:
                page = self.course.folder("feedback") / result.student / a / f"{name}.html"
                rejected_feedback(page, result.student, a, result.reason)
        self.results.append(result)
        if self.watch is not None:
            self.watch.update(result)


def _stage(subs: list[Submission], run: ClassRun, tmp: Path) -> list[tuple[str, str]]:
    """Write each gradable submission to ``tmp/staged``; record the rejected ones at once."""
    jobs = []
    for sub in subs:
        run.notes[sub.student] = sub.notes
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
    feedback folders, and ``csv`` (default ``<root>/grades.csv``); ``watch`` sees each as it
    ends. With ``scheduler`` (``tcp://HOST:PORT``) the submissions are graded on that Dask
    cluster (:mod:`~l2course.cluster`). Returns the results, or [] if there was no submission
    (nothing is then written); an unreachable scheduler or database server raises first.
    """
    course.source(assignment)  # fail before any worker starts
    db_url = normalise_db_url(db_url or course.db_url)
    check_reachable(db_url)  # a server gradebook answers before any worker starts
    with scratch("l2course-grade-") as tmp:
        pool: Pool | ClusterPool = (ClusterPool(course, assignment, settings, tmp, scheduler)
                                    if scheduler else Pool(course, assignment, settings, tmp))
        pool.start()  # workers set up their private courses meanwhile
        try:
            server = not db_url.startswith("sqlite")  # shared by concurrent runs
            releases = retrying(lambda: register_assignment(course, assignment, db_url),
                                also=(RuntimeError,) if server else ())
            root = find_submitted_root(unpack(submissions.resolve(), tmp), assignment)
            subs = collect(root, assignment, releases)
            if not subs:
                return []
            run = ClassRun(course, assignment, db_url, list(releases), watch)
            if watch is not None:
                watch.start(len(subs))
            pool.run(_stage(subs, run, tmp), run.keep)
        finally:
            pool.close()
    write_csv(csv or course.root / "grades.csv", db_url, course.course_id, assignment,
              run.results)
    return run.results


@dataclass
class Checked:
    """The self-check of one notebook: notes, or why it cannot be graded, and the result."""

    notes: list[str]
    rejected: str | None = None
    result: Result | None = None


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
        finally:
            worker.close()
    return Checked(sub.notes, result=result)
