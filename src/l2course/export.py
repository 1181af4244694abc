"""``l2course export``: one assignment's grades from the gradebook, as an LMS imports them.

The score of each student is nbgrader's exported score (``nbgrader export``: the raw score less
the late penalty, never below 0; 0 for a student of the gradebook who did not submit). Names,
emails and the LMS user id come from the gradebook's students (``nbgrader db student add ID
--first-name … --last-name … --email …``, ``--lms-user-id``) when present.

Formats (written from their documentation as of 2024; no network access here to re-check):

* ``canvas`` — the Canvas Gradebook import CSV ("How do I import grades in the Gradebook?",
  Canvas Instructor Guide; the same layout as Canvas's own Gradebook export): the columns
  ``Student, ID, SIS User ID, SIS Login ID, Section`` then one column per assignment, and a
  second row ``Points Possible``. Canvas matches a row to a student by ``ID`` (the Canvas user
  id: nbgrader's ``lms_user_id``), else by SIS User ID / SIS Login ID; we give the nbgrader
  student id as ``SIS Login ID`` (the usual login on a JupyterHub tied to Canvas). A column
  named ``Title (12345)`` updates the existing assignment 12345; a new name creates an
  assignment on import, so ``--column`` lets you name the Canvas one.
* ``moodle`` — Moodle's grade import "CSV file" (docs.moodle.org, Grade import): any columns,
  one of which identifies the user; on import choose "Map from" that column and "Map to"
  ``Email address`` or ``Username``, and map the grade column to the grade item. Columns:
  ``First name, Last name, Email address`` or ``Username``, then the grade.
* ``csv`` — nbgrader's own export columns for the one assignment, plus ``lms_user_id``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .course import Course

FORMATS = ("canvas", "moodle", "csv")


class ExportError(ValueError):
    """The gradebook cannot give what the format needs (nothing was written)."""


@dataclass(frozen=True)
class Grade:
    """One student's grade, with what the gradebook knows of them."""

    student_id: str
    first_name: str
    last_name: str
    email: str
    lms_user_id: str
    timestamp: str
    raw_score: float
    penalty: float
    max_score: float

    @property
    def score(self) -> float:
        return max(0.0, self.raw_score - self.penalty)

    @property
    def display_name(self) -> str:
        """Canvas's ``Last, First`` (the student id when the gradebook has no name)."""
        if self.last_name and self.first_name:
            return f"{self.last_name}, {self.first_name}"
        return self.last_name or self.first_name or self.student_id


def read_grades(db_url: str, course_id: str, assignment: str) -> list[Grade]:
    """Every student of the gradebook, with their grade for ``assignment``."""
    with Gradebook(db_url, course_id) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            raise ExportError(f"the gradebook has no assignment {assignment!r}") from None
        grades = []
        for student in sorted(gb.students, key=lambda s: s.id):
            try:
                sub = gb.find_submission(assignment, student.id)
                raw, penalty = float(sub.score), float(sub.late_submission_penalty or 0.0)
                stamp = str(sub.timestamp or "")
            except MissingEntry:
                raw, penalty, stamp = 0.0, 0.0, ""
            grades.append(Grade(student.id, student.first_name or "", student.last_name or "",
                                student.email or "", student.lms_user_id or "", stamp, raw,
                                penalty, float(a.max_score)))
        return grades


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


def canvas_rows(grades: list[Grade], column: str) -> list[list[str]]:
    max_score = grades[0].max_score if grades else 0.0
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column],
            ["Points Possible", "", "", "", "", _num(max_score)]]
    rows += [[g.display_name, g.lms_user_id, "", g.student_id, "", _num(g.score)] for g in grades]
    return rows


def moodle_rows(grades: list[Grade], column: str, key: str) -> list[list[str]]:
    if key == "email":
        missing = [g.student_id for g in grades if not g.email]
        if missing:
            raise ExportError(
                f"no email in the gradebook for {', '.join(missing)}: add them "
                "(nbgrader db student add ID --email …) or use --key username")
        head = ["First name", "Last name", "Email address", column]
        return [head] + [[g.first_name, g.last_name, g.email, _num(g.score)] for g in grades]
    head = ["First name", "Last name", "Username", column]
    return [head] + [[g.first_name, g.last_name, g.student_id, _num(g.score)] for g in grades]


def csv_rows(grades: list[Grade], assignment: str) -> list[list[str]]:
    head = ["assignment", "student_id", "last_name", "first_name", "email", "lms_user_id",
            "timestamp", "raw_score", "late_submission_penalty", "score", "max_score"]
    return [head] + [[assignment, g.student_id, g.last_name, g.first_name, g.email,
                      g.lms_user_id, g.timestamp, _num(g.raw_score), _num(g.penalty),
                      _num(g.score), _num(g.max_score)] for g in grades]


def export(course: Course, assignment: str, fmt: str, out: Path, *, db_url: str | None = None,
           column: str | None = None, key: str | None = None) -> int:
    """Write ``assignment``'s grades as ``fmt`` to ``out``; return the number of students.

    ``key`` (Moodle): ``email`` or ``username``; default ``email`` when every student has one.
    """
    grades = read_grades(db_url or course.db_url, course.course_id, assignment)
    if not grades:
        raise ExportError(f"the gradebook has no students for {assignment!r}: grade it first")
    column = column or assignment
    if fmt == "canvas":
        rows = canvas_rows(grades, column)
    elif fmt == "moodle":
        key = key or ("email" if all(g.email for g in grades) else "username")
        rows = moodle_rows(grades, column, key)
    elif fmt == "csv":
        rows = csv_rows(grades, assignment)
    else:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    out.parent.mkdir(parents=True, exist_ok=True)
    # plain UTF-8 (no byte-order mark): what both importers expect by default
    with open(out, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return len(grades)
