"""The course's nbgrader gradebook: register the assignment, record results, export grades.csv.

Only the parent process writes here, one submission at a time, through nbgrader's own
``Gradebook`` API; any SQLAlchemy URL works (``CourseDirectory.db_url``: SQLite by default,
PostgreSQL for a JupyterHub deployment).
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry

from .course import COPY_IGNORE, Course
from .models import Result
from .speedups import fast_alembic_version


def register_assignment(course: Course, assignment: str, db_url: str) -> dict[str, NotebookNode]:
    """Record the assignment's cells in the gradebook; return its release notebooks.

    nbgrader's ``generate_assignment`` runs in a scratch copy of the course whose gradebook is the
    real one, so the course's own release folder is left untouched.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    fast_alembic_version()
    src = course.source(assignment)
    with tempfile.TemporaryDirectory(prefix="l2course-release-") as tmp:
        root = Path(tmp)
        shutil.copytree(src, root / course.folder_name("source") / assignment,
                        ignore=shutil.ignore_patterns(*COPY_IGNORE))
        config = course.private_config(root, db_url)
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        out = api.generate_assignment(assignment, force=True, create=True)
        if not out["success"]:
            raise RuntimeError(f"nbgrader generate_assignment failed:\n{out['log']}")
        release = root / course.folder_name("release") / assignment
        return {p.stem: nbformat.read(p, as_version=4) for p in sorted(release.glob("*.ipynb"))}


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
              results: list[Result], source: Path | None = None) -> None:
    """The grades file: nbgrader's export columns for this assignment, one column per graded
    cell (its points; ``notebook/cell`` when the assignment has several notebooks), then status
    and reason."""
    by_student = {r.student: r for r in results}
    path.parent.mkdir(parents=True, exist_ok=True)
    with Gradebook(db_url, course) as gb, open(path, "w", newline="") as fh:
        questions = question_columns(gb, assignment, source)
        writer = csv.writer(fh)
        writer.writerow(["assignment", "student_id", "timestamp", "raw_score",
                         "late_submission_penalty", "score", "max_score",
                         *(name for name, _ in questions), "status", "reason"])
        for student in sorted(by_student):
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            penalty = float(sub.late_submission_penalty or 0.0)
            result = by_student[student]
            points = {(nb.name, g.name): g.score for nb in sub.notebooks for g in nb.grades}
            writer.writerow([
                assignment, student, sub.timestamp or "", round(float(sub.score), 3),
                round(penalty, 3), round(float(sub.score) - penalty, 3),
                round(float(sub.max_score), 3),
                *(round(float(points.get(key) or 0.0), 3) for _, key in questions),
                result.status, result.reason,
            ])


def grade_id_order(source: Path | None, notebook: str) -> dict[str, int]:
    """Position of each grade id in ``source/<notebook>.ipynb`` (the order a learner meets them)."""
    path = source / f"{notebook}.ipynb" if source is not None else None
    if path is None or not path.is_file():
        return {}
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]
    return {gid: i for i, gid in enumerate(i for i in ids if i)}


def question_columns(gb: Gradebook, assignment: str,
                     source: Path | None = None) -> list[tuple[str, tuple[str, str]]]:
    """``(column name, (notebook, grade_id))`` of every graded cell worth points, in the order
    of the source notebooks (``notebook/cell`` when the assignment has several notebooks)."""
    notebooks = gb.find_assignment(assignment).notebooks
    columns = []
    for nb in notebooks:
        order = grade_id_order(source, nb.name)
        for cell in sorted(nb.grade_cells, key=lambda c: (order.get(c.name, len(order)), c.name)):
            if cell.max_score > 0:
                name = cell.name if len(notebooks) == 1 else f"{nb.name}/{cell.name}"
                columns.append((name, (nb.name, cell.name)))
    return columns
