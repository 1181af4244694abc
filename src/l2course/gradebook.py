"""The course's nbgrader gradebook: register the assignment, record results, export grades.csv.

Only the parent process writes here, one submission at a time, through nbgrader's own
``Gradebook`` API; any SQLAlchemy URL works (``CourseDirectory.db_url``: SQLite by default,
PostgreSQL for a JupyterHub deployment).
"""

from __future__ import annotations

import csv
import shutil
import tempfile
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry

from .autograde import Result, load_course_config


def course_db_url(course_root: Path) -> str:
    """The gradebook URL of the course (relative SQLite paths resolved against the root)."""
    config = load_course_config(course_root)
    url = config.CourseDirectory.get("db_url", "") or "sqlite:///gradebook.db"
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix):].startswith("/"):
        url = prefix + str((course_root / url[len(prefix):]).resolve())
    return url


def course_id(course_root: Path) -> str:
    return load_course_config(course_root).CourseDirectory.get("course_id", "") or "default_course"


def source_dir(course_root: Path) -> Path:
    name = load_course_config(course_root).CourseDirectory.get("source_directory", "source")
    return course_root / name


def register_assignment(course_root: Path, assignment: str, db_url: str) -> dict[str, NotebookNode]:
    """Record the assignment's cells in the gradebook; return its release notebooks.

    nbgrader's ``generate_assignment`` runs in a scratch course whose gradebook is the real one,
    so the course's own release folder is left untouched.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from .autograde import fast_alembic_version

    fast_alembic_version()
    src = source_dir(course_root) / assignment
    if not src.is_dir():
        raise FileNotFoundError(f"no source for {assignment!r}: {src} does not exist")
    with tempfile.TemporaryDirectory(prefix="l2course-release-") as tmp:
        root = Path(tmp)
        shutil.copytree(src, root / "source" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        config = load_course_config(course_root)
        config.CourseDirectory.root = str(root)
        config.CourseDirectory.source_directory = "source"
        config.CourseDirectory.release_directory = "release"
        config.CourseDirectory.db_url = db_url
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        out = api.generate_assignment(assignment, force=True, create=True)
        if not out["success"]:
            raise RuntimeError(f"nbgrader generate_assignment failed:\n{out['log']}")
        return {
            p.stem: nbformat.read(p, as_version=4)
            for p in sorted((root / "release" / assignment).glob("*.ipynb"))
        }


def record(db_url: str, course: str, assignment: str, result: Result) -> None:
    """Store one result: every grade cell gets the worker's score, or 0 if it was not graded."""
    with warnings.catch_warnings(), Gradebook(db_url, course) as gb:
        # nbgrader's own update_or_create_submission triggers SQLAlchemy autoflush warnings
        warnings.simplefilter("ignore")
        gb.update_or_create_student(result.student)
        submission = gb.update_or_create_submission(assignment, result.student)
        for nb in submission.notebooks:
            cells = {c.grade_id: c for c in result.cells.get(nb.name, [])}
            comments = result.comments.get(nb.name, {})
            for grade in nb.grades:
                cell = cells.get(grade.name)
                if cell is None:
                    grade.auto_score = 0.0
                    grade.needs_manual_grade = False
                else:
                    grade.auto_score = cell.score
                    grade.needs_manual_grade = cell.needs_manual_grade
                grade.manual_score = None
            for comment in nb.comments:
                comment.auto_comment = comments.get(comment.name)
        gb.db.commit()


def scores(db_url: str, course: str, assignment: str, student: str) -> tuple[float, float]:
    """(score, max_score) of a submission as the gradebook has it."""
    with Gradebook(db_url, course) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return 0.0, 0.0
        return float(sub.score), float(sub.max_score)


def write_csv(path: Path, db_url: str, course: str, assignment: str,
              results: list[Result]) -> None:
    """grades.csv: nbgrader's export columns for this assignment, plus status and reason."""
    by_student = {r.student: r for r in results}
    with Gradebook(db_url, course) as gb, open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["assignment", "student_id", "timestamp", "raw_score",
                         "late_submission_penalty", "score", "max_score", "status", "reason"])
        for student in sorted(by_student):
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            penalty = float(sub.late_submission_penalty or 0.0)
            result = by_student[student]
            writer.writerow([
                assignment, student, sub.timestamp or "", round(float(sub.score), 3),
                round(penalty, 3), round(float(sub.score) - penalty, 3),
                round(float(sub.max_score), 3), result.status, result.reason,
            ])
